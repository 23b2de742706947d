"""Generate for many requests into an append-only JSONL file, resumably, with progress.

Used by ``sdft generate``, distillation and evaluation alike: each finished completion is
written as one line (``id``, ``prompt``, ``predict``, ``label`` + extras) as soon as the
backend yields it; a re-run skips ids already in the file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from sdft.generation.base import Completion, Generator, Request, SamplingParams
from sdft.runs import JsonlWriter, done_ids


@dataclass
class GenerationStats:
    total: int = 0
    skipped: int = 0  # already in the file before this run
    generated: int = 0
    tokens: int = 0
    wall_s: float = 0.0
    truncated: int = 0  # finish_reason == "length"

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.wall_s if self.wall_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "tokens_per_s": round(self.tokens_per_s, 2)}


def generate_jsonl(
    generator: Generator,
    requests: Sequence[Request],
    sampling: SamplingParams,
    out_path: str | Path,
    record: Callable[[Request, Completion], dict[str, Any]] | None = None,
    desc: str = "generate",
    progress: bool = True,
) -> GenerationStats:
    """Run ``requests`` not yet in ``out_path`` and append one line per completion.

    ``record(request, completion)`` adds fields to each line (``label`` and anything else the
    caller needs); the base line is ``id``, ``prompt``, ``predict``, ``num_tokens``,
    ``finish_reason``.
    """
    out_path = Path(out_path)
    done = done_ids(out_path)
    todo = [r for r in requests if r.id not in done]
    stats = GenerationStats(total=len(requests), skipped=len(requests) - len(todo))
    if not todo:
        return stats
    by_id = {r.id: r for r in todo}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(requests), initial=stats.skipped, desc=desc, unit="rec", dynamic_ncols=True)
    t0 = time.perf_counter()
    try:
        with JsonlWriter(out_path) as writer:
            for comp in generator.generate(todo, sampling):
                req = by_id[comp.id]
                line = {"id": comp.id, "prompt": comp.prompt, "predict": comp.text,
                        "num_tokens": comp.num_tokens, "finish_reason": comp.finish_reason}
                if record is not None:
                    line.update(record(req, comp))
                line.setdefault("label", "")
                writer.write(line)
                stats.generated += 1
                stats.tokens += comp.num_tokens
                stats.truncated += comp.finish_reason == "length"
                if bar is not None:
                    stats.wall_s = time.perf_counter() - t0
                    bar.update(1)
                    bar.set_postfix(tok_s=f"{stats.tokens_per_s:.1f}")
    finally:  # an error then starts on a line of its own, not after the bar
        if bar is not None:
            bar.close()
    stats.wall_s = time.perf_counter() - t0
    return stats
