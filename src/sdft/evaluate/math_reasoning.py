"""GSM8K and MultiArith: accuracy of the last integer in the answer (the paper's rule).

Extraction and comparison are :func:`sdft.answers.math_answers_equal`: the last number-like
token of each text, thousands separators dropped, negatives kept, a decimal only when its
fraction is zero; an answer with no number is wrong. The label is the dataset's reference
answer text (ending in ``The answer is N``), as in LLaMA-Factory's prediction files.

Prompt variants: ``cot`` (default; asks for step-by-step reasoning under the model's own
system prompt, which small chat models need) and ``paper`` (the SDFT repository's math-expert
system message). Which task is loaded comes from ``ctx.options["benchmark"]``.
"""

from __future__ import annotations

import sys

from sdft.data.records import Example
from sdft.evaluate.context import EvalContext
from sdft.evaluate.generative import chat_requests, load_items, run_generative

METRIC = "accuracy"
VARIANTS = ("cot", "paper")
MAX_NEW_TOKENS = 512
TASKS = ("gsm8k", "multiarith")


def load(ctx: EvalContext) -> list[Example]:
    from sdft.config import ConfigError

    name = ctx.options.get("benchmark", "gsm8k")
    if name not in TASKS:
        raise ConfigError(f"math benchmark must be one of {TASKS}, got {name!r}")
    return load_items(ctx, f"{name}:test")


def requests(examples, variant, ctx=None):
    return chat_requests(examples, f"math_{variant}")


def label(ex: Example) -> str:
    return ex.response


def score(predict: str, label: str) -> float:
    from sdft.answers import math_answers_equal

    return float(math_answers_equal(predict, label))


def run(ctx: EvalContext) -> dict:
    return run_generative(ctx, sys.modules[__name__])
