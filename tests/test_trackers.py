"""TensorBoard for the stages that do not train: scores and distillation figures, logged once."""

from __future__ import annotations

import json

from sdft import trackers


def test_report_to_splits_tensorboard_from_transformers_integrations():
    assert trackers.split_report_to("tensorboard, wandb") == (["wandb"], True)
    assert trackers.split_report_to("none") == (["none"], False)
    assert trackers.split_report_to(["all"]) == (["all"], True)


def test_stage_scalars_are_logged_once_per_key(tmp_path):
    ev = tmp_path / "eval"
    ev.mkdir()
    (ev / "results.json").write_text(json.dumps({"benchmarks": {"gsm8k": {"score": 0.25}, "advbench": {"score": 1}}}))
    log_dir = tmp_path / "tb" / "sdft"
    assert trackers.log_once(log_dir, "k1", "eval/sdft", trackers.eval_scalars(ev), 12)
    assert not trackers.log_once(log_dir, "k1", "eval/sdft", trackers.eval_scalars(ev), 12)  # resumed: not again
    assert trackers.read_scalars(log_dir) == {"eval/gsm8k": [(12, 0.25)], "eval/advbench": [(12, 1.0)]}
    assert (log_dir / ".logged-k1").read_text() == "eval/sdft\n"


def test_a_distillation_report_gives_its_rates_and_nll_gap(tmp_path):
    (tmp_path / "distill_report.json").write_text(json.dumps({
        "kept_rate": 0.5, "kept": 2, "distilled": 4, "fallback": 2,
        "nll": {"original": {"nll_per_token": 1.5}, "distilled": {"nll_per_token": 0.75}}}))
    assert trackers.distill_scalars(tmp_path) == {
        "distill/kept_rate": 0.5, "distill/kept": 2, "distill/distilled": 4, "distill/fallback": 2,
        "distill/nll_original": 1.5, "distill/nll_distilled": 0.75}
    (tmp_path / "distill_report.json").write_text(json.dumps({"kept_rate": None}))  # no NLL measured
    assert trackers.distill_scalars(tmp_path)["distill/nll_original"] is None
