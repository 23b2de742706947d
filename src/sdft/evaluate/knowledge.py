"""General-knowledge benchmarks through lm-evaluation-harness, on the local data files.

``mmlu``, ``truthfulqa`` (MC2), ``arc_easy``, ``arc_challenge``, ``hellaswag``, ``winogrande`` are
scored by ``lm_eval`` itself (``simple_evaluate``: log-likelihood of each choice, its metrics,
its few-shot machinery). What this module adds is the data: the task configs in
``lmeval_tasks/*.yaml`` (loaded by lm-eval's ``TaskManager(include_path=...)``) mirror lm-eval's
standard definitions (prompt, choices, target, metric) but their ``custom_dataset`` is
:func:`local_docs`, which reads :func:`sdft.data.tasks.load_task` instead of the hub, unreachable here.

Defaults follow the Open LLM Leaderboard (v1), as the SDFT paper does: MMLU 5-shot, ARC
25-shot, HellaSwag 10-shot, TruthfulQA 0-shot, WinoGrande 5-shot; few-shot examples are drawn
with lm-eval's default seed (1234). The headline metric is acc_norm for ARC and HellaSwag, the
MC2 probability mass for TruthfulQA, acc otherwise; every lm-eval metric is kept in ``extra``.

Differences from the hub versions, all forced by the local files: HellaSwag has no train
split, so its few-shot examples come from validation (the scored item excluded), and its
contexts lose the ``ctx_a``/``ctx_b`` boundary, so lm-eval's capitalization of ``ctx_b`` is
approximated (a lower-case start after the last ``". "`` is capitalized); WinoGrande's few-shot
pool is train_xs (upstream: train_xl) and it is scored on dev; ARC's pool is train, as upstream.

Resumable through lm-eval's own request cache (``lm_eval_cache_<model key>_rank0.db`` in the benchmark
folder, one committed SQLite row per log-likelihood): a re-run after a kill recomputes only
what is missing. ``predictions.jsonl`` (with each choice's log-likelihood) is written at the end.

``limit`` keeps the first N items (lm-eval's rule); for MMLU it keeps N questions spread
round-robin over the subjects in alphabetical order (lm-eval would take N per subject).

Options (:class:`KnowledgeOptions`): ``num_fewshot`` (EvalConfig's field of that name sets it for
all six), ``batch_size``, ``chat_template``.

``lm_eval:TASK`` (a name rule of :func:`sdft.evaluate.get`, not a table entry) runs any lm-eval
task, group or tag by its name through the same ``simple_evaluate`` call; each item's score is
the task's first metric. Only a task whose data is local can run: ours (``lm_eval:sdft_arc_easy``
is ``arc_easy``) and a hub task whose dataset is already in the datasets cache. Most of lm-eval's
tasks download from the Hugging Face hub, unreachable here; they fail at once with an error that
names the task (the hub is switched off while the task loads, instead of ~25 s of retries).

    sdft eval --benchmarks arc_easy,mmlu --limit 50   # via the evaluation command
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from sdft.data.records import Example
from sdft.evaluate.benchmark import Benchmark
from sdft.evaluate.context import EvalContext
from sdft.evaluate.stats import mean_ci
from sdft.runs import JsonlWriter

TASK_DIR = Path(__file__).resolve().parent / "lmeval_tasks"
FEWSHOT_SEED = 1234  # lm-eval's default fewshot_random_seed, so contexts match a stock run


@dataclass(frozen=True)
class KnowledgeOptions:
    """Options of the lm-eval benchmarks.

    num_fewshot: shots (default: the Open LLM Leaderboard's per task; a 0-shot task stays 0-shot)
    batch_size: log-likelihood batch (4: lm-eval's log-softmax over the whole vocabulary
        makes big CPU batches memory-bound)
    chat_template: render prompts with the chat template (default: plain text, as the leaderboard scores them)
    """

    num_fewshot: int | None = None
    batch_size: int = 4
    chat_template: bool = False


def _arc_doc(ex: Example) -> dict:
    return {"id": ex.id, "question": ex.instruction, "answerKey": ex.meta["answer_key"],
            "choices": {"text": ex.meta["choices"], "label": ex.meta["labels"]}}


def _mmlu_doc(ex: Example) -> dict:
    return {"id": ex.id, "question": ex.instruction, "subject": ex.meta["subject"],
            "choices": list(ex.meta["choices"]), "answer": "ABCD".index(ex.meta["answer"])}


def _truthfulqa_doc(ex: Example) -> dict:
    targets = ex.meta["mc2_targets"]
    return {"id": ex.id, "question": ex.instruction,
            "mc2_targets": {"choices": [t for t, _ in targets], "labels": [int(v) for _, v in targets]}}


def hellaswag_query(ctx: str) -> str:
    """lm-eval builds ``activity_label: ctx_a + " " + ctx_b.capitalize()``; the local text form
    has lost the boundary, so capitalize a lower-case start of the last sentence fragment."""
    head, sep, tail = ctx.rpartition(". ")
    if sep and tail[:1].islower():
        return head + sep + tail[0].upper() + tail[1:]
    return ctx


def _hellaswag_doc(ex: Example) -> dict:
    return {"id": ex.id, "query": hellaswag_query(ex.meta["ctx"]), "choices": list(ex.meta["endings"]),
            "label": int(ex.meta["label"])}


def _winogrande_doc(ex: Example) -> dict:
    return {"id": ex.id, "sentence": ex.meta["sentence"], "option1": ex.meta["option1"],
            "option2": ex.meta["option2"], "answer": str(ex.meta["answer"])}


# benchmark (also the sdft data task) -> (lm-eval task name in lmeval_tasks/, Example -> lm-eval doc)
TASKS: dict[str, tuple[str, Callable[[Example], dict]]] = {
    "mmlu": ("sdft_mmlu", _mmlu_doc),
    "truthfulqa": ("sdft_truthfulqa_mc2", _truthfulqa_doc),
    "arc_easy": ("sdft_arc_easy", _arc_doc),
    "arc_challenge": ("sdft_arc_challenge", _arc_doc),
    "hellaswag": ("sdft_hellaswag", _hellaswag_doc),
    "winogrande": ("sdft_winogrande", _winogrande_doc),
}


def _spread(items: list[dict], key: str, limit: int | None) -> list[dict]:
    """The first ``limit`` items taken round-robin over ``item[key]`` groups (sorted), in file order."""
    if limit is None:
        return items
    groups: dict[str, list[dict]] = defaultdict(list)
    for it in items:
        groups[it[key]].append(it)
    picked: set[str] = set()
    for i in range(max(map(len, groups.values()), default=0)):
        for g in sorted(groups):
            if len(picked) < limit and i < len(groups[g]):
                picked.add(groups[g][i]["id"])
    return [it for it in items if it["id"] in picked]


@lru_cache(maxsize=2)
def _docs(benchmark: str, data_dir: str) -> dict[str, list[dict]]:
    """Every split of a benchmark's data as lm-eval docs (cached: MMLU builds one task per subject)."""
    from sdft.data.tasks import TASKS as DATA
    from sdft.data.tasks import load_task

    to_doc = TASKS[benchmark][1]
    return {s: [to_doc(ex) for ex in load_task(benchmark, s, data_dir or None)] for s in DATA[benchmark].files}


def local_docs(benchmark: str, data_dir: str = "", limit: int | None = None, subject: str | None = None, **_):
    """The ``custom_dataset`` of every task YAML here: lm-eval calls it with the task's
    ``dataset_kwargs`` (``benchmark``, for MMLU also ``subject``) and the TaskManager's metadata
    (``data_dir``, ``limit``)."""
    import datasets

    splits = _docs(benchmark, data_dir)
    if benchmark == "mmlu":
        keep = {d["id"] for d in _spread(splits["test"], "subject", limit)}
        splits = {s: [d for d in docs if (s != "test" or d["id"] in keep) and subject in (None, d["subject"])]
                  for s, docs in splits.items()}
    return datasets.DatasetDict({s: datasets.Dataset.from_list(docs) for s, docs in splits.items()})


def build_tasks(benchmark: str, data_dir: str | Path | None = None, limit: int | None = None) -> dict[str, Any]:
    """``{task_name: lm_eval Task}`` over the local files (MMLU: one task per subject that has
    items left after ``limit``, each with its own description and dev examples, as upstream)."""
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(TASK_DIR), include_defaults=False,
                          metadata={"data_dir": str(data_dir or ""), "limit": limit})
    tasks = manager.load(TASKS[benchmark][0])["tasks"]
    if benchmark == "mmlu":
        (template,) = tasks.values()
        cfg = template.config.to_dict(keep_callable=True)
        subjects = sorted({d["subject"] for d in template.eval_docs})
        tasks = manager.load([{**cfg, "task": f"sdft_mmlu_{s}", "dataset_kwargs": {"benchmark": "mmlu", "subject": s}}
                              for s in subjects])["tasks"]
    return tasks


def _load_lm(ctx: EvalContext):
    """HFLM over the model (+ adapter)."""
    from lm_eval.models.huggingface import HFLM

    from sdft import models

    # A PEFT adapter is merged: the same weights, and HFLM then sees a plain PreTrainedModel.
    model, tok = models.load(ctx.model, adapter=ctx.adapter, merge_adapter=True, dtype=ctx.dtype)
    return HFLM(pretrained=model, tokenizer=tok, batch_size=ctx.options.batch_size)


def _prediction(task, sample: dict, metric: str, item_id: str) -> dict:
    doc = sample["doc"]
    if task.OUTPUT_TYPE != "multiple_choice":  # generation and rolling log-likelihood tasks
        resp = sample["filtered_resps"][0] if sample["filtered_resps"] else ""
        return {"id": item_id, "prompt": str(sample["arguments"][0][0]),
                "predict": resp if isinstance(resp, str) else json.dumps(resp, default=str),
                "label": str(sample["target"]), "score": float(sample[metric])}
    choices = task.doc_to_choice(doc)
    lls = [float(r[0]) for r in sample["filtered_resps"]]
    if metric == "acc_norm":  # lm-eval normalizes by the choice's length in characters
        ranked = [ll / max(1, len(c)) for ll, c in zip(lls, choices)]
    else:
        ranked = lls
    pred = max(range(len(ranked)), key=ranked.__getitem__)
    # Multiple-input tasks (WinoGrande) vary the context, not the continuation: there the gold
    # index is what doc_to_text returns and the target is the shared continuation.
    gold = task.doc_to_text(doc) if task.multiple_input else sample["target"]
    gold_text = choices[gold] if isinstance(gold, int) and gold < len(choices) else str(gold)
    return {"id": item_id, "prompt": sample["arguments"][0][0], "predict": choices[pred],
            "label": gold_text, "score": float(sample[metric]), "choices": choices, "loglik": lls,
            **{m: float(sample[m]) for m in ("acc", "acc_norm") if m in sample}}


def _item_id(name: str, sample: dict) -> str:
    doc = sample["doc"]
    return str(doc["id"]) if isinstance(doc, dict) and "id" in doc else f"{name}/{sample['doc_id']}"


def run(bench: Benchmark, ctx: EvalContext) -> dict:
    """Evaluate ``bench`` with lm-eval and write its ``predictions.jsonl``; returns the entry."""
    metric = "acc_norm" if bench.metric == "acc_norm" else "acc"  # TruthfulQA's MC2 is lm-eval's "acc"
    return _evaluate(bench.name, ctx, lambda: build_tasks(bench.name, ctx.data_dir, ctx.limit), bench.metric,
                     lambda task: metric)


def _evaluate(name: str, ctx: EvalContext, make_tasks: Callable[[], dict], metric_name: str | None,
              metric_of: Callable[[Any], str], aggregates: bool = False) -> dict:
    """lm-eval's ``simple_evaluate`` over the tasks ``make_tasks()`` builds, each item scored by
    its task's ``metric_of(task)`` (the entry's metric is ``metric_name``, else the first task's);
    writes ``predictions.jsonl`` and returns the entry, with lm-eval's own per-task numbers in
    ``extra.lm_eval_results`` if ``aggregates``.

    Every finished log-likelihood is committed to lm-eval's SQLite request cache as it is
    computed, so a killed run resumes; the cache is keyed by request text only, so its file
    name carries the model identity."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    t0 = time.perf_counter()
    opts = ctx.options
    key = hashlib.sha1(json.dumps([ctx.model, ctx.adapter, opts.chat_template]).encode()).hexdigest()[:10]
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    log = logging.getLogger("lm_eval")
    level = log.level
    log.setLevel(logging.ERROR)  # local tasks trigger hub-oriented warnings that do not apply
    try:
        tasks = make_tasks()
        out = simple_evaluate(model=_load_lm(ctx), tasks=list(tasks.values()), num_fewshot=opts.num_fewshot,
                              limit=ctx.limit, bootstrap_iters=0, log_samples=True,
                              apply_chat_template=opts.chat_template, fewshot_as_multiturn=opts.chat_template,
                              use_cache=str(ctx.out_dir / f"lm_eval_cache_{key}"),
                              fewshot_random_seed=FEWSHOT_SEED,
                              # The tasks are built; a manager over this folder only spares lm-eval
                              # indexing its thousands of built-in task files.
                              task_manager=TaskManager(include_path=str(TASK_DIR), include_defaults=False))
    finally:
        log.setLevel(level)
    preds = [_prediction(tasks[t], s, metric_of(tasks[t]), _item_id(t, s)) for t in tasks for s in out["samples"][t]]
    metrics = {m: sum(p[m] for p in preds) / len(preds) for m in ("acc", "acc_norm") if preds and m in preds[0]}
    shots = next(iter(tasks.values())).get_config("num_fewshot")
    pred_path = ctx.out_dir / "predictions.jsonl"
    pred_path.unlink(missing_ok=True)  # rewritten whole: lm-eval scores items only at the end
    with JsonlWriter(pred_path, fsync=False) as w:
        w.write_many(preds)
    extra = {"num_fewshot": shots, "metrics": metrics, "lm_eval_tasks": len(tasks), "fewshot_seed": FEWSHOT_SEED,
             "chat_template": opts.chat_template}
    metric_name = metric_name or metric_of(next(iter(tasks.values())))
    if aggregates:
        extra["lm_eval_results"] = {t: {k: v for k, v in r.items() if isinstance(v, (int, float))}
                                    for t, r in out["results"].items()}
    return {"benchmark": name, "metric": metric_name, **mean_ci([p["score"] for p in preds]), "extra": extra,
            "variant": ctx.variant or f"{shots}-shot", "generation": None,
            "wall_s": round(time.perf_counter() - t0, 2)}


BENCHMARKS = tuple(Benchmark(name, metric, variants=(), options=KnowledgeOptions, run=run) for name, metric in (
    ("mmlu", "acc"), ("truthfulqa", "mc2"), ("arc_easy", "acc_norm"), ("arc_challenge", "acc_norm"),
    ("hellaswag", "acc_norm"), ("winogrande", "acc")))


# ---------------------------------------------------------------- lm-eval tasks by name

PREFIX = "lm_eval:"
_TASK_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


@contextmanager
def _hub_off():
    """The hub switched off while lm-eval loads a task's data: sdft cannot reach it, and a hub
    task would otherwise fail only after datasets' ~25 s of retries."""
    import datasets.config
    import huggingface_hub.constants as hub

    saved = datasets.config.HF_HUB_OFFLINE, hub.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = hub.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, hub.HF_HUB_OFFLINE = saved


def load_named(task: str, data_dir: str | Path | None = None, limit: int | None = None) -> dict[str, Any]:
    """``{task_name: Task}`` of the lm-eval task, group or tag ``task``: ours from ``lmeval_tasks/``
    (as their benchmarks build them), any other from lm-eval's own table with the hub off, so
    only a task whose data is local (e.g. already in the datasets cache) loads."""
    ours = {t: b for b, (t, _) in TASKS.items()}
    if task in ours:
        return build_tasks(ours[task], data_dir, limit)
    from lm_eval.tasks import TaskManager

    from sdft.config import ConfigError
    from sdft.errors import DataError

    manager = TaskManager(include_path=str(TASK_DIR), metadata={"data_dir": str(data_dir or ""), "limit": limit})
    try:
        with _hub_off():
            return manager.load(task)["tasks"]
    except KeyError:
        raise ConfigError(f"{PREFIX}{task}: lm-eval has no task, group or tag {task!r}") from None
    except Exception as e:  # datasets raises ConnectionError offline, others for missing files
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise DataError(f"{PREFIX}{task}: lm-eval could not load its data ({first}). Its dataset comes from "
                        "the Hugging Face hub, which is not reachable here: only tasks whose data is local run "
                        f"(ours: {', '.join(ours)}; or a dataset already in the datasets cache)") from None


def run_named(bench: Benchmark, ctx: EvalContext) -> dict:
    """Run ``lm_eval:TASK``; each item's score is its task's first metric (acc_norm for our ARC
    and HellaSwag, as their benchmarks), lm-eval's own aggregates go to ``extra``."""
    task = bench.name.removeprefix(PREFIX)
    ours = {t: b for b, (t, _) in TASKS.items()}
    own_metric = {b.name: b.metric for b in BENCHMARKS}.get(ours.get(task, ""))

    def metric_of(t) -> str:
        if own_metric:
            return "acc_norm" if own_metric == "acc_norm" else "acc"
        return next(iter(t.aggregation()))

    return _evaluate(bench.name, ctx, lambda: load_named(task, ctx.data_dir, ctx.limit), own_metric, metric_of,
                     aggregates=True)


@lru_cache(maxsize=64)
def named(name: str) -> Benchmark:
    """The Benchmark ``lm_eval:TASK`` (a name rule, not a table entry: any task lm-eval can load)."""
    from sdft.config import ConfigError

    task = name.removeprefix(PREFIX)
    if not name.startswith(PREFIX) or not _TASK_NAME.fullmatch(task):
        raise ConfigError(f"{name!r}: expected lm_eval:TASK with an lm-eval task, group or tag name")
    return Benchmark(name, "lm_eval", variants=(), options=KnowledgeOptions, run=run_named)
