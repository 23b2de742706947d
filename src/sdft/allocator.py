"""A faster memory allocator for sdft's processes on Linux: tcmalloc, preloaded.

Why: glibc's allocator slows CPU training down. PyTorch frees and allocates tensors of a new
size at every step of padding-free training (rows differ in length), glibc's heap fragments, and
its ``_int_malloc`` walks longer free lists as training goes on: in a 96-step LoRA fine-tune of
Qwen2.5-Coder-0.5B it grew from 5 % to 16 % of the process's profile samples while the rate fell.
With gperftools' tcmalloc preloaded a 96-step fine-tune keeps its rate to the end (1.14x over a
whole one, ~1.4x over its last third, with less memory), and fresh 6-step runs gain 1.11x
(`benchmarks/allocator.py`; README, "What a CPU user should expect"). PyTorch allocates CPU
tensors 64-byte aligned with any allocator, so results do not change.

How: the ``sdft`` command re-executes itself once, before anything imports torch, with the
library first in ``LD_PRELOAD`` (:func:`reexec`; an allocator cannot be swapped inside a running
process). ``SDFT_ALLOCATOR`` chooses, since it must be known before Python starts:

- unset or ``auto``: tcmalloc where the system has it (Debian/Ubuntu: ``libtcmalloc-minimal4``,
  which ``scripts/setup.sh`` installs where it can), else glibc's allocator; nothing on a machine
  with a visible NVIDIA GPU (:func:`gpu_visible`), where tensors live in CUDA's own caching
  allocator, the measured gain was a CPU-training one, and CUDA libraries under a preloaded
  allocator are an untested combination (name the library to preload it there anyway);
- ``system``: glibc's allocator, nothing preloaded;
- a path to a shared library: that one (e.g. jemalloc or mimalloc).

Library code (``sdft.cli.main`` called from Python, ``run_train``) never re-executes anything:
start such a process with ``LD_PRELOAD=$(python -m sdft.allocator) python script.py``. Not on
macOS or Windows, where the system allocators are not glibc's.
"""

from __future__ import annotations

import ctypes.util
import os
import sys
from pathlib import Path

ENV = "SDFT_ALLOCATOR"
_REEXECUTED = "_SDFT_ALLOCATOR_REEXEC"  # set in the re-executed process: never a second time
# Looked up in this order by the dynamic linker's cache (ldconfig), so any distribution's path works.
CANDIDATES = ("tcmalloc_minimal", "tcmalloc")
# Substrings of a mapped library's file name that identify a replacement allocator.
KNOWN = ("tcmalloc", "jemalloc", "mimalloc")


def gpu_visible(dev: str = "/dev", environ: dict[str, str] | None = None) -> bool:
    """Whether this process would see an NVIDIA GPU, decided without importing torch (the
    allocator is chosen before anything imports it): a GPU device node (``/dev/nvidia0``, ...)
    exists and ``CUDA_VISIBLE_DEVICES`` does not hide every device."""
    env = os.environ if environ is None else environ
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    try:
        return any(p.name[len("nvidia"):].isdigit() for p in Path(dev).glob("nvidia[0-9]*"))
    except OSError:
        return False


def find(choice: str | None = None) -> str | None:
    """The library ``sdft`` would preload for ``choice`` (default: ``SDFT_ALLOCATOR``): a path as
    given, "auto" tcmalloc's if installed and no GPU is visible, "system" None."""
    choice = (os.environ.get(ENV, "auto") if choice is None else choice).strip()
    if choice == "system" or sys.platform != "linux":
        return None
    if choice not in ("", "auto"):
        if not Path(choice).is_file():
            raise FileNotFoundError(f"{ENV}={choice}: no such file (a shared library, 'auto' or 'system')")
        return choice
    if gpu_visible():
        return None
    for name in CANDIDATES:
        if found := ctypes.util.find_library(name):
            return found
    return None


def active(maps: str = "/proc/self/maps") -> str | None:
    """The file of the replacement allocator mapped into this process, or None (glibc's)."""
    try:
        text = Path(maps).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        path = line.split()[-1] if len(line.split()) >= 6 else ""
        if any(k in Path(path).name for k in KNOWN):
            return path
    return None


def preload_env(environ: dict[str, str], library: str) -> dict[str, str]:
    """``environ`` with ``library`` first in LD_PRELOAD (kept once)."""
    rest = [p for p in environ.get("LD_PRELOAD", "").replace(":", " ").split() if p and p != library]
    return {**environ, "LD_PRELOAD": " ".join([library, *rest])}


def reexec(argv: list[str]) -> None:
    """Replace this process by the same command with the allocator preloaded, once.

    Returns (doing nothing) where none is wanted or found, where one is already mapped (the
    caller preloaded one), and in the re-executed process itself, even if the dynamic linker
    could not load the library (it says so on stderr). Call it first thing in an entry point,
    with ``sys.argv``."""
    if os.environ.get(_REEXECUTED):
        return
    try:
        library = find()
    except FileNotFoundError as e:
        print(f"sdft: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    if library is None or active() is not None:
        return
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    # `python -m sdft.cli` again as a module: run as a file, its folder would shadow top-level
    # packages (sdft/evaluate vs Hugging Face's evaluate) on sys.path
    cmd = ["-m", spec.name, *argv[1:]] if spec is not None and spec.name else list(argv)
    if not cmd or cmd[0] in ("", "-c"):  # `python -c ...` or a REPL: no command line to run again
        return
    env = preload_env(dict(os.environ), library) | {_REEXECUTED: "1"}
    os.execve(sys.executable, [sys.executable, *cmd], env)


if __name__ == "__main__":  # `LD_PRELOAD=$(python -m sdft.allocator) python script.py`
    try:
        lib = find()
    except FileNotFoundError as e:
        print(e, file=sys.stderr)
        raise SystemExit(2) from None
    print(lib or "")
