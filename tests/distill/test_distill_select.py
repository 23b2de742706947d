"""Selection rules: template echoes, empty and truncated rewrites, per-task checks."""

from __future__ import annotations

import json

import pytest

from sdft.config import ConfigError
from sdft.data.tasks import TASKS
from sdft.distill.select import CHECKS, check_for, echoes_template, rejection_reason


@pytest.mark.parametrize("text", [
    "Using the Reference Answer as a guide, the capital is Paris.",
    "Here is your response: Paris.",
    "My response is that the capital is Paris.",
    "I will write your own response now.",
    "Now it's your turn! The capital is Paris.",
    "Your turn: what is the capital?",
])
def test_template_echoes_are_detected(text):
    assert echoes_template(text)
    assert rejection_reason(text, "stop", "Paris.", "none") == "echo"


@pytest.mark.parametrize("text", [
    "The capital of France is Paris.",
    "your turn to pick a city.",  # the prefix rule is case-sensitive, as in the paper
    "I referred to the answer key.",
])
def test_ordinary_answers_are_not_echoes(text):
    assert not echoes_template(text)


def test_reasons_in_order():
    assert rejection_reason("", "stop", "x", "none") == "empty"
    assert rejection_reason(None, "stop", "x", "none") == "empty"
    assert rejection_reason("partial answer", "length", "x", "none") == "truncated"
    # truncation is reported before an echo that happens to be in the text
    assert rejection_reason("see the reference answer", "length", "x", "none") == "truncated"
    assert rejection_reason("fine", "stop", "x", "none") == "ok"


def test_math_check_on_real_gsm8k_reference(data_dir):
    ref = json.loads((data_dir / "gsm8k" / "gsm8k_train.json").read_text())[367]["answer"]
    assert ref.endswith("The answer is 850,000.")
    good = "He makes $1,000,000 and pays $150,000, so he keeps 850,000 dollars. The answer is 850000."
    assert rejection_reason(good, "stop", ref, "math") == "ok"
    assert rejection_reason("So he keeps $850,001.", "stop", ref, "math") == "check_failed"
    assert rejection_reason("850,000 is what he keeps, minus 20 in fees", "stop", ref, "math") == "check_failed"


def test_function_call_check_on_real_openfunction_reference(data_dir):
    rows = json.loads((data_dir / "openfunction" / "openfunction_train.json").read_text())
    ref = rows[1]["output"]  # pyarrow.UnknownExtensionType(storage_type='int',serialized='abcdefg')
    rewrite = ('To create it, call:\n```python\npyarrow.UnknownExtensionType(serialized="abcdefg", '
               'storage_type="int")\n```')
    assert rejection_reason(rewrite, "stop", ref, "function_call") == "ok"
    wrong = "pyarrow.UnknownExtensionType(storage_type='float', serialized='abcdefg')"
    assert rejection_reason(wrong, "stop", ref, "function_call") == "check_failed"


def test_code_check():
    assert CHECKS["code"]("Here is the code:\n```python\nprint(1)\n```", "print(1)")
    assert not CHECKS["code"]("Just call print(1).", "print(1)")


def test_check_table_and_override():
    assert check_for("gsm8k") == "math" and check_for("multiarith") == "math"
    assert check_for("openfunction") == "function_call" and check_for("codealpaca") == "code"
    assert check_for("alpaca") == "none" and check_for(None) == "none" and check_for("my_file") == "none"
    assert check_for("magicoder") == "code"  # codealpaca stands in for it
    assert check_for("gsm8k", "none") == "none"
    assert {t.check for t in TASKS.values()} <= set(CHECKS)
    with pytest.raises(ConfigError, match="unknown check 'maths'"):
        check_for("gsm8k", "maths")
