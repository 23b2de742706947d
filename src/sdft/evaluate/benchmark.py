"""What a benchmark is: one :class:`Benchmark` object per name in :data:`sdft.evaluate.BENCHMARKS`.

A generative benchmark (GSM8K, HumanEval, AdvBench, ...) is data + a prompt file + a scorer; the
shared loop, :func:`sdft.evaluate.generative.run_generative`, does load → prompts → generate →
score. Every hook has a default, so a benchmark sets only what differs from it. A benchmark that
is not that loop (the lm-eval tasks, AlpacaEval's judged pairs) sets ``run`` instead.

Options are typed: a benchmark names a dataclass (:class:`Sampling` for plain generative ones),
its entry of ``EvalConfig.options`` is parsed into it, and an unknown key or a wrong type is a
ConfigError that names the key and the benchmark.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from sdft.config import ConfigError, from_dict
from sdft.data.records import Example
from sdft.evaluate.context import EvalContext
from sdft.evaluate.generative import load_items, run_generative


@dataclass(frozen=True)
class Sampling:
    """Options of every generative benchmark.

    temperature: 0 for greedy decoding (the default), else the sampling temperature
    top_p: nucleus sampling mass (with temperature > 0)
    samples: answers per item, with ids ``<id>#0``, ``<id>#1``, ... (backends seed each by its id)
    """

    temperature: float = 0.0
    top_p: float = 1.0
    samples: int = 1

    def __post_init__(self):
        if self.samples < 1 or (self.samples > 1 and self.temperature <= 0):
            raise ConfigError(f"samples={self.samples}: needs samples >= 1, and a temperature > 0 "
                              "when > 1 (greedy answers would all be the same)")


@dataclass(frozen=True)
class Benchmark:
    """One benchmark of the battery.

    name: its name in BENCHMARKS, results.json and the results folder
    metric: what ``score`` means (accuracy, pass@1, refusal_rate, ...)
    data: its items as a data spec (``EvalConfig.benchmark_data`` replaces it); empty: not replaceable
    prompt: prompt files are ``sdft/prompts/eval_<prompt>_<variant>.yaml``
    variants: prompt variants, the first being the default; empty: the benchmark has none
    max_new_tokens: default answer length
    options: the dataclass its options are parsed into
    extra_metrics: keys of per-item side metrics whose means go into the entry's ``extra``

    Hooks, with their defaults:
    load(ctx, data) -> examples: :func:`~sdft.evaluate.generative.load_items` (ctx.data, else ``data``)
    label(example) -> str: the reference written on each line (``example.response``)
    score(predict, label) -> float: from the two strings alone, so saved files re-score
    check_label(label) -> why or None: why a saved line's label is not one this benchmark scores
        (checked when a file is scored, so another benchmark's file is an error, not a score)
    extra(predict, label) -> {key: float}: per-item side metrics (none)
    score_many(records, ctx): scores a batch in place instead of ``score`` (humaneval's sandbox)
    per_item(records) -> records: what the mean is over (every record)
    summary(records, seed) -> score fields: replaces the mean over ``per_item``
    judge(records, ctx, path) -> changed: a second, model-backed pass over the scored records
        that fills fields in place and keeps its resume log beside ``path`` (the refusal judge)
    run(bench, ctx) -> results.json entry: :func:`~sdft.evaluate.generative.run_generative`
    """

    name: str
    metric: str
    data: str = ""
    prompt: str = ""
    variants: tuple[str, ...] = ("default",)
    max_new_tokens: int = 256
    options: type = Sampling
    extra_metrics: tuple[str, ...] = ()
    load: Callable[[EvalContext, str], list[Example]] = load_items
    label: Callable[[Example], str] = lambda ex: ex.response
    score: Callable[[str, str], float] | None = None
    check_label: Callable[[str], str | None] = lambda label: None
    extra: Callable[[str, str], dict[str, float]] = lambda predict, label: {}
    score_many: Callable[[list[dict], EvalContext], None] | None = None
    per_item: Callable[[list[dict]], list[dict]] = lambda records: records
    summary: Callable[[list[dict], int], dict] | None = None
    judge: Callable[[list[dict], EvalContext, Path], bool] | None = None
    run: Callable[[Benchmark, EvalContext], dict] = run_generative

    @property
    def scores_files(self) -> bool:
        """Whether a saved predictions file can be scored without a model."""
        return self.score is not None or self.score_many is not None

    def variant(self, asked: str | None) -> str | None:
        """The prompt variant to run: ``asked`` or the default; an unknown one is a ConfigError."""
        if asked is None:
            return self.variants[0] if self.variants else None
        if asked not in self.variants:
            choose = f"choose from {', '.join(self.variants)}" if self.variants else "it has none"
            raise ConfigError(f"{self.name}: unknown prompt variant {asked!r}; {choose}")
        return asked

    def parse_options(self, data: dict[str, Any] | None = None, shared: dict[str, Any] | None = None):
        """This benchmark's options from its own settings ``data`` over ``shared`` ones (settings
        given once for every benchmark, e.g. ``num_fewshot``: each applies where the options class
        has a field of that name, and is ignored elsewhere)."""
        own = {f.name for f in dataclasses.fields(self.options)}
        inherited = {k: v for k, v in (shared or {}).items() if k in own and v is not None}
        where = f"options.{self.name}"
        try:
            return from_dict(self.options, {**inherited, **(data or {})}, where=where)
        except ConfigError as e:  # the options class's own checks do not know which benchmark it is
            raise e if str(e).startswith(where) else ConfigError(f"{where}: {e}") from None
