"""OpenFunctions: does the answer contain the reference function call?

Two scores per item: ``score`` is the paper's (whitespace collapsed, ``'`` mapped to ``"``,
``", "`` to ``","``, then the reference ``name(args)`` must occur in the answer; keyword order
matters), and ``ast_match`` beside it (the same call after parsing: keyword order, quote
style and spacing are free). Both come from :mod:`sdft.answers`. The label is the reference
call string.
"""

from __future__ import annotations

import sys

from sdft.data.records import Example
from sdft.evaluate.context import EvalContext
from sdft.evaluate.generative import chat_requests, run_generative

METRIC = "paper_match"
EXTRA_METRICS = ("ast_match",)
VARIANTS = ("plain",)
MAX_NEW_TOKENS = 256


def load(ctx: EvalContext) -> list[Example]:
    from sdft.data.tasks import load_task

    return load_task("openfunction", "test", ctx.data_dir)


def requests(examples, variant, ctx=None):
    return chat_requests(examples, f"openfunction_{variant}")


def label(ex: Example) -> str:
    return ex.response


def score(predict: str, label: str) -> float:
    from sdft.answers import paper_function_match

    return float(paper_function_match(predict, label))


def extra(predict: str, label: str) -> dict[str, float]:
    from sdft.answers import call_matches

    return {"ast_match": float(call_matches(predict, label))}


def run(ctx: EvalContext) -> dict:
    return run_generative(ctx, sys.modules[__name__])
