"""The sandbox contains hostile completions: each is marked failed within its timeout and the
evaluator (this pytest process) survives to check the next one."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from sdft.evaluate import sandbox
from sdft.evaluate.sandbox import Limits, SandboxError, run_many, run_program

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs a POSIX host")

LIMITS = Limits(timeout_s=4.0, memory_mb=1024)


def test_good_program_passes_and_bad_one_fails():
    ok = run_program("def f(x):\n    return x + 1\nassert f(1) == 2\n", LIMITS)
    bad = run_program("assert 1 + 1 == 3\n", LIMITS)
    assert (ok.passed, ok.status) == (True, "passed")
    assert (bad.passed, bad.status) == (False, "failed")
    assert "AssertionError" in bad.stderr


def test_sys_exit_nonzero_and_syntax_error_fail():
    assert not run_program("import sys\nsys.exit(3)\n", LIMITS).passed
    assert not run_program("def f(:\n", LIMITS).passed


TESTS = "def f(x):\n    return x + 1\nassert f(1) == 3, 'the tests ran and failed'\n"


@pytest.mark.parametrize("exit_call", ["os._exit(0)", "sys.exit(0)", "raise SystemExit"])
def test_ending_itself_before_the_tests_is_not_a_pass(exit_call):
    # HumanEval programs are prompt + completion + tests: model code that exits with status 0
    # at import time must not skip the failing tests and count as passed.
    res = run_program(f"import os, sys\n{exit_call}\n" + TESTS, LIMITS)
    assert (res.passed, res.status) == (False, "failed")
    assert "the tests ran" not in res.stderr  # it really ended before them
    if exit_call == "os._exit(0)":
        assert res.returncode == 0 and "no completion marker" in res.stderr
    # The same program without the early exit runs its tests, which fail; without them, it passes.
    assert not run_program(TESTS, LIMITS).passed
    assert run_program(f"import os, sys\n{TESTS.replace('== 3', '== 2')}", LIMITS).passed


def test_the_program_cannot_write_the_marker_itself():
    # It can write into its own dir, but not the token the runner was handed on stdin.
    code = f"open({sandbox.MARKER!r}, 'w').write('passed')\nimport os\nos._exit(0)\n"
    assert not run_program(code, LIMITS).passed
    code = "import sys\nassert sys.stdin.read() == ''\n"  # the token is not there any more: it passes
    assert run_program(code, LIMITS).passed


def test_infinite_loop_times_out():
    t0 = time.monotonic()
    res = run_program("while True:\n    pass\n", LIMITS)
    assert not res.passed and res.status in ("timeout", "failed")
    assert time.monotonic() - t0 < LIMITS.timeout_s + 5


def test_fork_bomb_is_contained():
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    t0 = time.monotonic()
    res = run_program(code, Limits(timeout_s=3.0, memory_mb=1024, nproc=32))
    assert not res.passed
    assert time.monotonic() - t0 < 3.0 + 8
    # Nothing left behind: the sandbox's processes are gone.
    time.sleep(0.5)
    left = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmd(p).find("sdft-sandbox-") >= 0]
    assert left == []


def _cmd(p: Path) -> str:
    try:
        return (p / "cmdline").read_bytes().decode("utf-8", "replace")
    except OSError:
        return ""


def test_huge_allocation_fails():
    res = run_program("x = bytearray(50 * 1024 ** 3)\nprint(len(x))\n", LIMITS)
    assert not res.passed
    assert res.status in ("failed", "timeout")


def test_the_memory_limit_is_what_stops_an_allocation_the_machine_could_serve():
    """50 GiB fails on most machines with or without the limit; 1.5 GiB fails only under it."""
    program = "x = bytearray(1536 * 1024 ** 2)\nx[-1] = 1\n"
    capped = run_program(program, LIMITS)  # memory_mb=1024
    assert (capped.passed, capped.status) == (False, "failed") and "MemoryError" in capped.stderr
    assert run_program(program, Limits(timeout_s=20.0, memory_mb=4096)).passed


def test_write_outside_temp_dir_is_refused(tmp_path):
    target = tmp_path / "escaped.txt"
    inside = "open('inside.txt', 'w').write('fine')\n"
    assert run_program(inside, LIMITS).passed  # its own temp dir is writable
    res = run_program(f"open({str(target)!r}, 'w').write('pwned')\n", LIMITS)
    assert not res.passed
    assert not target.exists()
    res = run_program(f"import os\nfd = os.open({str(target)!r}, os.O_WRONLY | os.O_CREAT)\n", LIMITS)
    assert not res.passed and not target.exists()


@pytest.fixture
def open_dir():
    """A world-writable folder outside the sandbox (so only the audit hook stands in the way)."""
    import shutil
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="sdft-open-"))
    d.chmod(0o777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_a_folder_descriptor_cannot_carry_writes_outside(open_dir):
    """os.open(..., dir_fd=) raises its audit event with the relative path only."""
    code = (f"import os\nd = os.open({str(open_dir)!r}, os.O_RDONLY)\n"
            "os.close(os.open('escaped.txt', os.O_CREAT | os.O_WRONLY, dir_fd=d))\n")
    res = run_program(code, LIMITS)
    assert not res.passed and "opening the folder" in res.stderr and not (open_dir / "escaped.txt").exists()
    assert run_program("import os\nd = os.open('.', os.O_RDONLY)\nos.close(d)\n", LIMITS).passed  # its own


def test_starting_a_program_through_posixsubprocess_is_refused():
    """fork_exec raises no audit event: it ran /bin/sh as nobody."""
    call = "import _posixsubprocess\n_posixsubprocess.fork_exec(['/bin/true'])\n"
    fresh = "import sys\ndel sys.modules['_posixsubprocess']\nimport _posixsubprocess\n"
    for code in (call, fresh):
        res = run_program(code, LIMITS)
        assert not res.passed and "starting programs (_posixsubprocess) is not allowed" in res.stderr, code
    assert run_program("import asyncio, subprocess, unittest.mock\n", LIMITS).passed  # importing is fine


def test_the_runners_token_is_not_in_reach_of_sys_modules():
    """A wrong solution that wrote the runner's marker itself passed."""
    forge = ("import sys\nm = sys.modules['__main__']\n"
             "open(m.marker, 'wb').write(m.token)\nm._exit(0)\n")
    res = run_program("def add(a, b):\n    return a - b\n" + forge + "assert add(1, 2) == 3\n", LIMITS)
    assert not res.passed and "AttributeError" in res.stderr


def test_the_evaluator_reads_the_programs_stderr_through_its_own_descriptor():
    """The folder is the program's: a file put where stderr.txt was (a link to a file only the
    evaluator may read, where the audit hook can be bypassed) is not what the evaluator reports."""
    code = ("import os, sys\nsys.stderr.write('REAL\\n'); sys.stderr.flush()\nos.remove('stderr.txt')\n"
            "open('stderr.txt', 'w').write('PLANTED')\nsys.exit(3)\n")
    res = run_program(code, LIMITS)
    assert not res.passed and "REAL" in res.stderr and "PLANTED" not in res.stderr


def test_the_marker_is_read_only_as_a_plain_file(tmp_path):
    plain, link, fifo = tmp_path / "plain", tmp_path / "link", tmp_path / "fifo"
    plain.write_bytes(b"token" * 100)
    link.symlink_to(plain)
    os.mkfifo(fifo)  # opening it to read would block without O_NONBLOCK
    assert sandbox._read_marker(plain) == (b"token" * 100)[:64]
    assert sandbox._read_marker(link) is None and sandbox._read_marker(fifo) is None
    assert sandbox._read_marker(tmp_path / "none") is None and sandbox._read_marker(Path("/dev/zero")) is None


def test_changing_to_a_folder_outside_is_refused_so_relative_paths_stay_inside(open_dir):
    code = f"import os\nos.chdir({str(open_dir)!r})\nopen('escaped.txt', 'w').write('x')\n"
    res = run_program(code, LIMITS)
    assert not res.passed and "changing to a folder outside" in res.stderr
    assert not (open_dir / "escaped.txt").exists()
    inside = "import os\nos.mkdir('sub')\nos.chdir('sub')\nopen('ok.txt', 'w').write('x')\nos.chdir('..')\n"
    assert run_program(inside, LIMITS).passed


def test_a_restrictive_umask_does_not_fail_every_program():
    old = os.umask(0o077)
    try:
        assert run_program("assert 1 + 1 == 2\n", LIMITS).passed
    finally:
        os.umask(old)


def test_the_program_sees_its_own_processes_only_where_proc_is_its_own():
    if not sandbox.isolation()["own_proc"]:
        pytest.skip("this machine gives the sandbox no mount namespace")
    ours = next(p for p in (os.getpid(), os.getppid()) if p > 2)  # pid 1 and 2 exist in any namespace
    res = run_program(f"import os\nassert not os.path.exists('/proc/{ours}')\n", LIMITS)
    assert res.passed, res.stderr


def test_socket_is_refused():
    # A port this process listens on: the connection would succeed but for the sandbox.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        code = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
        res = run_program(code, LIMITS)
    assert not res.passed and "network access is not allowed" in res.stderr


def test_killing_the_parent_is_contained():
    me = os.getpid()
    code = f"import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill({me}, signal.SIGKILL)\n"
    res = run_program(code, LIMITS)
    assert not res.passed and "signalling other processes is not allowed" in res.stderr


def test_run_many_completes_in_order_with_hostile_neighbours():
    progs = ["assert True\n", "while True: pass\n", "x = bytearray(50 * 1024 ** 3)\n", "assert 2 > 1\n"]
    res = run_many(progs, Limits(timeout_s=3.0, memory_mb=1024), workers=2)
    assert [r.passed for r in res] == [True, False, False, True]


def test_opt_in_is_required(monkeypatch):
    monkeypatch.delenv(sandbox.ENV_FLAG, raising=False)
    with pytest.raises(SandboxError, match="allow-code-execution"):
        sandbox.require_opt_in(False)
    sandbox.require_opt_in(True)
    monkeypatch.setenv(sandbox.ENV_FLAG, "1")
    sandbox.require_opt_in(False)


# ---------------------------------------------------------------- results compared as plain data

CHECK = "def check(candidate):\n    assert candidate(2) == [2, 2]\n    assert candidate(3) == [3, 3, 3]\n"
ALWAYS_EQUAL = ("class Yes:\n    def __eq__(self, other):\n        return True\n"
                "    def __ne__(self, other):\n        return False\n")


def _humaneval(body: str) -> sandbox.SandboxResult:
    from sdft.evaluate.humaneval import test_program

    return run_program(test_program(body, CHECK, "f"), LIMITS)


@pytest.mark.parametrize("body", [
    ALWAYS_EQUAL + "def f(n):\n    return Yes()\n",
    ALWAYS_EQUAL + "def f(n):\n    return [Yes()] * n\n",  # hidden inside plain data
    "class L(list):\n    def __eq__(self, other):\n        return True\ndef f(n):\n    return L()\n",
    "from unittest.mock import ANY\ndef f(n):\n    return ANY\n",
    # rebinding the builtins the check would use does not reach it
    ALWAYS_EQUAL + "import builtins\nbuiltins.type = lambda x: list\nbuiltins.issubclass = lambda *a: True\n"
    "def f(n):\n    return Yes()\n",
])
def test_a_result_that_fakes_equality_fails(body):
    res = _humaneval(body)
    assert (res.passed, res.status) == (False, "failed")
    assert "AssertionError" in res.stderr or "compared as plain data" in res.stderr


@pytest.mark.parametrize("body", [
    "def f(n):\n    return [n] * n\n",
    # subclasses of builtins compare as the builtin value they hold, whatever they override
    "class L(list):\n    def __eq__(self, other):\n        return False\ndef f(n):\n    return L([n] * n)\n",
    "class I(int):\n    def __eq__(self, other):\n        return False\n    __hash__ = int.__hash__\n"
    "def f(n):\n    return [I(n)] * n\n",
])
def test_a_right_answer_still_passes(body):
    res = _humaneval(body)
    assert res.passed, res.stderr


def test_plain_data_is_rebuilt_and_builtin_objects_pass_through():
    code = ("import collections, enum\nclass E(enum.IntEnum):\n    A = 1\nP = collections.namedtuple('P', 'x y')\n"
            "def f():\n    return {E.A: [P(1, 2.5), collections.Counter('aa'), frozenset({b'x'}), 'ok', None, 1j]}\n"
            "r = _sdft_plain_results(f)()\n"
            "assert r == {1: [(1, 2.5), {'a': 2}, frozenset({b'x'}), 'ok', None, 1j]}\n"
            "k = next(iter(r)); v = r[k]\n"
            "assert [type(k), type(v), type(v[0]), type(v[1])] == [int, list, tuple, dict]\n"
            "g = _sdft_plain_results(lambda: (i for i in range(3)))()\n"
            "assert list(g) == [0, 1, 2]  # a generator is a builtin object: passed through\n")
    res = run_program(code, LIMITS)
    assert res.passed, res.stderr


@pytest.mark.slow
def test_every_canonical_humaneval_solution_passes(data_dir):
    from sdft.data.tasks import load_task
    from sdft.evaluate.humaneval import test_program

    tasks = load_task("humaneval", "test", data_dir)
    progs = [test_program(ex.meta["prompt"] + ex.meta["canonical_solution"], ex.meta["test"], ex.meta["entry_point"])
             for ex in tasks]
    res = run_many(progs, Limits(timeout_s=20.0), workers=2)
    assert len(res) == 164
    assert [ex.id for ex, r in zip(tasks, res) if not r.passed] == []
