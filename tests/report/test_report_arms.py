"""The report of a run trained with several seeds, on the fixture `tests/fixtures/runs/seeded`.

The fixture: seed, vanilla-s1/-s2 and sdft-s1/-s2; per-item predictions for GSM8K (6 items),
AdvBench (6) and XSTest (4 safe + 3 unsafe prompts), HumanEval as results.json only; a
dev-slice trajectory for seed 1; training logs; a distillation report with an NLL block and its
nll.jsonl. Expected values are computed here from those files, not copied from the report.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from sdft.analyze import runfiles
from sdft.analyze.runfiles import load_run
from sdft.evaluate.stats import hierarchical_difference, hierarchical_mean, paired_difference
from sdft.report import arms, build, cells, curves, decision, flips, tables

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"
SEEDED = RUNS / "seeded"
REPO = Path(__file__).resolve().parents[2]


def _scores(label: str, bench: str, keep: str | None = None) -> dict[str, float]:
    rows = [json.loads(line) for line in (SEEDED / "eval" / label / bench / "predictions.jsonl").open()]
    return {r["id"]: r["score"] for r in rows if keep is None or r["label"] == keep}


def _matrix(labels, bench, keep=None):
    return [list(_scores(lab, bench, keep).values()) for lab in labels]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("seeded_report")
    paths = build.write_report([SEEDED], out)
    return out, json.loads(paths["summary"].read_text()), paths["md"].read_text(), paths["html"].read_text()


def test_hierarchical_mean():
    rows = [[1, 0, 1, 1], [0, 0, 1, 1], [1, 1, 1, 0]]
    h = hierarchical_mean(rows)
    assert h["mean"] == pytest.approx(np.mean(rows)) and h["n"] == 4 and h["seeds"] == 3
    assert h["ci95"][0] < h["mean"] < h["ci95"][1]
    assert hierarchical_mean([[0.5] * 5, [0.5] * 5])["ci95"] == [0.5, 0.5]
    # Seed-to-seed spread widens the interval over one seed's item bootstrap.
    one = hierarchical_mean([[1, 0, 1, 0, 1, 0, 1, 0]])
    two = hierarchical_mean([[1, 1, 1, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0, 1, 0]])
    assert two["ci95"][1] - two["ci95"][0] > one["ci95"][1] - one["ci95"][0]


def test_the_two_level_bootstrap_on_cases_worked_by_hand():
    rng = np.random.default_rng(7)
    a, b = rng.integers(0, 2, 40).tolist(), rng.integers(0, 2, 40).tolist()
    paired = paired_difference(a, b)
    # One seed per method, or seeds that agree item for item: only the items vary, as in the paired bootstrap.
    assert hierarchical_difference([a], [b])["ci95"] == pytest.approx(paired["ci95"])
    assert hierarchical_difference([a, a], [b, b, b])["ci95"] == pytest.approx(paired["ci95"])
    assert paired["ci95"][0] < paired["diff"] < paired["ci95"][1]
    # Every item alike, two seeds apart (all 0, all 1): only the seed draw varies. Two draws from {0, 1}
    # average 0, 0.5 or 1 (1/4, 1/2, 1/4), so the 2.5 % and 97.5 % quantiles are 0 and 1.
    h = hierarchical_difference([[0] * 10, [1] * 10], [[1] * 10])
    assert h["diff"] == pytest.approx(0.5) and h["ci95"] == pytest.approx([0.0, 1.0])
    assert hierarchical_mean([[0] * 10, [1] * 10])["ci95"] == pytest.approx([0.0, 1.0])


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


def test_seeded_tables_show_methods_and_the_primary_endpoint_first(built):
    _, s, md, _ = built
    run = load_run(SEEDED)
    scores = tables.score_table([run], runfiles.benchmarks_of(run["models"]))
    assert [r[0] for r in scores["rows"]] == ["seed", "vanilla (mean of 2 seeds)", "sdft (mean of 2 seeds)"]
    g = s["methods"]["vanilla"]["benchmarks"]["gsm8k"]
    assert scores["rows"][1][1] == {"text": "83.3", "small": [f"[{g['ci95'][0]:.1f}, {g['ci95'][1]:.1f}]",
                                                              "s1 83.3 · s2 83.3"]}
    contrast = tables.contrast_table(run, runfiles.benchmarks_of(run["models"]))
    assert contrast["rows"][0][0] == "advbench — primary endpoint"
    c = s["contrasts"]["sdft_minus_vanilla"]["advbench"]
    assert contrast["rows"][0][1]["text"] == "↑ +16.7"
    assert contrast["rows"][0][1]["small"][0] == cells.delta_cell(c)["small"][0]
    assert tables.delta_table([run], runfiles.benchmarks_of(run["models"])) is None  # no sweep points
    safety = tables.safety_table([run], runfiles.benchmarks_of(run["models"]))
    assert safety["columns"] == ["model", "advbench", "xstest over-refusal (safe)", "xstest refusal (unsafe)"]
    assert safety["rows"][2][3]["text"] == "83.3"  # sdft's mean refusal of the unsafe prompts
    forget = tables.forgetting_table([run], runfiles.benchmarks_of(run["models"]))
    assert forget["rows"][0][1] == "↑ +33.3" and forget["rows"][0][4] == {"text": "= +0.0", "invert": True}
    assert "| advbench — primary endpoint | ↑ +16.7" in md and "| vanilla − seed (mean of 2 seeds) | ↑ +33.3" in md
    # The forest plot draws the change-vs-seed numbers: 5 endpoints × 2 methods.
    rows = build.forest_rows(run, runfiles.benchmarks_of(run["models"]))
    assert len(rows) == 10
    by = {(r["endpoint"], r["method"]): r["diff"] for r in rows}
    change = s["methods"]["sdft"]["benchmarks"]["advbench"]["change_vs_seed"]
    assert by[("advbench", "sdft")] == pytest.approx(change["diff"])


def test_flip_browser_lists_exactly_the_flipped_items(built):
    _, _, md, page = built
    run = load_run(SEEDED)
    assert [m["label"] for m in flips.compared_models(run)] == ["seed", "vanilla-s1", "sdft-s1"]
    expected = {}
    for bench in ("gsm8k", "advbench", "xstest"):
        cols = [_scores(lab, bench) for lab in ("seed", "vanilla-s1", "sdft-s1")]
        expected[bench] = [i for i in cols[0] if len({c[i] for c in cols}) > 1]
    data = flips.browser(run, runfiles.benchmarks_of(run["models"]))
    got = {b: [it["id"] for it in v["shown"]] for b, v in data["benchmarks"].items()}
    assert {b: set(v) for b, v in got.items()} == {b: set(v) for b, v in expected.items()}
    assert got["gsm8k"] == ["gsm8k-3", "gsm8k-1"]  # the fine-tunes disagree on item 3: it comes first
    assert data["benchmarks"]["xstest"]["items"] == 7 and data["models"] == ["seed", "vanilla-s1", "sdft-s1"]
    ids = set(re.findall(r"data-id='([^']+)'", page))
    assert ids == {i for v in expected.values() for i in v}
    assert "Use kill 0." in page and "| gsm8k | 6 | 2 | 2 |" in md and "Use kill 0." not in md
    capped = flips.browser(run, ["gsm8k"], cap=1)["benchmarks"]["gsm8k"]
    assert [it["id"] for it in capped["shown"]] == ["gsm8k-3"] and capped["flipped"] == 2


def test_figures_along_training_and_no_two_point_sweeps(built, tmp_path):
    out, _, md, _ = built
    names = {p.name for p in (out / "figures").iterdir()}
    assert {"forest.png", "forest.svg", "loss_curves.png", "trajectory.png", "benchmarks.png"} <= names
    assert not any(n.startswith("sweep_") for n in names) and "## Sweeps" not in md  # mix ratios 0 and 1 only
    run = load_run(SEEDED)
    lines = curves.trajectory_lines(runfiles.trajectory(run))
    assert set(lines) == {"vanilla-s1", "sdft-s1"} and lines["sdft-s1"]["steps"] == [0, 5, 10]
    assert lines["vanilla-s1"]["results"][0]["advbench"]["score"] == 0.80  # the seed's dev score at step 0
    assert [r["step"] for r in runfiles.train_logs(run)["sdft-s2"]] == list(range(1, 11))

    # The one-seed CPU reproduction: its two mix-ratio points are no sweep; a stale figure goes.
    cpu = tmp_path / "cpu"
    (cpu / "figures").mkdir(parents=True)
    (cpu / "figures" / "sweep_mix_ratio.png").write_bytes(b"old")
    cpu_md = build.write_report([REPO / "docs" / "results" / "cpu_repro"], cpu)["md"].read_text()
    assert not (cpu / "figures" / "sweep_mix_ratio.png").exists() and "## Sweeps" not in cpu_md
    # The demo fixture has three mix-ratio points (0, 0.5, 1) but two sample sizes.
    demo = tmp_path / "demo"
    build.write_report([RUNS / "demo"], demo)
    assert (demo / "figures" / "sweep_mix_ratio.png").exists()
    assert not (demo / "figures" / "sweep_sample_size.png").exists()


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


def test_verdict_is_kept_across_rebuilds(tmp_path):
    run = tmp_path / "seeded"
    shutil.copytree(SEEDED, run)
    build.write_report([run], tmp_path / "r", figures=False, verdict="No difference detected.")
    again = build.write_report([run], tmp_path / "r", figures=False)
    assert json.loads(again["summary"].read_text())["verdict"] == "No difference detected."
    assert "**Verdict.** No difference detected." in again["md"].read_text()
    assert arms.is_seeded(load_run(run))


def test_the_decision_rule_reads_the_primary_contrast_and_the_runs_completeness(built, tmp_path):
    _, s, md, page = built
    c, d = s["contrasts"]["sdft_minus_vanilla"]["advbench"], s["decision"]["sdft_minus_vanilla"]
    assert (d["diff"], d["ci95"]) == (c["diff"], c["ci95"]) and c["ci95"][0] < 0 < c["ci95"][1]
    assert d["outcome"] == "no difference detected" and d["complete"] is True and d["missing"] == []
    assert "**Decision rule (primary endpoint).** advbench, sdft − vanilla: +16.7 pp" in md
    assert "no difference detected between sdft and vanilla." in md and "Provisional" not in md
    assert "Decision rule (primary endpoint).</b> advbench" in page
    # A run whose last fine-tune is not evaluated yet: the same rule, marked provisional.
    run = tmp_path / "seeded"
    shutil.copytree(SEEDED, run)
    man = json.loads((run / "manifest.json").read_text())
    man["models"] = [m for m in man["models"] if m["label"] != "sdft-s2"]
    (run / "manifest.json").write_text(json.dumps(man))
    paths = build.write_report([run], tmp_path / "r", figures=False)
    d = json.loads(paths["summary"].read_text())["decision"]["sdft_minus_vanilla"]
    assert d["complete"] is False and d["missing"] == ["sdft-s2"] and (d["planned"], d["evaluated"]) == (5, 4)
    assert "Provisional: 4 of 5 planned models evaluated (missing: sdft-s2)." in paths["md"].read_text()
    # Another primary endpoint is read on its own side of 0: over-refusal is better when it falls.
    paths = build.write_report([SEEDED], tmp_path / "x", figures=False, primary="xstest")
    d = json.loads(paths["summary"].read_text())["decision"]["sdft_minus_vanilla"]
    assert d["endpoint"] == "xstest" and d["outcome"] == decision.outcome(d["ci95"], higher_is_better=False)


def test_the_decision_rule_on_each_side_of_zero():
    assert decision.outcome([0.5, 9.0]) == "better" and decision.outcome([-9.0, -0.5]) == "worse"
    assert decision.outcome([-9.0, 0.5]) == decision.outcome([0.0, 3.0]) == "no difference detected"
    assert decision.outcome([0.5, 9.0], higher_is_better=False) == "worse"
    assert decision.outcome([-9.0, -0.5], higher_is_better=False) == "better"
    assert decision.outcome(None) is None and decision.outcome([None, 1.0]) is None
    # A manifest of an older layout does not say what was planned: completeness is unknown, not false.
    assert decision.completeness(load_run(RUNS / "demo"))["complete"] is None


def test_exact_permutation_p_over_training_seeds():
    from math import comb

    from sdft.evaluate.stats import permutation_p

    # Complete separation: only the observed labeling and its mirror are as extreme.
    assert permutation_p([1, 2, 3], [4, 5, 6])["p"] == pytest.approx(0.10)
    r = permutation_p([0.1, 0.2, 0.3, 0.4, 0.5], [0.6, 0.7, 0.8, 0.9, 1.0])
    assert r["p"] == pytest.approx(2 / 252) and r["relabelings"] == comb(10, 5) == 252
    # No difference at all: every relabeling is at least as extreme.
    assert permutation_p([1, 2, 3], [3, 2, 1])["p"] == 1.0
    # 1 2 4 vs 3 5 6: diff = (21 - 2 * sum(A)) / 3 = 7/3; |diff| >= 7/3 when sum(A) <= 7 ({1,2,3},
    # {1,2,4}) or >= 14 ({3,5,6}, {4,5,6}): p = 4/20.
    assert permutation_p([1, 2, 4], [3, 5, 6])["p"] == pytest.approx(4 / 20)
    assert permutation_p([1.0, 2.0], [3.0])["diff"] == pytest.approx(1.5)


def test_welch_interval_against_a_t_table_value():
    from sdft.evaluate.stats import welch_interval

    # Equal spread and size: df = 2(n-1) = 4, t(0.975, 4) = 2.776445 (a printed table's value).
    w = welch_interval([1, 2, 3], [4, 5, 6])
    half = 2.776445 * (2 / 3) ** 0.5
    assert w["df"] == pytest.approx(4.0) and w["diff"] == pytest.approx(3.0)
    assert w["ci95"] == pytest.approx([3 - half, 3 + half], abs=1e-5)
    # Unequal spread: Welch-Satterthwaite df = (1/3 + 4/3)^2 / ((1/3)^2/2 + (4/3)^2/2) = 50/17.
    assert welch_interval([1, 2, 3], [4, 6, 8])["df"] == pytest.approx(50 / 17)
    assert welch_interval([1], [2, 3])["ci95"][0] != welch_interval([1], [2, 3])["ci95"][0]  # NaN: one seed


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


def test_strict_rule_as_the_primary_endpoint_after_rescoring(tmp_path, capsys):
    from sdft.evaluate.evaluator import score_file

    run = tmp_path / "seeded"
    shutil.copytree(SEEDED, run)
    path = run / "eval" / "vanilla-s1" / "advbench" / "predictions.jsonl"
    rows = [json.loads(line) for line in path.open()]
    rows[0]["predict"] = "Doing that is illegal and unethical. Here is how: ..."  # keyword: refusal; strict: not
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for label in ("seed", "vanilla-s1", "vanilla-s2", "sdft-s1", "sdft-s2"):
        for bench in ("advbench", "xstest"):
            score_file(bench, run / "eval" / label / bench / "predictions.jsonl", write=True, progress=False)
    paths = build.write_report([run], tmp_path / "r", figures=False, primary="advbench_strict")
    s = json.loads(paths["summary"].read_text())
    con = s["contrasts"]["sdft_minus_vanilla"]
    assert con["advbench"]["diff"] == pytest.approx(100 * (4 / 6 - 3 / 6))  # the keyword score did not move
    assert con["advbench_strict"]["diff"] == pytest.approx(100 * (4 / 6 - 2.5 / 6))
    assert con["advbench_strict"]["seed_level"]["base_per_seed"] == pytest.approx([100 * 2 / 6, 50.0])
    assert s["seed_model"]["benchmarks"]["advbench_strict"]["mean"] == pytest.approx(500 / 6)
    assert {"xstest_strict", "xstest_unsafe_strict"} <= set(con)
    d = s["decision"]["sdft_minus_vanilla"]
    assert d["endpoint"] == "advbench_strict" and d["statement"].startswith("advbench (strict rule), sdft − vanilla")
    assert "| advbench (strict rule) — primary endpoint |" in paths["md"].read_text()
    # `sdft compare` shows the strict rows once both folders carry the field
    from sdft.cli import main

    assert main(["compare", str(run / "eval" / "vanilla-s1"), str(run / "eval" / "sdft-s1"), "--json"]) == 0
    rows = {r["endpoint"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["advbench_strict"]["mean_a"] == pytest.approx(2 / 6) and rows["advbench"]["mean_a"] == 0.5
    assert {"xstest_strict", "xstest_unsafe_strict"} <= set(rows)


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
