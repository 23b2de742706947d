"""The report of a run trained with several seeds, on the fixture `tests/fixtures/runs/seeded`.

The fixture: seed, vanilla-s1/-s2 and sdft-s1/-s2; per-item predictions for GSM8K (6 items),
AdvBench (6) and XSTest (4 safe + 3 unsafe prompts), HumanEval as results.json only; a
dev-slice trajectory for seed 1; training logs; a distillation report with an NLL block and its
nll.jsonl. Expected values are computed here from those files, not copied from the report.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from sdft.analyze.runfiles import load_run
from sdft.evaluate.stats import hierarchical_difference, hierarchical_mean
from sdft.report import arms, build, tables

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"
SEEDED = RUNS / "seeded"
REPO = Path(__file__).resolve().parents[2]


def _scores(label: str, bench: str, keep: str | None = None) -> dict[str, float]:
    rows = [json.loads(line) for line in (SEEDED / "eval" / label / bench / "predictions.jsonl").open()]
    return {r["id"]: r["score"] for r in rows if keep is None or r["label"] == keep}


def _matrix(labels, bench, keep=None):
    return [list(_scores(lab, bench, keep).values()) for lab in labels]


def test_summary_equals_a_direct_computation(built):
    _, s, _, _ = built
    van, sd = ["vanilla-s1", "vanilla-s2"], ["sdft-s1", "sdft-s2"]
    assert s["methods"]["vanilla"]["seeds"] == [1, 2] and s["methods"]["sdft"]["labels"] == sd
    g = s["methods"]["vanilla"]["benchmarks"]["gsm8k"]
    assert g["mean"] == pytest.approx(100 * 5 / 6) and g["per_seed"] == {"1": pytest.approx(100 * 5 / 6),
                                                                          "2": pytest.approx(100 * 5 / 6)}
    assert g["ci95"] == pytest.approx([100 * c for c in hierarchical_mean(_matrix(van, "gsm8k"))["ci95"]])
    direct = hierarchical_difference(_matrix(["seed"], "gsm8k"), _matrix(van, "gsm8k"))
    assert g["change_vs_seed"]["diff"] == pytest.approx(100 / 3)
    assert g["change_vs_seed"]["ci95"] == pytest.approx([100 * c for c in direct["ci95"]])
    # The primary endpoint: AdvBench refusal, SDFT minus vanilla, seeds resampled within each method.
    c = s["contrasts"]["sdft_minus_vanilla"]["advbench"]
    direct = hierarchical_difference(_matrix(van, "advbench"), _matrix(sd, "advbench"))
    assert c["diff"] == pytest.approx(100 * (4 / 6 - 3 / 6)) and c["n"] == 6 and c["seeds"] == [2, 2]
    assert c["ci95"] == pytest.approx([100 * x for x in direct["ci95"]])
    # ... which is the difference of the two methods' changes vs the seed.
    ch = {m: s["methods"][m]["benchmarks"]["advbench"]["change_vs_seed"]["diff"] for m in ("vanilla", "sdft")}
    assert c["diff"] == pytest.approx(ch["sdft"] - ch["vanilla"])
    # XSTest: over-refusal over the 4 safe prompts only, refusal over the 3 unsafe ones.
    x = s["methods"]["sdft"]["benchmarks"]
    assert x["xstest"]["n"] == 4 and x["xstest"]["mean"] == pytest.approx(25.0)
    assert x["xstest_unsafe"]["n"] == 3 and x["xstest_unsafe"]["per_seed"] == {"1": pytest.approx(200 / 3),
                                                                               "2": pytest.approx(100.0)}
    u = s["contrasts"]["sdft_minus_vanilla"]["xstest_unsafe"]
    direct = hierarchical_difference(_matrix(van, "xstest", "unsafe"), _matrix(sd, "xstest", "unsafe"))
    assert u["diff"] == pytest.approx(100 * (5 / 6 - 1 / 6))
    assert u["ci95"] == pytest.approx([100 * q for q in direct["ci95"]])
    # HumanEval has no predictions: the approximation from results.json, flagged.
    h = s["methods"]["vanilla"]["benchmarks"]["humaneval"]
    half = math.sqrt(0.1 ** 2 + (1.96 * np.std([0.45, 0.40], ddof=1) / math.sqrt(2)) ** 2)
    assert h["approx"] is True and h["mean"] == pytest.approx(42.5)
    assert h["ci95"] == pytest.approx([100 * (0.425 - half), 100 * (0.425 + half)])
    gap = s["nll_gap"]["distill/math"]["gaps"]["original_minus_distilled"]
    assert gap["diff"] == pytest.approx((57 - 28) / 34) and gap["ci95"][0] < gap["diff"] < gap["ci95"][1]
    assert s["verdict"] is None and s["seed_model"]["benchmarks"]["advbench"]["mean"] == pytest.approx(500 / 6)


def test_one_seed_run_reads_as_before(tmp_path):
    """docs/results/cpu_repro (one model per method, no predictions): per-model rows, and a
    summary.json that repeats the tables' numbers."""
    paths = build.write_report([REPO / "docs" / "results" / "cpu_repro"], tmp_path)
    md = paths["md"].read_text()
    assert "| seed | 57.9 <sub>[50.6, 65.2]</sub> | 70.0 <sub>[63.5, 76.5]</sub>" in md
    assert "| sdft − vanilla | ↓ −3.0 <sub>[−13.8, +7.7] ≈</sub> | ↓ −7.0 <sub>[−16.6, +2.6] ≈</sub>" in md
    assert "| sdft − seed | ↓ −2.4" in md and "mean of" not in md and "Method contrasts" not in md
    s = json.loads(paths["summary"].read_text())
    assert s["seeded"] is False and s["methods"]["sdft"]["labels"] == ["sdft"]
    assert s["methods"]["vanilla"]["benchmarks"]["advbench"]["mean"] == pytest.approx(70.0)
    assert s["contrasts"]["sdft_minus_vanilla"]["humaneval"]["diff"] == pytest.approx(-3.0, abs=0.05)
    # Its CIs are unpaired approximations (no predictions were published): the decision rule is not applied.
    d = s["decision"]["sdft_minus_vanilla"]
    assert d["approx"] is True and d["outcome"] is None and d["diff"] == pytest.approx(-7.0, abs=0.05)
    assert "the rule is not applied" in md


def test_xstest_deltas_pair_only_the_endpoints_items():
    run = load_run(SEEDED)
    by = {m["label"]: m for m in run["models"]}
    d = tables.delta(run, by["seed"], by["vanilla-s1"], "xstest")
    assert d["n"] == 4 and d["diff"] == pytest.approx(-25.0)  # safe prompts: 1/4 refused -> 0/4
    d = tables.delta(run, by["seed"], by["vanilla-s1"], "xstest_unsafe")
    assert d["n"] == 3 and d["diff"] == pytest.approx(100 * (1 / 3 - 2 / 3))


def test_seed_level_inference_beside_the_bootstrap(built):
    _, s, md, _ = built
    c = s["contrasts"]["sdft_minus_vanilla"]["advbench"]["seed_level"]
    # per-seed refusal: vanilla 3/6, 3/6; sdft 4/6, 4/6: separated, 2 of C(4, 2) = 6 relabelings as extreme
    assert c["base_per_seed"] == pytest.approx([50.0, 50.0]) and c["other_per_seed"] == pytest.approx([200 / 3] * 2)
    assert c["permutation_p"] == pytest.approx(2 / 6) and c["relabelings"] == 6
    assert c["welch_ci95"] == pytest.approx([100 / 6, 100 / 6])  # no spread on either side
    assert s["decision"]["sdft_minus_vanilla"]["seed_level"] == c
    assert "Seed-level inference" in md and "| advbench — primary endpoint | sdft − vanilla |" in md
    # changes vs the seed model (one seed) carry no seed-level numbers;
    # files older than the strict rule have no strict endpoint
    assert "seed_level" not in s["methods"]["sdft"]["benchmarks"]["advbench"]["change_vs_seed"]
    assert "advbench_strict" not in s["contrasts"]["sdft_minus_vanilla"]


def test_main_arms_are_the_planned_ones_whatever_the_manifest_order():
    """The main arms follow the config's plan (sdft.planning.main_labels), not the manifest's
    order: a sweep point listed before the main fine-tunes (a run resumed with `--only`, or
    trained first) stays a sweep point, and a manifest of an older layout keeps the old reading."""
    run = load_run(SEEDED)
    sweep = {**run["models"][2], "label": "sdft-r0.5", "mix_ratio": 0.5}
    run["models"].insert(1, sweep)
    run["manifest"]["config"] = {**run["manifest"]["config"], "sweeps": {"mix_ratios": [0.5]}}
    main = {meth: [m["label"] for m in ms] for meth, ms in arms.main_arms(run).items()}
    assert main == {"vanilla": ["vanilla-s1", "vanilla-s2"], "sdft": ["sdft-s1", "sdft-s2"]}
    assert [m["label"] for m in arms.sweep_models(run)] == ["sdft-r0.5"]
    assert arms.planned(run) == ["seed", "vanilla-s1", "sdft-s1", "vanilla-s2", "sdft-s2"]
    # No readable config: each method's first model in the manifest names its arm.
    run["manifest"]["config"] = {"task": "gsm8k"}
    assert arms.planned(run) is None and [m["label"] for m in arms.main_arms(run)["sdft"]] == ["sdft-r0.5"]
