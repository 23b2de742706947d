"""The pairwise judges and AlpacaEval win rate; the endpoint judge against a real local HTTP server."""

from __future__ import annotations

import json

import pytest

from sdft.config import ConfigError
from sdft.evaluate import alpaca_eval, judge
from sdft.evaluate.context import EvalContext
from sdft.evaluate.judge import JudgeOptions
from sdft.generation.fake import FakeGenerator
from sdft.models import ModelError
from sdft.runs import read_jsonl


def _prefer_good(body):
    """Prefers the output containing GOOD; when neither or both do, pure position bias
    ("Output (a)"); garbage when the instruction says GARBAGE."""
    prompt = body["messages"][-1]["content"]
    out_a = prompt.split("## Output (a)")[1].split("## Output (b)")[0]
    out_b = prompt.split("## Output (b)")[1].split("## Verdict")[0]
    if "GARBAGE" in prompt:
        return "I cannot decide."
    if ("GOOD" in out_a) == ("GOOD" in out_b):
        return "Output (a)"
    return "Output (a)" if "GOOD" in out_a else "Output (b)"


ITEMS = [  # expected item scores: 1 (win), 0 (loss), 0.5 (position bias), 0.5 (unparseable)
    {"id": "w", "prompt": "Say hi", "predict": "GOOD hi", "label": "meh"},
    {"id": "l", "prompt": "Say bye", "predict": "meh", "label": "GOOD bye"},
    {"id": "p", "prompt": "Count", "predict": "one two", "label": "1 2"},
    {"id": "g", "prompt": "GARBAGE please", "predict": "x", "label": "y"},
]


def test_parse_verdict():
    assert judge.parse_verdict("Output (a)") == "a"
    assert judge.parse_verdict("  output (B).") == "b"
    assert judge.parse_verdict("b") == "b"
    assert judge.parse_verdict("Output (a) is better than Output (b)") == "tie"
    assert judge.parse_verdict("") == "tie"
    assert judge.parse_verdict("Neither") == "tie"
    assert judge.parse_verdict("The output about cats: Output (b)") == "b"


def test_prompt_file_renders_both_outputs_in_order():
    text = judge.render_prompt("Do X", "first answer", "second answer")
    assert text.index("Do X") < text.index("first answer") < text.index("second answer")
    assert '"Output (a)" or "Output (b)"' in text


def test_score_pair_cancels_position_bias():
    assert alpaca_eval.score_pair("a", "b")["score"] == 1.0  # model wins in both orders
    assert alpaca_eval.score_pair("b", "a")["score"] == 0.0
    biased = alpaca_eval.score_pair("a", "a")  # always the first slot: no net win
    assert biased["score"] == 0.5 and not biased["consistent"]
    assert alpaca_eval.score_pair("a", "tie")["score"] == 0.75


def test_openai_judge_both_orders_and_win_rate(tmp_path, monkeypatch, chat_server):
    pytest.importorskip("openai")
    monkeypatch.setenv("SDFT_TEST_JUDGE_KEY", "sk-test-123")
    srv = chat_server(_prefer_good, fail_status=429, fail_first=1, retry_after="0.01")
    j = judge.make_judge(JudgeOptions(judge="openai", judge_base_url=srv.url + "/v1", judge_model="judge-x",
                                      judge_api_key_env="SDFT_TEST_JUDGE_KEY", judge_concurrency=3))
    assert isinstance(j, judge.GeneratorJudge) and j.name == f"openai:judge-x@{srv.url}/v1"
    assert j.generator.concurrency == 3
    out = tmp_path / "predictions.jsonl"
    alpaca_eval.judge_items(j, ITEMS, out, progress=False)
    # Resuming asks nothing more.
    n_asked = len(srv.answered)
    alpaca_eval.judge_items(j, ITEMS, out, progress=False)
    assert len(srv.answered) == n_asked == 2 * len(ITEMS) and len(srv.calls) == n_asked + 1  # one 429

    assert all(r["model"] == "judge-x" and r["temperature"] == 0 for r in srv.answered)
    assert all(h.get("authorization") == "Bearer sk-test-123" for _, _, h in srv.calls)
    # Both orders were asked for every item: model output first, then reference first.
    seen = {(r["messages"][0]["content"].split("## Output (a)\n\n")[1].split("\n")[0]) for r in srv.answered}
    for it in ITEMS:
        assert it["predict"].split("\n")[0] in seen and it["label"] in seen
    recs = {r["id"]: r for r in read_jsonl(out)}
    assert [recs[i]["score"] for i in "wlpg"] == [1.0, 0.0, 0.5, 0.5]
    assert recs["p"]["verdict_model_first"] == "a" and recs["p"]["verdict_reference_first"] == "a"
    summary = alpaca_eval.summarize(recs.values(), j)
    assert summary["score"] == pytest.approx(0.5)
    assert summary["n"] == 4
    assert summary["extra"]["n_consistent"] == 3  # w, l, and g (tie in both orders)
    assert summary["extra"]["n_wins"] == 1 and summary["extra"]["n_losses"] == 1
    assert "warning" not in summary["extra"]
    lo, hi = summary["ci95"]
    assert 0.0 <= lo <= 0.5 <= hi <= 1.0


def test_openai_judge_gives_up_with_a_clear_error(tmp_path, chat_server, monkeypatch):
    pytest.importorskip("openai")
    srv = chat_server(_prefer_good, fail_first=100, retry_after="0.01")
    monkeypatch.setenv("OPENAI_BASE_URL", srv.url)  # judge_base_url unset: the standard variable
    j = judge.make_judge(JudgeOptions(judge="openai", judge_model="m", judge_concurrency=1))
    with pytest.raises(ModelError, match="HTTP 503.*retried up to 5 times"):
        alpaca_eval.judge_items(j, ITEMS[:1], tmp_path / "p.jsonl", progress=False)
    # 6 tries of the first order; the worker it freed may have begun the second order's 6.
    assert len(srv.calls) in (6, 12) and srv.calls[0][0] == "/v1/chat/completions"
    with pytest.raises(ConfigError, match="needs judge_model"):
        judge.make_judge(JudgeOptions(judge="openai"))


def test_generator_judge_resumes_only_its_own_verdicts(tmp_path):
    fake = FakeGenerator(lambda r: "Output (b)")  # always the second slot
    j = judge.GeneratorJudge(fake, name="fake")
    out = tmp_path / "p.jsonl"
    alpaca_eval.judge_items(j, ITEMS[:2], out, progress=False)
    assert [len(c) for c in fake.calls] == [4]  # both orders of both items in one batch
    summary = alpaca_eval.summarize(read_jsonl(out), j)
    assert summary["score"] == 0.5 and summary["extra"]["n_consistent"] == 0
    assert "warning" not in summary["extra"]
    # A different judge must not silently resume someone else's verdicts.
    with pytest.raises(ConfigError, match="judged by 'fake'"):
        alpaca_eval.judge_items(judge.GeneratorJudge(fake, name="other"), ITEMS[:2], out, progress=False)


def test_alpaca_eval_run_end_to_end(tmp_path, data_dir, chat_server):
    # The model answers GOOD to the first two prompts only; the server judge prefers GOOD.
    seen = []

    def respond(req):
        seen.append(req.id)
        return "GOOD answer" if len(seen) <= 2 else "plain answer"

    pytest.importorskip("openai")
    srv = chat_server(_prefer_good)
    bench = alpaca_eval.ALPACA_EVAL
    ctx = EvalContext(model="fake-model", adapter=None, out_dir=tmp_path / "alpaca_eval",
                      data_dir=data_dir, get_generator=lambda: FakeGenerator(respond), limit=4,
                      options=bench.parse_options({"judge": "openai", "judge_base_url": srv.url, "judge_model": "m"}))
    res = bench.run(bench, ctx)
    assert len(srv.answered) == 8
    # A re-run resumes from the files: no model load, no new judge calls, same result.
    ctx.get_generator = lambda: (_ for _ in ()).throw(AssertionError("generator rebuilt"))
    again = bench.run(bench, ctx)
    assert len(srv.answered) == 8 and again["score"] == res["score"]
    assert res["benchmark"] == "alpaca_eval" and res["metric"] == "win_rate" and res["n"] == 4
    assert res["extra"]["n_wins"] == 2
    # The other two tie through position bias alone (no reference among the first 4 says GOOD).
    assert res["score"] == pytest.approx(0.75)
    assert res["extra"]["n_consistent"] == 2
    preds = {r["id"]: r for r in read_jsonl(ctx.out_dir / "predictions.jsonl")}
    assert {"id", "prompt", "predict", "label", "score", "judge"} <= set(preds["alpaca_eval/test/0"])
    official = json.loads((ctx.out_dir / "alpaca_eval_outputs.json").read_text())  # in dataset order
    assert [o["id"] for o in official] == [f"alpaca_eval/test/{i}" for i in range(4)]
    assert official[0]["generator"] == "fake-model" and official[0]["output"] == "GOOD answer"
    assert official[0]["instruction"] == preds["alpaca_eval/test/0"]["prompt"]
    assert res["generation"]["max_new_tokens"] == 512 and res["variant"] == "pairwise_both_orders"


def test_logprob_judge_reads_the_next_token_after_output_paren(tmp_path, tiny_model_dir):
    from sdft import models

    model, tok = models.load(tiny_model_dir)
    j = judge.LogprobJudge(model=model, tokenizer=tok)
    verdicts = [j.compare("Say hi", "hi", "hello there"), j.compare("Say hi", "hi", "hello there")]
    assert verdicts[0] in ("a", "b") and verdicts[0] == verdicts[1]  # deterministic, never unparseable
    assert [tok.decode([i]) for i in j._ids] == ["a", "b"]
    # Swapping the outputs reaches the model: one forward pass per comparison, on another prompt.
    class Spy:
        device, seen = model.device, []

        def __call__(self, input_ids):
            self.seen.append(input_ids[0].tolist())
            return model(input_ids=input_ids)

    spy = judge.LogprobJudge(model=Spy(), tokenizer=tok)
    assert spy.compare("Say hi", "hi", "hello there") == verdicts[0]
    spy.compare("Say hi", "hello there", "hi")
    assert len(Spy.seen) == 2 and Spy.seen[0] != Spy.seen[1] and sorted(Spy.seen[0]) == sorted(Spy.seen[1])
    assert list(j.verdicts([("Say hi", "hi", "hello there")])) == [(0, verdicts[0])]
    out = tmp_path / "p.jsonl"
    alpaca_eval.judge_items(j, ITEMS[:1], out, progress=False)
    assert "small local model" in alpaca_eval.summarize(read_jsonl(out), j)["extra"]["warning"]
