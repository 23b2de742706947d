"""sdft.answers on real records from the shared data folder and on hand-made edge cases."""

from __future__ import annotations

import json

import pytest

from sdft.answers import (
    Call,
    Source,
    call_matches,
    calls_equal,
    has_code_block,
    last_number,
    math_answers_equal,
    paper_function_match,
    parse_calls,
)


@pytest.fixture(scope="module")
def gsm8k_train(data_dir):
    return json.loads((data_dir / "gsm8k" / "gsm8k_train.json").read_text())


@pytest.fixture(scope="module")
def openfunction_train(data_dir):
    return json.loads((data_dir / "openfunction" / "openfunction_train.json").read_text())


@pytest.mark.parametrize("index, expected", [
    (0, "72"),          # "The answer is 72."
    (345, "1080"),      # "... $1080.\nThe answer is 1,080."
    (367, "850000"),    # "The answer is 850,000."
    (5715, "-7"),       # "... was -7 degrees Fahrenheit.\nThe answer is -7."
    (5844, "-47"),      # "N = -51 ... The answer is -47."
])
def test_last_number_on_real_gsm8k_answers(gsm8k_train, index, expected):
    assert last_number(gsm8k_train[index]["answer"]) == expected


@pytest.mark.parametrize("text, expected", [
    ("That is 1 000 000 steps", "1000000"),
    ("costs 12.0 dollars", "12"),
    ("costs 12.00", "12"),
    ("5 apples cost 12.5 dollars", None),  # last match is not an integer; no look-back (paper rule)
    ("The answer is 018", "18"),
    ("no digits", None),
    ("", None),
    ("12 15", "1215"),  # the paper's pattern joins digit groups split by whitespace
    ("It was -7 degrees", "-7"),
    ("-0", "0"),
    ("-007.000", "-7"),
    ("0.0", "0"),
    ("0 " * 5000 + "7", "7"),  # a degenerate answer: one merged 5,001-digit number, past int()'s cap
    ("1 " * 5000, "1" * 5000),
    ("答案是１２", "12"),  # full-width digits: their values, as int() gave
    ("٧٢.٠٠", "72"),  # Arabic-Indic, with a zero fraction
])
def test_last_number_edge_cases(text, expected):
    assert last_number(text) == expected


def test_math_answers_equal_compares_final_integers(gsm8k_train):
    ref = gsm8k_train[345]["answer"]  # ends "The answer is 1,080."
    assert math_answers_equal("He earns 36 * 30 = 1080 dollars. The answer is 1080.", ref)
    assert math_answers_equal("So the total is $1,080", ref)
    assert not math_answers_equal("The answer is 1,081.", ref)
    assert not math_answers_equal("I cannot tell.", ref)
    assert not math_answers_equal("no number", "no number either")  # the paper counted this as equal


def test_parse_calls_finds_calls_in_prose_fences_and_backticks():
    text = ("Sure! Here's the call: `pyarrow.Timestamp(unit='s')`.\n"
            "```python\nresult = coffee_shop.find_nearby(\n    location=\"San Francisco\",\n"
            "    amenities=\"Wi-Fi\")\n```\nAlso foo(1, x=bar) works (see above).")
    calls = parse_calls(text)
    names = [c.name for c in calls]
    assert names == ["pyarrow.Timestamp", "coffee_shop.find_nearby", "foo"]
    assert calls[0].kwargs == {"unit": "s"}
    assert calls[1].kwargs == {"location": "San Francisco", "amenities": "Wi-Fi"}
    assert calls[2].args == (1,) and calls[2].kwargs["x"] == Source("bar")
    assert calls[2].kwargs["x"] != "bar"  # a variable is not the string "bar"


def test_parse_calls_chained_and_nested():
    calls = parse_calls("print(a.b(c=[1, 2])) then pyarrow.utf8_normalize(form='NFC')(\"Hello\")")
    assert [c.name for c in calls] == ["print", "a.b", "pyarrow.utf8_normalize(form='NFC')",
                                      "pyarrow.utf8_normalize"]
    assert calls[1].kwargs == {"c": [1, 2]}
    assert calls[2].args == ("Hello",)


def test_calls_equal_is_order_and_quote_insensitive_but_type_aware():
    (a,) = parse_calls("f(x=1, y='a', z={'k': 1, 'j': 2})")
    (b,) = parse_calls('f(z={"j": 2, "k": 1}, y="a", x=1)')
    assert calls_equal(a, b)
    assert not calls_equal(a, Call("f", (), {"x": 1.0, "y": "a", "z": {"k": 1, "j": 2}}))
    assert not calls_equal(a, Call("g", (), dict(a.kwargs)))
    assert not calls_equal(a, Call("f", (), {"x": 1, "y": "a"}))


def test_call_matches_real_openfunction_records_both_quote_styles(openfunction_train):
    single = openfunction_train[7]["output"]   # pyarrow.array_sort_indices(order='descending',null_placement='at_end')
    double = openfunction_train[25]["output"]  # pyarrow.IpcWriteOptions(metadata_version="V5",... 7 kwargs)
    assert "'" in single and '"' in double
    pred = ('I would call `pyarrow.array_sort_indices(null_placement="at_end", order="descending")` '
            "to sort.")
    assert call_matches(pred, single)
    assert not paper_function_match(pred, single)  # the paper's substring test needs the same order
    (ref,) = parse_calls(double)
    shuffled = ", ".join(f"{k}={v!r}" for k, v in reversed(list(ref.kwargs.items())))
    assert call_matches(f"pyarrow.IpcWriteOptions({shuffled})", double)
    assert not call_matches(f"pyarrow.IpcWriteOptions({shuffled.replace('False', 'True')})", double)
    assert not call_matches("pyarrow.IpcWriteOptions()", double)


def test_call_matches_falls_back_for_unparseable_reference(openfunction_train):
    ref = openfunction_train[34]["output"]  # ... session_token=<session_token>)
    assert not parse_calls(ref)
    assert call_matches(f"Call: {ref}", ref)
    assert not call_matches("pyarrow.finalize_s3()", ref)


def test_paper_function_match_normalises_quotes_and_spaces(openfunction_train):
    ref = openfunction_train[0]["output"]  # pyarrow.Timestamp(unit='s')
    assert paper_function_match('The call is pyarrow.Timestamp(unit="s").', ref)
    two = openfunction_train[1]["output"]  # pyarrow.UnknownExtensionType(storage_type='int',serialized='abcdefg')
    assert paper_function_match('pyarrow.UnknownExtensionType(storage_type="int",\n    serialized="abcdefg")', two)
    assert not paper_function_match("pyarrow.UnknownExtensionType(serialized='abcdefg', storage_type='int')", two)
    assert not paper_function_match("mypyarrow.Timestamp(unit='s')", ref)  # word boundary
    assert not paper_function_match("pyarrow.Timestamp(unit='ms')", ref)


def test_has_code_block():
    assert has_code_block("Here:\n```python\ndef f():\n    return 1\n```\nDone.")
    assert has_code_block("```\nx\n```")
    assert not has_code_block("Use `x = 1` inline.")
    assert not has_code_block("```python\ndef f(): cut off")
