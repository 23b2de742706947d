"""Run folders: append-only JSONL keyed by id, and a manifest with provenance.

Stages talk only through files. Every per-example output is a JSONL file to which finished
records are appended and flushed; a re-run reads the ids already there and skips them. A
process killed mid-write can leave at most one partial last line: :func:`done_ids` drops it
(truncating the file back to the last complete line) so no corrupt line survives.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import platform
import re
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Iterator

from sdft.errors import DataError, OutputError


def parse_jsonl_lines(lines: Iterable[str], path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, record)`` for each non-blank line; a malformed line is an error naming
    the file and line."""
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{lineno}: invalid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(rec, dict):
            raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(rec).__name__}")
        yield lineno, rec


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield records; a malformed line is an error naming the file and line."""
    path = Path(path)
    with path.open("rb") as f:
        for _, rec in parse_jsonl_lines(_utf8_lines(f, path), path):
            yield rec


def _utf8_lines(f: Any, path: Path) -> Iterator[str]:
    """The binary file's lines decoded as UTF-8; another encoding (a UTF-16 file from a Windows
    shell's redirect, cp1252) is an error naming the line, not a decode traceback."""
    for lineno, raw in enumerate(f, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            utf16 = lineno == 1 and raw[:2] in (b"\xff\xfe", b"\xfe\xff")
            what = "the file looks UTF-16 encoded (a byte-order mark)" if utf16 else (
                f"not valid UTF-8 (byte {raw[e.start]:#04x} at column {e.start + 1})")
            raise DataError(f"{path}:{lineno}: {what}; JSON Lines files must be UTF-8: re-save it as UTF-8") from None
        # a bare CR ends a line too (old Mac files), as text mode's universal newlines read them
        yield from _BARE_CR.split(line) if "\r" in line.rstrip("\r\n") else (line,)


_BARE_CR = re.compile(r"\r(?!\n)")


def repair_jsonl(path: str | Path) -> None:
    """Cut a partial last line left by a killed writer (a file that does not end in newline)."""
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 1))
        if f.read(1) == b"\n":
            return
        # Walk back to the last newline; everything after it is the partial record.
        pos = size
        chunk = 1 << 16
        while pos > 0:
            start = max(0, pos - chunk)
            f.seek(start)
            buf = f.read(pos - start)
            nl = buf.rfind(b"\n")
            if nl >= 0:
                f.truncate(start + nl + 1)
                return
            pos = start
        f.truncate(0)


def done_ids(path: str | Path, key: str = "id") -> set[str]:
    """Ids already written to ``path`` (after repairing a partial last line)."""
    path = Path(path)
    if not path.exists():
        return set()
    repair_jsonl(path)
    return {str(rec[key]) for rec in read_jsonl(path) if key in rec}


# What the file system refused -> (what to say, what the user can do about it).
FS_REFUSALS = {
    errno.ENOSPC: ("no space left on the device", "free some space"),
    errno.EDQUOT: ("disk quota exceeded", "free some space (or raise the quota)"),
    errno.EACCES: ("permission denied", "make it and its folder writable (or write somewhere else)"),
    errno.EPERM: ("operation not permitted", "make it and its folder writable (or write somewhere else)"),
    errno.EROFS: ("read-only file system", "write to a writable file system (or remount it read-write)"),
}


def fs_refusal(e: BaseException) -> tuple[str, str] | None:
    """``(reason, remedy)`` when ``e`` is the file system refusing a write a user can fix."""
    return FS_REFUSALS.get(e.errno) if isinstance(e, OSError) else None


class JsonlWriter:
    """Append records one line at a time; each line is flushed and fsynced when written, so a
    kill loses at most the record in flight. A write the file system refuses (no space,
    permission, read-only) is an :class:`OutputError` naming the file, how many records are
    safe in it and how to resume; the partial line is cut off where the file system lets us."""

    def __init__(self, path: str | Path, fsync: bool = True):
        self.path = Path(path)
        self._f = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            repair_jsonl(self.path)
            self._f = self.path.open("a", encoding="utf-8")
        except OSError as e:
            self._refused(e)
        self._fsync = fsync

    def write(self, record: dict[str, Any]) -> None:
        self.write_many([record])

    def write_many(self, records: Iterable[dict[str, Any]]) -> None:
        try:
            for r in records:
                self._f.write(json.dumps(r, ensure_ascii=False) + "\n")
            self._f.flush()
            if self._fsync:
                os.fsync(self._f.fileno())
        except OSError as e:
            self._refused(e)

    def _refused(self, e: OSError) -> None:
        what = fs_refusal(e)
        if what is None:
            raise e
        if self._f is not None:
            try:  # closing flushes what is buffered, which fails again: the file is closed all the same
                self._f.close()
            except OSError:
                pass
        try:
            repair_jsonl(self.path)
            safe = self.path.read_bytes().count(b"\n") if self.path.exists() else 0
        except OSError:
            safe = None
        kept = f"It holds {safe} complete records, which are kept" if safe is not None else \
            "The records written before are kept"
        raise OutputError(f"{self.path}: cannot write: {what[0]}. {kept}: {what[1]}, then run the same command "
                          f"again to resume after them (a cut-off last line is dropped).") from e

    def close(self) -> None:
        if self._f is not None and not self._f.closed:
            try:
                self._f.close()
            except OSError as e:
                self._refused(e)

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON atomically (temp file + rename), so a kill never leaves half a file. The temp
    file is the writer's own (its pid in the name): the ranks of a multi-process fine-tune write
    the same file at once, and with one shared temp name the second rename found it gone."""
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 text atomically, as :func:`write_json` does."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f"{path.suffix}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # the old file stays whole, and no stray temp file beside it
        raise


def finite(x: Any) -> Any:
    """``x`` with every NaN or infinity as None, so it prints as JSON (which has no NaN: a mean
    over no items, a CI of one item, a missing half-width)."""
    import math

    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite(v) for v in x]
    return x


_VERSIONED = ("sdft-toolkit", "torch", "transformers", "peft", "trl", "accelerate", "datasets", "lm_eval",
              "sacrebleu", "rouge_score", "sentence-transformers")


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            # The distribution is sdft-toolkit; results keep calling the package "sdft".
            out["sdft" if name == "sdft-toolkit" else name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


@functools.cache
def git_hash() -> str | None:
    """HEAD of the checkout this package runs from ("-dirty" if modified), read once per process:
    commits made while a long run is going do not describe the code it imported."""
    try:
        here = Path(__file__).resolve().parent
        res = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if res.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return res.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


# Every model this process loaded to compute with, in order (models.load, the similarity
# encoder): a pipeline stage records the ones its work loaded (:func:`computing`), so a manifest
# says where and in which dtype each stage ran, not only what its config asked for.
_COMPUTE: list[dict[str, Any]] = []


def note_compute(what: str, device: str, dtype: str) -> None:
    """Record that ``what`` (a model path or name) was loaded on ``device`` in ``dtype``."""
    _COMPUTE.append({"what": what, "device": device, "dtype": dtype})


@contextlib.contextmanager
def computing() -> Iterator[list[dict[str, Any]]]:
    """The models loaded inside the block (:func:`note_compute`), one record each, filled in on exit."""
    start, used = len(_COMPUTE), []
    try:
        yield used
    finally:
        used.extend(_COMPUTE[start:])


@functools.cache
def cpu_fields(cpuinfo: str = "/proc/cpuinfo") -> dict[str, str]:
    """The first processor's fields of ``cpuinfo`` ({} where there is no such file, e.g. macOS)."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model name (from ``cpuinfo``; else what the platform says, possibly empty): wall
    times, and float32 results to the last bits, depend on it (a run resumed on another machine
    mixes them)."""
    fields = cpu_fields(cpuinfo)
    # x86 names its model; ARM Linux may give only the board (Hardware) or the part number
    for key in ("model name", "Model", "Hardware"):
        if fields.get(key):
            return fields[key]
    part = " ".join(f"{k} {fields[k]}" for k in ("CPU implementer", "CPU part") if fields.get(k))
    return part or platform.processor()


def provenance(**extra: Any) -> dict[str, Any]:
    """What every result file carries: versions, git hash, command line, host and its CPU, time,
    and the memory allocator (speed figures depend on it; :mod:`sdft.allocator`)."""
    from sdft import allocator

    return {
        "git": git_hash(),
        "versions": package_versions(),
        "argv": sys.argv,
        "host": platform.node(),
        "cpu": cpu_model(),
        "platform": platform.platform(),
        "allocator": Path(allocator.active() or "system").name,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **extra,
    }
