"""sdft.allocator: which library the `sdft` command preloads, and the re-execution itself."""

import os
import subprocess
import sys
import textwrap
import types

import pytest

from sdft import allocator, cli


def test_find_follows_the_environment(monkeypatch, tmp_path):
    names = {"tcmalloc_minimal": "libtcmalloc_minimal.so.4", "tcmalloc": "libtcmalloc.so.4"}
    monkeypatch.setattr(allocator.ctypes.util, "find_library", names.get)
    monkeypatch.setattr(allocator, "gpu_visible", lambda: False)  # a CPU machine
    monkeypatch.delenv(allocator.ENV, raising=False)
    assert allocator.find() == "libtcmalloc_minimal.so.4"  # the minimal one first
    monkeypatch.setenv(allocator.ENV, "system")
    assert allocator.find() is None
    lib = tmp_path / "libjemalloc.so.2"
    lib.write_bytes(b"")
    monkeypatch.setenv(allocator.ENV, str(lib))
    assert allocator.find() == str(lib)
    monkeypatch.setenv(allocator.ENV, str(tmp_path / "missing.so"))
    with pytest.raises(FileNotFoundError, match="SDFT_ALLOCATOR=.*missing.so"):
        allocator.find()
    monkeypatch.setenv(allocator.ENV, "auto")
    monkeypatch.setattr(allocator.ctypes.util, "find_library", lambda name: None)
    assert allocator.find() is None  # no tcmalloc on this system: glibc's allocator


def test_active_reads_the_mapped_libraries(tmp_path):
    maps = tmp_path / "maps"
    libc = "7f20-7f21 r-xp 00000000 fd:00 123 /usr/lib/x86_64-linux-gnu/libc.so.6"
    maps.write_text(libc + "\n7f30-7f31 rw-p 00000000 00:00 0\n")
    assert allocator.active(str(maps)) is None
    tc = "7f40-7f41 r-xp 00000000 fd:00 124 /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4.5.10"
    maps.write_text(f"{libc}\n{tc}\n")
    assert allocator.active(str(maps)) == "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4.5.10"
    assert allocator.active(str(tmp_path / "none")) is None


def test_preload_env_puts_the_library_first_once():
    env = allocator.preload_env({"LD_PRELOAD": "libfoo.so libtc.so", "X": "1"}, "libtc.so")
    assert env["LD_PRELOAD"] == "libtc.so libfoo.so" and env["X"] == "1"
    assert allocator.preload_env({}, "libtc.so")["LD_PRELOAD"] == "libtc.so"


def test_reexec_does_nothing_when_it_must_not(monkeypatch):
    def boom(*a):
        raise AssertionError("re-executed")

    monkeypatch.setattr(allocator.os, "execve", boom)
    monkeypatch.setattr(allocator, "find", lambda: "libtcmalloc_minimal.so.4")
    monkeypatch.setattr(allocator, "active", lambda: None)
    monkeypatch.setenv(allocator._REEXECUTED, "1")  # the re-executed process, even if the preload failed
    allocator.reexec(["sdft", "ls"])
    monkeypatch.delenv(allocator._REEXECUTED)
    monkeypatch.setattr(sys.modules["__main__"], "__spec__", None)
    allocator.reexec(["-c", "ls"])  # python -c: nothing to run again
    monkeypatch.setattr(allocator, "active", lambda: "/usr/lib/libtcmalloc_minimal.so.4")
    allocator.reexec(["sdft", "ls"])  # already preloaded
    assert cli.main(["ls"]) == 0  # called from Python: never re-executes


def test_reexec_runs_the_command_again_with_the_library(monkeypatch):
    calls = []
    monkeypatch.setattr(allocator.os, "execve", lambda exe, args, env: calls.append((exe, args, env)))
    monkeypatch.setattr(allocator, "find", lambda: "libtcmalloc_minimal.so.4")
    monkeypatch.setattr(allocator, "active", lambda: None)
    monkeypatch.delenv(allocator._REEXECUTED, raising=False)
    monkeypatch.setenv("LD_PRELOAD", "libother.so")
    monkeypatch.setattr(sys.modules["__main__"], "__spec__", None)  # the `sdft` console script
    allocator.reexec(["/venv/bin/sdft", "run", "configs/demo.yaml"])
    monkeypatch.setattr(sys.modules["__main__"], "__spec__", types.SimpleNamespace(name="sdft.cli"))
    allocator.reexec(["/src/sdft/cli.py", "run", "configs/demo.yaml"])  # python -m sdft.cli
    (exe, args, env), (_, args_m, _) = calls
    assert exe == sys.executable and args == [sys.executable, "/venv/bin/sdft", "run", "configs/demo.yaml"]
    assert args_m == [sys.executable, "-m", "sdft.cli", "run", "configs/demo.yaml"]
    assert env["LD_PRELOAD"] == "libtcmalloc_minimal.so.4 libother.so" and env[allocator._REEXECUTED] == "1"


def test_a_real_process_runs_under_tcmalloc(tmp_path):
    """A script that calls reexec comes back with tcmalloc mapped; with SDFT_ALLOCATOR=system,
    without. (scripts/setup.sh installs tcmalloc where it can.)"""
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", allocator.ENV, allocator._REEXECUTED)}
    if subprocess.run([sys.executable, "-m", "sdft.allocator"], env=env, capture_output=True,
                      text=True).stdout.strip() == "":
        pytest.skip("no tcmalloc on this machine (Debian/Ubuntu: apt-get install libtcmalloc-minimal4)")
    script = tmp_path / "probe.py"
    script.write_text(textwrap.dedent("""
        import os, sys
        from sdft import allocator
        print("pid", os.getpid(), flush=True)
        allocator.reexec(sys.argv)
        print("active", allocator.active(), sys.argv[1:])
    """))
    out = subprocess.run([sys.executable, str(script), "a", "b"], env=env, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert len([line for line in out if line.startswith("pid")]) == 2  # ran, then ran again
    assert "tcmalloc" in out[-1] and out[-1].endswith("['a', 'b']")
    out = subprocess.run([sys.executable, str(script)], env=env | {allocator.ENV: "system"}, capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert out[-1] == "active None []" and len(out) == 2


def test_gpu_visible_reads_device_nodes_and_cuda_visible_devices(tmp_path):
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "nvidiactl").write_text("")  # the control node alone: a driver, no GPU
    (dev / "nvidia-uvm").write_text("")
    assert not allocator.gpu_visible(str(dev), {})
    (dev / "nvidia0").write_text("")
    assert allocator.gpu_visible(str(dev), {})
    assert allocator.gpu_visible(str(dev), {"CUDA_VISIBLE_DEVICES": "0"})
    assert not allocator.gpu_visible(str(dev), {"CUDA_VISIBLE_DEVICES": ""})  # every device hidden
    assert not allocator.gpu_visible(str(dev), {"CUDA_VISIBLE_DEVICES": "-1"})


def test_auto_preloads_nothing_where_a_gpu_is_visible(monkeypatch, tmp_path):
    monkeypatch.setattr(allocator.ctypes.util, "find_library", lambda name: "libtcmalloc_minimal.so.4")
    monkeypatch.setattr(allocator, "gpu_visible", lambda: True)
    assert allocator.find("auto") is None
    lib = tmp_path / "libtcmalloc_minimal.so.4"
    lib.write_bytes(b"")
    assert allocator.find(str(lib)) == str(lib)  # named explicitly: preloaded on a GPU machine too
    monkeypatch.setattr(allocator, "gpu_visible", lambda: False)
    assert allocator.find("auto") == "libtcmalloc_minimal.so.4"
