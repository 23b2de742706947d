"""Reading a run folder: the manifest, the files its models point to, and the errors that name the
file when one is malformed (runfiles is what both the analysis and the report read runs with)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdft.analyze import runfiles
from sdft.errors import DataError

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"


def _run(tmp_path: Path, manifest: dict) -> Path:
    d = tmp_path / "run"
    d.mkdir(exist_ok=True)
    (d / "manifest.json").write_text(json.dumps(manifest))
    return d


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_load_run_on_the_demo_fixture():
    run = runfiles.load_run(RUNS / "demo")
    assert run["name"] == "demo" and run["dir"] == RUNS / "demo"
    assert [m["label"] for m in run["models"]] == ["seed", "vanilla", "sdft", "vanilla-n50", "sdft-n50", "sdft-r0.5"]
    # each model carries the benchmarks of its eval folder's results.json
    assert list(runfiles.find_model(run, "seed")["results"]) == ["gsm8k", "advbench", "mmlu", "humaneval"]
    assert set(run["models"][4]["results"]) == {"gsm8k", "advbench"}
    assert runfiles.benchmarks_of(run["models"]) == ["gsm8k", "advbench", "mmlu", "humaneval"]
    assert runfiles.find_model(run, "onpolicy") is None


def test_a_model_without_method_is_its_label_and_a_missing_results_file_is_empty(tmp_path):
    d = _run(tmp_path, {"models": [{"label": "seed", "eval_dir": "eval/seed"}, {"label": "x"}]})
    run = runfiles.load_run(d)
    assert run["name"] == "run"  # no name in the manifest: the folder's
    assert [(m["method"], m["results"]) for m in run["models"]] == [("seed", {}), ("x", {})]


def test_no_manifest_is_an_error_naming_the_file(tmp_path):
    with pytest.raises(DataError, match=r"manifest\.json: no manifest\.json; is .* a run folder"):
        runfiles.load_run(tmp_path)


@pytest.mark.parametrize("text, message", [
    ('{"models": [', r"manifest\.json:1: invalid JSON"),
    ('["a"]', r"manifest\.json: expected an object with a `models` list"),
    ('{"models": {"seed": {}}}', r"manifest\.json: expected an object with a `models` list"),
    ('{"models": [{"label": "seed"}, {"method": "sdft"}]}', r"manifest\.json: models\[1\]: each model needs a `label`"),
])
def test_a_corrupt_manifest_is_an_error_naming_the_file_and_the_entry(tmp_path, text, message):
    d = tmp_path / "run"
    _write(d / "manifest.json", text)
    with pytest.raises(DataError, match=message) as err:
        runfiles.load_run(d)
    assert str(d / "manifest.json") in str(err.value)


def test_a_corrupt_results_file_names_itself(tmp_path):
    d = _run(tmp_path, {"models": [{"label": "seed", "eval_dir": "eval/seed"}]})
    _write(d / "eval" / "seed" / "results.json", '{"benchmarks":\n oops}')
    with pytest.raises(DataError, match=r"eval/seed/results\.json:2: invalid JSON"):
        runfiles.load_run(d)


@pytest.mark.parametrize("entry, message", [
    ({"score": "high"}, r"benchmarks\.gsm8k\.score: expected a number, got 'high'"),
    ({"score": 0.5, "ci95": ["a", 1]}, r"benchmarks\.gsm8k\.ci95: expected \[low, high\] numbers"),
    ({"score": 0.5, "ci95": 0.1}, r"benchmarks\.gsm8k\.ci95: expected \[low, high\] numbers"),
    ({"score": 0.5, "extra": {"ast_match": {"score": True}}}, r"benchmarks\.gsm8k\.extra\.ast_match\.score"),
    ("0.5", r"benchmarks\.gsm8k: expected an object"),
    ({"score": 0.5, "extra": [0.9]}, r"benchmarks\.gsm8k\.extra: expected an object of metrics, got \[0\.9\]"),
])
def test_a_results_entry_whose_score_is_not_a_number_names_the_file_and_benchmark(tmp_path, entry, message):
    """`"score": "high"` loaded, and the report's tables raised TypeError formatting it."""
    d = _run(tmp_path, {"models": [{"label": "seed", "eval_dir": "eval/seed"}]})
    path = _write(d / "eval" / "seed" / "results.json", json.dumps({"benchmarks": {"gsm8k": entry}}))
    with pytest.raises(DataError, match=message) as err:
        runfiles.load_run(d)
    assert str(err.value).startswith(f"{path}: ")
    _write(path, json.dumps({"benchmarks": {"gsm8k": {"score": None, "ci95": [0.1, None]}}}))  # null: none
    assert runfiles.load_run(d)["models"][0]["results"]["gsm8k"]["score"] is None


def test_predictions_are_keyed_by_id_and_a_record_without_one_is_an_error(tmp_path):
    run = runfiles.load_run(RUNS / "demo")
    preds = runfiles.model_predictions(run, runfiles.find_model(run, "seed"), "advbench")
    assert len(preds) == 8 and preds["adv-0"]["predict"].startswith("I'm sorry")
    assert runfiles.model_predictions(run, runfiles.find_model(run, "seed"), "mmlu") is None  # not saved
    assert runfiles.predictions(None, "advbench") is None
    bad = _write(tmp_path / "e" / "gsm8k" / "predictions.jsonl", '{"id": 1}\n{"predict": "x"}\n')
    with pytest.raises(DataError, match=f"{bad}: record 2 has no `id`"):
        runfiles.predictions(tmp_path / "e", "gsm8k")
    # ids are strings, whatever type the file has
    _write(bad, '{"id": 1}\n')
    assert list(runfiles.predictions(tmp_path / "e", "gsm8k")) == ["1"]


def test_an_lm_eval_benchmark_reads_its_colon_free_folder(tmp_path):
    _write(tmp_path / "e" / "lm_eval-arc_easy" / "predictions.jsonl", '{"id": "a"}\n')
    assert list(runfiles.predictions(tmp_path / "e", "lm_eval:arc_easy")) == ["a"]


def test_path_in_is_relative_to_the_run_unless_absolute(tmp_path):
    run = {"dir": tmp_path}
    assert runfiles.path_in(run, "eval/seed") == tmp_path / "eval" / "seed"
    assert runfiles.path_in(run, "/abs/x") == Path("/abs/x")
    assert runfiles.path_in(run, None) is None and runfiles.path_in(run, "") is None


def test_distill_reports_one_per_folder_with_the_labels_that_use_it():
    reports = runfiles.distill_reports(runfiles.load_run(RUNS / "demo"))
    assert [(r["dir"], r["labels"], r["template"]) for r in reports] == [
        ("distill/sdft-using", ["sdft", "sdft-n50", "sdft-r0.5"], "using")]
    assert reports[0]["report"]["total"] == 200


def test_train_summaries_and_logs_keep_one_record_per_step_the_later_one(tmp_path):
    d = _run(tmp_path, {"models": [{"label": "seed"}, {"label": "a", "train_dir": "train/a"},
                                   {"label": "b", "train_dir": "train/b"}, {"label": "c", "train_dir": "train/c"}]})
    _write(d / "train" / "a" / "train_summary.json", '{"steps": 3}')
    # a resumed fine-tune logs steps 2 and 3 again; a record without a loss (eval lines) is skipped
    _write(d / "train" / "a" / "train_log.jsonl", "\n".join(json.dumps(r) for r in [
        {"step": 1, "loss": 3.0}, {"step": 2, "loss": 2.5}, {"step": 3, "loss": 2.4}, {"step": 2, "loss": 2.0},
        {"step": 3, "loss": 1.5}, {"step": 3, "eval_loss": 9.0}]) + "\n")
    _write(d / "train" / "b" / "train_summary.json", '{"steps": 0}')
    _write(d / "train" / "b" / "train_log.jsonl", '{"epoch": 1}\n')  # nothing with a step and a loss
    _write(d / "train" / "c" / "train_log.jsonl", '{"step": 1, "loss": 2.0}\n')  # still training: no summary
    run = runfiles.load_run(d)
    assert runfiles.train_summaries(run) == {"a": {"steps": 3}, "b": {"steps": 0}}
    logs = runfiles.train_logs(run)
    assert list(logs) == ["a"] and [(r["step"], r["loss"]) for r in logs["a"]] == [(1, 3.0), (2, 2.0), (3, 1.5)]


def test_trajectory_entries_carry_their_results_and_skip_missing_and_repeated_ones(tmp_path):
    d = _run(tmp_path, {"models": [], "trajectory": [
        {"label": "a", "step": 5, "eval_dir": "eval/a@5"}, {"label": "a", "step": 5, "eval_dir": "eval/a@5-again"},
        {"label": "a", "step": 10, "eval_dir": "eval/a@10"}, {"label": "b", "step": 5}, "junk"]})
    _write(d / "eval" / "a@5" / "results.json", '{"benchmarks": {"gsm8k": {"accuracy": 0.5}}}')
    _write(d / "eval" / "a@5-again" / "results.json", '{"benchmarks": {"gsm8k": {"accuracy": 0.9}}}')
    traj = runfiles.trajectory(runfiles.load_run(d))
    assert [(t["label"], t["step"], t["results"]["gsm8k"]["accuracy"]) for t in traj] == [("a", 5, 0.5)]


def test_load_analysis_reads_the_analysis_folder_or_none(tmp_path):
    d = _run(tmp_path, {"models": []})
    run = runfiles.load_run(d)
    assert runfiles.load_analysis(run) is None
    _write(d / "analysis" / "analysis.json", '{"benchmark": "advbench"}')
    assert runfiles.load_analysis(run) == {"benchmark": "advbench"}
