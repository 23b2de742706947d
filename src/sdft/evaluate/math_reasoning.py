"""GSM8K and MultiArith: accuracy of the last integer in the answer (the paper's rule).

Extraction and comparison are :func:`sdft.answers.math_answers_equal`: the last number-like
token of each text, thousands separators dropped, negatives kept, a decimal only when its
fraction is zero; an answer with no number is wrong. The label is the dataset's reference
answer text (ending in ``The answer is N``), as in LLaMA-Factory's prediction files.

Prompt variants: ``cot`` (default; asks for step-by-step reasoning under the model's own
system prompt, which small chat models need) and ``paper`` (the SDFT repository's math-expert
system message).

With ``benchmark_data`` pointing at a user's table, each row needs a reference answer (an
``answer``/``output``/``solution``/... column) whose last number is an integer; a row
without one is an error.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from sdft.answers import last_number, math_answers_equal
from sdft.data.records import Example
from sdft.evaluate.benchmark import Benchmark
from sdft.evaluate.generative import load_items


def score(predict: str, label: str) -> float:
    return float(math_answers_equal(predict, label))


def has_number(ex: Example) -> str | None:
    """A user's table is refused when a reference ends in no integer: every answer would score 0."""
    if last_number(ex.response) is None:
        return f"reference answer {ex.response[:60]!r} ends in no integer (the score compares final integers)"
    return None


def reference_number(label: str) -> str | None:
    """A saved line's reference must end in an integer too (AdvBench's empty labels do not)."""
    return None if last_number(label) is not None else f"{label[:60]!r} ends in no integer reference answer"


GSM8K = Benchmark("gsm8k", "accuracy", data="gsm8k:test", prompt="math", variants=("cot", "paper"),
                  max_new_tokens=512, load=partial(load_items, check=has_number), score=score,
                  check_label=reference_number)
MULTIARITH = replace(GSM8K, name="multiarith", data="multiarith:test")
