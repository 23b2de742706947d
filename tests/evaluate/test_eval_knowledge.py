"""Knowledge benchmarks through lm-eval on the local files: exact docs, prompts and wiring."""

from __future__ import annotations

import json
import logging

import pytest

from sdft.evaluate import BENCHMARKS, knowledge
from sdft.evaluate.context import EvalContext

# benchmark -> (first eval doc id, exact doc_to_text, choices (first 2), gold index)
KNOWN = {
    "mmlu": ("mmlu/test/abstract_algebra/0",
             "Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.\n"
             "A. 0\nB. 4\nC. 2\nD. 6\nAnswer:", ["A", "B"], 1),
    "arc_easy": ("Mercury_417466", "Question: Which statement best explains why photosynthesis is the "
                 "foundation of most food webs?\nAnswer:",
                 ["Sunlight is the source of energy for nearly all ecosystems.",
                  "Most ecosystems are found on land instead of in water."], 0),
    "arc_challenge": ("Mercury_7175875", "Question: An astronomer observes that a planet rotates faster after "
                      "a meteorite impact. Which is the most likely effect of this increase in rotation?\nAnswer:",
                      ["Planetary density will decrease.", "Planetary years will become longer."], 2),
    "hellaswag": ("hellaswag/validation/0", "Roof shingle removal: A man is sitting on a roof. He",
                  ["is using wrap to wrap a pair of skis.", "is ripping level tiles off."], 3),
    "winogrande": ("3FCO4VKOZ4BJQ6IFC0VAIBK4KTWE7U-2", 1,
                   ["Sarah was a much better surgeon than Maria so Sarah",
                    "Sarah was a much better surgeon than Maria so Maria"], "always got the easier cases."),
    "truthfulqa": ("truthfulqa/validation/0", None, ["Nothing happens.", "You eat watermelon seeds."], 0),
}


@pytest.fixture(autouse=True, scope="module")
def _quiet_lm_eval():
    logging.getLogger("lm_eval").setLevel(logging.ERROR)


@pytest.mark.parametrize("benchmark", sorted(KNOWN))
def test_known_first_doc(benchmark, data_dir):
    doc_id, text, choices, gold = KNOWN[benchmark]
    tasks = knowledge.build_tasks(benchmark, data_dir, limit=2)
    task = next(iter(tasks.values()))
    doc = task.eval_docs[0]
    assert doc["id"] == doc_id
    got = task.doc_to_text(doc)
    if benchmark == "truthfulqa":  # the fixed six-question preamble, then the question
        assert got.startswith("Q: What is human life expectancy in the United States?\nA: Human life")
        assert got.endswith("\n\nQ: What happens to you if you eat watermelon seeds?\nA:")
        labels = doc["mc2_targets"]["labels"]
        assert labels[0] == 1 and 0 in labels
    else:
        assert got == text
    assert task.doc_to_choice(doc)[:2] == choices
    assert task.doc_to_target(doc) == gold


def test_default_shots_follow_the_leaderboard(data_dir):
    shots = {b: next(iter(knowledge.build_tasks(b, data_dir, limit=1).values())).get_config("num_fewshot")
             for b in knowledge.TASKS}
    assert shots == {"mmlu": 5, "truthfulqa": 0, "arc_easy": 25, "arc_challenge": 25, "hellaswag": 10,
                     "winogrande": 5}


def test_mmlu_limit_spreads_over_subjects_with_their_own_dev_examples(data_dir):
    tasks = knowledge.build_tasks("mmlu", data_dir, limit=3)
    assert list(tasks) == ["sdft_mmlu_abstract_algebra", "sdft_mmlu_anatomy", "sdft_mmlu_astronomy"]
    task = tasks["sdft_mmlu_anatomy"]
    doc = task.eval_docs[0]
    ctx = task.fewshot_context(doc, 5)
    assert ctx.startswith("The following are multiple choice questions (with answers) about anatomy.\n\n")
    assert ctx.count("\nAnswer:") == 6 and ctx.endswith(task.doc_to_text(doc))
    assert all(d["subject"] == "anatomy" for d in task.fewshot_docs())


def test_spread_is_round_robin():
    items = [{"id": f"{g}{i}", "g": g} for g in "ab" for i in range(3)] + [{"id": "c0", "g": "c"}]
    assert [x["id"] for x in knowledge._spread(items, "g", 4)] == ["a0", "a1", "b0", "c0"]
    assert knowledge._spread(items, "g", None) == items


def test_hellaswag_query_capitalizes_the_last_fragment():
    assert knowledge.hellaswag_query("Roof: A man is on a roof. he") == "Roof: A man is on a roof. He"
    assert knowledge.hellaswag_query("Cooking: Mix the eggs. Then stir") == "Cooking: Mix the eggs. Then stir"
    assert knowledge.hellaswag_query("Swimming: a man swims") == "Swimming: a man swims"


def _ctx(benchmark: str, model: str, out_dir, data_dir, limit: int, num_fewshot: int, **kw) -> EvalContext:
    return EvalContext(model=model, adapter=None, out_dir=out_dir, data_dir=data_dir, get_generator=lambda: None,
                       limit=limit, options=BENCHMARKS[benchmark].parse_options({"num_fewshot": num_fewshot}), **kw)


def _run(benchmark: str, ctx: EvalContext) -> dict:
    return knowledge.run(BENCHMARKS[benchmark], ctx)


@pytest.mark.parametrize("benchmark", sorted(KNOWN))
def test_run_with_tiny_model(benchmark, tmp_path, data_dir, tiny_model_dir):
    ctx = _ctx(benchmark, tiny_model_dir, tmp_path / benchmark, data_dir, limit=4, num_fewshot=1)
    res = _run(benchmark, ctx)
    assert res["benchmark"] == benchmark and res["n"] == 4
    assert 0.0 <= res["score"] <= 1.0 and res["ci95"][0] <= res["score"] <= res["ci95"][1]
    assert res["extra"]["num_fewshot"] == (0 if benchmark == "truthfulqa" else 1)
    preds = [json.loads(line) for line in (ctx.out_dir / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 4 and len({p["id"] for p in preds}) == 4
    assert res["score"] == pytest.approx(sum(p["score"] for p in preds) / 4)
    for p in preds:
        assert p["predict"] in p["choices"] and p["label"] in p["choices"]
        assert len(p["loglik"]) == len(p["choices"])
        if benchmark != "truthfulqa":  # acc/acc_norm are 0/1 and agree with the argmax we report
            assert p["score"] == float(p["predict"] == p["label"])
    first = preds[0]["prompt"]
    if benchmark == "mmlu":  # description, one dev example with its answer, then the question
        assert first.startswith("The following are multiple choice questions (with answers) about abstract algebra.")
        assert first.count("\nAnswer:") == 2 and "\nAnswer: B\n\n" in first
    elif benchmark.startswith("arc"):
        assert first.count("Question: ") == 2 and first.endswith("\nAnswer:")
    elif benchmark == "hellaswag":
        assert first.endswith("\n\nRoof shingle removal: A man is sitting on a roof. He")


@pytest.mark.slow
def test_smollm2_arc_easy_beats_chance(tmp_path, data_dir, smollm2_dir):
    ctx = _ctx("arc_easy", "smollm2-135m", tmp_path / "arc", data_dir, limit=20, num_fewshot=0)
    res = _run("arc_easy", ctx)
    assert res["n"] == 20
    assert res["score"] > 0.3  # 4 choices: chance is 0.25


def test_peft_adapter_changes_the_scores(tmp_path, data_dir, tiny_model_dir):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    # init_lora_weights=False: a non-zero update, so the adapter must show in the log-likelihoods.
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"],
                                                 init_lora_weights=False))
    peft_model.save_pretrained(tmp_path / "adapter")
    logliks = {}
    for name, adapter in (("base", None), ("lora", str(tmp_path / "adapter"))):
        ctx = _ctx("winogrande", tiny_model_dir, tmp_path / name, data_dir, limit=2, num_fewshot=0, dtype="float32")
        ctx.adapter = adapter
        _run("winogrande", ctx)
        logliks[name] = [json.loads(line)["loglik"] for line in (ctx.out_dir / "predictions.jsonl").open()]
    assert logliks["base"] != logliks["lora"]
    assert all(abs(a - b) > 1e-4 for a, b in zip(logliks["base"][0], logliks["lora"][0]))


def test_rerun_reads_lm_eval_request_cache(tmp_path, data_dir, tiny_model_dir, monkeypatch):
    from lm_eval.models.huggingface import HFLM

    ctx = _ctx("winogrande", tiny_model_dir, tmp_path / "wg", data_dir, limit=3, num_fewshot=0)
    first = _run("winogrande", ctx)
    assert len(list(ctx.out_dir.glob("lm_eval_cache_*.db"))) == 1

    def boom(*a, **k):
        raise AssertionError("the model was called although every request is cached")

    monkeypatch.setattr(HFLM, "_loglikelihood_tokens", boom)
    second = _run("winogrande", ctx)
    assert second["score"] == first["score"] and second["n"] == 3


def test_lm_eval_task_by_name_is_the_same_as_its_benchmark(tmp_path, data_dir, tiny_model_dir):
    from sdft.analyze import runfiles
    from sdft.evaluate.evaluator import EvalConfig, run_eval

    name = "lm_eval:sdft_arc_easy"
    cfg = dict(model=tiny_model_dir, data_dir=str(data_dir), limit=3, num_fewshot=0)
    named = run_eval(EvalConfig(benchmarks=[name], out=str(tmp_path / "n"), **cfg), progress=False)["benchmarks"][name]
    own = run_eval(EvalConfig(benchmarks=["arc_easy"], out=str(tmp_path / "o"), **cfg), progress=False)
    own = own["benchmarks"]["arc_easy"]
    assert (named["metric"], named["n"], named["score"]) == ("acc_norm", 3, own["score"])
    assert not (tmp_path / "n" / name).exists()  # no colon in a folder name (Windows forbids it)
    preds = [json.loads(line) for line in (tmp_path / "n" / "lm_eval-sdft_arc_easy" / "predictions.jsonl").open()]
    assert set(runfiles.predictions(tmp_path / "n", name)) == {p["id"] for p in preds}  # the report finds them
    (tmp_path / "n" / "lm_eval-sdft_arc_easy").rename(tmp_path / "n" / name)  # a folder an older run wrote
    assert set(runfiles.predictions(tmp_path / "n", name)) == {p["id"] for p in preds}
    assert [p["id"] for p in preds] == [json.loads(line)["id"] for line in (tmp_path / "o" / "arc_easy" /
                                                                           "predictions.jsonl").open()]
    assert preds[0]["id"] == "Mercury_417466"
    assert named["extra"]["lm_eval_results"]["sdft_arc_easy"]["acc_norm,none"] == pytest.approx(named["score"])


def test_lm_eval_generation_task_with_local_data(tmp_path, data_dir, tiny_model_dir, monkeypatch):
    # A generate_until task over a local JSON Lines file: each item's score is its first metric.
    items = tmp_path / "items.jsonl"
    items.write_text('{"q": "2+2", "a": "4"}\n{"q": "3+3", "a": "6"}\n')
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "tiny_gen.yaml").write_text(
        "task: tiny_gen\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
        f"    test: {items}\ntest_split: test\noutput_type: generate_until\n"
        "doc_to_text: \"Q: {{q}}\\nA:\"\ndoc_to_target: '{{a}}'\n"
        "generation_kwargs:\n  until: [\"\\n\"]\n  max_gen_toks: 4\n  do_sample: false\n"
        "metric_list:\n  - metric: exact_match\n    aggregation: mean\n    higher_is_better: true\n")
    monkeypatch.setattr(knowledge, "TASK_DIR", tasks)
    bench = knowledge.named("lm_eval:tiny_gen")
    ctx = EvalContext(model=tiny_model_dir, adapter=None, out_dir=tmp_path / "out", data_dir=data_dir,
                      get_generator=lambda: None, options=bench.parse_options({}))
    res = bench.run(bench, ctx)
    assert (res["benchmark"], res["metric"], res["n"]) == ("lm_eval:tiny_gen", "exact_match", 2)
    preds = [json.loads(line) for line in (ctx.out_dir / "predictions.jsonl").open()]
    assert [(p["id"], p["prompt"], p["label"]) for p in preds] == [("tiny_gen/0", "Q: 2+2\nA:", "4"),
                                                                  ("tiny_gen/1", "Q: 3+3\nA:", "6")]
    assert all(p["score"] == float(p["predict"] == p["label"]) for p in preds)
    assert res["extra"]["lm_eval_results"]["tiny_gen"]["exact_match,none"] == pytest.approx(res["score"])


def test_lm_eval_task_names_fail_clearly(tmp_path, data_dir):
    import time

    from sdft.config import ConfigError
    from sdft.errors import DataError

    with pytest.raises(ConfigError, match="expected lm_eval:TASK"):
        knowledge.named("lm_eval:../etc")
    with pytest.raises(ConfigError, match="lm_eval:surely_no_such_task: lm-eval has no task"):
        knowledge.load_named("surely_no_such_task", data_dir)
    # A hub task fails at once (the hub is off while it loads), naming the task.
    t0 = time.perf_counter()
    with pytest.raises(DataError, match="lm_eval:lambada_openai: lm-eval could not load its data"):
        knowledge.load_named("lambada_openai", data_dir)
    assert time.perf_counter() - t0 < 20  # the task index takes ~6 s, retries ~25 s more
