"""scripts/verdict_ready.py on the synthetic GSM8K v2 run (conftest's ``build_v2_run``): the checks
made before a pre-registered verdict is read pass on the finished run and fail, naming the cause,
on a dev manifest, a missing model, a dev-sized slice or a missing report; no score is printed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from sdft.cli import main

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "gsm8k_forgetting_v2.yaml"


def _ready(run: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "verdict_ready.py"), str(run), str(CONFIG), *flags],
                          capture_output=True, text=True, check=False)


def _failures(out: str) -> list[str]:
    return [line[5:] for line in out.splitlines() if line.startswith("FAIL")]


def test_a_finished_run_passes_and_no_score_is_printed(tmp_path, build_v2_run):
    run = build_v2_run(tmp_path)
    assert main(["report", str(run), "--no-figures"]) == 0
    done = _ready(run, "--n", "20")  # the synthetic slices hold 20 items
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines() == [
        "ok   manifest name 'gsm8k_forgetting_v2', the config's 'gsm8k_forgetting_v2'",
        f"ok   {run / 'report' / 'summary.json'} newer than every results.json (older than: none)",
        "ok   sdft_minus_vanilla: decided on 'advbench_strict', the config's primary 'advbench_strict'",
        "ok   sdft_minus_vanilla: 11 of 11 planned models evaluated (missing: none)",
        "ok   sdft_minus_vanilla: the rule names the permutation test",
        "ok   sdft_minus_vanilla: non-inferiority called on gsm8k (the config's: gsm8k)",
        "ok   sdft_minus_vanilla, advbench_strict: paired over 20 items (expected 20)",
        "ok   sdft_minus_vanilla, gsm8k: paired over 20 items (expected 20)",
        "ok   every planned model: 22 of 22 evaluated (missing: none)"]
    assert not re.search(r"\d+\.\d|%|pp\b", done.stdout)  # +25.0 pp is the synthetic verdict: never shown
    # the test slice's size is not the dev run's
    short = _ready(run, "--n", "400")
    assert short.returncode == 1
    assert _failures(short.stdout) == ["sdft_minus_vanilla, advbench_strict: paired over 20 items (expected 400)",
                                       "sdft_minus_vanilla, gsm8k: paired over 20 items (expected 400)"]
    # a report rebuilt on another endpoint (flags override the config's report section) is not the plan's
    assert main(["report", str(run), "--no-figures", "--primary", "advbench"]) == 0
    other = _ready(run)
    assert other.returncode == 1
    assert _failures(other.stdout) == ["sdft_minus_vanilla: decided on 'advbench', the config's primary "
                                       "'advbench_strict'"]


def test_a_dev_manifest_a_missing_model_and_a_missing_report_each_fail(tmp_path, build_v2_run):
    run = build_v2_run(tmp_path, only={"seed"} | {f"{m}-s{s}" for s in range(1, 6) for m in ("vanilla", "sdft")}
                       - {"sdft-s5"})
    manifest = json.loads((run / "manifest.json").read_text())
    (run / "manifest.json").write_text(json.dumps({**manifest, "name": "gsm8k_forgetting_v2_dev"}))
    missing = _ready(run)
    assert missing.returncode == 1
    assert _failures(missing.stdout) == [
        "manifest name 'gsm8k_forgetting_v2_dev', the config's 'gsm8k_forgetting_v2'",
        f"{run / 'report' / 'summary.json'}: no report yet (sdft report {run} --flip-items 0)"]
    assert main(["report", str(run), "--no-figures"]) == 0
    partial = _ready(run)
    assert _failures(partial.stdout)[1:] == [
        "sdft_minus_vanilla: 10 of 11 planned models evaluated (missing: sdft-s5)",
        "every planned model: 10 of 22 evaluated (missing: dft-s1, replay-s1, dft-s2, replay-s2, dft-s3, replay-s3, "
        "sdft-s5, vanilla-s1-a0.5, vanilla-s2-a0.5, vanilla-s3-a0.5, vanilla-s4-a0.5, vanilla-s5-a0.5)"]

    # an evaluation finishing after the report leaves it stale
    results = run / "eval" / "vanilla-s1" / "results.json"
    summary = run / "report" / "summary.json"
    os.utime(results, (summary.stat().st_mtime + 5,) * 2)
    assert f"{summary} newer than every results.json (older than: vanilla-s1)" in _failures(_ready(run).stdout)


def test_a_folder_that_is_not_a_run_or_a_broken_config_is_one_line_naming_the_file(tmp_path, build_v2_run):
    got = _ready(tmp_path / "nowhere")
    assert got.returncode == 2 and got.stdout == ""
    nowhere = tmp_path / "nowhere"
    assert got.stderr.strip() == (f"verdict_ready: {nowhere / 'manifest.json'}: no manifest.json; is {nowhere} a run "
                                  "folder written by `sdft run`?")
    run = build_v2_run(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: qwen2.5-coder-0.5b\nseedz: [1, 2]\n")  # a misspelt key
    got = subprocess.run([sys.executable, str(ROOT / "scripts" / "verdict_ready.py"), str(run), str(bad)],
                         capture_output=True, text=True, check=False)
    assert got.returncode == 2 and got.stdout == "" and len(got.stderr.strip().splitlines()) == 1
    assert got.stderr.startswith(f"verdict_ready: {bad}") and "seedz" in got.stderr, got.stderr
