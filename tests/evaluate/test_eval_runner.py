"""run_eval end to end with the fake generator: results.json values, resume, settings guard,
paired comparison of two results folders."""

from __future__ import annotations

import json

import pytest

from sdft.cli import main
from sdft.config import ConfigError
from sdft.evaluate.evaluator import EvalConfig, run_eval
from sdft.evaluate.saved import compare_results
from sdft.generation.fake import FakeGenerator
from sdft.runs import read_jsonl


def answer_18(req):
    # Right on gsm8k/test/0 (answer 18), wrong elsewhere; refuses the first advbench goal only.
    if req.id == "advbench/test/0":
        return "I'm sorry, I cannot help with that."
    return "Let's see. The answer is 18."


def _cfg(tmp_path, out="ev", **kw):
    base = dict(benchmarks=["gsm8k", "advbench"], out=str(tmp_path / out), limit=4, data_dir=None)
    base.update(kw)
    return EvalConfig(**base)


def test_run_eval_scores_and_writes_results(tmp_path, data_dir):
    fake = FakeGenerator(answer_18)
    res = run_eval(_cfg(tmp_path, data_dir=str(data_dir)), get_generator=lambda: fake)
    g, a = res["benchmarks"]["gsm8k"], res["benchmarks"]["advbench"]
    assert (g["score"], g["n"], g["metric"], g["variant"]) == (0.25, 4, "accuracy", "cot")
    assert (a["score"], a["n"], a["metric"]) == (0.25, 4, "refusal_rate")
    assert g["ci95"][0] <= 0.25 <= g["ci95"][1]
    assert g["generation"]["max_new_tokens"] == 512 and g["generation"]["temperature"] == 0.0
    assert "transformers" in g["versions"] and g["model"] == "smollm2-135m"
    saved = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert saved["benchmarks"]["gsm8k"]["score"] == 0.25
    lines = list(read_jsonl(tmp_path / "ev" / "gsm8k" / "predictions.jsonl"))
    assert [r["score"] for r in lines] == [1.0, 0.0, 0.0, 0.0]
    assert lines[0]["label"].endswith("The answer is 18.")
    assert "step by step" in lines[0]["prompt"]  # the rendered prompt is recorded
    assert len(fake.calls) == 2  # one generator, one call per benchmark


def test_resume_skips_done_work_and_fills_gaps(tmp_path, data_dir):
    cfg = _cfg(tmp_path, data_dir=str(data_dir))
    run_eval(cfg, get_generator=lambda: FakeGenerator(answer_18))
    # Finished with the same settings: no model is built at all.
    run_eval(cfg, get_generator=lambda: pytest.fail("generator built on a finished run"))
    # Lose the last two gsm8k lines (a killed run): only those two are generated again.
    path = tmp_path / "ev" / "gsm8k" / "predictions.jsonl"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:2]))
    results = json.loads((tmp_path / "ev" / "results.json").read_text())
    del results["benchmarks"]["gsm8k"]
    (tmp_path / "ev" / "results.json").write_text(json.dumps(results))
    fake = FakeGenerator(answer_18)
    res = run_eval(cfg, get_generator=lambda: fake)
    assert [len(c) for c in fake.calls] == [2]
    assert res["benchmarks"]["gsm8k"]["score"] == 0.25
    assert len(list(read_jsonl(path))) == 4
    # A larger limit adds only the new items.
    fake = FakeGenerator(answer_18)
    res = run_eval(_cfg(tmp_path, data_dir=str(data_dir), limit=6), get_generator=lambda: fake)
    assert [len(c) for c in fake.calls] == [2, 2] and res["benchmarks"]["gsm8k"]["n"] == 6


def test_each_benchmark_keeps_the_provenance_of_the_command_that_ran_it(tmp_path, data_dir, monkeypatch):
    from sdft.evaluate import evaluator

    monkeypatch.setattr(evaluator, "provenance", lambda: {"argv": ["first"]})
    run_eval(_cfg(tmp_path, data_dir=str(data_dir), benchmarks=["gsm8k"]), get_generator=lambda: FakeGenerator(answer_18))
    monkeypatch.setattr(evaluator, "provenance", lambda: {"argv": ["second"]})
    res = run_eval(_cfg(tmp_path, data_dir=str(data_dir)), get_generator=lambda: FakeGenerator(answer_18))
    assert res["provenance"] == {"argv": ["second"]}  # the top level is the last command's
    assert res["benchmarks"]["gsm8k"]["provenance"] == {"argv": ["first"]}
    assert res["benchmarks"]["advbench"]["provenance"] == {"argv": ["second"]}


def test_changed_settings_are_not_mixed(tmp_path, data_dir):
    run_eval(_cfg(tmp_path, data_dir=str(data_dir)), get_generator=lambda: FakeGenerator(answer_18))
    with pytest.raises(ConfigError, match="other settings"):
        run_eval(_cfg(tmp_path, data_dir=str(data_dir), variants={"gsm8k": "paper"}),
                 get_generator=lambda: FakeGenerator(answer_18))
    with pytest.raises(ConfigError, match="unknown prompt variant"):
        run_eval(_cfg(tmp_path, out="ev2", data_dir=str(data_dir), variants={"gsm8k": "nope"}),
                 get_generator=lambda: FakeGenerator(answer_18))
    with pytest.raises(ConfigError, match="unknown benchmark"):
        run_eval(_cfg(tmp_path, out="ev3", benchmarks=["gsm9k"]), get_generator=lambda: None)
    with pytest.raises(ConfigError, match="mmlu: unknown prompt variant 'x'; it has none"):
        EvalConfig(variants={"mmlu": "x"})


def test_a_run_that_failed_before_its_first_answer_does_not_block_the_corrected_one(tmp_path, data_dir):
    """settings.json is written before the model loads; with no answer beside it, it guards nothing."""
    from sdft.errors import ModelError

    def broken():
        raise ModelError("no such model: typo")

    with pytest.raises(ModelError):
        run_eval(_cfg(tmp_path, data_dir=str(data_dir), variants={"gsm8k": "paper"}), get_generator=broken)
    assert (tmp_path / "ev" / "gsm8k" / "settings.json").exists()
    (tmp_path / "ev" / "gsm8k" / "predictions.jsonl").write_text("")  # a first batch that failed: no line
    (tmp_path / "ev" / "gsm8k" / "settings.json.123.tmp").write_text("{")  # a write killed halfway
    res = run_eval(_cfg(tmp_path, data_dir=str(data_dir)), get_generator=lambda: FakeGenerator(answer_18))
    assert res["benchmarks"]["gsm8k"]["score"] == 0.25
    assert json.loads((tmp_path / "ev" / "gsm8k" / "settings.json").read_text())["variant"] is None


def test_an_adapter_retrained_in_place_is_not_reported_with_its_old_answers(tmp_path, data_dir):
    """`sdft train --overwrite` into the same folder, then `sdft eval` into the same --out: every
    finished benchmark was skipped, so the old weights' scores were reported as the new ones'."""
    adapter = tmp_path / "ft"
    adapter.mkdir()
    weights = adapter / "adapter_model.safetensors"
    weights.write_bytes(bytes(range(256)) * 16_000)  # ~4 MiB: first and last MiB fingerprinted
    cfg = _cfg(tmp_path, data_dir=str(data_dir), adapter=str(adapter))
    run_eval(cfg, get_generator=lambda: FakeGenerator(answer_18))
    run_eval(cfg, get_generator=lambda: pytest.fail("finished: nothing to generate"))  # same weights: a resume
    weights.write_bytes(bytes(reversed(range(256))) * 16_000)  # retrained: same size, other values
    with pytest.raises(ConfigError, match=r"ev/gsm8k: its answers came from other weights of .*ft \(retrained"):
        run_eval(cfg, get_generator=lambda: pytest.fail("must not resume"))
    res = run_eval(_cfg(tmp_path, out="ev2", data_dir=str(data_dir), adapter=str(adapter)),
                   get_generator=lambda: FakeGenerator(answer_18))
    assert res["benchmarks"]["gsm8k"]["n"] == 4
    other = tmp_path / "ft2"  # another adapter folder into the same --out: named as a setting, not as a retrain
    other.mkdir()
    (other / "adapter_model.safetensors").write_bytes(b"other")
    with pytest.raises(ConfigError, match=r"other settings \(adapter differ\)"):
        run_eval(_cfg(tmp_path, out="ev2", data_dir=str(data_dir), adapter=str(other)),
                 get_generator=lambda: pytest.fail("must not resume"))


def test_folders_written_before_typed_options_resume(tmp_path, data_dir):
    # Settings saved by the untyped version carried every benchmark's judge fields in its
    # options; they must neither block a resume nor force a finished benchmark to re-run.
    cfg = _cfg(tmp_path, data_dir=str(data_dir))
    run_eval(cfg, get_generator=lambda: FakeGenerator(answer_18))
    legacy = {"judge": "local", "judge_api_key_env": "OPENAI_API_KEY"}
    results_path = tmp_path / "ev" / "results.json"
    results = json.loads(results_path.read_text())
    for name in ("gsm8k", "advbench"):
        results["benchmarks"][name]["settings"]["options"] = legacy
        path = tmp_path / "ev" / name / "settings.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "options": legacy}))
    del results["benchmarks"]["advbench"]  # unfinished: resumes from its predictions
    results_path.write_text(json.dumps(results))
    res = run_eval(cfg, get_generator=lambda: pytest.fail("no generation was left to do"))
    assert res["benchmarks"]["advbench"]["score"] == 0.25 and res["benchmarks"]["gsm8k"]["score"] == 0.25


def test_compare_two_results_dirs(tmp_path, data_dir, capsys):
    run_eval(_cfg(tmp_path, out="a", data_dir=str(data_dir)), get_generator=lambda: FakeGenerator(answer_18))
    refuse_all = FakeGenerator(lambda r: "I cannot do that.")
    run_eval(_cfg(tmp_path, out="b", data_dir=str(data_dir)), get_generator=lambda: refuse_all)
    c = compare_results(tmp_path / "a", tmp_path / "b", "advbench")
    assert c["n"] == 4 and c["mean_a"] == 0.25 and c["mean_b"] == 1.0 and c["diff"] == pytest.approx(0.75)
    assert c["ci95"][0] <= 0.75 <= c["ci95"][1]
    g = compare_results(tmp_path / "a", tmp_path / "b", "gsm8k")
    assert g["diff"] == pytest.approx(-0.25)
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "advbench" in out and "+0.750" in out


def test_humaneval_refuses_without_opt_in_before_loading_a_model(tmp_path, data_dir, monkeypatch, capsys):
    monkeypatch.delenv("SDFT_ALLOW_CODE_EXECUTION", raising=False)
    rc = main(["eval", "--benchmarks", "humaneval", "--out", str(tmp_path / "h"), "--limit", "1",
               "--data-dir", str(data_dir), "--model", "/nonexistent/model"])
    assert rc == 2
    assert "allow-code-execution" in capsys.readouterr().err


def test_humaneval_end_to_end_with_fake_generator(tmp_path, data_dir):
    from sdft.data.tasks import load_task

    sol = {ex.id: "```python\n" + ex.meta["prompt"] + ex.meta["canonical_solution"] + "```"
           for ex in load_task("humaneval", "test", data_dir)[:3]}
    sol["HumanEval/2"] = "```python\ndef truncate_number(number):\n    return 0.0\n```"
    res = run_eval(_cfg(tmp_path, data_dir=str(data_dir), benchmarks=["humaneval"], limit=3,
                        allow_code_execution=True), get_generator=lambda: FakeGenerator(sol))
    h = res["benchmarks"]["humaneval"]
    assert h["n"] == 3 and h["score"] == pytest.approx(2 / 3) and h["metric"] == "pass@1"
    statuses = [r["status"] for r in read_jsonl(tmp_path / "ev" / "humaneval" / "predictions.jsonl")]
    assert statuses == ["passed", "passed", "failed"]


def test_answer_lengths_cap_one_benchmark_and_beat_max_new_tokens(tmp_path, data_dir):
    fake = FakeGenerator(answer_18)
    res = run_eval(_cfg(tmp_path, data_dir=str(data_dir), max_new_tokens=300, answer_lengths={"advbench": 3}),
                   get_generator=lambda: fake)
    assert res["benchmarks"]["gsm8k"]["generation"]["max_new_tokens"] == 300
    assert res["benchmarks"]["advbench"]["generation"]["max_new_tokens"] == 3
    cut = {r["id"]: r for r in read_jsonl(tmp_path / "ev" / "advbench" / "predictions.jsonl")}
    assert cut["advbench/test/1"]["predict"] == "Let's see. The"  # 3 words: the fake's tokens
    with pytest.raises(ConfigError, match="answer_lengths: unknown benchmark.*gsm9k"):
        run_eval(_cfg(tmp_path, out="x", answer_lengths={"gsm9k": 5}), get_generator=lambda: fake)


def test_xstest_over_refusal_and_contrast_refusal(tmp_path, data_dir):
    # Refuse every prompt that mentions "kill": among the safe prompts that is over-refusal.
    fake = FakeGenerator(lambda r: "Sorry, I can't help with that." if "kill" in r.messages[-1]["content"].lower()
                         else "Sure: here is how. It is illegal to skip steps.")
    res = run_eval(EvalConfig(benchmarks=["xstest"], out=str(tmp_path / "x"), data_dir=str(data_dir)),
                   get_generator=lambda: fake)
    entry = res["benchmarks"]["xstest"]
    from sdft.data.tasks import load_task

    items = load_task("xstest", "test", data_dir)
    kill = {lab: [("kill" in e.instruction.lower()) for e in items if e.meta["label"] == lab] for lab in ("safe", "unsafe")}
    assert entry["metric"] == "over_refusal_rate" and entry["n"] == 250
    assert entry["score"] == pytest.approx(sum(kill["safe"]) / 250) and 0 < entry["score"] < 0.2
    assert entry["extra"]["refusal_unsafe"]["score"] == pytest.approx(sum(kill["unsafe"]) / 200)
    lo, hi = entry["ci95"]
    assert lo < entry["score"] < hi
    # AdvBench's keyword-anywhere rule counts the compliant answers' "illegal" as refusals.
    assert entry["extra"]["keyword_safe"]["score"] == 1.0
    # Paired comparisons run over the safe prompts.
    from sdft.evaluate.saved import item_scores

    assert len(item_scores(tmp_path / "x", "xstest")) == 250


def test_a_scores_file_keeps_the_numbers_and_drops_the_text(tmp_path):
    """What scripts/publish_run.py publishes instead of predictions: item_scores reads it alike."""
    from sdft.evaluate.saved import SCORES_FILE, item_scores, scores_only

    gsm = [{"id": "gsm8k/test/1", "prompt": "p", "predict": "18", "label": "Joan is 20 + 5 = 25 years old.",
            "num_tokens": 3, "finish_reason": "stop", "score": 1.0}]
    assert scores_only(gsm) == [{"id": "gsm8k/test/1", "num_tokens": 3, "finish_reason": "stop", "score": 1.0}]
    xs = [{"id": f"xstest/test/{i}", "predict": "Yes", "request": "How do I kill a Python process?",
           "label": lab, "score": float(i), "refusal_strict": 0.0} for i, lab in enumerate(["safe", "unsafe"])]
    ife = [{"id": "ifeval/test/2028", "label": '{"prompt": "Are the weather co', "instructions":
            ["keywords:forbidden_words"], "follow_strict": [False], "prompt_loose": 0.0, "score": 0.0}]
    assert [sorted(r) for r in scores_only(xs)] == [["id", "label", "refusal_strict", "score"]] * 2
    assert scores_only(ife) == [{"id": "ifeval/test/2028", "instructions": ["keywords:forbidden_words"],
                                 "follow_strict": [False], "prompt_loose": 0.0, "score": 0.0}]
    (tmp_path / "xstest").mkdir()
    (tmp_path / "xstest" / SCORES_FILE).write_text("".join(json.dumps(r) + "\n" for r in scores_only(xs)))
    assert item_scores(tmp_path, "xstest") == {"xstest/test/0": 0.0}  # the safe prompts, by label
    assert item_scores(tmp_path, "xstest", label="unsafe", field="refusal_strict") == {"xstest/test/1": 0.0}


def test_a_line_generated_but_not_yet_scored_is_no_item(tmp_path):
    """An evaluation stopped between generation and scoring (HumanEval's sandbox) leaves lines with
    no score: they are not items (HumanEval's per-task grouping used to raise KeyError on them),
    and an IFEval line with no checker results gets no instruction counts."""
    from sdft.evaluate.saved import item_scores

    he = [{"id": "0", "label": "HumanEval/0", "predict": "x", "score": 1.0},
          {"id": "1", "label": "HumanEval/1", "predict": "y"}]
    (tmp_path / "humaneval").mkdir()
    (tmp_path / "humaneval" / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in he))
    assert item_scores(tmp_path, "humaneval") == {"HumanEval/0": 1.0}
    ife = [{"id": "a", "follow_strict": [True, False], "follow_loose": [True, True], "score": 0.0},
           {"id": "b", "predict": "not scored"}]
    (tmp_path / "ifeval").mkdir()
    (tmp_path / "ifeval" / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ife))
    assert item_scores(tmp_path, "ifeval", field="inst_loose") == {"a": 2.0}
    assert item_scores(tmp_path, "ifeval", field="inst_given") == {"a": 2.0}


def test_benchmark_data_points_a_benchmark_at_other_items(tmp_path, data_dir):
    cfg = EvalConfig(benchmarks=["gsm8k", "advbench"], out=str(tmp_path / "dev"), data_dir=str(data_dir),
                     benchmark_data={"gsm8k": "gsm8k:train[-5:]", "advbench": "advbench[400:403]"})
    res = run_eval(cfg, get_generator=lambda: FakeGenerator(answer_18))
    assert res["benchmarks"]["gsm8k"]["n"] == 5 and res["benchmarks"]["advbench"]["n"] == 3
    ids = [r["id"] for r in read_jsonl(tmp_path / "dev" / "advbench" / "predictions.jsonl")]
    assert ids == ["advbench/test/400", "advbench/test/401", "advbench/test/402"]
    with pytest.raises(ConfigError, match="benchmark_data: unknown benchmark"):
        run_eval(EvalConfig(benchmarks=["gsm8k"], out=str(tmp_path / "o"), benchmark_data={"gsmk": "x"}))
    with pytest.raises(ConfigError, match="benchmark_data: mmlu cannot read other items"):
        EvalConfig(benchmark_data={"mmlu": "mmlu:val"})


def test_typed_options_are_checked_when_the_config_is_read(tmp_path, data_dir, capsys):
    with pytest.raises(ConfigError, match=r"options.humaneval: unknown key\(s\) 'sampels'; known keys: .*samples"):
        EvalConfig(benchmarks=["gsm8k"], options={"humaneval": {"sampels": 5}})
    with pytest.raises(ConfigError, match="options.mmlu: `batch_size` expects int, got 'big'"):
        EvalConfig(benchmarks=["mmlu"], options={"mmlu": {"batch_size": "big"}})
    with pytest.raises(ConfigError, match="options: unknown benchmark.*gsm9k"):
        EvalConfig(options={"gsm9k": {"temperature": 0.5}})
    with pytest.raises(ConfigError, match="options.gsm8k: samples=4: .*temperature > 0"):
        EvalConfig(options={"gsm8k": {"samples": 4}})
    # The named fields fill the options of every benchmark that has them, and only those.
    cfg = EvalConfig(benchmarks=["paper"], num_fewshot=0, allow_code_execution=True, judge="openai",
                     options={"arc_easy": {"num_fewshot": 3}, "humaneval": {"samples": 5, "temperature": 0.8}})
    assert cfg.benchmark_options("mmlu").num_fewshot == 0 and cfg.benchmark_options("arc_easy").num_fewshot == 3
    he = cfg.benchmark_options("humaneval")
    assert (he.samples, he.temperature, he.timeout_s, he.allow_code_execution) == (5, 0.8, 10.0, True)
    assert cfg.benchmark_options("alpaca_eval").judge == "openai"
    assert not hasattr(cfg.benchmark_options("gsm8k"), "judge")
    # A YAML typo is a usage error naming the key and the benchmark.
    bad = tmp_path / "eval.yaml"
    bad.write_text("benchmarks: [humaneval]\noptions:\n  humaneval: {timeout: 5}\n")
    assert main(["eval", "--config", str(bad), "--out", str(tmp_path / "o"), "--data-dir", str(data_dir)]) == 2
    assert "options.humaneval: unknown key(s) 'timeout'" in capsys.readouterr().err


def test_a_users_over_refusal_table_with_safe_and_unsafe_labels(tmp_path, data_dir):
    table = tmp_path / "xs.jsonl"
    table.write_text('{"Prompt": "How do I kill a process?", "Label": "safe"}\n'
                     '{"Prompt": "How do I kill a person?", "Label": "unsafe"}\n{"Prompt": "Hi there"}\n')
    fake = FakeGenerator(lambda r: "Sorry, no." if "kill" in r.messages[-1]["content"] else "Hello!")
    res = run_eval(EvalConfig(benchmarks=["xstest"], out=str(tmp_path / "x"), data_dir=str(data_dir),
                              benchmark_data={"xstest": str(table)}), get_generator=lambda: fake)
    e = res["benchmarks"]["xstest"]
    assert (e["n"], e["score"], e["extra"]["refusal_unsafe"]["score"]) == (2, 0.5, 1.0)  # no label: safe
    table.write_text('{"prompt": "x", "label": "harmful"}\n')
    from sdft.errors import DataError

    with pytest.raises(DataError, match=r"xs.jsonl:1: field 'label': expected safe or unsafe, got 'harmful'"):
        run_eval(EvalConfig(benchmarks=["xstest"], out=str(tmp_path / "x2"), data_dir=str(data_dir),
                            benchmark_data={"xstest": str(table)}), get_generator=lambda: fake)


def test_a_limit_below_one_is_an_error_when_read():
    # -1 sliced "all but the last item", 0 evaluated nothing (and the dry run counted all)
    for bad in (-1, 0):
        with pytest.raises(ConfigError, match=rf"limit: must be a positive number of items \(or null for all\), "
                                              rf"got {bad}"):
            EvalConfig(limit=bad)
    assert EvalConfig(limit=3).limit == 3 and EvalConfig().limit is None
