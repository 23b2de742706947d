"""The shared generative loop: prompt files, items, requests, scoring the saved lines, the
summary, and run_generative end to end (resume, samples, a judge pass) with a fake generator."""

from __future__ import annotations

import json

import pytest

from sdft.config import ConfigError
from sdft.data.records import Example
from sdft.errors import DataError
from sdft.evaluate import generative
from sdft.evaluate.benchmark import Benchmark, Sampling
from sdft.evaluate.context import EvalContext
from sdft.evaluate.evaluator import EvalConfig, run_eval
from sdft.generation.fake import FakeGenerator
from sdft.runs import read_jsonl


def exact(predict: str, label: str) -> float:
    return float(predict.strip() == label)


BENCH = Benchmark("toy", "accuracy", prompt="math", variants=("cot",), score=exact,
                  extra=lambda p, label: {"long": float(len(p) > 3)}, extra_metrics=("long",))


def _table(tmp_path, text="question,answer\n2+2?,4\n3+3?,6\n5+5?,10\n"):
    path = tmp_path / "items.csv"
    path.write_text(text)
    return path


def _ctx(tmp_path, fake, **kw):
    base = dict(model="fake", adapter=None, out_dir=tmp_path / "out" / "toy", data_dir=tmp_path,
                get_generator=lambda: fake, options=Sampling(), data=str(_table(tmp_path)), progress=False)
    return EvalContext(**{**base, **kw})


def test_load_prompt_reads_the_packaged_file_and_names_an_unknown_one():
    spec = generative.load_prompt("math_paper")
    assert spec["system"].startswith("You are an expert in math.") and "{{ instruction }}" in spec["user"]
    with pytest.raises(ConfigError, match=r"no packaged prompt 'eval_math_fewshot.yaml' .*eval_math_cot.yaml"):
        generative.load_prompt("math_fewshot")


def test_chat_requests_render_the_examples_fields():
    exs = [Example(id="t/0", instruction="What is 2+2?"), Example(id="t/1", instruction="And 3+3?")]
    cot, paper = generative.chat_requests(exs, "math_cot"), generative.chat_requests(exs, "math_paper")
    assert [r.id for r in cot] == ["t/0", "t/1"]
    assert [m["role"] for m in cot[0].messages] == ["user"]  # cot keeps the model's own system prompt
    assert cot[1].messages[0]["content"].startswith("And 3+3?\n\nSolve this step by step.")
    assert [m["role"] for m in paper[0].messages] == ["system", "user"]


def test_load_items_from_a_users_table_and_errors_naming_the_file_and_field(tmp_path):
    ctx = _ctx(tmp_path, None)
    items = generative.load_items(ctx, "gsm8k:test")
    assert [(e.instruction, e.response) for e in items] == [("2+2?", "4"), ("3+3?", "6"), ("5+5?", "10")]
    no_ref = _table(tmp_path, "question\nhello\n")
    with pytest.raises(DataError, match=r"items.csv: no reference-answer column"):
        generative.load_items(ctx, "gsm8k:test")
    assert [e.instruction for e in generative.load_prompts(ctx, "gsm8k:test")] == ["hello"]  # prompts only
    no_ref.write_text("question,answer\nfine,1\nbad,x\n")
    with pytest.raises(DataError, match=r"items.csv:3: field 'answer': not a digit"):
        generative.load_items(ctx, "gsm8k:test", check=lambda ex: None if ex.response.isdigit() else "not a digit")


def test_score_records_fills_only_missing_scores_and_summarize_means():
    recs = [{"predict": "4", "label": "4"}, {"predict": "five", "label": "5"},
            {"predict": "x", "label": "x", "score": 0.0}]
    generative.score_records(BENCH, recs, None)
    assert [r["score"] for r in recs] == [1.0, 0.0, 0.0]  # a saved score is kept
    assert [r.get("long") for r in recs] == [0.0, 1.0, None]
    s = generative.summarize(BENCH, recs)
    assert (s["metric"], s["n"], s["score"]) == ("accuracy", 3, pytest.approx(1 / 3))
    assert s["extra"]["long"]["score"] == pytest.approx(0.5) and "n" not in s["extra"]["long"]
    seen = []
    many = Benchmark("m", "rate", score_many=lambda todo, ctx: seen.extend(todo) or [r.update(score=1.0) for r in todo],
                     summary=lambda records, seed: {"metric": "own", "score": len(records)})
    recs = [{"id": "a"}, {"id": "b", "score": 0.0}]
    generative.score_records(many, recs, None)
    assert seen == [{"id": "a", "score": 1.0}] and generative.summarize(many, recs) == {"metric": "own", "score": 2}


def test_rewrite_replaces_the_lines_without_leaving_a_temporary_file(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "old"}\n')
    generative.rewrite(path, [{"id": "a", "predict": "é"}, {"id": "b"}])
    assert list(read_jsonl(path)) == [{"id": "a", "predict": "é"}, {"id": "b"}]
    assert [p.name for p in tmp_path.iterdir()] == ["p.jsonl"]


def test_run_generative_scores_saved_lines_and_resumes(tmp_path):
    fake = FakeGenerator(lambda r: "4" if "2+2" in r.messages[-1]["content"] else "I don't know")
    entry = generative.run_generative(BENCH, _ctx(tmp_path, fake))
    assert (entry["benchmark"], entry["variant"], entry["n"], entry["truncated"]) == ("toy", "cot", 3, 0)
    assert entry["score"] == pytest.approx(1 / 3) and entry["extra"]["long"]["score"] == pytest.approx(2 / 3)
    assert entry["generation"]["max_new_tokens"] == 256 and entry["generation_stats"]
    lines = list(read_jsonl(tmp_path / "out" / "toy" / "predictions.jsonl"))
    assert [(ln["label"], ln["score"]) for ln in lines] == [("4", 1.0), ("6", 0.0), ("10", 0.0)]
    # Finished: re-scored from the file alone, no generator is built.
    again = generative.run_generative(BENCH, _ctx(tmp_path, None, get_generator=lambda: pytest.fail("built")))
    assert again["score"] == entry["score"] and "generation_stats" not in again
    # A saved line's score is the file's, not recomputed: edit one and the summary follows it.
    lines[1]["score"] = 1.0
    (tmp_path / "out" / "toy" / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert generative.run_generative(BENCH, _ctx(tmp_path, None))["score"] == pytest.approx(2 / 3)


def test_a_judge_pass_sees_the_plain_request_and_its_changes_are_saved(tmp_path):
    def judge(records, ctx, path):
        for r in records:
            r["verdict"] = "ok" if "2+2" in r["request"] else "no"
        return True

    bench = Benchmark("judged", "rate", prompt="math", variants=("cot",), score=exact, judge=judge)
    generative.run_generative(bench, _ctx(tmp_path, FakeGenerator(lambda r: "4")))
    lines = list(read_jsonl(tmp_path / "out" / "toy" / "predictions.jsonl"))
    assert [(ln["request"], ln["verdict"]) for ln in lines] == [("2+2?", "ok"), ("3+3?", "no"), ("5+5?", "no")]


def test_samples_give_each_item_several_seeded_answers(tmp_path, data_dir):
    # Any generative benchmark can sample: ids get #i, every sample keeps the item's label.
    fake = FakeGenerator(lambda r: "The answer is 18." if r.id.endswith("#1") else "The answer is 0.")
    res = run_eval(EvalConfig(benchmarks=["gsm8k"], out=str(tmp_path / "ev"), limit=2, data_dir=str(data_dir),
                              options={"gsm8k": {"samples": 3, "temperature": 0.7}}), get_generator=lambda: fake)
    lines = {r["id"]: r for r in read_jsonl(tmp_path / "ev" / "gsm8k" / "predictions.jsonl")}
    assert sorted(lines) == [f"gsm8k/test/{i}#{j}" for i in range(2) for j in range(3)]
    assert lines["gsm8k/test/0#2"]["label"] == lines["gsm8k/test/0#0"]["label"]
    g = res["benchmarks"]["gsm8k"]
    assert g["n"] == 6 and g["score"] == pytest.approx(1 / 6)  # only gsm8k/test/0#1 is right (18)
    assert g["generation"]["temperature"] == 0.7
    assert g["settings"]["options"] == {"temperature": 0.7, "samples": 3}
