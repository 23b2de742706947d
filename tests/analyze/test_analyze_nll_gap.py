"""The NLL gaps of a distillation, from its report's ``nll`` block and, when beside it, the
per-example ``nll.jsonl`` (bootstrap CIs); hand-made numbers whose answers are known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdft.analyze import nll_gap, runfiles

BLOCK = {"original": {"nll_per_token": 2.0, "ci95": [1.8, 2.2]}, "distilled": {"nll_per_token": 1.25},
         "kept_rewrites": {"nll_per_token": 1.0}, "kept_originals": {"nll_per_token": 2.5}}


def _run(tmp_path: Path, reports: dict[str, dict], nll_rows: dict[str, list[dict]] | None = None) -> dict:
    models = [{"label": "seed"}]
    for i, (folder, report) in enumerate(reports.items()):
        d = tmp_path / "distill" / folder
        d.mkdir(parents=True)
        (d / "distill_report.json").write_text(json.dumps(report))
        for label in (f"sdft{i}", f"sdft{i}-n50"):
            models.append({"label": label, "distill_dir": f"distill/{folder}"})
        rows = (nll_rows or {}).get(folder)
        if rows is not None:
            (d / "nll.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "manifest.json").write_text(json.dumps({"models": models}))
    return runfiles.load_run(tmp_path)


def test_gaps_from_the_report_alone_are_point_estimates(tmp_path):
    out = nll_gap.gaps(_run(tmp_path, {"using": {"nll": BLOCK}}))
    entry = out["distill/using"]
    assert entry["used_by"] == ["sdft0", "sdft0-n50"]
    assert entry["original"] == BLOCK["original"] and entry["kept_rewrites"] == BLOCK["kept_rewrites"]
    assert entry["gaps"] == {"original_minus_distilled": {"diff": pytest.approx(0.75), "ci95": None},
                             "kept_originals_minus_rewrites": {"diff": pytest.approx(1.5), "ci95": None}}


def test_per_example_nll_gives_bootstrap_cis_of_ratios_of_sums(tmp_path):
    # every kept example has the original at 2 nats/token and its rewrite at 1: each resample's
    # gap is exactly 1, whatever examples it draws; a row without tokens is left out
    rows = [{"orig_nll": 2.0 * n, "orig_tokens": n, "rewrite_nll": 1.0 * n, "rewrite_tokens": n} for n in (3, 5, 8)]
    rows.append({"orig_nll": 0.0, "orig_tokens": 0})
    gaps = nll_gap.gaps(_run(tmp_path, {"using": {"nll": BLOCK}}, {"using": rows}))["distill/using"]["gaps"]
    assert gaps["original_minus_distilled"]["ci95"] == [pytest.approx(1.0), pytest.approx(1.0)]
    assert gaps["kept_originals_minus_rewrites"]["ci95"] == [pytest.approx(1.0), pytest.approx(1.0)]
    assert gaps["original_minus_distilled"]["diff"] == pytest.approx(0.75)  # the diff stays the report's


def test_examples_that_kept_their_original_count_as_distilled_unchanged(tmp_path):
    # two kept examples (gap 1 nat/token each) and two that fell back to the original (gap 0):
    # the overall gap's CI spans the mixes the resamples draw, inside [0, 1] and not a point
    rows = [{"orig_nll": 2.0 * n, "orig_tokens": n, "rewrite_nll": 1.0 * n, "rewrite_tokens": n} for n in (4, 4)]
    rows += [{"orig_nll": 2.0 * n, "orig_tokens": n} for n in (4, 4)]
    gaps = nll_gap.gaps(_run(tmp_path, {"using": {"nll": BLOCK}}, {"using": rows}))["distill/using"]["gaps"]
    lo, hi = gaps["original_minus_distilled"]["ci95"]
    assert 0.0 <= lo < 0.5 < hi <= 1.0
    assert gaps["kept_originals_minus_rewrites"]["ci95"] == [pytest.approx(1.0), pytest.approx(1.0)]


def test_one_example_is_too_few_for_a_ci(tmp_path):
    rows = [{"orig_nll": 6.0, "orig_tokens": 3, "rewrite_nll": 3.0, "rewrite_tokens": 3}]
    gaps = nll_gap.gaps(_run(tmp_path, {"using": {"nll": BLOCK}}, {"using": rows}))["distill/using"]["gaps"]
    assert gaps["original_minus_distilled"]["ci95"] is None


def test_a_report_without_an_nll_block_or_a_kept_set_is_left_out_or_has_one_gap(tmp_path):
    only_original = {"original": {"nll_per_token": 2.0}, "distilled": {"nll_per_token": 1.5}}
    out = nll_gap.gaps(_run(tmp_path, {"a": {"total": 10}, "b": {"nll": {"original": {"nll_per_token": None}}},
                                   "c": {"nll": only_original}}))
    assert list(out) == ["distill/c"]
    assert out["distill/c"]["gaps"] == {"original_minus_distilled": {"diff": pytest.approx(0.5), "ci95": None}}
