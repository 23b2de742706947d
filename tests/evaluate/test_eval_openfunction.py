"""OpenFunctions: the paper's substring score and the AST match beside it, on crafted calls."""

from __future__ import annotations

import json

import pytest

from sdft.evaluate import openfunction
from sdft.evaluate.evaluator import EvalConfig, run_eval
from sdft.evaluate.saved import score_file
from sdft.generation.fake import FakeGenerator

REF = 'coffee_shop.find_nearby(location="San Francisco", amenities="Wi-Fi")'


@pytest.mark.parametrize(("predict", "paper", "ast"), [
    (REF, 1.0, 1.0),
    (f"Sure, here it is: `{REF}`. Enjoy!", 1.0, 1.0),  # prose around the call
    ("coffee_shop.find_nearby(location='San Francisco',  amenities='Wi-Fi')", 1.0, 1.0),  # quotes, spaces
    ('coffee_shop.find_nearby(amenities="Wi-Fi", location="San Francisco")', 0.0, 1.0),  # keyword order
    ('coffee_shop.find_nearby(location="Paris", amenities="Wi-Fi")', 0.0, 0.0),  # a wrong value
    ('coffee_shop.find_nearby(location="San Francisco")', 0.0, 0.0),  # a missing argument
    ('my_coffee_shop.find_nearby(location="San Francisco", amenities="Wi-Fi")', 0.0, 0.0),  # another name
    ("I would call the coffee shop finder.", 0.0, 0.0),
])
def test_paper_score_and_ast_match(predict, paper, ast):
    assert openfunction.score(predict, REF) == paper
    assert openfunction.extra(predict, REF) == {"ast_match": ast}


def test_ast_match_compares_values_as_literals():
    assert openfunction.extra("f(x=1.0)", "f(x=1)") == {"ast_match": 0.0}  # the documented limit
    assert openfunction.extra("f(x=arr1)", "f(x='arr1')") == {"ast_match": 0.0}  # a name is not a string
    # A reference that does not parse falls back to the paper's rule.
    ref = "auth.login(token=<session_token>)"
    assert openfunction.extra(f"Call {ref}", ref) == {"ast_match": 1.0}


def test_openfunction_paper_and_ast_scores(tmp_path):
    rows = [
        {"predict": REF, "label": REF},  # exact: both
        {"predict": "coffee_shop.find_nearby(location='San Francisco',  amenities='Wi-Fi')", "label": REF},  # both
        {"predict": 'Here: coffee_shop.find_nearby(amenities="Wi-Fi", location="San Francisco")', "label": REF},  # AST
        {"predict": 'coffee_shop.find_nearby(location="Paris", amenities="Wi-Fi")', "label": REF},  # neither
    ]
    path = tmp_path / "of.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    res = score_file("openfunction", path)
    assert res["metric"] == "paper_match"
    assert res["score"] == pytest.approx(2 / 4)
    assert res["extra"]["ast_match"]["score"] == pytest.approx(3 / 4)


def test_openfunction_takes_benchmark_data_too(tmp_path, data_dir):
    # It used to read its test split whatever benchmark_data said.
    fake = FakeGenerator(lambda r: 'coffee_shop.find_nearby(location="X")')
    res = run_eval(EvalConfig(benchmarks=["openfunction"], out=str(tmp_path / "of"), data_dir=str(data_dir),
                              benchmark_data={"openfunction": "openfunction:test[5:7]"}), get_generator=lambda: fake)
    assert res["benchmarks"]["openfunction"]["n"] == 2
    assert [r.id for r in fake.calls[0]] == ["openfunction/test/5", "openfunction/test/6"]
