"""One endpoint type for generation (backend openai) and both judges."""

from __future__ import annotations

from sdft.evaluate.evaluator import EvalConfig
from sdft.evaluate.judge import JudgeOptions
from sdft.evaluate.refusal_judge import RefusalOptions
from sdft.generation.base import GenerationConfig
from sdft.generation.endpoint import OPENAI_URL, ApiEndpoint, judge_endpoint


def test_generation_and_judges_name_the_same_endpoint(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    gen = GenerationConfig(backend="openai", base_url="http://h:8000/v1", api_key_env="K", concurrency=3)
    want = ApiEndpoint("http://h:8000/v1", "served", "K", 3)
    assert gen.endpoint("served") == want
    for opts in (JudgeOptions(judge="openai", judge_base_url="http://h:8000/v1", judge_model="served",
                              judge_api_key_env="K", judge_concurrency=3),
                 RefusalOptions(refusal_judge="openai", judge_base_url="http://h:8000/v1", judge_model="served",
                                judge_api_key_env="K", judge_concurrency=3)):
        assert judge_endpoint(opts) == want
    # the defaults are the endpoint's, in every class that has the fields
    d = ApiEndpoint()
    assert (GenerationConfig().api_key_env, GenerationConfig().concurrency) == (d.key_env, d.concurrency)
    assert EvalConfig().judge_api_key_env == d.key_env
    for cls in (JudgeOptions, RefusalOptions):
        assert (cls().judge_api_key_env, cls().judge_concurrency) == (d.key_env, d.concurrency)


def test_judge_url_falls_back_to_the_environment_then_openai(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert judge_endpoint(JudgeOptions(judge_model="m")).url == OPENAI_URL
    monkeypatch.setenv("OPENAI_BASE_URL", "http://local:1/v1")
    assert judge_endpoint(RefusalOptions(judge_model="m")).url == "http://local:1/v1"
    assert GenerationConfig().endpoint("m").url is None  # generation: the client reads the variable itself


def test_api_key_from_the_named_variable(monkeypatch):
    monkeypatch.setenv("SDFT_TEST_ENDPOINT_KEY", "sk-1")
    assert ApiEndpoint(key_env="SDFT_TEST_ENDPOINT_KEY").api_key() == "sk-1"
    monkeypatch.delenv("SDFT_TEST_ENDPOINT_KEY")
    assert ApiEndpoint(key_env="SDFT_TEST_ENDPOINT_KEY").api_key() == "EMPTY"  # servers without --api-key
