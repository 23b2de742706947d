"""The pre-registered decision rule applied to the primary endpoint, and the run's completeness."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sdft.analyze.runfiles import load_run
from sdft.cli import main
from sdft.report import build, decision

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"
SEEDED = RUNS / "seeded"


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


@pytest.mark.parametrize("primary, ci95, expected", [
    ("xstest", [2.0, 8.0], "worse"),  # over-refusal rose: lower is better
    ("xstest", [-8.0, -2.0], "better"),
    ("advbench", [2.0, 8.0], "better"),
    ("xstest_unsafe", [2.0, 8.0], "better"),  # refusal of unsafe prompts: higher is better
])
def test_decisions_read_each_primary_on_its_own_side_of_zero(primary, ci95, expected):
    """The seeded fixture's own XSTest contrast is exactly 0, so it cannot tell the sides apart."""
    summary = {"contrasts": {"sdft_minus_vanilla": {primary: {"diff": sum(ci95) / 2, "ci95": ci95}}}}
    d = decision.decisions(load_run(SEEDED), summary, primary)["sdft_minus_vanilla"]
    assert (d["endpoint"], d["outcome"]) == (primary, expected)


def test_the_decision_rule_on_each_side_of_zero():
    assert decision.outcome([0.5, 9.0]) == "better" and decision.outcome([-9.0, -0.5]) == "worse"
    assert decision.outcome([-9.0, 0.5]) == decision.outcome([0.0, 3.0]) == "no difference detected"
    assert decision.outcome([0.5, 9.0], higher_is_better=False) == "worse"
    assert decision.outcome([-9.0, -0.5], higher_is_better=False) == "better"
    assert decision.outcome(None) is None and decision.outcome([None, 1.0]) is None
    # A manifest of an older layout does not say what was planned: completeness is unknown, not false.
    assert decision.completeness(load_run(RUNS / "demo"))["complete"] is None


def test_strict_rule_as_the_primary_endpoint_after_rescoring(tmp_path, capsys):
    from sdft.evaluate.saved import score_file

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

    assert main(["compare", str(run / "eval" / "vanilla-s1"), str(run / "eval" / "sdft-s1"), "--json"]) == 0
    rows = {r["endpoint"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["advbench_strict"]["mean_a"] == pytest.approx(2 / 6) and rows["advbench"]["mean_a"] == 0.5
    assert {"xstest_strict", "xstest_unsafe_strict"} <= set(rows)


def _contrast(ci, p, seeds=5):
    level = {"permutation_p": p, "base_per_seed": [40.0] * seeds, "other_per_seed": [50.0] * seeds}
    return {"diff": sum(ci) / 2, "ci95": ci, "approx": False, **({"seed_level": level} if seeds > 1 else {})}


@pytest.mark.parametrize("ci, p, seeds, expected", [
    ([2.0, 18.0], 0.008, 5, "better"),  # the CI wholly above 0 and complete separation of the seeds
    ([2.0, 18.0], 0.087, 5, "no difference detected"),  # the items say better, the seeds do not
    ([-18.0, -2.0], 0.032, 5, "worse"),
    ([-3.0, 18.0], 0.008, 5, "no difference detected"),  # the seeds separate, the CI includes 0
    ([2.0, 18.0], None, 1, None),  # one seed a side: the seed-level test cannot be applied
])
def test_a_plans_seed_level_test_joins_the_ci_in_the_decision(ci, p, seeds, expected):
    """GSM8K v2's rule: better or worse needs the permutation p over training seeds <= 0.05 and
    the two-level bootstrap CI wholly on that side of 0; without the test it is the CI alone."""
    run = load_run(SEEDED)
    summary = {"contrasts": {"sdft_minus_vanilla": {"advbench_strict": _contrast(ci, p, seeds)}}}
    d = decision.decisions(run, summary, "advbench_strict", seed_test_alpha=0.05)["sdft_minus_vanilla"]
    assert d["outcome"] == expected and "permutation" in d["rule"]
    if expected is None:
        assert d["statement"].endswith("needs at least two training seeds a side: the rule is not applied.")
    else:
        assert f"exact permutation p = {p:.3f} over 5 + 5 training seeds, ≤ 0.05 needed" in d["statement"]
    plain = decision.decisions(run, summary, "advbench_strict")["sdft_minus_vanilla"]
    assert plain["outcome"] == decision.outcome(ci) and plain["rule"] == decision.RULE


def test_the_report_section_of_a_run_config_reaches_sdft_report(tmp_path, capsys):
    """A run whose config fixed report.primary and report.seed_test_alpha: `sdft report RUN` applies
    them without flags; a flag still wins."""
    run = tmp_path / "seeded"
    shutil.copytree(SEEDED, run)
    man = json.loads((run / "manifest.json").read_text())
    man["config"]["report"] = {"primary": "xstest", "seed_test_alpha": 0.05}
    (run / "manifest.json").write_text(json.dumps(man))
    assert main(["report", str(run), "--no-figures"]) == 0
    d = json.loads((run / "report" / "summary.json").read_text())["decision"]["sdft_minus_vanilla"]
    assert d["endpoint"] == "xstest" and d["rule"] == decision.rule(0.05)
    assert d["seed_level"]["permutation_p"] > 0.05 and d["outcome"] == "no difference detected"
    assert main(["report", str(run), "--no-figures", "--primary", "advbench"]) == 0
    d = json.loads((run / "report" / "summary.json").read_text())["decision"]["sdft_minus_vanilla"]
    assert d["endpoint"] == "advbench" and d["rule"] == decision.rule(0.05)


def test_a_bound_near_its_limit_does_not_print_as_the_limit():
    """One decimal made a lower bound of 0.04 read "[+0.0, ...] (wholly above 0)", and one of −4.97
    "the lower bound −5.0 is above −5": such a bound gets the decimals that show its side."""
    assert decision.bound(0.04) == "+0.04" and decision.bound(-0.001) == "−0.001" and decision.bound(0.0) == "+0.0"
    assert decision.bound(12.345) == "+12.3" and decision.bound(-4.97, -5) == "−4.97"
    assert decision.bound(-5.0, -5) == "−5.0" and decision.bound(-5.04, -5) == "−5.04"
    run = load_run(SEEDED)
    summary = {"contrasts": {"sdft_minus_vanilla": {"advbench_strict": _contrast([0.04, 9.0], 0.008)}}}
    d = decision.decisions(run, summary, "advbench_strict", seed_test_alpha=0.05)["sdft_minus_vanilla"]
    assert d["outcome"] == "better" and "95% CI [+0.04, +9.0] (wholly above 0;" in d["statement"]
    for lo, said in ((-4.97, "the lower bound −4.97 is above −5: sdft is non-inferior"),
                     (-5.0, "the lower bound −5.0 is not above −5: sdft is not shown non-inferior")):
        summary = {"contrasts": {"sdft_minus_vanilla": {"gsm8k": {"diff": 0.0, "ci95": [lo, 4.0]}}}}
        assert said in decision.non_inferiority(run, summary, {"gsm8k": 5})["sdft_minus_vanilla"]["gsm8k"]["statement"]
