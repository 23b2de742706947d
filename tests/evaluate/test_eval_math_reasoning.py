"""GSM8K and MultiArith: the final-integer score on crafted answers, the check on a user's
reference answers, and the two prompt variants."""

from __future__ import annotations

import pytest

from sdft.config import ConfigError
from sdft.data.records import Example
from sdft.errors import DataError
from sdft.evaluate import math_reasoning
from sdft.evaluate.evaluator import EvalConfig, run_eval
from sdft.generation.fake import FakeGenerator

GSM8K_LABEL = "Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips.\n#### 72"


@pytest.mark.parametrize(("predict", "label", "score"), [
    ("#### 72", GSM8K_LABEL, 1.0),  # GSM8K's own "#### N" reference form
    ("She sold 72 clips in all. The answer is 72.", GSM8K_LABEL, 1.0),
    ("The answer is 1,234.", "The answer is 1234.", 1.0),  # thousands separator dropped
    ("The answer is 1234", "#### 1,234", 1.0),
    ("It ends at -5 degrees.", "The answer is -5.", 1.0),  # the minus sign is kept...
    ("It ends at 5 degrees.", "The answer is -5.", 0.0),  # ...and counts
    ("The answer is 3.00", "The answer is 3.", 1.0),  # a zero fraction is an integer
    ("The answer is 3.5", "The answer is 3.", 0.0),
    ("The answer is 3.5", "The answer is 3.5", 0.0),  # no integer on either side: never right
    ("The answer is 007.", "The answer is 7.", 1.0),  # compared as integers
    ("I cannot tell.", "The answer is 0.", 0.0),  # no number at all: wrong
    ("", "The answer is 0.", 0.0),
    ("The answer is 72. Check: 48 + 24", GSM8K_LABEL, 0.0),  # the LAST number counts
])
def test_score_compares_final_integers(predict, label, score):
    assert math_reasoning.score(predict, label) == score


def test_has_number_refuses_a_reference_without_a_final_integer():
    assert math_reasoning.has_number(Example(id="x/0", instruction="q", response="#### 1,080")) is None
    for bad in ("about four", "It is 2.5"):
        why = math_reasoning.has_number(Example(id="x/0", instruction="q", response=bad))
        assert why is not None and repr(bad) in why and "no integer" in why


def test_gsm8k_and_multiarith_differ_only_in_name_and_data():
    g, m = math_reasoning.GSM8K, math_reasoning.MULTIARITH
    assert (g.name, g.data, m.name, m.data) == ("gsm8k", "gsm8k:test", "multiarith", "multiarith:test")
    assert (g.metric, g.max_new_tokens, g.variants) == ("accuracy", 512, ("cot", "paper"))
    assert (m.metric, m.max_new_tokens, m.variants, m.score) == (g.metric, g.max_new_tokens, g.variants, g.score)
    assert g.variant(None) == "cot" and g.scores_files
    with pytest.raises(ConfigError, match="gsm8k: unknown prompt variant 'fewshot'; choose from cot, paper"):
        g.variant("fewshot")


def answer_18(req):
    return "Let's see. The answer is 18."


def test_paper_variant_uses_the_math_expert_system_prompt(tmp_path, data_dir):
    fake = FakeGenerator(answer_18)
    run_eval(EvalConfig(benchmarks=["multiarith"], out=str(tmp_path / "ev"), limit=4, data_dir=str(data_dir),
                        variants={"multiarith": "paper"}), get_generator=lambda: fake)
    msgs = fake.calls[0][0].messages
    assert msgs[0]["role"] == "system" and msgs[0]["content"].startswith("You are an expert in math.")
    assert msgs[0]["content"].endswith("formatted as: The answer is {answer}.")


def test_a_users_math_table_needs_numeric_references(tmp_path, data_dir):
    good = tmp_path / "mine.csv"
    good.write_text("Question,Solution\nWhat is 9+9?,The answer is 18\nWhat is 2+2?,4\n")
    res = run_eval(EvalConfig(benchmarks=["gsm8k"], out=str(tmp_path / "m"), data_dir=str(data_dir),
                              benchmark_data={"gsm8k": str(good)}), get_generator=lambda: FakeGenerator(answer_18))
    assert (res["benchmarks"]["gsm8k"]["n"], res["benchmarks"]["gsm8k"]["score"]) == (2, 0.5)
    for text, pattern in (("question\nWhat is 2+2?\n", "no reference-answer column"),
                          ("question,answer\nx,4\ny,four\n", r"mine2.csv:3: field 'answer': reference answer 'four' "
                                                             "ends in no integer")):
        bad = tmp_path / "mine2.csv"
        bad.write_text(text)
        with pytest.raises(DataError, match=pattern):
            run_eval(EvalConfig(benchmarks=["gsm8k"], out=str(tmp_path / "m2"), data_dir=str(data_dir),
                                benchmark_data={"gsm8k": str(bad)}), get_generator=lambda: FakeGenerator(answer_18))
