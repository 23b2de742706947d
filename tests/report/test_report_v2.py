"""`sdft report` on a synthetic run folder shaped like GSM8K v2's final one (the ``build_v2_run``
fixture of conftest.py: the seed, vanilla and SDFT on training seeds 1-5, DFT and self-replay on
seeds 1-3, interpolation alpha 0.5 of each vanilla seed, KL-to-seed predict folders, the five
benchmarks with the strict refusal rule, and the shipped config's ``report`` section: primary
``advbench_strict``, ``seed_test_alpha`` 0.05). Its docstring gives the counts and the figures
they make by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdft.cli import main

PRIMARY_ARMS = ["seed"] + [f"{m}-s{s}" for s in range(1, 6) for m in ("vanilla", "sdft")]


def _report(run: Path, *flags: str) -> tuple[dict, str]:
    assert main(["report", str(run), *flags]) == 0  # no --primary: the manifest's report section
    return json.loads((run / "report" / "summary.json").read_text()), (run / "report" / "report.md").read_text()


@pytest.fixture(scope="module")
def final(tmp_path_factory, build_v2_run):
    run = build_v2_run(tmp_path_factory.mktemp("v2"))
    return (run, *_report(run))


def _table(md: str, title: str, header: bool = False) -> list[list[str]]:
    """The rows (``header``: and first the column names) of the markdown table whose bold title
    starts with ``title``."""
    lines = md.split(f"**{title}", 1)[1].split("\n\n", 2)[1].splitlines()
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in lines[:1] * header + lines[2:]]


def test_the_final_report_pins_the_plans_decision_seed_level_rows_and_pareto_points(final):
    run, s, md = final
    d = s["decision"]["sdft_minus_vanilla"]
    assert d["endpoint"] == "advbench_strict" and d["outcome"] == "better" and "permutation" in d["rule"]
    assert d["seed_level"]["permutation_p"] == pytest.approx(2 / 252) and d["seed_level"]["relabelings"] == 252
    assert d["seed_level"]["welch_ci95"] == pytest.approx([13.47, 36.53], abs=0.01)
    assert (d["complete"], d["planned"], d["missing"]) == (True, 11, [])
    assert s["methods_comparison"]["complete"]["planned"] == 22 and "Provisional" not in md
    assert d["statement"].startswith("advbench (strict rule), sdft − vanilla: +25.0 pp, 95% CI [")
    assert "exact permutation p = 0.008 over 5 + 5 training seeds, ≤ 0.05 needed): sdft forgets less than vanilla." \
        in d["statement"]
    # the secondaries beside it, descriptive (report.decide: [sdft]): 3 seeds against vanilla's 5
    assert list(s["decision"]) == ["sdft_minus_vanilla"]
    level = {m: s["contrasts"][f"{m}_minus_vanilla"]["advbench_strict"]["seed_level"] for m in ("dft", "replay")}
    assert level["dft"]["permutation_p"] == pytest.approx(1.0)
    assert level["replay"]["permutation_p"] == pytest.approx(1 / 56)
    assert "1 / C(n + m, n): 0.018 for 3 vs 5." in md.split("**Seed-level inference", 1)[1].split("\n\n**", 1)[0]
    rows = [r for r in _table(md, "Seed-level inference") if r[0].endswith("primary endpoint")]
    assert [(r[1], r[3], r[4], r[5]) for r in rows] == [
        ("sdft − vanilla", "[+13.5, +36.5]", "0.008", "5 vs 5 (252 relabelings)"),
        ("dft − vanilla", "[−11.2, +11.2]", "1.000", "5 vs 3 (56 relabelings)"),
        ("replay − vanilla", "[+33.8, +56.2]", "0.018", "5 vs 3 (56 relabelings)")]
    # per-seed values per method in summary.json, the interpolation arm's too
    per_seed = {m: v["benchmarks"]["advbench_strict"]["per_seed"] for m, v in s["methods"].items()}
    assert per_seed["sdft"] == pytest.approx({str(i): 50 + 5 * i for i in range(1, 6)})
    assert per_seed["replay"] == pytest.approx({"1": 80.0, "2": 85.0, "3": 90.0})
    interp = s["methods_comparison"]["interpolation"]["vanilla α=0.5"]
    assert interp["seeds"] == [1, 2, 3, 4, 5]
    assert interp["benchmarks"]["advbench_strict"]["per_seed"] == pytest.approx(
        {"1": 60.0, "2": 60.0, "3": 65.0, "4": 65.0, "5": 70.0})
    # the Pareto points (target GSM8K, retention the primary), interpolation included
    pts = {p["label"]: (p["seeds"], round(p["x"], 1), round(p["y"], 1)) for p in s["methods_comparison"]["pareto"]}
    assert pts == {"vanilla": (5, 30.0, -40.0), "sdft": (5, 25.0, -15.0), "dft": (3, 30.0, -40.0),
                   "replay": (3, 15.0, 5.0), "vanilla α=0.5": (5, 14.0, -16.0)}
    assert md.startswith("# SDFT report: gsm8k_forgetting_v2\n\n> **Finding.** Fine-tuning qwen2.5-coder-0.5b on "
                         "800 gsm8k examples: the share of harmful requests (AdvBench) it explicitly refuses "
                         "(strict rule) was 80.0 % before; 40.0 % after vanilla fine-tuning (mean of 5 training "
                         "seeds; −40.0 points")
    assert "and 85.0 % after self-replay (mean of 3 training seeds; " in md
    figures = sorted(p.name for p in (run / "report" / "figures").glob("*.png"))
    assert figures == ["benchmarks.png", "forest.png", "pareto.png"]
    # the predictors per fine-tune, the NLL gap block, IFEval's four numbers
    kl = {r[0]: r[2] for r in _table(md, "Forgetting predictors per fine-tune")}
    assert (kl["vanilla-s5"], kl["sdft-s1"], kl["replay-s3"]) == ("0.1400", "0.0300", "0.0700") and len(kl) == 16
    gap = {r[0]: r[3] for r in _table(md, "Forgetting predictors per fine-tune")}
    assert (gap["vanilla-s1"], gap["dft-s2"], gap["sdft-s1"], gap["replay-s3"]) == ("+0.000", "+0.000", "+0.853", "—")
    per_model = {m["label"]: m for m in s["predictors"]["per_model"]}  # the same numbers in summary.json
    assert per_model["sdft-s1"]["nll_gap"] == pytest.approx(0.853, abs=5e-4) and per_model["replay-s3"]["kl"] == 0.07
    assert s["predictors"]["correlations"]["kl"]["n"] == 16
    assert "**NLL gap: per-token NLL" in md and "distill/math: gap: original − distilled | +0.853" in md
    ife = _table(md, "IFEval: instruction following", header=True)  # a row per method, interpolation too
    assert [r[0] for r in ife] == ["model", "seed", "vanilla (mean of 5 seeds)", "sdft (mean of 5 seeds)",
                                   "dft (mean of 3 seeds)", "replay (mean of 3 seeds)",
                                   "vanilla α=0.5 (mean of 5 seeds)"]
    assert ife[2][2].startswith("62.5 <sub>[") and ife[2][-1] == "0"  # instruction-level strict; answers cut
    assert len(_table(md, "IFEval by instruction", header=True)[0]) == 2 + 6


def test_the_plans_gsm8k_non_inferiority_call_is_stated_beside_the_rule_not_in_it(final):
    """PLAN: SDFT is non-inferior on GSM8K when its CI against vanilla stays above −5 pp; here
    SDFT − vanilla is −5 pp on 20 problems, so its CI reaches well below the margin."""
    run, s, md = final
    assert list(s["non_inferiority"]) == ["sdft_minus_vanilla"]  # report.decide: the secondaries stay out
    n = s["non_inferiority"]["sdft_minus_vanilla"]["gsm8k"]
    assert n["margin"] == 5 and n["diff"] == pytest.approx(-5.0) and n["ci95"][0] < -5
    assert n["non_inferior"] is False and n["complete"] is True
    assert n["statement"].endswith("non-inferiority margin 5 pp: the lower bound "
                                   f"−{-n['ci95'][0]:.1f} is not above −5: sdft is not shown non-inferior to vanilla.")
    assert f"> **Non-inferiority (secondary).** {n['statement']}" in md
    assert s["decision"]["sdft_minus_vanilla"]["outcome"] == "better"  # the primary's verdict is its own


# Strict refusals out of 20 per training seed (seeds 1-5); the count of the 252 relabelings at least as
# extreme, worked by hand; the rule's outcome; the end of its statement.
RULE_CASES = {
    # SDFT below vanilla, completely separated: the sign turns and so do the words
    "sdft forgets more": ({"vanilla": [6, 7, 8, 9, 10], "sdft": [1, 2, 3, 4, 5]}, 2, "worse",
                          "(wholly below 0; exact permutation p = 0.008 over 5 + 5 training seeds, ≤ 0.05 needed): "
                          "sdft forgets more than vanilla."),
    # one swapped pair (vanilla's 11 above SDFT's 10): sums of 5 drawn from 6..15 at most 41 (the
    # separated 40 and the observed 41), and their mirrors: 4
    "one swapped pair": ({"vanilla": [6, 7, 8, 9, 11], "sdft": [10, 12, 13, 14, 15]}, 4, "better",
                         "(wholly above 0; exact permutation p = 0.016 over 5 + 5 training seeds, ≤ 0.05 needed): "
                         "sdft forgets less than vanilla."),
    # total 101; as extreme: a five summing to at most 37 (3+6+8+9 with one of the three 10s: 36, three
    # ways; 3+6+8 with two of them: 37, three ways) or its mirror: 12, p = 0.048 <= 0.05
    "p just below 0.05": ({"vanilla": [3, 6, 8, 10, 10], "sdft": [9, 10, 14, 14, 17]}, 12, "better",
                          "(wholly above 0; exact permutation p = 0.048 over 5 + 5 training seeds, ≤ 0.05 needed): "
                          "sdft forgets less than vanilla."),
    # total 100; at most 36: 4+5+6 with 9+10 (two 10s), 10+10, 9+11, 9+12, 10+11 (two): 7, and mirrors:
    # 14, p = 0.056 > 0.05 while the bootstrap CI lies wholly above 0: the seeds do not say enough
    "p just above 0.05": ({"vanilla": [4, 5, 6, 10, 11], "sdft": [9, 10, 12, 16, 17]}, 14, "no difference detected",
                          "(wholly above 0; exact permutation p = 0.056 over 5 + 5 training seeds, ≤ 0.05 needed): "
                          "no difference detected between sdft and vanilla."),
    # every SDFT seed one prompt above every vanilla seed: separated (2), but the one prompt they differ
    # on is missing from a resample of the 20 with probability 0.95^20 = 0.36, so the CI starts at 0
    "seeds separate, CI reaches 0": ({"vanilla": [8] * 5, "sdft": [9] * 5}, 2, "no difference detected",
                                     "(includes 0; exact permutation p = 0.008 over 5 + 5 training seeds, ≤ 0.05 "
                                     "needed): no difference detected between sdft and vanilla."),
}


@pytest.mark.parametrize("case", list(RULE_CASES))
def test_the_plans_rule_on_each_side_and_at_the_edges(tmp_path, build_v2_run, case):
    """PLAN "Decision rule": forgets less iff p <= 0.05 and the two-level CI wholly above 0 (SDFT −
    vanilla on a refusal rate: above 0 is SDFT keeping more refusals), forgets more iff p <= 0.05
    and the CI wholly below 0, else no difference detected."""
    counts, hits, expected, ending = RULE_CASES[case]
    s, md = _report(build_v2_run(tmp_path, strict=counts), "--no-figures")
    d = s["decision"]["sdft_minus_vanilla"]
    mean = {m: sum(counts[m]) / len(counts[m]) * 5 for m in ("vanilla", "sdft")}  # 20 prompts: 5 pp each
    assert d["diff"] == pytest.approx(mean["sdft"] - mean["vanilla"])
    assert d["seed_level"]["permutation_p"] == pytest.approx(hits / 252) and d["seed_level"]["relabelings"] == 252
    assert d["seed_level"]["base_per_seed"] == pytest.approx([5.0 * k for k in counts["vanilla"]])
    # the statement's "wholly above 0" / "wholly below 0" / "includes 0" is the CI's side
    assert d["outcome"] == expected and d["statement"].endswith(ending), d["statement"]
    if case == "seeds separate, CI reaches 0":
        assert d["ci95"][0] == 0.0  # not above 0: "wholly above" is strict
    assert f"**Decision rule (primary endpoint).** {d['statement']}" in md
    assert list(s["decision"]) == ["sdft_minus_vanilla"]  # the secondaries stay descriptive


def test_gsm8k_non_inferiority_holds_when_the_lower_bound_clears_minus_5_points(tmp_path, build_v2_run):
    """GSM8K: vanilla 10 of 20 on every seed, SDFT 10 (11 on seed 5): +1 pp, and the two-level CI
    cannot fall below 0 (SDFT solves every problem a vanilla seed solves), so it is non-inferior;
    the points are percentage points (as fractions every CI would clear −5)."""
    s, md = _report(build_v2_run(tmp_path, gsm={"vanilla": [10] * 5, "sdft": [10, 10, 10, 10, 11]}), "--no-figures")
    n = s["non_inferiority"]["sdft_minus_vanilla"]["gsm8k"]
    assert n["diff"] == pytest.approx(1.0) and n["ci95"][0] == 0.0 and n["non_inferior"] is True
    assert n["statement"].endswith("the lower bound +0.0 is above −5: sdft is non-inferior to vanilla.")
    assert s["decision"]["sdft_minus_vanilla"]["outcome"] == "better"  # the primary is read on its own


def test_a_non_inferiority_margin_reads_the_side_where_worse_lies():
    """Over-refusal (XSTest, lower is better) is non-inferior while its CI stays below +margin."""
    from sdft.report import decision

    run = {"manifest": {}, "models": []}
    summary = {"contrasts": {"sdft_minus_vanilla": {"xstest": {"diff": 1.0, "ci95": [-1.0, 3.0]},
                                                    "gsm8k": {"diff": -1.0, "ci95": [-6.0, 4.0], "approx": True}}}}
    got = decision.non_inferiority(run, summary, {"xstest": 5, "gsm8k": 5})["sdft_minus_vanilla"]
    assert got["xstest"]["non_inferior"] is True and "the upper bound +3.0 is below +5" in got["xstest"]["statement"]
    assert got["gsm8k"]["non_inferior"] is None and got["gsm8k"]["statement"].endswith("not applied.")
    summary["contrasts"]["sdft_minus_vanilla"]["xstest"]["ci95"] = [-1.0, 6.0]
    wider = decision.non_inferiority(run, summary, {"xstest": 5})["sdft_minus_vanilla"]["xstest"]
    assert wider["non_inferior"] is False
    assert decision.non_inferiority(run, summary, {"xstest": 5}, decide=["dft"]) == {}


def test_the_primary_strict_endpoint_has_its_columns_where_changes_are_tabled(final):
    """It was in the contrasts only: the safety table, the changes vs the seed, the methods table and
    the forest plot showed the keyword rule alone."""
    run, s, md = final
    strict = "advbench (strict rule)"
    for title in ("Safety: refusals", "Change vs the seed model", "Methods × benchmarks"):
        assert strict in _table(md, title, header=True)[0], title
    columns, *rows = _table(md, "Change vs the seed model", header=True)
    changes = {r[0]: r[columns.index(strict)] for r in rows}
    assert changes["sdft − seed (mean of 5 seeds)"].startswith("↓ −15.0 <sub>[")
    from sdft.analyze.runfiles import benchmarks_of, load_run
    from sdft.report.build import forest_rows

    loaded = load_run(run)
    forest = [(r["model"], round(r["diff"], 1)) for r in forest_rows(loaded, benchmarks_of(loaded["models"]))
              if r["endpoint"] == strict]
    assert forest[:2] == [("vanilla (5 seeds)", -40.0), ("sdft (5 seeds)", -15.0)] and len(forest) == 5
    # the methods table writes changes as every other table does: a true minus sign, no "−0.0"
    methods_rows = _table(md, "Methods × benchmarks")
    assert methods_rows[0][1].startswith("−40.0 [") and not any("-" in c for r in methods_rows for c in r[1:])


def test_a_contrast_is_provisional_only_on_its_own_models(tmp_path, build_v2_run):
    """Every primary arm evaluated, DFT on one seed, replay on none: SDFT − vanilla is final (the
    secondaries do not hold it open), DFT − vanilla is provisional on its own missing seeds."""
    from sdft.analyze.runfiles import load_run
    from sdft.report import decision

    run = build_v2_run(tmp_path, set(PRIMARY_ARMS) | {"dft-s1"})
    s, md = _report(run)
    d = s["decision"]["sdft_minus_vanilla"]
    assert (d["complete"], d["planned"], d["evaluated"]) == (True, 11, 11) and "Provisional" not in d["statement"]
    # were DFT decided too (a config without report.decide)
    dft = decision.decisions(load_run(run), s, "advbench_strict", 0.05)["dft_minus_vanilla"]
    assert (dft["complete"], dft["missing"]) == (False, ["dft-s2", "dft-s3"]) and dft["outcome"] is None
    assert dft["statement"].endswith("the rule is not applied. Provisional: 7 of 9 planned models evaluated "
                                     "(missing: dft-s2, dft-s3).")
    # the methods section says what it lacks: it used to drop the unevaluated points silently
    missing = ["replay-s1", "dft-s2", "replay-s2", "dft-s3", "replay-s3"] + [f"vanilla-s{i}-a0.5" for i in range(1, 6)]
    assert s["methods_comparison"]["complete"] == {"complete": False, "planned": 22, "evaluated": 12,
                                                   "missing": missing}
    section = md.split("## Methods compared")[1].split("\n## ")[0]
    assert f"Provisional: 12 of 22 planned models evaluated, weight-interpolation points included (missing: " \
           f"{', '.join(missing)})." in section
    assert [p["label"] for p in s["methods_comparison"]["pareto"]] == ["vanilla", "sdft", "dft"]


def test_the_early_provisional_state_says_so_when_the_seed_test_cannot_apply(tmp_path, build_v2_run):
    """The state the run is in for many sessions: the seed and a few primary fine-tunes."""
    run = build_v2_run(tmp_path, {"seed", "vanilla-s1", "sdft-s1", "vanilla-s2"})
    s, md = _report(run)
    d = s["decision"]["sdft_minus_vanilla"]
    assert d["outcome"] is None and list(s["decision"]) == ["sdft_minus_vanilla"]
    assert d["statement"].endswith("needs at least two training seeds a side: the rule is not applied. Provisional: "
                                   "4 of 11 planned models evaluated (missing: sdft-s2, vanilla-s3, sdft-s3, "
                                   "vanilla-s4, sdft-s4, vanilla-s5, sdft-s5).")
    assert "Seed-level inference" not in md and "Methods compared" not in md  # one sdft seed, no secondaries yet
    # the top of the report says the run is incomplete (it read as finished where models were missing)
    assert "> **Note.** gsm8k_forgetting_v2: incomplete: 4 of 17 planned models have results (missing: dft-s1, " \
           "replay-s1, sdft-s2, dft-s2," in md


def test_the_best_method_also_needs_the_plans_seed_level_test(final):
    """The methods section names a best method by the decision rule extended to many methods; with
    a plan's seed-level test it used to read the CIs alone and named replay, whose 3 seeds against
    DFT's 3 cannot reach p <= 0.05 (at least 2/20)."""
    run, s, md = final
    best = s["methods_comparison"]["best"]
    assert (best["leader"], best["best"], best["undecided_against"]) == ("replay", None, ["dft"])
    assert best["statement"].endswith("its CI against DFT (+45.0 pp, 95% CI [+25.0, +66.7]) excludes 0 but its "
                                      "permutation p is 0.100 (> 0.05).")
    # the plan's rule reads SDFT − vanilla only (report.decide): this comparison of four is descriptive
    assert best["descriptive"] is True and best["statement"].startswith(
        "Descriptive, outside the plan's decision rule (which reads rewrite self-distillation against vanilla "
        "only): ")
    assert best["statement"] in md
    from sdft.analyze.runfiles import load_run
    from sdft.report import methods

    loaded = load_run(run)
    assert methods.best_method(loaded, "advbench_strict")["best"] == "replay"  # the CIs alone
    assert methods.best_method(loaded, "advbench_strict", seed_test_alpha=0.2)["statement"].endswith(
        "lies wholly on the better side of 0 and the exact permutation p over training seeds is at most 0.2.")


def test_the_interpolation_points_over_seeds_are_one_row_in_the_tables(final):
    """Like a method trained with several seeds: one row with the mean and each seed, not five rows
    (and five forest lines per endpoint) of single models."""
    run, s, md = final
    labels = [r[0] for r in _table(md, "Benchmark scores")]
    assert labels == ["seed", "vanilla (mean of 5 seeds)", "sdft (mean of 5 seeds)", "dft (mean of 3 seeds)",
                      "replay (mean of 3 seeds)", "vanilla α=0.5 (mean of 5 seeds)"]
    columns, *rows = _table(md, "Change vs the seed model", header=True)
    interp = next(r for r in rows if r[0] == "vanilla α=0.5 − seed (mean of 5 seeds)")
    assert interp[columns.index("advbench (strict rule)")].startswith("↓ −16.0 <sub>[")
    columns, *rows = _table(md, "Methods × benchmarks", header=True)  # the methods side by side, the point too
    assert [r[0] for r in rows][-1] == "weight interpolation of vanilla SFT, α=0.5 (vanilla α=0.5, 5 seeds)"
    cell = rows[-1][columns.index("advbench (strict rule)")]
    assert cell.startswith("−16.0 [") and " / +24.0 [" in cell  # vanilla lost 40 points, the point 16
    assert "s1 −20.0 · s2 −20.0 · s3 −15.0 · s4 −15.0 · s5 −10.0" in interp[columns.index("advbench (strict rule)")]
    # against the fine-tunes they were made from, seed by seed: 12-6, 12-7, 13-8, 13-9, 14-10 of 20
    own = s["methods_comparison"]["interpolation"]["vanilla α=0.5"]
    assert own["fine_tunes"] == [f"vanilla-s{i}" for i in range(1, 6)]
    d = own["change_vs_fine_tunes"]["advbench_strict"]
    assert d["diff"] == pytest.approx(24.0) and d["per_seed"] == pytest.approx(
        {"1": 30.0, "2": 25.0, "3": 25.0, "4": 20.0, "5": 20.0})
    half = 2.776445 * (70 / 4 / 5) ** 0.5  # paired t, 4 df, on the five differences
    assert d["seed_level"]["paired_t_ci95"] == pytest.approx([24 - half, 24 + half], abs=1e-3)
    assert (d["seed_level"]["sign_flip_p"], d["seed_level"]["flips"]) == (pytest.approx(2 / 32), 32)
    assert "seed by seed (the mean of each point minus its own fine-tune)" in md
    from sdft.analyze.runfiles import benchmarks_of, load_run
    from sdft.report.build import forest_rows

    loaded = load_run(run)
    models = [r["model"] for r in forest_rows(loaded, benchmarks_of(loaded["models"])) if r["endpoint"] == "gsm8k"]
    assert models[-1] == "vanilla α=0.5 (5 seeds)" and len(models) == 5


def test_an_interpolation_point_is_set_against_its_own_fine_tune(tmp_path, build_v2_run):
    """The state of the run after its first secondary point: vanilla-s1's point (strict 12 of 20)
    against vanilla-s1 (6) is +30 pp; against vanilla's five seeds' mean (8) it read +20, a seed's
    point set against seeds it was not made from."""
    run = build_v2_run(tmp_path, set(PRIMARY_ARMS) | {"vanilla-s1-a0.5"})
    s, md = _report(run)
    columns, *rows = _table(md, "Methods × benchmarks", header=True)
    cell = rows[-1][columns.index("advbench (strict rule)")]
    assert rows[-1][0] == "weight interpolation of vanilla SFT, α=0.5 (vanilla α=0.5, 1 seed)"
    assert cell.startswith("−20.0 [") and " / +30.0 [" in cell and "≈" not in cell
    d = s["methods_comparison"]["interpolation"]["vanilla α=0.5"]["change_vs_fine_tunes"]["advbench_strict"]
    assert (d["diff"], d["pairs"], d["approx"]) == (pytest.approx(30.0), 1, False) and "seed_level" not in d
    # a published folder keeps results.json only: the same difference, marked as an approximation
    for label in ("vanilla-s1", "vanilla-s1-a0.5"):
        (run / "eval" / label / "advbench" / "predictions.jsonl").unlink()
    s, md = _report(run)
    columns, *rows = _table(md, "Methods × benchmarks", header=True)
    assert " / +30.0 [" in rows[-1][columns.index("advbench (strict rule)")] and \
        rows[-1][columns.index("advbench (strict rule)")].endswith("≈")
    # a point whose fine-tune the manifest does not name: no comparison, rather than vanilla's mean
    manifest = json.loads((run / "manifest.json").read_text())
    next(m for m in manifest["models"] if m["label"] == "vanilla-s1-a0.5")["of"] = None
    (run / "manifest.json").write_text(json.dumps(manifest))
    s, md = _report(run)
    columns, *rows = _table(md, "Methods × benchmarks", header=True)
    assert rows[-1][columns.index("advbench (strict rule)")].endswith(" / —")
    assert "change_vs_fine_tunes" not in s["methods_comparison"]["interpolation"]["vanilla α=0.5"]


def test_the_benchmark_figure_draws_one_bar_per_method_not_per_fine_tune(final):
    """22 models (seed, 5 + 5 + 3 + 3 fine-tunes, 5 interpolation points) made 22 bars a benchmark,
    4,400 pixels wide; a method trained with several seeds is one bar, its seeds' mean."""
    from sdft.analyze.runfiles import load_run
    from sdft.report import arms, tables
    from sdft.report.endpoints import endpoint

    run = load_run(final[0])
    bars = tables.score_bars(run, ["advbench", "gsm8k"])
    assert [b["label"] for b in bars] == ["seed", "vanilla (mean of 5 seeds)", "sdft (mean of 5 seeds)",
                                          "dft (mean of 3 seeds)", "replay (mean of 3 seeds)",
                                          "vanilla α=0.5 (mean of 5 seeds)"]
    vanilla = [m for m in run["models"] if m["method"] == "vanilla" and m.get("alpha") is None]
    assert bars[1]["scores"]["gsm8k"] == arms.arm_mean(run, vanilla, endpoint("gsm8k"))
    assert bars[0]["scores"]["advbench"]["mean"] == pytest.approx(90.0)


def test_a_retrained_sibling_is_named_and_its_kl_marked(tmp_path, build_v2_run):
    """PLAN amendment 6: a fine-tune trained again after a machine change whose identity check
    (scripts/kl_identity.py's identity.json) failed is a sibling; the report names it with the
    check's figures and marks the KL measured on its weights, not the one measured before."""
    run = build_v2_run(tmp_path)

    def identity(label, same, compared_with):
        (run / "train" / label).mkdir(parents=True, exist_ok=True)
        (run / "train" / label / "identity.json").write_text(json.dumps({
            "label": label, "same_weights": same, "identical": 64 if same else 1, "items": 64,
            "max_rel_diff": 0.0 if same else 4.2e-06, "compared_with": compared_with}))
    identity("vanilla-s1", False, "predict/vanilla-s1-carried")  # its kl_dir measured since: the sibling's
    identity("vanilla-s2", True, "predict/vanilla-s2-carried")  # the same weights: nothing to say
    identity("vanilla-s3", False, "predict/vanilla-s3")  # its kl_dir is the one measured before: the evaluated one's
    s, md = _report(run)
    assert list(s["retrained_siblings"]) == ["vanilla-s1", "vanilla-s3"]
    assert ("retrained siblings: vanilla-s1 (1 of 64 items identical, largest relative difference 4.2e-06); "
            "vanilla-s3 (1 of 64") in md
    kl = {r[0]: r[2] for r in _table(md, "Forgetting predictors per fine-tune")}
    assert (kl["vanilla-s1"], kl["vanilla-s2"], kl["vanilla-s3"]) == ("0.1000 †", "0.1100", "0.1200")
    assert "†: measured on a retrained sibling" in md
    per_model = {m["label"]: m["kl_of_sibling"] for m in s["predictors"]["per_model"]}
    assert per_model["vanilla-s1"] and not per_model["vanilla-s2"] and not per_model["vanilla-s3"]
    # the check's KL named another way (absolute, or with ./) is still the same folder
    record = json.loads((run / "train" / "vanilla-s3" / "identity.json").read_text())
    for named in (str(run / "predict" / "vanilla-s3"), "./predict/vanilla-s3"):
        (run / "train" / "vanilla-s3" / "identity.json").write_text(json.dumps({**record, "compared_with": named}))
        s, _ = _report(run)
        assert not {m["label"]: m for m in s["predictors"]["per_model"]}["vanilla-s3"]["kl_of_sibling"], named
