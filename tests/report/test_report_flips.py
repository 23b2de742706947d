"""The per-item flip browser of the seeded fixture run."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sdft.analyze import runfiles
from sdft.analyze.runfiles import load_run
from sdft.report import flips

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"
SEEDED = RUNS / "seeded"


def _scores(label: str, bench: str) -> dict[str, float]:
    rows = [json.loads(line) for line in (SEEDED / "eval" / label / bench / "predictions.jsonl").open()]
    return {r["id"]: r["score"] for r in rows}


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
