"""What the report compares per item: each endpoint's item scores, read by the evaluator's own rule."""

from __future__ import annotations

import json

import pytest

from sdft.analyze.runfiles import load_run
from sdft.report import arms
from sdft.report.endpoints import endpoint, endpoints_of, model_scores


def _write_run(root, samples):
    """A seed and a vanilla model, each with HumanEval samples {label: [(task, score), ...]}."""
    models = [{"label": "seed", "method": "seed", "eval_dir": "eval/seed"},
              {"label": "vanilla", "method": "vanilla", "eval_dir": "eval/vanilla"}]
    (root / "manifest.json").parent.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(json.dumps({"name": "he", "models": models}))
    for label, rows in samples.items():
        folder = root / "eval" / label / "humaneval"
        folder.mkdir(parents=True)
        lines = [{"id": f"{task}/{i}", "label": task, "score": s} for i, (task, s) in enumerate(rows)]
        folder.joinpath("predictions.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
        score = sum(s for _, s in rows) / len(rows)
        (root / "eval" / label / "results.json").write_text(json.dumps(
            {"benchmarks": {"humaneval": {"score": score, "ci95": [score, score], "n": len(rows)}}}))


def test_humaneval_is_compared_per_task_as_sdft_compare_does(tmp_path):
    """Two samples per task: the report's items are the 3 tasks (sdft.evaluate.saved.item_scores
    averages a task's samples), not the 6 samples."""
    tasks = ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    _write_run(tmp_path, {"seed": [(t, s) for t, pair in zip(tasks, [(1, 0), (0, 0), (1, 1)]) for s in pair],
                          "vanilla": [(t, s) for t, pair in zip(tasks, [(1, 1), (0, 1), (1, 0)]) for s in pair]})
    run = load_run(tmp_path)
    seed, vanilla = run["models"]
    assert model_scores(run, vanilla, endpoint("humaneval")) == {"HumanEval/0": 1.0, "HumanEval/1": 0.5,
                                                                 "HumanEval/2": 0.5}
    d = arms.difference(run, [seed], [vanilla], endpoint("humaneval"))
    assert d["n"] == 3 and d["diff"] == pytest.approx(100 * (2.0 - 1.5) / 3) and not d["approx"]


def test_a_model_without_predictions_has_no_item_scores(tmp_path):
    _write_run(tmp_path, {"seed": [("HumanEval/0", 1)]})
    run = load_run(tmp_path)
    assert model_scores(run, run["models"][1], endpoint("humaneval")) is None
    assert [e.key for e in endpoints_of(["xstest"], strict=True)] == ["xstest", "xstest_unsafe", "xstest_strict",
                                                                      "xstest_unsafe_strict"]


def test_check_report_reads_a_benchmark_group_as_its_benchmarks():
    from sdft.errors import ConfigError
    from sdft.report.endpoints import check_report
    from sdft.report_config import ReportConfig

    check_report(ReportConfig(primary="xstest_unsafe"), ["gsm8k", "safety"], "x.yaml")  # `safety` holds xstest
    with pytest.raises(ConfigError, match=r"x.yaml: report.primary: 'advbnech' is not an endpoint .*\(gsm8k, adv"):
        check_report(ReportConfig(primary="advbnech"), ["gsm8k", "safety"], "x.yaml")


def test_instruction_level_contrasts_use_the_prompts_both_models_scored(tmp_path):
    """IFEval's instruction-level change is followed over given on the shared prompts: the seed
    scored three prompts (2, 1 and 2 instructions), the fine-tune only the first two (3 given,
    the seed followed 2, the fine-tune 3): +33.3 pp, though the seed's own file averages 5/3
    instructions a prompt."""
    follow = {"seed": [[True, False], [True], [False, True]], "vanilla": [[True, True], [True]]}
    models = [{"label": k, "method": k, "eval_dir": f"eval/{k}"} for k in follow]
    tmp_path.joinpath("manifest.json").write_text(json.dumps({"name": "ife", "models": models}))
    for label, prompts in follow.items():
        folder = tmp_path / "eval" / label / "ifeval"
        folder.mkdir(parents=True)
        lines = [{"id": f"ifeval/test/{i}", "follow_strict": f, "follow_loose": f, "score": float(all(f))}
                 for i, f in enumerate(prompts)]
        folder.joinpath("predictions.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
        (tmp_path / "eval" / label / "results.json").write_text(json.dumps({"benchmarks": {"ifeval": {
            "score": 0.5, "ci95": [0, 1], "n": len(prompts), "extra": {"inst_strict": {"score": 0.5}}}}}))
    run = load_run(tmp_path)
    d = arms.difference(run, [run["models"][0]], [run["models"][1]], endpoint("ifeval_inst"))
    assert d["n"] == 2 and d["diff"] == pytest.approx(100 * (3 - 2) / 3) and not d["approx"]


@pytest.mark.parametrize("key, benchmark, extra", [
    ("xstest_unsafe", "xstest", "refusal_unsafe"), ("xstest_unsafe_strict", "xstest", "strict_unsafe"),
    ("ifeval_inst_loose", "ifeval", "inst_loose"), ("advbench_strict", "advbench", "refusal_strict"),
    ("gsm8k", "gsm8k", None),
    ("xstest_v2", "xstest_v2", None),  # a benchmark named like XSTest's endpoints is its own, one score
    ("ifeval_ja", "ifeval_ja", None),
])
def test_endpoint_by_key(key, benchmark, extra):
    ep = endpoint(key)
    assert (ep.key, ep.benchmark, ep.extra) == (key, benchmark, extra)


def test_a_strict_endpoint_of_a_benchmark_without_the_rule_is_unknown():
    with pytest.raises(StopIteration):
        endpoint("gsm8k_strict")
