"""One writer per output: a second `sdft generate` (or `sdft run`) on the same output stops at once
naming the holder, or waits with --wait; two writers never leave an id twice; a kill -9'd holder
never blocks a later run."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sdft.cli import main
from sdft.errors import OutputError
from sdft.locks import lock_file, output_lock

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="flock: needs a POSIX host")

HOLD = ("import sys\nfrom sdft.locks import output_lock\n"
        "with output_lock(sys.argv[1], folder=sys.argv[2] == 'folder'):\n"
        "    print('held', flush=True)\n    sys.stdin.readline()\n")


def _holder(out: Path, folder: bool = False) -> subprocess.Popen:
    """Another process holding ``out``'s lock until a line arrives on its stdin."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out), "folder" if folder else "file"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def _dataset(path: Path, n: int) -> Path:
    path.write_text(json.dumps([{"instruction": f"q{i}", "output": str(i)} for i in range(n)]), encoding="utf-8")
    return path


def _generate(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sdft.cli", "generate", "--backend", "fake", "--data", str(data),
            "--out", str(out), *extra]


def _ids(out: Path) -> list[str]:
    return [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()]


def test_a_second_writer_stops_naming_the_holder_and_two_waiting_writers_write_each_id_once(tmp_path):
    data, out = _dataset(tmp_path / "qa.json", 16), tmp_path / "preds.jsonl"
    holder = _holder(out)
    try:
        res = subprocess.run(_generate(data, out), capture_output=True, text=True, timeout=120)
        assert res.returncode == 2
        assert f"{out} is being written by another sdft process (pid {holder.pid} on {platform.node()}, since " \
               in res.stderr and "--wait" in res.stderr
        assert "Traceback" not in res.stderr and not out.exists()
        # Two writers queued on the same output while it is held: both finish, each id once.
        writers = [subprocess.Popen(_generate(data, out, "--wait"), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True) for _ in range(2)]
        for w in writers:  # each says it waits for the holder before the holder lets go
            assert f"waiting for pid {holder.pid}" in w.stderr.readline()
    finally:
        holder.communicate("\n", timeout=60)
    results = [w.communicate(timeout=120) for w in writers]
    assert [w.returncode for w in writers] == [0, 0], results
    assert sorted(_ids(out)) == sorted(f"qa/{i}" for i in range(16))
    said = sorted(r[0].strip().split(": ", 1)[1][:20] for r in results)
    assert said == ["16 generated, 0 alre", "all 16 records alrea"]


def test_a_kill_9_holder_never_blocks_a_later_run(tmp_path, capsys):
    data, out = _dataset(tmp_path / "qa.json", 4), tmp_path / "preds.jsonl"
    holder = _holder(out)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert lock_file(out, folder=False).exists()  # the file is left; no process holds it
    assert main(["generate", "--backend", "fake", "--data", str(data), "--out", str(out)]) == 0
    assert _ids(out) == [f"qa/{i}" for i in range(4)]


def test_a_run_folder_has_one_writer(tmp_path, capsys):
    run_dir = tmp_path / "run"
    holder = _holder(run_dir, folder=True)
    try:
        config = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"
        assert main(["run", str(config), "--out", str(run_dir)]) == 2
        err = capsys.readouterr().err
        assert f"{run_dir} is being written by another sdft process (pid {holder.pid}" in err
        with pytest.raises(OutputError, match="is being written by another sdft process"):
            with output_lock(run_dir, folder=True):
                pass
    finally:
        holder.communicate("\n", timeout=60)
    with output_lock(run_dir, folder=True) as lock:  # free once the holder ended
        assert lock == run_dir / ".lock"


def test_a_stage_folder_being_written_is_not_run_into_by_the_pipeline(tmp_path):
    """`sdft eval --out RUN/eval/x` holding a stage folder: the run's stage stops, naming it,
    runs none of its work and marks nothing done; once free, the stage runs."""
    from sdft.errors import OutputError
    from sdft.experiment import ExperimentConfig
    from sdft.stages import Run, marked_done

    run = Run(ExperimentConfig(name="t", out=str(tmp_path / "run")), "t.yaml")
    folder = run.dir / "eval" / "seed-0"
    ran = []
    holder = _holder(folder, folder=True)
    try:
        with pytest.raises(OutputError, match=f"pid {holder.pid}"):
            run.stage("eval/seed", folder, "k", lambda: ran.append(1))
    finally:
        holder.communicate("\n", timeout=60)
    assert ran == [] and not marked_done(folder, "k")
    run.stage("eval/seed", folder, "k", lambda: ran.append(1))
    assert ran == [1] and marked_done(folder, "k")
