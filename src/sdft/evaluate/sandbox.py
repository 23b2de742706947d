"""Run model-written Python in a separate, resource-limited process, and say whether it passed.

Opt-in only: :func:`require_opt_in` refuses unless ``--allow-code-execution`` was given or the
environment has ``SDFT_ALLOW_CODE_EXECUTION=1``. Each program runs like this:

* a fresh temp dir as cwd; the program is a file in it; stdout/stderr go to files there
  (so an endless printer fills at most ``RLIMIT_FSIZE`` bytes, never our memory);
* a new process (``python -I -B``: no user site, no env vars, no bytecode written) with an
  empty environment, in its own session, never in the evaluator's process;
* ``resource`` limits: CPU seconds, address space (default 2 GiB), file size, open files,
  process count, no core dumps;
* a wall timeout after which the whole process group is SIGKILLed;
* where ``unshare`` works (root, or unprivileged user namespaces): a new network namespace
  (no interfaces but a down loopback: nothing is reachable) and a new PID namespace (killing
  its first process kills every process the program forked, even ones that left our process
  group), with its own ``/proc`` where a mount namespace is allowed too (the host's processes
  unseen); when we are root the program also drops to uid/gid 65534 (``nobody``) before it
  starts, so it cannot write files root owns and ``RLIMIT_NPROC`` applies to it (if our
  interpreter's stdlib is unreadable as ``nobody``, a system ``python3`` runs the program;
  :func:`isolation` records which, and what this machine allowed);
* inside the child, before the program runs, a Python audit hook refuses: sockets, writing /
  deleting / renaming paths outside the temp dir, opening a folder outside it (whose descriptor
  would carry writes past those checks as ``dir_fd``), signalling any process but itself, and
  changing to a folder outside it, and starting programs (``subprocess``, ``os.system``,
  ``exec*``, ``posix_spawn``, ``_posixsubprocess.fork_exec``);
* the evaluator reads the program's stderr through its own descriptor and the marker (below)
  only as a plain file, not following links: the temp dir is the program's, which may replace
  its files with links to files only the evaluator may read.

What is NOT isolated: the filesystem is the host's (reads anywhere the user may read; with no
namespace and no uid drop, writes are stopped only by the audit hook, which ``ctypes``, a C
extension, or Python calls that raise no audit event (``os.mkfifo``; a fresh copy of a built-in
``_posixsubprocess`` made through ``importlib``) can bypass); without
``unshare`` the network is blocked only by that hook, and a child that leaves its session
(double fork, ``setsid``) outlives the timeout; CPU, memory and disk are shared with the
evaluator's machine (the file-size limit is per file, the memory limit per process); programs run
side by side (``run_many``) share one uid and could touch each other's files. This is a guard
against accidents and sloppy code from a model, not against an adversary: run untrusted models
in a container or VM.

Passing takes more than exit status 0: the runner writes a marker file holding a random token
(handed to it on stdin, not on its command line) only after the whole program, tests included,
has returned. A program that ends itself early (``os._exit(0)``, ``sys.exit(0)``) before its
tests ran fails, unlike in OpenAI's human-eval where ``os._exit(0)`` passes.
The runner keeps the token in a function's locals, not in module globals, so
``sys.modules["__main__"]`` does not hand it out; a program that walks frames
(``sys._getframe``) or the garbage collector to it can still forge the marker. Those are not
refused, since ``typing`` and ``namedtuple`` call ``sys._getframe`` for honest programs: that
is an adversary, see above.

Results are compared as plain data: the runner hands the program ``_sdft_plain_results(f)``,
which wraps a function so that what it returns is rebuilt as plain values (``None``, ``bool``,
``int``, ``float``, ``complex``, ``str``, ``bytes`` and lists, tuples, dicts, sets of them; a
subclass of one of these, which may override ``__eq__``, becomes the base value it holds)
and any other object of a class written in Python makes the call raise. So a result whose
``__eq__`` always answers True (or ``unittest.mock.ANY``) fails an ``assert f(x) == y``;
builtin objects such as generators pass through unchanged. The wrapper's references are
taken before the program runs, so rebinding builtins does not reach it; a program that
shadows the names the tests use (``abs``, ``math.isclose``) or rebinds the wrapper itself is
again an adversary.
"""

from __future__ import annotations

import os
import resource
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from sdft.errors import SandboxError as SandboxError  # re-exported: the old import path keeps working

ENV_FLAG = "SDFT_ALLOW_CODE_EXECUTION"
NOBODY = 65534


@dataclass
class Limits:
    timeout_s: float = 10.0  # wall clock
    memory_mb: int = 2048  # RLIMIT_AS
    file_mb: int = 16  # RLIMIT_FSIZE, per file
    nproc: int = 64  # processes the sandbox user may have on top of those it already has
    nofile: int = 64


@dataclass
class SandboxResult:
    passed: bool
    status: str  # "passed" | "failed" | "timeout"
    returncode: int | None
    wall_s: float
    stderr: str = ""  # the tail, for the predictions file


def allowed(flag: bool = False) -> bool:
    return bool(flag) or os.environ.get(ENV_FLAG, "") == "1"


def require_opt_in(flag: bool = False, what: str = "this benchmark") -> None:
    if not allowed(flag):
        raise SandboxError(f"{what} runs model-written code; pass --allow-code-execution "
                           f"(or set {ENV_FLAG}=1) to allow it. See sdft.evaluate.sandbox for "
                           f"what the sandbox does and does not isolate.")


MARKER = "finished.marker"

# Runs inside the child. argv: program path, workdir, uid to drop to (or -1), marker file name;
# stdin: the token the marker must hold (then stdin is /dev/null, as for any program run here).
_RUNNER = r'''
import os, sys
def _run():
    prog, work, uid = sys.argv[1], os.path.realpath(sys.argv[2]), int(sys.argv[3])
    token = sys.stdin.readline().strip().encode()
    null = os.open(os.devnull, os.O_RDONLY); os.dup2(null, 0); os.close(null)
    marker = os.path.join(work, sys.argv[4])
    # Kept before the program runs: it may rebind os._exit or os.open, never these references.
    _open, _write, _close, _exit = os.open, os.write, os.close, os._exit
    os.chdir(work)
    if uid >= 0:
        os.setgroups([]); os.setgid(uid); os.setuid(uid)
    code = compile(open(prog).read(), "program.py", "exec")
    me = os.getpid()
    W = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    def inside(p):
        try:
            p = os.fsdecode(p)
        except TypeError:
            return True  # a file descriptor
        p = os.path.realpath(os.path.join(os.getcwd(), p))  # relative: to where it is now
        return p == work or p.startswith(work + os.sep)
    def deny(what):
        raise PermissionError("sandbox: " + what + " is not allowed")
    def hook(event, args):
        if event == "open":
            path, mode, flags = args
            writing = (mode is not None and any(c in mode for c in "wax+")) or (
                mode is None and isinstance(flags, int) and flags & W)
            if writing and not inside(path):
                deny("writing " + str(path))
            # a folder's descriptor would take writes past the checks above as dir_fd (their
            # audit events carry only the relative path): none outside the sandbox dir
            if mode is None and not inside(path) and os.path.isdir(path):
                deny("opening the folder " + str(path))
        elif event in ("os.remove", "os.rmdir", "os.mkdir", "os.truncate", "os.chmod", "os.chown",
                       "os.utime", "shutil.rmtree", "os.symlink", "os.link", "os.rename"):
            for a in args[:2]:
                if isinstance(a, (str, bytes, os.PathLike)) and not inside(a):
                    deny(event + " outside the sandbox dir")
        elif event == "os.chdir" and not inside(args[0]):  # (a descriptor: only of a folder inside)
            deny("changing to a folder outside the sandbox dir")
        elif event.startswith("socket."):
            deny("network access")
        elif event == "os.kill" and args[0] != os.getpid():
            deny("signalling other processes")
        elif event == "os.killpg":
            deny("signalling process groups")
        elif event in ("os.system", "subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn",
                       "os.startfile", "pty.spawn", "ctypes.dlopen"):
            deny(event)
        elif event == "import" and args[0] == "_posixsubprocess":  # a fresh copy, past the guard below
            deny("starting programs (_posixsubprocess)")
    def _plain_guard():
        # The references are taken now, before the program runs: it may rebind builtins, never these.
        t_of, sub, flags = type, issubclass, type.__dict__["__flags__"].__get__
        scalars = (type(None), bool, int, float, complex, str, bytes)
        as_int, as_float, as_str = int.__int__, float.__float__, str.__str__
        as_complex, re_, im_ = complex, complex.real.__get__, complex.imag.__get__
        whole, bytes_at = slice(None), bytes.__getitem__
        l_iter, t_iter, s_iter, f_iter = list.__iter__, tuple.__iter__, set.__iter__, frozenset.__iter__
        d_items = dict.items
        mk_tuple, mk_frozen = tuple, frozenset
        def plain(v, depth=0):
            t = t_of(v)
            for s in scalars:
                if t is s:
                    return v
            if depth > 200:
                raise ValueError("sandbox: a result nested more than 200 deep")
            d = depth + 1
            # A subclass of a builtin (which may override __eq__) becomes the builtin value it holds;
            # the unbound base methods read the stored value, whatever the subclass overrides.
            if sub(t, int):
                return as_int(v)
            if sub(t, float):
                return as_float(v)
            if sub(t, str):
                return as_str(v)
            if sub(t, bytes):
                return bytes_at(v, whole)
            if sub(t, complex):
                return as_complex(re_(v), im_(v))
            if sub(t, list):
                return [plain(x, d) for x in l_iter(v)]
            if sub(t, tuple):
                return mk_tuple([plain(x, d) for x in t_iter(v)])
            if sub(t, dict):
                return {plain(k, d): plain(x, d) for k, x in d_items(v)}
            if sub(t, set):
                return {plain(x, d) for x in s_iter(v)}
            if sub(t, frozenset):
                return mk_frozen([plain(x, d) for x in f_iter(v)])
            if flags(t) & (1 << 9):  # a heap type: a class written in Python, so possibly by the program
                raise TypeError("sandbox: the function returned a " + t.__qualname__ + " object; results are "
                                "compared as plain data (None, bool, int, float, complex, str, bytes, and "
                                "lists, tuples, dicts and sets of them)")
            return v  # a builtin type (a generator, a map object, ...): its comparisons are its own
        def plain_results(f):
            def candidate(*args, **kwargs):
                return plain(f(*args, **kwargs))
            return candidate
        return plain_results
    _plain_results = _plain_guard()
    # fork_exec starts a program without an audit event of its own: the module stays importable
    # (asyncio and unittest.mock import it through subprocess), its fork_exec refuses
    import _posixsubprocess
    def fork_exec(*args, **kwargs):
        deny("starting programs (_posixsubprocess)")
    _posixsubprocess.fork_exec = fork_exec
    sys.addaudithook(hook)
    g = {"__name__": "__main__", "__builtins__": __builtins__, "_sdft_plain_results": _plain_results}
    try:
        exec(code, g)
        sys.stdout.flush()
    except BaseException:  # SystemExit too: sys.exit(0) before the end is not a pass
        import traceback
        traceback.print_exc()
        sys.stderr.flush()
        _exit(1)
    # Reached only when the whole program returned: the one way to pass.
    fd = _open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    _write(fd, token)
    _close(fd)
    _exit(0)
_run()
'''


@lru_cache(maxsize=1)
def _setup() -> tuple[tuple[str, ...], str, bool]:
    """(namespace wrapper, interpreter, drop to nobody?) that actually work on this machine.

    Probed by running a child that imports a few stdlib modules after the uid drop: as
    ``nobody`` our interpreter's stdlib may be unreadable (e.g. a pyenv under a 0700 /root),
    in which case a system ``python3`` is tried (HumanEval needs only the stdlib), and if that
    fails too, no drop is made.
    """
    exe = shutil.which("unshare")
    root = os.geteuid() == 0
    prefixes: list[tuple[str, ...]] = []
    if exe and sys.platform.startswith("linux"):
        base = ("--net", "--pid", "--fork", "--kill-child")
        for extra in (("--mount-proc",), ()):  # its own /proc (the host's processes unseen) where allowed
            prefixes.append((exe, *extra, *base) if root else (exe, "--map-root-user", *extra, *base))
    prefixes.append(())
    pythons = list(dict.fromkeys(p for p in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3")
                                 if os.path.exists(p)))
    probe = "import os, sys\nu = int(sys.argv[1])\nif u >= 0: os.setgroups([]); os.setgid(u); os.setuid(u)\n" \
            "import typing, collections, hashlib, math, re, traceback\n"
    for prefix in prefixes:
        for drop in ([True, False] if root else [False]):
            for py in (pythons if drop else pythons[:1]):
                try:
                    res = subprocess.run([*prefix, py, "-I", "-B", "-c", probe, str(NOBODY if drop else -1)],
                                         capture_output=True, timeout=20, env={})
                except (OSError, subprocess.SubprocessError):
                    continue
                if res.returncode == 0:
                    return prefix, py, drop
    return (), sys.executable, False


def _user_process_count(uid: int) -> int:
    n = 0
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if d.stat().st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


def isolation() -> dict:
    """What this machine gives the sandbox, for the results file."""
    prefix, py, drop = _setup()
    return {"net_namespace": bool(prefix), "pid_namespace": bool(prefix), "own_proc": "--mount-proc" in prefix,
            "uid_drop": drop,
            "python": py, "audit_hook": True}


def run_program(code: str, limits: Limits | None = None) -> SandboxResult:
    """Run ``code`` as a program in a fresh sandbox; passed means it ran to its end (the runner
    wrote its marker) and exited 0."""
    limits = limits or Limits()
    prefix, python, drop = _setup()
    uid = NOBODY if drop else os.getuid()
    nproc = _user_process_count(uid) + limits.nproc if sys.platform.startswith("linux") else limits.nproc
    work = Path(tempfile.mkdtemp(prefix="sdft-sandbox-"))
    try:
        if drop:
            os.chown(work, NOBODY, NOBODY)
        (work / "program.py").write_text(code, encoding="utf-8")
        os.chmod(work / "program.py", 0o644)  # readable by `nobody` whatever our umask
        cpu = max(1, int(limits.timeout_s) + 1)

        def limit_child() -> None:  # runs in the forked child before exec
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
            mem = limits.memory_mb << 20
            resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
            fs = limits.file_mb << 20
            resource.setrlimit(resource.RLIMIT_FSIZE, (fs, fs))
            resource.setrlimit(resource.RLIMIT_NOFILE, (limits.nofile, limits.nofile))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if hasattr(resource, "RLIMIT_NPROC"):
                resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

        cmd = [*prefix, python, "-I", "-B", "-c", _RUNNER, str(work / "program.py"), str(work),
               str(NOBODY if drop else -1), MARKER]
        token = secrets.token_hex(16)
        t0 = time.perf_counter()
        with open(work / "stdout.txt", "wb") as out, open(work / "stderr.txt", "wb+") as err:
            proc = subprocess.Popen(cmd, cwd=work, env={}, stdin=subprocess.PIPE, stdout=out,
                                    stderr=err, start_new_session=True, preexec_fn=limit_child)
            try:  # a line far below the pipe's buffer: never blocks, even if the child is gone
                proc.stdin.write(token.encode() + b"\n")
                proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                rc = proc.wait(timeout=limits.timeout_s)
                timed_out = False
            except subprocess.TimeoutExpired:
                rc, timed_out = None, True
            finally:
                # Always sweep the group: a program may leave forked children behind.
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                if timed_out:
                    proc.wait()
            wall = time.perf_counter() - t0
            # Read through our own descriptors: the folder is the program's, which may have put a
            # symlink (to a file only we may read, or to /dev/zero) where its files were.
            err.seek(max(0, os.fstat(err.fileno()).st_size - 2000))
            tail = err.read(2000).decode("utf-8", "replace")
        finished = _read_marker(work / MARKER) == token.encode()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if timed_out:
        return SandboxResult(False, "timeout", None, wall, tail)
    if rc == 0 and not finished:
        tail += "\nsandbox: the program exited with status 0 before it finished (no completion marker)"
    passed = rc == 0 and finished
    return SandboxResult(passed, "passed" if passed else "failed", rc, wall, tail)


def _read_marker(path: Path) -> bytes | None:
    """The marker's bytes if it is a plain file (not a link, a FIFO or a device), at most 64."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        return os.read(fd, 64) if stat.S_ISREG(os.fstat(fd).st_mode) else None
    finally:
        os.close(fd)


def run_many(programs: Sequence[str], limits: Limits | None = None, workers: int = 2) -> list[SandboxResult]:
    """Run programs ``workers`` at a time (each in its own sandbox); results in input order."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(lambda c: run_program(c, limits), programs))
