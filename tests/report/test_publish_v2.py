"""scripts/publish_run.py on a synthetic run folder of GSM8K v2's final shape (conftest.py's
``build_v2_run``: the seed, vanilla and SDFT x 5 training seeds, DFT and replay x 3, interpolation alpha 0.5 of
each vanilla seed, KL-to-seed folders, an NLL block): does the published folder hold what issue 32 point 7 asks
for (summary.json with per-seed values per method, the report with the Pareto figure, the manifest, the NLL gap
and the seed<->fine-tune KL per model, the plan's decision and non-inferiority statements), without the
datasets' text, and does a report rebuilt from it alone keep the paired CIs and the seed-level test?
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sdft.cli import main
from sdft.report import run_tables

ROOT = Path(__file__).resolve().parents[2]

ENDPOINTS = ("advbench_strict", "advbench", "xstest", "gsm8k", "humaneval", "ifeval")


@pytest.fixture(scope="module")
def published(tmp_path_factory, build_v2_run):
    root = tmp_path_factory.mktemp("pub")
    run = build_v2_run(root)
    (run / "train" / "vanilla-s1").mkdir(parents=True)  # trained again after a machine change: a sibling
    (run / "train" / "vanilla-s1" / "train_summary.json").write_text('{"steps": 200}')
    (run / "train" / "vanilla-s2").mkdir(parents=True)  # being trained again: a partial log, no summary yet
    (run / "train" / "vanilla-s2" / "train_log.jsonl").write_text('{"step": 1, "loss": 1.0}\n')
    (run / "train" / "vanilla-s1" / "identity.json").write_text(json.dumps({
        "label": "vanilla-s1", "same_weights": False, "identical": 1, "items": 64, "max_rel_diff": 4.2e-06,
        "compared_with": "predict/vanilla-s1-carried"}))
    assert main(["report", str(run)]) == 0  # as the pipeline's last stage writes it (figures on)
    assert re.search(r"harmful \d", (run / "report" / "report.html").read_text())  # its flip browser quotes prompts
    dest = root / "docs" / "gsm8k_forgetting_v2"
    refused = _publish(run, dest)
    assert refused.returncode == 2 and not dest.exists()
    assert refused.stderr.startswith(f"{run / 'report' / 'report.md'}: its per-item flip browser quotes prompts")
    assert refused.stderr.strip().endswith(f"sdft report {run} --flip-items 0")
    assert main(["report", str(run), "--flip-items", "0"]) == 0  # as the message says
    done = _publish(run, dest)
    assert done.returncode == 0, done.stderr
    return run, dest, json.loads((dest / "summary.json").read_text())


def _publish(run: Path, dest: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "publish_run.py"), str(run), str(dest)],
                          capture_output=True, text=True, check=False)


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_the_published_folder_holds_the_report_pareto_figure_manifest_and_every_models_scores(published):
    run, dest, s = published
    files = _files(dest)
    assert {"manifest.json", "summary.json", "report/summary.json", "report/report.md", "report/report.html",
            "report/figures/pareto.png", "report/figures/forest.png", "report/figures/benchmarks.png"} <= files
    assert (dest / "summary.json").read_text() == (run / "report" / "summary.json").read_text()
    md, html = (dest / "report" / "report.md").read_text(), (dest / "report" / "report.html").read_text()
    assert "](figures/pareto.png)" in md  # the figure is referenced, not only present; the HTML embeds it
    assert "<img alt='gsm8k_forgetting_v2: target task gained (x) vs advbench (strict rule) kept (y)" in html
    manifest = json.loads((dest / "manifest.json").read_text())
    assert len(manifest["models"]) == 22
    for m in manifest["models"]:  # every model's results and per-item scores, for each of the five benchmarks
        assert f"{m['eval_dir']}/results.json" in files
        assert {f"{m['eval_dir']}/{b}/scores.jsonl" for b in ("advbench", "xstest", "gsm8k", "humaneval", "ifeval")} \
            <= files, m["label"]
        if m.get("kl_dir"):  # the 16 fine-tunes' seed<->fine-tune KL
            assert f"{m['kl_dir']}/kl_to_seed.json" in files
    assert sum(bool(m.get("kl_dir")) for m in manifest["models"]) == 16
    assert "train/vanilla-s1/identity.json" in files and not any(f.startswith("train/vanilla-s2/") for f in files)
    assert {"distill/math/distill_report.json", "distill/math/nll.jsonl"} <= files  # the NLL block, its examples
    # nothing that quotes the datasets, nothing large
    assert not any(f.endswith("predictions.jsonl") for f in files)
    for f in (f for f in files if f.endswith(("scores.jsonl", "nll.jsonl"))):
        rows = [json.loads(x) for x in (dest / f).read_text().splitlines()]
        assert rows and not any({"prompt", "predict", "request"} & set(r) for r in rows), f
    assert all((dest / f).stat().st_size < 512 * 1024 for f in files)
    assert not any(re.search(r"harmful \d", (dest / f).read_text(errors="replace")) for f in files)


def test_summary_json_has_per_seed_values_per_method_and_interpolation_point(published):
    _, _, s = published
    seeds = {"vanilla": 5, "sdft": 5, "dft": 3, "replay": 3}
    for method, n in seeds.items():
        bench = s["methods"][method]["benchmarks"]
        for e in ENDPOINTS:
            assert len(bench[e]["per_seed"]) == n, (method, e)
    interp = s["methods_comparison"]["interpolation"]["vanilla α=0.5"]["benchmarks"]
    for e in ENDPOINTS:
        assert len(interp[e]["per_seed"]) == 5, e
    assert s["methods"]["sdft"]["benchmarks"]["advbench_strict"]["per_seed"] == pytest.approx(
        {str(i): 50 + 5 * i for i in range(1, 6)})
    assert s["methods"]["vanilla"]["benchmarks"]["gsm8k"]["per_seed"] == pytest.approx(
        {str(i): 40 + 5 * i for i in range(1, 6)})


def test_the_predictors_decision_and_non_inferiority_are_published(published):
    _, dest, s = published
    per_model = {m["label"]: m for m in s["predictors"]["per_model"]}
    assert len(per_model) == 16 and all(m["kl"] is not None for m in per_model.values())
    assert per_model["vanilla-s5"]["kl"] == pytest.approx(0.14) and per_model["sdft-s1"]["kl"] == pytest.approx(0.03)
    assert per_model["sdft-s3"]["nll_gap"] == pytest.approx(0.853, abs=5e-4)
    assert per_model["vanilla-s1"]["nll_gap"] == 0.0 and per_model["replay-s1"]["nll_gap"] is None
    d = s["decision"]["sdft_minus_vanilla"]
    assert d["endpoint"] == "advbench_strict" and d["outcome"] == "better"
    assert d["seed_level"]["permutation_p"] == pytest.approx(2 / 252)
    n = s["non_inferiority"]["sdft_minus_vanilla"]["gsm8k"]
    md = (dest / "report" / "report.md").read_text()
    assert f"**Decision rule (primary endpoint).** {d['statement']}" in md
    assert f"> **Non-inferiority (secondary).** {n['statement']}" in md
    assert "**Forgetting predictors per fine-tune" in md and "**NLL gap" in md


def test_a_report_rebuilt_from_the_published_folder_alone_keeps_the_paired_numbers(published, tmp_path):
    """The primary's paired CI, the seed-level test, the non-inferiority call and the predictors
    are read again from scores.jsonl / kl_to_seed.json / distill_report.json / nll.jsonl alone."""
    run, dest, s = published
    assert main(["report", str(dest), "--out", str(tmp_path / "again")]) == 0
    again = json.loads((tmp_path / "again" / "summary.json").read_text())
    assert {"pareto.png", "forest.png", "benchmarks.png"} <= {p.name for p in (tmp_path / "again/figures").glob("*")}
    for key in ("decision", "non_inferiority", "contrasts", "methods"):
        assert again[key] == s[key], key
    assert again["predictors"]["per_model"] == s["predictors"]["per_model"]
    # which fine-tune is a retrained sibling, from its published identity check (a git checkout keeps no file times)
    assert list(again["retrained_siblings"]) == list(s["retrained_siblings"]) == ["vanilla-s1"]
    assert "retrained siblings: vanilla-s1 (1 of 64 items identical" in (tmp_path / "again" / "report.md").read_text()
    assert again["nll_gap"] == s["nll_gap"]  # its paired CIs too: nll.jsonl is published
    md = (tmp_path / "again" / "report.md").read_text()
    assert md.count("≈") == (run / "report" / "report.md").read_text().count("≈")
    # the NLL gap's CI: a paired bootstrap over the examples of the published nll.jsonl (ids and numbers, no text)
    line = next(x for x in md.splitlines() if "distill/math: gap: original − distilled" in x)
    assert "no CI" not in line, line


def test_a_stage_run_again_keeps_the_finished_record_it_replaced_in_the_published_manifest(tmp_path):
    """A fine-tune whose weights were lost and trained again (a retrained sibling) replaces its stage record
    in the run's manifest; the published manifest keeps the evaluated one's under ``earlier``."""
    run, dest = tmp_path / "run", tmp_path / "pub"
    xeon = {"status": "done", "dir": "train/vanilla-s1-3756", "key": "3756", "wall_s": 5436.1, "git": "74cb8aa",
            "cpu": "Intel Xeon"}
    seed = {"status": "done", "dir": "eval/seed-1", "key": "1", "wall_s": 10.0}

    def publish_with(train_record, name="v2"):
        run.mkdir(exist_ok=True)
        (run / "manifest.json").write_text(json.dumps(
            {"name": name, "models": [], "stages": {"eval/seed": seed, "train/vanilla-s1": train_record}}))
        done = _publish(run, dest)
        assert done.returncode == 0, done.stderr
        return json.loads((dest / "manifest.json").read_text())["stages"]

    assert publish_with(xeon)["train/vanilla-s1"] == xeon  # nothing earlier to keep
    running = {"status": "running", "dir": "train/vanilla-s1-3756", "key": "3756", "sittings": 1}
    assert publish_with(running)["train/vanilla-s1"] == {**running, "earlier": [xeon]}
    amd = {**xeon, "wall_s": 2172.5, "git": "1b3beab", "cpu": "AMD EPYC", "sittings": 2}
    stages = publish_with(amd)
    assert stages["train/vanilla-s1"] == {**amd, "earlier": [xeon]}  # the running record was not a result
    assert stages["eval/seed"] == seed  # unchanged records gain nothing
    assert publish_with(amd)["train/vanilla-s1"] == {**amd, "earlier": [xeon]}  # published again: kept once
    table = run_tables.stage_table({"manifest": json.loads((dest / "manifest.json").read_text())})
    rows = {r[0]: r for r in table["rows"]}  # the report's stage table names the run a retrain replaced
    assert rows["train/vanilla-s1"][3:] == ["2", "AMD EPYC", "train/vanilla-s1-3756", "74cb8aa, Intel Xeon, 5,436 s"]
    assert rows["eval/seed"][4:] == ["—", "eval/seed-1", "—"]
    assert publish_with(amd, name="other")["train/vanilla-s1"] == amd  # another experiment's records are not kept
