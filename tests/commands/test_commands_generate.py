"""`sdft generate`: the JSONL it writes, config errors, and resuming after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sdft.cli import main


def _dataset(path: Path, n: int) -> Path:
    rows = [{"instruction": f"Question number {i}: what is {i} plus {i}?", "input": "", "output": f"{2 * i}"}
            for i in range(n)]
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def _lines(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n"), "a partial last line survived"
    return [json.loads(line) for line in text.splitlines()]


def test_fake_backend_writes_llama_factory_shape_and_resumes(tmp_path, capsys):
    data = _dataset(tmp_path / "qa.json", 5)
    out = tmp_path / "preds.jsonl"
    args = ["generate", "--backend", "fake", "--data", str(data), "--out", str(out), "--limit", "3"]
    assert main(args) == 0
    lines = _lines(out)
    assert [r["id"] for r in lines] == ["qa/0", "qa/1", "qa/2"]
    first = lines[0]
    assert first["predict"] == "Question number 0: what is 0 plus 0?"  # the fake backend echoes
    assert first["label"] == "0" and first["prompt"].startswith("<user>Question number 0")
    assert first["finish_reason"] == "stop" and first["num_tokens"] == 8
    assert "3 generated" in capsys.readouterr().out
    meta = json.loads(Path(str(out) + ".meta.json").read_text())
    assert meta["config"]["limit"] == 3 and meta["stats"]["generated"] == 3

    # a resume with settings that change the answers is refused: it used to mix them in one file
    assert main(args[:-2] + ["--limit", "5", "--stop", "plus", "--max-new-tokens", "2"]) == 2
    err = capsys.readouterr().err
    assert "preds.jsonl: its 3 records were made with other settings (max_new_tokens 256 there, 2 now; " \
           "stop [] there, ['plus'] now); use another --out" in err
    assert len(_lines(out)) == 3
    assert main(args[:-2] + ["--limit", "5"]) == 0  # more items, same settings: resumed
    assert [r["id"] for r in _lines(out)] == [f"qa/{i}" for i in range(5)]
    assert "2 generated, 3 already there" in capsys.readouterr().out
    assert main(args) == 0
    assert "already generated" in capsys.readouterr().out
    other = tmp_path / "short.jsonl"
    assert main(args[:-4] + ["--out", str(other), "--stop", "plus", "--max-new-tokens", "2"]) == 0
    assert _lines(other)[3]["predict"] == "Question number" and _lines(other)[3]["finish_reason"] == "length"


def test_an_interrupted_file_has_its_settings_for_the_resume(tmp_path, capsys, monkeypatch):
    """The .meta.json is written before the first answer, so a file cut short by a kill is checked
    on its resume too (the check would otherwise have nothing to compare with)."""
    from sdft.generation import runner

    data = _dataset(tmp_path / "qa.json", 4)
    out = tmp_path / "preds.jsonl"
    args = ["generate", "--backend", "fake", "--data", str(data), "--out", str(out)]
    real = runner.generate_jsonl

    def killed(generator, requests, *a, **k):
        real(generator, requests[:2], *a, **k)
        raise SystemExit(137)

    monkeypatch.setattr(runner, "generate_jsonl", killed)
    with pytest.raises(SystemExit):
        main(args)
    monkeypatch.setattr(runner, "generate_jsonl", real)
    assert len(_lines(out)) == 2 and json.loads(Path(str(out) + ".meta.json").read_text())["stats"] is None
    assert main(args + ["--max-new-tokens", "9"]) == 2
    assert "its 2 records were made with other settings (max_new_tokens 256 there, 9 now)" in capsys.readouterr().err
    assert main(args) == 0 and len(_lines(out)) == 4


def test_resume_where_auto_resolves_to_another_dtype_stops(tmp_path, capsys, monkeypatch):
    from sdft import models

    data = _dataset(tmp_path / "qa.json", 4)
    out = tmp_path / "preds.jsonl"
    args = ["generate", "--backend", "fake", "--data", str(data), "--out", str(out)]
    monkeypatch.setattr(models, "default_device", lambda: "cpu")
    monkeypatch.setattr(models, "cpu_has_fast_bf16", lambda: True)  # an Intel Xeon with AMX-BF16
    assert main(args + ["--limit", "2"]) == 0
    assert json.loads(Path(str(out) + ".meta.json").read_text())["dtype"] == "bfloat16"
    monkeypatch.setattr(models, "cpu_has_fast_bf16", lambda: False)  # an AMD EPYC, AVX2 only
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "preds.jsonl (its .meta.json): recorded as run in bfloat16" in err and "float32" in err
    assert len(_lines(out)) == 2  # nothing was added in the other precision
    assert main(args + ["--dtype", "bfloat16"]) == 0 and len(_lines(out)) == 4  # explicit: the same everywhere


def test_config_errors_are_one_line_exit_2(tmp_path, capsys):
    data = _dataset(tmp_path / "qa.json", 2)
    assert main(["generate", "--backend", "fake", "--data", str(data)]) == 2
    assert "`out` is required" in capsys.readouterr().err
    cfg = tmp_path / "gen.yaml"
    cfg.write_text(f"data: x\nout: {tmp_path / 'y.jsonl'}\nmax_new_token: 3\n")
    assert main(["generate", "--config", str(cfg)]) == 2
    assert "unknown key(s) 'max_new_token'" in capsys.readouterr().err
    assert main(["generate", "--backend", "nope", "--data", str(data), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "unknown generation backend" in capsys.readouterr().err


@pytest.mark.slow
def test_kill_9_mid_run_then_resume(tmp_path, tiny_model_dir):
    n = 24
    data = _dataset(tmp_path / "qa.json", n)
    out = tmp_path / "preds.jsonl"
    cmd = [sys.executable, "-m", "sdft.cli", "generate", "--model", tiny_model_dir, "--data", str(data),
           "--out", str(out), "--max-new-tokens", "48", "--max-batch-size", "2", "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= 3:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run finished before it could be killed; make it longer"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    killed_at = len(out.read_bytes().splitlines())
    assert 3 <= killed_at < n

    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    lines = _lines(out)
    ids = [r["id"] for r in lines]
    assert len(ids) == len(set(ids)) == n
    assert set(ids) == {f"qa/{i}" for i in range(n)}
    assert all(r["num_tokens"] == 48 and r["finish_reason"] == "length" for r in lines)
    assert f"{n - killed_at} generated" in res.stdout or f"{n - killed_at + 1} generated" in res.stdout


def test_a_limit_below_one_exits_2(tmp_path, capsys):
    data = _dataset(tmp_path / "qa.json", 3)
    for bad in ("-2", "0"):  # -2 generated for all but two records, 0 for none
        args = ["generate", "--backend", "fake", "--data", str(data), "--out", str(tmp_path / "o.jsonl")]
        assert main([*args, "--limit", bad]) == 2
        assert f"limit: must be a positive number of examples (or unset for all), got {bad}" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


def test_a_bad_flag_value_names_the_flag_once(tmp_path, capsys):
    """The error used to read "sdft generate: error: sdft generate: `temperature` expects float"."""
    assert main(["generate", "--model", "smollm2-135m", "--data", "gsm8k:test[:1]", "--out", str(tmp_path / "o.jsonl"),
                 "--temperature", "abc"]) == 2
    err = capsys.readouterr().err
    assert "sdft generate: error: flags: `temperature` expects float, got 'abc'" in err
    assert err.count("sdft generate") == 1 and not (tmp_path / "o.jsonl").exists()
