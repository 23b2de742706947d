"""AlpacaEval-style helpfulness: pairwise win rate of the model against the reference outputs.

1. Generate the model's answers to the AlpacaEval instructions (``alpaca_eval`` task, 805
   prompts; greedy, 512 new tokens by default) into ``generations.jsonl`` (resumable).
2. A judge (:mod:`sdft.evaluate.judge`) compares each answer with the reference ``output`` of
   ``alpaca_eval.json`` **twice**: model as ``Output (a)``, then reference as ``Output (a)``.
   Per order a win scores 1, a tie 0.5, a loss 0; the item's score is the mean of the two, so
   a judge that always picks the first position gives 0.5, never a spurious win. All pairs go
   to the judge at once and an item is appended to ``predictions.jsonl`` as soon as both its
   verdicts are in (resumable, keyed by id; the lines are in the order they finished).
3. The score is the mean over items with a 95 % bootstrap CI. ``alpaca_eval_outputs.json`` and
   ``alpaca_eval_reference.json`` (``instruction``/``output``/``generator``) are written beside
   them so the official ``alpaca_eval`` tool can re-judge with its own annotators::

       alpaca_eval --model_outputs alpaca_eval_outputs.json --reference_outputs alpaca_eval_reference.json

Limits: the reference outputs in this data file are not GPT-4 Turbo's (the file does not say
which model wrote them), so numbers are not comparable with the public leaderboard. Offline,
the judge is a small local model, which is weak; results then carry a ``warning``.

Options: :class:`~sdft.evaluate.judge.JudgeOptions`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable, Sequence

from sdft.config import ConfigError
from sdft.evaluate.benchmark import Benchmark
from sdft.evaluate.context import EvalContext
from sdft.evaluate.judge import Judge, JudgeOptions, make_judge
from sdft.evaluate.stats import mean_ci
from sdft.runs import JsonlWriter, done_ids, read_jsonl, write_json

_ORDER_SCORE = {"model": 1.0, "tie": 0.5, "reference": 0.0}


def score_pair(first: str, second: str) -> dict:
    """Combine the verdict with the model first (``first``) and with the reference first
    (``second``) into the item's score; ``consistent`` when both orders name the same winner."""
    w1 = {"a": "model", "b": "reference"}.get(first, "tie")
    w2 = {"a": "reference", "b": "model"}.get(second, "tie")
    return {"score": (_ORDER_SCORE[w1] + _ORDER_SCORE[w2]) / 2, "winner_model_first": w1,
            "winner_reference_first": w2, "consistent": w1 == w2}


def judge_items(judge: Judge, items: Sequence[dict], out_path: str | Path, progress: bool = True) -> None:
    """Judge ``items`` (``id``, ``prompt``, ``predict``, ``label``) not yet in ``out_path`` in
    both orders, appending one line per item as soon as both its verdicts are in."""
    out_path = Path(out_path)
    done = done_ids(out_path)
    for rec in read_jsonl(out_path) if done else ():
        if rec.get("judge") != judge.name:
            raise ConfigError(f"{out_path}: id {rec.get('id')} was judged by {rec.get('judge')!r}, "
                              f"not {judge.name!r}; delete the file to re-judge")
    todo = [it for it in items if it["id"] not in done]
    if not todo:
        return
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), initial=len(items) - len(todo), desc="judge", unit="pair")
    # Pair 2k is item k with the model's output first, pair 2k + 1 with the reference first.
    pairs = [p for it in todo for p in ((it["prompt"], it["predict"], it["label"]),
                                        (it["prompt"], it["label"], it["predict"]))]
    got: dict[int, str] = {}
    with JsonlWriter(out_path) as writer:
        for i, verdict in judge.verdicts(pairs):
            got[i] = verdict
            k = i // 2
            if 2 * k in got and 2 * k + 1 in got:
                first, second = got.pop(2 * k), got.pop(2 * k + 1)
                writer.write({**todo[k], "verdict_model_first": first, "verdict_reference_first": second,
                              **score_pair(first, second), "judge": judge.name})
                if bar is not None:
                    bar.update(1)
    if bar is not None:
        bar.close()


def summarize(records: Iterable[dict], judge: Judge, seed: int = 0) -> dict:
    recs = list(records)
    extra = {"judge": judge.name, "n_consistent": sum(bool(r["consistent"]) for r in recs),
             "n_wins": sum(r["score"] == 1.0 for r in recs),
             "n_losses": sum(r["score"] == 0.0 for r in recs),
             "n_ties": sum(0.0 < r["score"] < 1.0 for r in recs)}
    if judge.warning:
        extra["warning"] = judge.warning
    return {"metric": "win_rate", **mean_ci([r["score"] for r in recs], seed), "extra": extra}


def _official_format(rows: list[dict], key: str, generator: str) -> list[dict]:
    return [{"instruction": r["prompt"], "output": r[key], "generator": generator, "dataset": "sdft",
             "id": r["id"]} for r in rows]


def run(bench: Benchmark, ctx: EvalContext) -> dict:
    from sdft.generation.base import Request, SamplingParams
    from sdft.generation.runner import generate_jsonl

    t0 = time.perf_counter()
    examples = bench.load(ctx, bench.data)[: ctx.limit]
    sampling = SamplingParams(max_new_tokens=ctx.max_new_tokens or bench.max_new_tokens, temperature=0.0,
                              seed=ctx.seed)
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    gen_path = ctx.out_dir / "generations.jsonl"
    requests = [Request(ex.id, ex.messages()) for ex in examples]
    done = done_ids(gen_path)
    todo = [r for r in requests if r.id not in done]  # all done: no model load at all
    gen_stats = (generate_jsonl(ctx.get_generator(), todo, sampling, gen_path, desc=bench.name,
                                progress=ctx.progress).as_dict() if todo else {})
    outputs = {r["id"]: r["predict"] for r in read_jsonl(gen_path)}

    judge = make_judge(ctx.options)
    items = [{"id": ex.id, "prompt": ex.user_text(), "predict": outputs[ex.id], "label": ex.response}
             for ex in examples]
    pred_path = ctx.out_dir / "predictions.jsonl"
    judge_items(judge, items, pred_path, progress=ctx.progress)
    order = {ex.id: i for i, ex in enumerate(examples)}
    judged = sorted((r for r in read_jsonl(pred_path) if r["id"] in order), key=lambda r: order[r["id"]])

    generator = Path(ctx.adapter).name if ctx.adapter else ctx.model
    write_json(ctx.out_dir / "alpaca_eval_outputs.json", _official_format(judged, "predict", generator))
    write_json(ctx.out_dir / "alpaca_eval_reference.json", _official_format(judged, "label", "reference"))
    return {"benchmark": bench.name, **summarize(judged, judge, ctx.seed), "variant": bench.variant(ctx.variant),
            "generation": {**sampling.__dict__, "stop": list(sampling.stop), **gen_stats},
            "wall_s": round(time.perf_counter() - t0, 2)}


ALPACA_EVAL = Benchmark("alpaca_eval", "win_rate", data="alpaca_eval", variants=("pairwise_both_orders",),
                        max_new_tokens=512, options=JudgeOptions, run=run)
