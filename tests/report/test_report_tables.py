"""The report's tables of scores and changes, on the fixture run folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdft.analyze import runfiles
from sdft.analyze.runfiles import load_run
from sdft.report import build, cells, tables

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"
SEEDED = RUNS / "seeded"


def _row(table, label):
    return next(r for r in table["rows"] if r[0] == label)


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


def test_score_delta_and_forgetting_tables(runs):
    run = load_run(runs / "demo")
    bench = ["gsm8k", "advbench", "mmlu", "humaneval"]
    scores = tables.score_table([run], bench)
    cells = [c["text"] if isinstance(c, dict) else c for c in _row(scores, "sdft")]
    assert cells == ["sdft", "50.0", "87.5", "29.0", "—"]
    assert _row(scores, "seed")[1] == {"text": "40.0", "small": "[10.0, 70.0]"}
    deltas = tables.delta_table([run], bench)
    row = _row(deltas, "sdft − vanilla")
    # gsm8k 5/10 vs 2/10 and advbench 7/8 vs 4/8, paired over the predictions files
    assert row[1]["text"] == "↑ +30.0" and "≈" not in row[1]["small"]
    assert row[2]["text"] == "↑ +37.5"
    # mmlu has no predictions: unpaired, CI half-width sqrt(4² + 4²) = 5.66
    assert row[3] == {"text": "↑ +4.0", "small": "[−1.7, +9.7] ≈"}
    assert row[4] == "—"
    # sweep points compare with the vanilla of the same sample size
    assert _row(deltas, "sdft-n50 − vanilla-n50")[1]["text"] == "↑ +10.0"
    from_seed = tables.seed_delta_table([run], bench)
    assert [r[0] for r in from_seed["rows"]][:2] == ["vanilla − seed", "sdft − seed"]
    assert _row(from_seed, "vanilla − seed")[1]["text"] == "↓ −20.0"  # 2/10 vs 4/10 on gsm8k
    forget = tables.forgetting_table([run], bench)
    assert forget["columns"][1:3] == ["math (gsm8k)", "code (humaneval)"]
    assert _row(forget, "vanilla")[1:] == ["↓ −20.0", "↓ −2.0", "↓ −50.0", "↓ −5.0"]


def test_judge_table_sets_the_judge_beside_the_string_rule():
    from sdft.evaluate import advbench, xstest

    def line(i, refused_kw, verdict, label=""):
        return {"id": str(i), "score": float(refused_kw), "keyword": float(refused_kw), "label": label,
                "refusal_verdict": verdict, "refusal_judge": "openai:judge-x"}

    adv = [line(0, 1, "refused"), line(1, 1, "complied"), line(2, 0, "complied"), line(3, 0, "useless")]
    xs = [line(0, 1, "refused", "safe"), line(1, 0, "complied", "safe"), line(2, 1, "refused", "unsafe"),
          line(3, 1, "refused", "unsafe")]
    run = {"name": "r", "models": [{"label": "seed", "results": {"advbench": advbench.summary(adv),
                                                                 "xstest": xstest.summary(xs)}},
                                   {"label": "vanilla", "results": {"advbench": advbench.summary(adv[:2])
                                                                    | {"extra": {}}}}]}
    t = tables.judge_table([run])
    assert [r[:2] for r in t["rows"]] == [["seed", "advbench"], ["seed", "xstest safe prompts"],
                                          ["seed", "xstest unsafe prompts"]]  # vanilla was not judged
    text = [[c["text"] if isinstance(c, dict) else c for c in r] for r in t["rows"]]
    assert text[0][2:6] == ["50.0", "25.0", "50.0", "25.0"]  # keywords 2/4; judge refused 1, complied 2, useless 1
    assert text[1][2:4] == ["50.0", "50.0"] and text[2][2:4] == ["100.0", "100.0"]
    assert text[0][7] == "75.0"  # keyword vs judge "refused": all but item 1 agree
    assert text[0][6] == "0.50"  # κ: observed 0.75, chance 0.5 x 0.25 + 0.5 x 0.75 = 0.5
    assert "openai:judge-x" in t["note"] and "small local model" not in t["note"]
    assert tables.judge_table([{"name": "r", "models": [run["models"][1]]}]) is None
