"""What a benchmark gets to run with, and the shape of what it returns.

Every benchmark's ``run(bench, ctx: EvalContext) -> dict`` returns one entry of ``results.json``::

    {"benchmark": "gsm8k", "metric": "accuracy", "score": 0.25, "n": 200,
     "ci95": [0.19, 0.31], "variant": "cot", "generation": {...sampling...},
     "wall_s": 812.4, "extra": {...benchmark-specific...}}

and writes its per-item ``predictions.jsonl`` (``id``, ``prompt``, ``predict``, ``label``,
``score``) under ``ctx.out_dir``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from sdft.generation.base import Generator


def bench_folder(eval_dir: str | Path, benchmark: str) -> Path:
    """``<eval dir>/<benchmark>/``; an ``lm_eval:TASK`` benchmark's is ``lm_eval-TASK`` (Windows
    allows no colon in a file name), or the ``lm_eval:TASK`` folder an older run wrote."""
    new, old = Path(eval_dir) / benchmark.replace(":", "-"), Path(eval_dir) / benchmark
    return old if ":" in benchmark and old.is_dir() and not new.exists() else new


@dataclass
class EvalContext:
    model: str  # the --model spec (alias, path, hub id)
    adapter: str | None  # PEFT adapter or full checkpoint dir, or None for the seed model
    out_dir: Path  # this benchmark's own folder, <eval out>/<benchmark>/
    data_dir: Path
    get_generator: Callable[[], Generator]  # built lazily, one model load shared by all benchmarks
    options: Any  # the benchmark's typed options (an instance of its Benchmark.options class)
    limit: int | None = None
    data: str | None = None  # a data spec replacing the benchmark's own items (EvalConfig.benchmark_data)
    variant: str | None = None  # prompt variant; None = the benchmark's default
    seed: int = 0
    max_new_tokens: int | None = None  # None = the benchmark's default
    dtype: str = "auto"  # for benchmarks that load the model themselves (lm-eval's log-likelihoods)
    progress: bool = True  # progress bars
