"""What a benchmark is: the registry and its lookups (``sdft.evaluate``), the Benchmark's
prompt variants and typed options, and the Sampling options' own check."""

from __future__ import annotations

import pytest

from sdft import prompts
from sdft.config import ConfigError
from sdft.evaluate import BENCHMARKS, GROUPS, expand, get, known
from sdft.evaluate.benchmark import Benchmark, Sampling


def test_registry_names_match_and_every_variant_has_its_prompt_file():
    assert all(name == b.name for name, b in BENCHMARKS.items())
    for b in BENCHMARKS.values():
        if b.prompt:
            for v in b.variants:
                assert prompts.read(f"eval_{b.prompt}_{v}.yaml")  # a missing file is a ConfigError
    assert set(GROUPS["paper"]) == set(BENCHMARKS)
    assert all(n in BENCHMARKS for names in GROUPS.values() for n in names)


def test_get_known_and_lm_eval_names():
    assert get("gsm8k") is BENCHMARKS["gsm8k"]
    task = get("lm_eval:arc_easy")
    assert task.name == "lm_eval:arc_easy" and not task.scores_files
    assert known("xstest") and known("lm_eval:anything") and not known("gsm9k") and not known("math")


def test_an_unknown_benchmark_is_a_config_error_listing_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown benchmark 'gsm9k'; known: gsm8k, multiarith, .*lm_eval:TASK"
                                          r".*groups: math, safety"):
        get("gsm9k")
    with pytest.raises(ConfigError, match="unknown benchmark 'nope'"):
        expand(["gsm8k", "nope"])


def test_expand_groups_in_order_without_duplicates():
    assert expand("gsm8k, math ,safety") == ["gsm8k", "multiarith", "advbench", "advbench_jailbreak", "xstest"]
    assert expand(["xstest", "lm_eval:arc_easy", "safety"]) == ["xstest", "lm_eval:arc_easy", "advbench",
                                                                 "advbench_jailbreak"]
    assert expand("") == []


def test_variant_default_known_and_none():
    assert get("advbench").variant(None) == "default" and get("advbench").variant("alpaca") == "alpaca"
    assert get("mmlu").variant(None) is None
    with pytest.raises(ConfigError, match="mmlu: unknown prompt variant 'x'; it has none"):
        get("mmlu").variant("x")
    with pytest.raises(ConfigError, match="xstest: unknown prompt variant 'cot'; choose from default"):
        get("xstest").variant("cot")


def test_sampling_refuses_several_greedy_samples():
    assert Sampling(temperature=0.7, samples=3).samples == 3
    for bad in (dict(samples=0), dict(samples=2), dict(samples=2, temperature=0.0)):
        with pytest.raises(ConfigError, match=r"samples=\d+: needs samples >= 1"):
            Sampling(**bad)


def test_parse_options_own_over_shared_and_errors_name_the_benchmark():
    gsm = get("gsm8k")
    assert gsm.parse_options() == Sampling()
    # shared settings apply only where the options class has the field, and a None is no setting
    opts = gsm.parse_options({"samples": 2}, shared={"temperature": 0.5, "num_fewshot": 3, "top_p": None})
    assert opts == Sampling(temperature=0.5, top_p=1.0, samples=2)
    assert gsm.parse_options({"temperature": 0.9}, shared={"temperature": 0.5}).temperature == 0.9
    with pytest.raises(ConfigError, match=r"^options.gsm8k: samples=4: .*temperature > 0"):
        gsm.parse_options({"samples": 4})
    with pytest.raises(ConfigError, match=r"^options.gsm8k: unknown key\(s\) 'tempreature'"):
        gsm.parse_options({"tempreature": 0.5})
    with pytest.raises(ConfigError, match=r"^options.gsm8k: `samples` expects int"):
        gsm.parse_options({"samples": "many"})


def test_scores_files_needs_a_scorer():
    assert Benchmark("b", "m", score=lambda p, label: 1.0).scores_files
    assert Benchmark("b", "m", score_many=lambda records, ctx: None).scores_files
    assert not Benchmark("b", "m").scores_files
