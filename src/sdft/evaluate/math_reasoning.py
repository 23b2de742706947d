"""GSM8K and MultiArith: accuracy of the last integer in the answer (the paper's rule).

Extraction and comparison are :func:`sdft.answers.math_answers_equal`: the last number-like
token of each text, thousands separators dropped, negatives kept, a decimal only when its
fraction is zero; an answer with no number is wrong. The label is the dataset's reference
answer text (ending in ``The answer is N``), as in LLaMA-Factory's prediction files.

Prompt variants: ``cot`` (default; asks for step-by-step reasoning under the model's own
system prompt, which small chat models need) and ``paper`` (the SDFT repository's math-expert
system message).
"""

from __future__ import annotations

from dataclasses import replace

from sdft.answers import math_answers_equal
from sdft.evaluate.benchmark import Benchmark


def score(predict: str, label: str) -> float:
    return float(math_answers_equal(predict, label))


GSM8K = Benchmark("gsm8k", "accuracy", data="gsm8k:test", prompt="math", variants=("cot", "paper"),
                  max_new_tokens=512, score=score)
MULTIARITH = replace(GSM8K, name="multiarith", data="multiarith:test")
