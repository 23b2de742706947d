"""The OpenAI-compatible backend (the openai package's client) against a real local HTTP server."""

from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("openai")

from sdft.generation.base import Completion, Request, SamplingParams  # noqa: E402
from sdft.generation.endpoint import ApiEndpoint  # noqa: E402
from sdft.generation.openai_compat import OpenAIGenerator  # noqa: E402
from sdft.models import ModelError  # noqa: E402

HI = [Request("x", [{"role": "user", "content": "hi"}])]


def _echo(body):
    last = body["messages"][-1]["content"]
    return {"choices": [{"message": {"role": "assistant", "content": f"echo {last}"},
                         "finish_reason": "length" if body["max_tokens"] < 3 else "stop"}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 2}}


def test_retries_429_and_sends_sampling_stop_and_prefill(chat_server, monkeypatch):
    server = chat_server(_echo, fail_status=429, fail_first=1, retry_after="0.01")
    monkeypatch.setenv("TEST_KEY", "sk-test")
    gen = OpenAIGenerator(ApiEndpoint(server.url, "served-model", key_env="TEST_KEY", concurrency=2))
    reqs = [Request("a", [{"role": "user", "content": "hello"}]),
            Request("b", [{"role": "system", "content": "be brief"}, {"role": "user", "content": "2+2?"}],
                    prefill="The answer is")]
    sp = SamplingParams(max_new_tokens=32, temperature=0.7, top_p=0.9, seed=5, stop=("\n\n", "Question:"))
    got = {c.id: c for c in gen.generate(reqs, sp)}

    assert len(server.calls) == 3  # one 429, retried, plus the second request
    assert all(path == "/v1/chat/completions" for path, _, _ in server.calls)  # /v1 added to the bare URL
    assert all(h.get("authorization") == "Bearer sk-test" for _, _, h in server.calls)
    bodies = {json.dumps(b["messages"]): b for _, b, _ in server.calls}
    plain = next(b for b in bodies.values() if b["messages"][-1]["content"] == "hello")
    assert plain["model"] == "served-model"
    assert (plain["max_tokens"], plain["temperature"], plain["top_p"], plain["seed"]) == (32, 0.7, 0.9, 5)
    assert plain["stop"] == ["\n\n", "Question:"]
    assert "continue_final_message" not in plain
    pre = next(b for b in bodies.values() if b["messages"][-1]["role"] == "assistant")
    assert pre["messages"][-1] == {"role": "assistant", "content": "The answer is"}
    assert pre["continue_final_message"] is True and pre["add_generation_prompt"] is False

    assert got["a"].text == "echo hello" and got["a"].finish_reason == "stop" and got["a"].num_tokens == 2
    assert got["a"].extras == {"prompt_tokens": 7}
    assert got["b"].text == "echo The answer is"
    assert json.loads(got["b"].prompt)[-1]["content"] == "The answer is"


def test_retry_after_is_honoured(chat_server):
    # The client's own first backoff is at most 0.5 s; the server asks for 0.8 s.
    s = chat_server(_echo, fail_status=503, fail_first=1, retry_after="0.8")
    (c,) = OpenAIGenerator(ApiEndpoint(s.url, "m")).generate(HI, SamplingParams())
    assert c.text == "echo hi" and len(s.calls) == 2
    assert s.times[1] - s.times[0] >= 0.8


def test_v1_suffix_and_openai_base_url(chat_server, monkeypatch):
    s = chat_server(_echo)
    (c,) = OpenAIGenerator(ApiEndpoint(s.url + "/v1/", "m")).generate(HI, SamplingParams(max_new_tokens=2))
    assert c.finish_reason == "length"
    monkeypatch.setenv("OPENAI_BASE_URL", s.url)  # used when base_url is unset, /v1 added too
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    list(OpenAIGenerator(ApiEndpoint(None, "m")).generate(HI, SamplingParams()))
    assert [p for p, _, _ in s.calls] == ["/v1/chat/completions"] * 2
    assert s.calls[1][2]["authorization"] == "Bearer EMPTY"  # no key: a placeholder servers accept


def test_client_error_is_not_retried(chat_server):
    s = chat_server(_echo, fail_status=400, fail_first=5)
    with pytest.raises(ModelError, match="request 'x' failed: HTTP 400: .*try again later"):
        list(OpenAIGenerator(ApiEndpoint(s.url, "m")).generate(HI, SamplingParams()))
    assert len(s.calls) == 1


def test_gives_up_after_max_retries(chat_server):
    s = chat_server(_echo, fail_status=503, fail_first=10, retry_after="0.01")
    with pytest.raises(ModelError, match="HTTP 503.*retried up to 2 times"):
        list(OpenAIGenerator(ApiEndpoint(s.url, "m"), max_retries=2).generate(HI, SamplingParams()))
    assert len(s.calls) == 3


def test_a_failed_request_cancels_the_queued_ones():
    gen = OpenAIGenerator(ApiEndpoint("http://127.0.0.1:1", "m", concurrency=2))
    sent = []

    def one(req, sampling):  # "0" fails at once, the others take a while
        sent.append(req.id)
        if req.id == "0":
            raise ModelError("boom")
        time.sleep(0.3)
        return Completion(req.id, "", 0, "stop")

    gen._one = one
    with pytest.raises(ModelError, match="boom"):
        list(gen.generate([Request(str(i), HI[0].messages) for i in range(8)], SamplingParams()))
    # 0 and 1 started together, the freed worker may have taken 2; 3 (queued) was cancelled.
    assert sent[:2] == ["0", "1"] and "3" not in sent


def test_connection_refused_is_retried_then_reported():
    gen = OpenAIGenerator(ApiEndpoint("http://127.0.0.1:9", "m"), max_retries=1, timeout_s=2)
    with pytest.raises(ModelError, match="127.0.0.1:9/v1: request 'x' failed: Connection error.*refused"):
        list(gen.generate(HI, SamplingParams()))


def test_make_generator_table(monkeypatch):
    from sdft.config import ConfigError
    from sdft.generation import BACKENDS, GenerationConfig, make_generator

    assert set(BACKENDS) == {"hf", "vllm", "openai", "fake"}
    g = make_generator(GenerationConfig(backend="openai", base_url="http://127.0.0.1:1", concurrency=3,
                                        timeout_s=7), "m")
    assert isinstance(g, OpenAIGenerator) and g.concurrency == 3 and g.client.timeout == 7
    with pytest.raises(ConfigError, match="unknown generation backend"):
        make_generator(GenerationConfig(backend="vllm2"))
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="base_url"):
        make_generator(GenerationConfig(backend="openai"), "m")
    with pytest.raises(ConfigError, match="adapter"):
        make_generator(GenerationConfig(backend="openai", base_url="http://x"), "m", adapter="dir")
