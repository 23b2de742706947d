"""One writer per output: a lock on every output file or folder a command appends to.

Two processes appending to one resumable JSONL each skip the ids already there when they start
and then both write the rest, so every record lands twice and every count made from the file is
wrong. So ``sdft generate``, ``eval``, ``distill``, ``train`` and ``run`` hold an exclusive lock
on their output while they write it: ``OUT.lock`` beside an output file, ``OUT/.lock`` inside an
output folder (a run folder's lock covers all its stages). A second process on the same output
stops at once with an error naming the holder (pid, host, since when, its command line), or
with ``--wait`` starts when the holder ends.

The lock is :class:`filelock.FileLock`, an ``flock`` on Unix: the kernel drops it when its
process ends in any way, ``kill -9`` included, so a lock is never left behind to block a later
run (the file stays; only a live process holds it). Who holds it is written beside it
(``<lock>.holder``, JSON) by the holder, because the lock file itself is what waiters open; a
holder file left by a killed process is simply overwritten by the next one. ``flock`` is not
reliable on every network file system (NFS before v4 on some systems): there, run one writer
per output yourself.

The processes of one multi-GPU launch (``accelerate launch``, ``torchrun``) share their output:
only rank 0 takes the lock.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sdft.errors import OutputError

log = logging.getLogger(__name__)

WAIT_HELP = "if another process is writing the same output, wait for it to end instead of stopping"


def add_wait_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", action="store_true", help=WAIT_HELP)


def lock_file(out: str | Path, folder: bool) -> Path:
    """The lock of an output: ``OUT/.lock`` for a folder, ``OUT.lock`` beside a file."""
    out = Path(out)
    return out / ".lock" if folder else out.with_name(out.name + ".lock")


def holder(lock: Path) -> dict | None:
    """What the holder of ``lock`` wrote about itself, or None if unreadable."""
    try:
        info = json.loads(lock.with_name(lock.name + ".holder").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def describe(info: dict | None) -> str:
    if not info:
        return "another process (it has not said which yet)"
    cmd = " ".join(info.get("argv") or [])
    return (f"pid {info.get('pid')} on {info.get('host')}, since {info.get('since')}"
            + (f": {cmd}" if cmd else ""))


@contextmanager
def output_lock(out: str | Path, *, folder: bool, wait: bool = False) -> Iterator[Path | None]:
    """Hold the lock of ``out`` for the ``with`` body; an :class:`OutputError` naming the holder
    if another process holds it (``wait``: block until it is free)."""
    from filelock import FileLock, Timeout

    # No output (the command will say so), or a multi-GPU launch's other ranks: rank 0 holds it.
    if not str(out) or int(os.environ.get("RANK", "0") or 0) > 0:
        yield None
        return
    lock_path = lock_file(out, folder)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        who = describe(holder(lock_path))
        if not wait:
            raise OutputError(f"{out} is being written by another sdft process ({who}). Two writers would "
                              f"write its records twice: let that one finish (or stop it), or pass --wait "
                              f"to start when it ends.") from None
        log.warning("%s: waiting for %s to finish", out, who)
        lock.acquire()
    side = lock_path.with_name(lock_path.name + ".holder")
    try:
        info = {"pid": os.getpid(), "host": platform.node(), "since": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                "argv": sys.argv}
        try:
            tmp = side.with_name(f"{side.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(info) + "\n", encoding="utf-8")
            os.replace(tmp, side)
        except OSError:  # only a second writer's message suffers (a full disk): the lock holds regardless
            pass
        yield lock_path
    finally:
        try:  # ours to remove while we hold the lock; after release it may be the next holder's
            side.unlink(missing_ok=True)
        except OSError:
            pass
        lock.release()
