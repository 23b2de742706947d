"""OpenFunctions: does the answer contain the reference function call?

Two scores per item: ``score`` is the paper's (whitespace collapsed, ``'`` mapped to ``"``,
``", "`` to ``","``, then the reference ``name(args)`` must occur in the answer; keyword order
matters), and ``ast_match`` beside it (the same call after parsing: keyword order, quote
style and spacing are free). Both come from :mod:`sdft.answers`. The label is the reference
call string.
"""

from __future__ import annotations

from sdft.answers import call_matches, paper_function_match
from sdft.evaluate.benchmark import Benchmark


def score(predict: str, label: str) -> float:
    return float(paper_function_match(predict, label))


def extra(predict: str, label: str) -> dict[str, float]:
    return {"ast_match": float(call_matches(predict, label))}


def check_label(label: str) -> str | None:
    return None if label.strip() else "empty: no reference call"


OPENFUNCTION = Benchmark("openfunction", "paper_match", data="openfunction:test", prompt="openfunction",
                         variants=("plain",), score=score, extra=extra, extra_metrics=("ast_match",),
                         check_label=check_label)
