"""The shared loop of every generative benchmark: load → prompts → generate → score.

:func:`run_generative` runs one :class:`~sdft.evaluate.benchmark.Benchmark`: it appends ``id,
prompt, predict, label`` lines to ``ctx.out_dir/predictions.jsonl`` as completions arrive
(resumable), then scores the lines that have no ``score`` yet (and, for a benchmark with a
``judge`` hook, gives them the judge's verdicts) and rewrites the file once, atomically, with
them filled in. Scores therefore come from the saved text only, never from state held in memory.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

from sdft.data.records import Example
from sdft.evaluate.context import EvalContext
from sdft.evaluate.stats import mean_ci
from sdft.generation.base import Request, SamplingParams
from sdft.runs import done_ids, read_jsonl


def load_prompt(name: str) -> dict[str, str]:
    """``sdft/prompts/eval_<name>.yaml``: optional ``system``, ``user``, ``prefill``."""
    import yaml

    from sdft import prompts

    return yaml.safe_load(prompts.read(f"eval_{name}.yaml"))


def load_items(ctx: EvalContext, default: str, need_reference: bool = True,
               check: Callable[[Example], str | None] | None = None) -> list[Example]:
    """A benchmark's items: ``ctx.data`` (``benchmark_data``: a task slice or a user's table,
    ``FILE`` or ``FILE#column``) when set, else the benchmark's own data spec ``default``. A
    user's table needs a reference-answer column if ``need_reference``, and ``check(example)``
    may reject its reference (see :func:`sdft.data.tasks.load_benchmark_data`)."""
    from sdft.data.tasks import load_benchmark_data

    return load_benchmark_data(ctx.data or default, ctx.data_dir, need_reference, check)


def load_prompts(ctx: EvalContext, default: str) -> list[Example]:
    """:func:`load_items` for benchmarks that score the answer alone: a table needs only prompts."""
    return load_items(ctx, default, need_reference=False)


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


def score_records(bench, records: list[dict[str, Any]], ctx: EvalContext) -> list[dict]:
    """Fill ``score`` (and ``extra`` metrics) in the records that lack it; returns all records."""
    todo = [r for r in records if "score" not in r]
    if todo and bench.score_many is not None:
        bench.score_many(todo, ctx)
    else:
        for r in todo:
            predict, label = r.get("predict", ""), r.get("label", "")
            r.update(score=float(bench.score(predict, label)), **bench.extra(predict, label))
    return records


def summarize(bench, records: list[dict], seed: int = 0) -> dict[str, Any]:
    """The entry's score fields: the benchmark's own ``summary``, else score, n and ci95 of the
    mean over its items and the mean (with ci95) of each of its extra metrics."""
    if bench.summary is not None:
        return bench.summary(records, seed)
    items = bench.per_item(records)
    extra = {}
    for key in bench.extra_metrics:
        vals = [float(r[key]) for r in items if key in r]
        if vals:
            extra[key] = {k: v for k, v in mean_ci(vals, seed).items() if k != "n"}
    return {"metric": bench.metric, **mean_ci([float(r["score"]) for r in items], seed), "extra": extra}


def rewrite(path: Path, records: list[dict]) -> None:
    """Replace a JSONL file's lines, atomically."""
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def run_generative(bench, ctx: EvalContext) -> dict[str, Any]:
    """Run one benchmark end to end and return its results.json entry."""
    from sdft.generation.runner import generate_jsonl

    t0 = time.perf_counter()
    variant = bench.variant(ctx.variant)
    examples = bench.load(ctx, bench.data)[: ctx.limit]
    reqs = chat_requests(examples, f"{bench.prompt}_{variant}")
    # A judged benchmark also records what was asked, without any wrapping (the GCG suffix).
    lines = {r.id: {"label": bench.label(ex), **({"request": ex.meta.get("plain_request") or ex.user_text()}
                                                 if bench.judge else {})} for r, ex in zip(reqs, examples)}
    n = ctx.options.samples
    if n > 1:  # distinct ids give distinct seeded samples (backends seed per request id)
        reqs = [replace(r, id=f"{r.id}#{i}") for r in reqs for i in range(n)]
        lines = {r.id: lines[r.id.rpartition("#")[0]] for r in reqs}
    sampling = SamplingParams(max_new_tokens=ctx.max_new_tokens or bench.max_new_tokens,
                              temperature=ctx.options.temperature, top_p=ctx.options.top_p, seed=ctx.seed)
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    path = ctx.out_dir / "predictions.jsonl"
    # The generator is built only when something is left to generate, so a finished
    # benchmark re-scores without loading a model.
    stats = None
    if not {r.id for r in reqs} <= done_ids(path):
        stats = generate_jsonl(ctx.get_generator(), reqs, sampling, path, desc=bench.name, progress=ctx.progress,
                               record=lambda req, comp: lines[req.id])
    records = list(read_jsonl(path))
    mine = [r for r in records if r["id"] in lines]
    before = sum("score" in r for r in mine)
    score_records(bench, mine, ctx)
    changed = sum("score" in r for r in mine) != before
    if bench.judge is not None and bench.judge(mine, ctx, path):
        changed = True
    if changed:
        rewrite(path, records)
    entry = {"benchmark": bench.name, **summarize(bench, mine, ctx.seed), "variant": variant,
             "generation": dict(sampling.__dict__, stop=list(sampling.stop)), "predictions": str(path),
             "wall_s": round(time.perf_counter() - t0, 2)}
    if stats is not None:
        entry["generation_stats"] = stats.as_dict()
    entry["truncated"] = sum(r.get("finish_reason") == "length" for r in mine)
    return entry


def refill(lines: list[dict], predictions: Path, tok, data_dir: str | Path | None = None) -> list[dict]:
    """``lines`` with what a carried run folder leaves out of each record (the rendered ``prompt``,
    and a judged benchmark's ``request``: copies of the datasets; scripts/carry_run.py) written
    again, as :func:`run_generative` wrote them: from the benchmark's items and prompt template,
    by the ``data`` and ``variant`` its ``settings.json`` beside ``predictions`` recorded (the
    benchmark is the predictions' folder name; items from ``data_dir``, default the data folder).
    Lines that have them are returned as they are."""
    from sdft import evaluate, models
    from sdft.data.tasks import data_dir as default_data_dir
    from sdft.errors import DataError, SdftError

    settings_file = predictions.parent / "settings.json"
    name = predictions.parent.name
    try:
        bench = evaluate.get(name)
    except SdftError as e:
        bench, problem = None, str(e)
    todo = [r for r in lines if "prompt" not in r or (bench is not None and bench.judge and "request" not in r)]
    if not todo:
        return lines
    if bench is not None and not bench.prompt:
        bench, problem = None, f"benchmark {name!r} renders no chat prompt of its own"
    try:
        settings = json.loads(settings_file.read_text(encoding="utf-8")) if bench is not None else {}
    except (OSError, ValueError) as e:
        bench, problem = None, f"{settings_file}: {e}"
    if bench is None or not isinstance(settings, dict):
        raise DataError(f"{predictions}: {len(todo)} record(s) have no 'prompt', and it cannot be rendered "
                        f"again ({problem if bench is None else f'{settings_file}: not an object'})")
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    ctx = EvalContext(model="", adapter=None, out_dir=predictions.parent, data_dir=folder,
                      get_generator=lambda: None, options=bench.options(), data=settings.get("data"))
    examples = {ex.id: ex for ex in bench.load(ctx, bench.data)}
    item = {r["id"]: _item_id(r["id"]) for r in todo}
    absent = [i for i, base in item.items() if base not in examples]
    if absent:
        raise DataError(f"{predictions}: record {absent[0]!r}: field 'prompt' missing, and its item is not in "
                        f"{settings.get('data') or bench.data} (data folder {folder})")
    reqs = {r.id: r for r in chat_requests([examples[b] for b in dict.fromkeys(item.values())],
                                           f"{bench.prompt}_{bench.variant(settings.get('variant'))}")}
    out = []
    for r in lines:
        if r["id"] in item:
            ex, req = examples[item[r["id"]]], reqs[item[r["id"]]]
            r = {**r, "prompt": r.get("prompt", models.render_chat(tok, req.messages, req.prefill))}
            if bench.judge and "request" not in r:
                r["request"] = ex.meta.get("plain_request") or ex.user_text()
        out.append(r)
    return out


def _item_id(record_id: str) -> str:
    """The item a record answers: ``ID#k``, the k-th of several samples (``samples`` > 1), is ID's."""
    base, sep, k = str(record_id).rpartition("#")
    return base if sep and k.isdigit() else record_id
