"""`sdft run CONFIG --dry-run`: the resolved config and the stage plan, in seconds, no model.

For every stage of :class:`sdft.pipeline.Stages` (the same folders and keys a real run uses) it
reads the run folder and says **cached** (``.done`` holds the key), **partial** (the folder has
some of the work: generated lines, a training checkpoint) or **to run**, and estimates the work
left. Imports neither torch nor transformers (a test checks ``sys.modules``).

The estimate is rough arithmetic on counts, not a measurement of this machine (model loading
and GGUF conversion are not counted):

- generation (distillation, generative benchmarks): items left x max new tokens / the
  generation rate; real answers usually stop earlier, so this part is an upper bound. A
  benchmark this run has already evaluated (any model) is estimated from its measured
  generation seconds per prompt instead (``--gen-tok-s`` turns that off). Items are the sample,
  the ``limit``, the ``benchmark_data`` slice, or the benchmark's full size (:data:`FULL_SIZES`).
- log-likelihood benchmarks (lm-eval): items left x :data:`LOGLIK_ITEM_TOKENS` / the rate.
- training: examples x epochs x (characters / 4 + :data:`TEMPLATE_TOKENS`) / the training rate
  (the step count from batch x accumulation, or ``max_steps``), less what the last checkpoint covers;
  when a fine-tune of the same rows and settings with another training seed has finished, its
  step and token counts instead (exact: they include the rows dropped at ``max_length``).

Rates: ``--gen-tok-s`` / ``--train-tok-s``, else the median of what this run folder's stages
measured (distill_report.json, the evaluations' results.json, and each training's
train_log.jsonl: the median rate of its last 20 logged intervals, so time paused does not count;
train_summary.json where there is no log), else :data:`DEFAULT_RATES`, this project's
measurements for its packaged models on 2 CPU cores (SmolLM2-135M's for any other model).
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

import yaml

from sdft.errors import ConfigError
from sdft.stages import marked_done

GEN_TOK_S = 150.0  # useful tokens/s, batched generation, SmolLM2-135M, 2 CPU cores (README "Speed")
TRAIN_TOK_S = 180.0  # training tokens/s, LoRA r=8 q,v, SmolLM2-135M, 2 CPU cores (README "Speed")
# Per packaged model: (generation, training) tokens/s and where they were measured. Qwen's are the
# slower of the two CPUs this project runs on (float32 on a 2-core AMD EPYC, issue 32; an Intel
# Xeon with AMX did 74 and 106 in float32), so a plan errs long; any other model gets SmolLM2's,
# which a bigger model will not reach.
DEFAULT_RATES = {"smollm2-135m": (GEN_TOK_S, TRAIN_TOK_S, "default: SmolLM2-135M on 2 CPU cores"),
                 "qwen2.5-coder-0.5b": (67.0, 54.6, "default: Qwen2.5-Coder-0.5B, float32, 2-core AMD EPYC")}
LOGLIK_ITEM_TOKENS = 64  # generated-token equivalent of scoring one multiple-choice item
TEMPLATE_TOKENS = 32  # chat-template tokens around one training example
DEFAULT_ANSWER_TOKENS = 512  # a generative benchmark's answer cap when the config sets none
# Items of each full benchmark (the paper's test sets as the data folder holds them).
FULL_SIZES = {"gsm8k": 1319, "multiarith": 180, "openfunction": 112, "humaneval": 164, "advbench": 520,
              "advbench_jailbreak": 520, "xstest": 450, "alpaca_eval": 805, "mmlu": 14042, "truthfulqa": 817,
              "arc_easy": 2376, "arc_challenge": 1172, "hellaswag": 10042, "winogrande": 1267}
LOGLIK = {"mmlu", "truthfulqa", "arc_easy", "arc_challenge", "hellaswag", "winogrande"}


def _lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


def _log_rate(path: Path, last: int = 20) -> float | None:
    """Training tokens/s of ``train_log.jsonl`` (a finished or a partial run): the median over its
    last ``last`` logged intervals. Recent ones, since a resumed run may be faster or slower than
    its first sitting; the median, since an interval in which the process was paused (SIGSTOP,
    a laptop asleep) or shared the CPU would otherwise pull the rate down (train_summary.json's
    ``tokens_per_s`` divides by the whole wall time, pauses included)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    rows = []
    for line in lines:
        try:
            r = json.loads(line)
        except json.JSONDecodeError:  # a line cut by a kill
            continue
        if isinstance(r, dict) and all(isinstance(r.get(k), (int, float)) for k in ("tokens_seen", "wall_s")):
            rows.append(r)
    rates = [(b["tokens_seen"] - a["tokens_seen"]) / (b["wall_s"] - a["wall_s"]) for a, b in zip(rows, rows[1:])
             if b["wall_s"] > a["wall_s"] and b["tokens_seen"] > a["tokens_seen"]]
    return statistics.median(rates[-last:]) if rates else None


def _read_json(path: Path) -> Any:
    """A run file's JSON, or None where it is unreadable: an estimate never stops on one."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _default_rates(model: str | None) -> tuple[float, float, str]:
    from sdft.models import ALIAS_HUB_IDS, DEFAULT_MODEL

    spec = model or DEFAULT_MODEL
    alias = next((a for a, hub in ALIAS_HUB_IDS.items() if spec in (a, hub)), None)
    if alias in DEFAULT_RATES:
        return DEFAULT_RATES[alias]
    return GEN_TOK_S, TRAIN_TOK_S, f"default: SmolLM2-135M on 2 CPU cores (no measurement of {spec}: a bigger " \
                                   "model is slower)"


def _rates(run_dir: Path, gen: float | None, train: float | None,
           model: str | None = None) -> tuple[float, str, float, str]:
    def positive(x: Any) -> bool:
        return isinstance(x, (int, float)) and x > 0

    for flag, rate in (("--gen-tok-s", gen), ("--train-tok-s", train)):
        if rate is not None and not (positive(rate) and math.isfinite(rate)):  # (0 fell back to the default)
            raise ConfigError(f"{flag}: must be a positive number of tokens per second, got {rate}")

    g = [d["generation"]["tokens_per_s"] for p in run_dir.glob("distill/*/distill_report.json")
         if isinstance(d := _read_json(p), dict) and positive((d.get("generation") or {}).get("tokens_per_s"))]
    t = []
    for folder in run_dir.glob("train/*/"):  # unfinished runs count too; the log's rate, else the summary's
        rate = _log_rate(folder / "train_log.jsonl")
        if not positive(rate) and isinstance(d := _read_json(folder / "train_summary.json"), dict):
            rate = d.get("tokens_per_s")
        if positive(rate):
            t.append(rate)
    default_gen, default_train, default_src = _default_rates(model)
    gen_rate, gen_src = (gen, "--gen-tok-s") if gen else (statistics.median(g), "measured in this run") if g \
        else (default_gen, default_src)
    train_rate, train_src = (train, "--train-tok-s") if train else (statistics.median(t), "measured in this run") \
        if t else (default_train, default_src)
    return gen_rate, gen_src, train_rate, train_src


def _seconds_per_item(run_dir: Path) -> dict[str, float]:
    """Benchmark -> median generation seconds per prompt over this run's evaluations of it.

    Closer than tokens at their cap over a rate: how long answers run and how much of the time
    is prompt processing differ a lot between benchmarks (OpenFunctions' long function
    descriptions, AdvBench's short refusals). From each entry's ``generation_stats`` (the
    prompts generated in the sitting that finished it, and their time), so model loading, a
    resumed sitting's earlier items and benchmarks that only re-scored do not skew it."""
    per: dict[str, list[float]] = {}
    for p in run_dir.glob("eval/*/results.json"):
        d = _read_json(p)
        entries = d.get("benchmarks") if isinstance(d, dict) else None
        for name, b in entries.items() if isinstance(entries, dict) else ():
            stats = b.get("generation_stats") if isinstance(b, dict) else None
            wall, n = (stats.get("wall_s"), stats.get("generated")) if isinstance(stats, dict) else (None, None)
            if isinstance(wall, (int, float)) and isinstance(n, int) and wall > 0 and n > 0:
                per.setdefault(name, []).append(wall / n)
    return {name: statistics.median(v) for name, v in per.items()}


def _bench_items(ecfg, name: str) -> int:
    spec = ecfg.benchmark_data.get(name)
    n = FULL_SIZES.get(name, 0)
    if spec:
        from sdft.data.tasks import load_benchmark_data
        from sdft.errors import DataError

        try:  # read as the benchmark reads it (FILE#column too); a bad local file is an error now
            n = len(load_benchmark_data(spec, ecfg.data_dir))
        except DataError:
            if not spec.startswith("hf:"):
                raise
            # a hub dataset this machine cannot reach (offline): keep the nominal size
    return min(n, ecfg.limit) if ecfg.limit else n


def _eval(st, gen_rate: float, per_item: dict[str, float]) -> tuple[str, str, float]:
    from sdft import evaluate as battery
    from sdft.evaluate.context import bench_folder

    ecfg = st.cfg
    total = done = tokens = 0
    seconds = 0.0
    for name in battery.expand(ecfg.benchmarks):
        items = _bench_items(ecfg, name)
        have = min(_lines(bench_folder(st.folder, name) / "predictions.jsonl"), items)
        total, done = total + items, done + have
        per = LOGLIK_ITEM_TOKENS if name in LOGLIK else (ecfg.answer_length(name) or DEFAULT_ANSWER_TOKENS)
        tokens += (items - have) * per
        seconds += (items - have) * per_item[name] if name in per_item else (items - have) * per / gen_rate
    return f"{done}/{total} items", f"{total - done} items, <= {tokens:,} tok", seconds


def _distill(st, n: int, gen_rate: float) -> tuple[str, str, float]:
    have = min(_lines(st.folder / "rewrites.jsonl"), n)
    tokens = (n - have) * st.cfg.max_new_tokens
    return f"{have}/{n} rewrites", f"{n - have} rewrites, <= {tokens:,} tok", tokens / gen_rate


def _twin(st, stages) -> dict[str, Any] | None:
    """The summary of a finished fine-tune on the same rows with the same settings but another
    training seed (the seed changes batch order and initialisation, not the steps or tokens)."""
    from dataclasses import replace

    rows_key = stages.data[st.variant.label].key
    mine = replace(st.cfg, seed=0, data="")
    for label, other in stages.train.items():
        if other is st or stages.data[label].key != rows_key or replace(other.cfg, seed=0, data="") != mine:
            continue
        summary = _read_json(other.folder / "train_summary.json") if marked_done(other.folder, other.key) else None
        if isinstance(summary, dict) and summary.get("steps") and summary.get("train_tokens"):
            return {**summary, "label": label}
    return None


def _train(st, stages, train_rate: float) -> tuple[str, str, float]:
    tcfg, v = st.cfg, st.variant
    twin = _twin(st, stages)
    if twin:  # exact: rows dropped at max_length and real token counts included
        steps, tok_per_step = int(twin["steps"]), twin["train_tokens"] / twin["steps"]
    else:
        rows = stages.sampled[: v.sample_size]
        task = next(iter({e.task for e in rows}), None) if len({e.task for e in rows}) == 1 else None
        epochs = tcfg.resolved_epochs(task)
        per_step = tcfg.batch_size * tcfg.grad_accum
        n_rows = len(rows)
        if v.method == "replay":  # the seed's answers are added to the task rows, not swapped in
            n_rows += stages.replay_n()
        steps = tcfg.max_steps or math.ceil(math.ceil(n_rows / per_step) * epochs)
        chars = sum(len(e.instruction) + len(e.input) + len(e.response) for e in rows) / max(len(rows), 1)
        tok_per_step = per_step * (chars / 4 + TEMPLATE_TOKENS)
    ckpts = [int(p.name.split("-")[-1]) for p in (st.folder / "checkpoints").glob("checkpoint-*")
             if p.name.split("-")[-1].isdigit()]
    done = min(max(ckpts, default=0), steps)
    tokens = (steps - done) * tok_per_step
    like = f" (as {twin['label']})" if twin else ""
    return f"step {done}/{steps}", f"{steps - done} steps, ~{tokens:,.0f} tok{like}", tokens / train_rate


def describe(stages, gen_tok_s: float | None = None, train_tok_s: float | None = None) -> dict[str, Any]:
    """The plan as data: one row per stage (name, folder, status, progress, work left, seconds)."""
    gen_rate, gen_src, train_rate, train_src = _rates(stages.dir, gen_tok_s, train_tok_s, stages.cfg.model)
    per_item = {} if gen_tok_s is not None else _seconds_per_item(stages.dir)
    rows = []
    listed = stages.main()
    for v in stages.trained:  # trajectory points of fine-tunes already trained are known now
        train = stages.train[v.label]
        if v.label in stages.followed and (train.folder / ".done").exists():
            listed += stages.trajectory(v, train)
    first: dict[Path, str] = {}  # a folder two stages share (the final point of a trajectory) runs once
    for st in listed:
        cached = marked_done(st.folder, st.key)
        progress, left, seconds = "", "", 0.0
        if not cached and st.folder in first:
            left = f"the work of {first[st.folder]}"
        elif not cached:
            if st.kind == "eval":
                progress, left, seconds = _eval(st, gen_rate, per_item)
            elif st.kind == "distill":
                progress, left, seconds = _distill(st, stages.n_max, gen_rate)
            elif st.kind == "train":
                progress, left, seconds = _train(st, stages, train_rate)
            elif st.kind == "replay":
                n = stages.replay_n()
                have = min(_lines(st.folder / "answers.jsonl"), n)
                tokens = (n - have) * st.cfg.replay_max_new_tokens
                progress, left, seconds = f"{have}/{n} answers", f"{n - have} seed answers, <= {tokens:,} tok", \
                    tokens / gen_rate
            else:
                left = {"data": "seconds", "interp": "seconds", "push": "one upload",
                        "predict": "two forward passes per task answer (<= 64)"}.get(st.kind, "")
        started = st.folder.exists() and any(st.folder.iterdir())
        status = "cached" if cached else "partial" if started else "to run"
        first.setdefault(st.folder, st.name)
        rows.append({"stage": st.name, "folder": str(st.folder.relative_to(stages.dir)), "status": status,
                     "progress": progress if started else "", "left": left, "seconds": round(seconds, 1)})
    pending = [v.label for v in stages.trained
               if v.label in stages.followed and not (stages.train[v.label].folder / ".done").exists()]
    return {"rows": rows, "seconds": round(sum(r["seconds"] for r in rows), 1), "gen_tok_s": gen_rate,
            "gen_rate_from": gen_src, "train_tok_s": train_rate, "train_rate_from": train_src,
            "trajectory_pending": pending, "snapshots": stages.cfg.train.snapshots,
            "seconds_per_item": {k: round(v, 2) for k, v in sorted(per_item.items())}}


def _duration(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h"


def print_plan(cfg, stages, plan: dict[str, Any]) -> None:
    from sdft.experiment import as_record

    print("# resolved config")
    print(yaml.safe_dump(as_record(cfg), sort_keys=False, allow_unicode=True).rstrip())
    rows = plan["rows"]
    counts = {s: sum(r["status"] == s for r in rows) for s in ("cached", "partial", "to run")}
    print(f"\n# plan: {len(rows)} stages in {stages.dir}: {counts['cached']} cached, {counts['partial']} partial, "
          f"{counts['to run']} to run")
    later = [f"eval/{label}@..." for label in plan["trajectory_pending"]]
    w = max([len(r["stage"]) for r in rows] + [len(x) for x in later] + [5])
    f = max([len(r["folder"]) for r in rows] + [6])
    print(f"{'stage':<{w}}  {'status':<8}  {'done so far':<18}  {'folder':<{f}}  work left (estimate)")
    for r in rows:
        left = f"{r['left']}: ~{_duration(r['seconds'])}" if r["seconds"] else r["left"] or "-"
        print(f"{r['stage']:<{w}}  {r['status']:<8}  {r['progress'] or '-':<18}  {r['folder']:<{f}}  {left}")
    for name in later:
        print(f"{name:<{w}}  {'later':<8}  {'-':<18}  {'-':<{f}}  "
              f"{plan['snapshots']} snapshots + the final model on the trajectory slice, after training")
    measured = plan.get("seconds_per_item") or {}
    per_item = ("; evaluations of " + ", ".join(f"{k} at {v:g} s/item" for k, v in measured.items())
                + " as measured in this run") if measured else ""
    print(f"\nestimated work left: ~{_duration(plan['seconds'])} (rough arithmetic on counts, not a measurement; "
          "answers counted at their token cap, model loading not counted; "
          f"generation {plan['gen_tok_s']:.0f} tok/s, {plan['gen_rate_from']}{per_item}; training "
          f"{plan['train_tok_s']:.0f} tok/s, {plan['train_rate_from']}; "
          "see `python -c 'import sdft.dryrun; help(sdft.dryrun)'`)")
    print("analysis and report: rebuilt from the saved files at the end of every run (seconds)")
