"""The shared loop of every generative benchmark: load → prompts → generate → extract → score.

A benchmark module is small and declares::

    METRIC = "accuracy"                  # what `score` means
    VARIANTS = ("cot", "paper")          # prompt variants; the first is the default
    MAX_NEW_TOKENS = 512
    def load(ctx) -> list[Example]
    def requests(examples, variant, ctx) -> list[Request]    # usually `chat_requests(...)`
    def label(example) -> str            # the reference written to the predictions file
    def score(predict, label) -> float   # from the two strings alone, so saved files re-score
    # optional: extra(predict, label) -> dict[str, float]   per-item side metrics
    # optional: score_many(records, ctx)   batch scoring in place (humaneval's sandbox)
    # optional: labels(example, ctx) -> {request id: label}  several requests per example
    # optional: per_item(records) -> records   what the mean is over (humaneval: tasks)
    # optional: summary(records, seed) -> dict   the entry's score/n/ci95/extra, instead of the mean

:func:`run_generative` appends ``id, prompt, predict, label`` lines to
``ctx.out_dir/predictions.jsonl`` as completions arrive (resumable), then scores the lines
that have no ``score`` yet and rewrites the file once, atomically, with ``score`` filled in.
Scores therefore come from the saved text only, never from state held in memory.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Sequence

from sdft.data.records import Example
from sdft.evaluate.context import EvalContext
from sdft.evaluate.stats import bootstrap_ci
from sdft.generation.base import Request, SamplingParams
from sdft.runs import read_jsonl

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"


def load_prompt(name: str) -> dict[str, str]:
    """``src/sdft/prompts/eval_<name>.yaml``: optional ``system``, ``user``, ``prefill``."""
    import yaml

    from sdft.config import ConfigError

    path = PROMPTS / f"eval_{name}.yaml"
    if not path.exists():
        known = sorted(p.stem[5:] for p in PROMPTS.glob("eval_*.yaml"))
        raise ConfigError(f"no evaluation prompt {name!r} ({path}); known: {', '.join(known)}")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_items(ctx: EvalContext, default: str) -> list[Example]:
    """A benchmark's items: ``ctx.data`` (``benchmark_data``: a task slice or a user's file) when
    set, else the benchmark's own data spec ``default``."""
    from sdft.data.tasks import load_data

    return load_data(ctx.data or default, ctx.data_dir)


def chat_requests(examples: Sequence[Example], prompt_name: str) -> list[Request]:
    """One chat request per example from a prompt file; Jinja sees the Example's fields."""
    import jinja2

    spec = load_prompt(prompt_name)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    user = env.from_string(spec["user"])
    out = []
    for ex in examples:
        messages = []
        if spec.get("system"):
            messages.append({"role": "system", "content": spec["system"]})
        messages.append({"role": "user", "content": user.render(**ex.to_dict())})
        out.append(Request(id=ex.id, messages=messages, prefill=spec.get("prefill", "")))
    return out


def variant_of(module: ModuleType, ctx: EvalContext) -> str:
    from sdft.config import ConfigError

    variant = ctx.variant or module.VARIANTS[0]
    if variant not in module.VARIANTS:
        raise ConfigError(f"{ctx.options.get('benchmark', module.__name__)}: unknown prompt variant "
                          f"{variant!r}; choose from {', '.join(module.VARIANTS)}")
    return variant


def sampling_of(module: ModuleType, ctx: EvalContext) -> SamplingParams:
    return SamplingParams(max_new_tokens=ctx.max_new_tokens or module.MAX_NEW_TOKENS,
                          temperature=float(ctx.options.get("temperature", 0.0)),
                          top_p=float(ctx.options.get("top_p", 1.0)), seed=ctx.seed)


def score_records(module: ModuleType, records: list[dict[str, Any]], ctx: EvalContext | None) -> list[dict]:
    """Fill ``score`` (and ``extra`` metrics) in the records that lack it; returns all records."""
    todo = [r for r in records if "score" not in r]
    if not todo:
        return records
    if hasattr(module, "score_many"):
        module.score_many(todo, ctx)
    else:
        for r in todo:
            r["score"] = float(module.score(r.get("predict", ""), r.get("label", "")))
            if hasattr(module, "extra"):
                r.update(module.extra(r.get("predict", ""), r.get("label", "")))
    return records


def _rewrite(path: Path, records: list[dict]) -> None:
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def summarize(module: ModuleType, records: list[dict], seed: int = 0) -> dict[str, Any]:
    """score, n, ci95 and the mean of each extra metric, over ``records``."""
    scores = [float(r["score"]) for r in records]
    n = len(scores)
    out: dict[str, Any] = {"metric": module.METRIC, "score": sum(scores) / n if n else float("nan"),
                           "n": n, "ci95": list(bootstrap_ci(scores, seed=seed))}
    extras = {}
    for key in getattr(module, "EXTRA_METRICS", ()):
        vals = [float(r[key]) for r in records if key in r]
        if vals:
            extras[key] = {"score": sum(vals) / len(vals), "ci95": list(bootstrap_ci(vals, seed=seed))}
    out["extra"] = extras
    return out


def run_generative(ctx: EvalContext, module: ModuleType) -> dict[str, Any]:
    """Run one benchmark end to end and return its results.json entry."""
    from sdft.generation.runner import generate_jsonl

    t0 = time.perf_counter()
    name = ctx.options.get("benchmark", module.__name__.rsplit(".", 1)[-1])
    variant = variant_of(module, ctx)
    examples = module.load(ctx)
    if ctx.limit is not None:
        examples = examples[: ctx.limit]
    reqs = module.requests(examples, variant, ctx)
    labels = {}
    for ex in examples:
        labels.update(module.labels(ex, ctx) if hasattr(module, "labels") else {ex.id: module.label(ex)})
    sampling = sampling_of(module, ctx)
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    path = ctx.out_dir / "predictions.jsonl"
    # The generator is built only when something is left to generate, so a finished
    # benchmark re-scores without loading a model.
    done = set()
    if path.exists():
        from sdft.runs import done_ids

        done = done_ids(path)
    stats = None
    if any(r.id not in done for r in reqs):
        stats = generate_jsonl(ctx.get_generator(), reqs, sampling, path,
                               record=lambda req, comp: {"label": labels[req.id]}, desc=name,
                               progress=ctx.options.get("progress", True))
    wanted = {r.id for r in reqs}
    records = list(read_jsonl(path))
    before = sum("score" in r for r in records)
    score_records(module, [r for r in records if r["id"] in wanted], ctx)
    if sum("score" in r for r in records) != before:
        _rewrite(path, records)
    mine = [r for r in records if r["id"] in wanted]
    entry = {"benchmark": name, **summary_of(module, mine, ctx.seed),
             "variant": variant, "generation": dict(sampling.__dict__, stop=list(sampling.stop)),
             "predictions": str(path), "wall_s": round(time.perf_counter() - t0, 2)}
    if stats is not None:
        entry["generation_stats"] = stats.as_dict()
    truncated = sum(r.get("finish_reason") == "length" for r in mine)
    entry["truncated"] = truncated
    return entry


def summary_of(module: ModuleType, records: list[dict], seed: int = 0) -> dict[str, Any]:
    """The entry's score fields: the module's own ``summary`` or the mean over its items."""
    if hasattr(module, "summary"):
        return module.summary(records, seed)
    return summarize(module, _per_item(module, records), seed)


def _per_item(module: ModuleType, records: list[dict]) -> list[dict]:
    """Records the score is averaged over: one per item (humaneval groups its samples)."""
    return module.per_item(records) if hasattr(module, "per_item") else records
