"""General-knowledge benchmarks through lm-evaluation-harness, on the local data files.

``mmlu``, ``truthfulqa`` (MC2), ``arc_easy``, ``arc_challenge``, ``hellaswag``, ``winogrande`` are
scored by ``lm_eval`` itself (log-likelihood of each choice, its metrics, its few-shot
machinery). What this module adds is the data: the task configs in ``lmeval_tasks/*.yaml``
mirror lm-eval's standard definitions (prompt, choices, target, metric) but take their
documents from :func:`sdft.data.tasks.load_task` instead of the hub, which is unreachable here.

Defaults follow the Open LLM Leaderboard (v1), as the SDFT paper does: MMLU 5-shot, ARC
25-shot, HellaSwag 10-shot, TruthfulQA 0-shot, WinoGrande 5-shot; few-shot examples are drawn
with lm-eval's default seed (1234). The headline metric is acc_norm for ARC and HellaSwag, the
MC2 probability mass for TruthfulQA, acc otherwise; every lm-eval metric is kept in ``extra``.

Differences from the hub versions, all forced by the local files: HellaSwag has no train
split, so its few-shot examples come from validation (the scored item excluded), and its
contexts lose the ``ctx_a``/``ctx_b`` boundary, so lm-eval's capitalization of ``ctx_b`` is
approximated (a lower-case start after the last ``". "`` is capitalized); WinoGrande's few-shot
pool is train_xs (upstream: train_xl) and it is scored on dev; ARC's pool is train, as upstream.

Resumable through lm-eval's own request cache (``lm_eval_cache_<model key>.db`` in the benchmark
folder, one committed SQLite row per log-likelihood): a re-run after a kill recomputes only
what is missing. ``predictions.jsonl`` (with each choice's log-likelihood) is written at the end.

``limit`` keeps the first N items (lm-eval's rule); for MMLU it keeps N questions spread
round-robin over the subjects in alphabetical order (lm-eval would take N per subject).

Options (:class:`KnowledgeOptions`): ``num_fewshot`` (EvalConfig's field of that name sets it for
all six), ``batch_size``, ``chat_template``.

    sdft eval --benchmarks arc_easy,mmlu --limit 50   # via the evaluation command
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

from sdft.data.records import Example
from sdft.evaluate.benchmark import Benchmark
from sdft.evaluate.context import EvalContext
from sdft.evaluate.stats import bootstrap_ci
from sdft.runs import JsonlWriter

TASK_DIR = Path(__file__).resolve().parent / "lmeval_tasks"
FEWSHOT_SEED = 1234  # lm-eval's default fewshot_random_seed, so contexts match a stock run


@dataclass(frozen=True)
class KnowledgeOptions:
    """Options of the lm-eval benchmarks.

    num_fewshot: shots (default: the Open LLM Leaderboard's per task; a 0-shot task stays 0-shot)
    batch_size: log-likelihood batch (4: lm-eval's log-softmax over the whole vocabulary makes big CPU batches memory-bound)
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


# benchmark -> (task YAML, sdft data task, Example -> lm-eval doc, headline metric)
TASKS: dict[str, tuple[str, str, Callable[[Example], dict], str]] = {
    "mmlu": ("mmlu.yaml", "mmlu", _mmlu_doc, "acc"),
    "truthfulqa": ("truthfulqa_mc2.yaml", "truthfulqa", _truthfulqa_doc, "acc"),
    "arc_easy": ("arc_easy.yaml", "arc_easy", _arc_doc, "acc_norm"),
    "arc_challenge": ("arc_challenge.yaml", "arc_challenge", _arc_doc, "acc_norm"),
    "hellaswag": ("hellaswag.yaml", "hellaswag", _hellaswag_doc, "acc_norm"),
    "winogrande": ("winogrande.yaml", "winogrande", _winogrande_doc, "acc"),
}
_SPLIT_KEYS = ("training_split", "validation_split", "test_split", "fewshot_split")


def task_config(benchmark: str) -> dict[str, Any]:
    """The lm-eval config dict of a benchmark (``!function`` tags resolved), without data."""
    from lm_eval.tasks._yaml_loader import load_yaml

    if benchmark not in TASKS:
        from sdft.config import ConfigError

        raise ConfigError(f"unknown knowledge benchmark {benchmark!r}; choose from {', '.join(TASKS)}")
    return load_yaml(TASK_DIR / TASKS[benchmark][0])


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


def build_tasks(benchmark: str, data_dir: str | Path | None = None, limit: int | None = None,
                num_fewshot: int | None = None) -> dict[str, Any]:
    """``{task_name: lm_eval ConfigurableTask}`` with documents from the local files (MMLU: one
    task per subject that has items left after ``limit``)."""
    import datasets
    from lm_eval.api.task import ConfigurableTask

    from sdft.data.tasks import load_task

    base = task_config(benchmark)
    _, data_task, to_doc, _ = TASKS[benchmark]
    splits = {base[k] for k in _SPLIT_KEYS if base.get(k)}
    docs = {s: [to_doc(ex) for ex in load_task(data_task, s, data_dir)] for s in splits}
    if benchmark != "mmlu":
        per_task = {base["task"]: docs}
    else:  # one lm-eval task per subject, as upstream: its own description and dev examples
        per_task = {}
        for d in _spread(docs["test"], "subject", limit):
            name = f"sdft_mmlu_{d['subject']}"
            if name not in per_task:
                per_task[name] = {"test": [], "dev": [x for x in docs["dev"] if x["subject"] == d["subject"]]}
            per_task[name]["test"].append(d)

    tasks = {}
    for name, split_docs in per_task.items():
        dataset = datasets.DatasetDict({s: datasets.Dataset.from_list(d) for s, d in split_docs.items()})
        cfg = {**base, "task": name, "custom_dataset": partial(lambda ds, **_: ds, dataset)}
        task = ConfigurableTask(config=cfg)
        shots = base.get("num_fewshot") or 0
        # As in lm-eval, a task defined 0-shot (TruthfulQA: its preamble is the fixed context)
        # ignores an override.
        task.set_config(key="num_fewshot", value=shots if num_fewshot is None or shots == 0 else num_fewshot)
        task.set_fewshot_seed(seed=FEWSHOT_SEED)
        tasks[name] = task
    return tasks


def _load_lm(ctx: EvalContext, batch_size: int, chat_template: bool):
    """HFLM over the model (+ adapter), wrapped in lm-eval's request cache so a killed run
    resumes: every finished log-likelihood is committed to SQLite as it is computed."""
    from lm_eval.api.model import CachingLM
    from lm_eval.models.huggingface import HFLM

    from sdft import models

    # A PEFT adapter is merged: the same weights, and HFLM then sees a plain PreTrainedModel.
    model, tok = models.load(ctx.model, adapter=ctx.adapter, merge_adapter=True, dtype=ctx.dtype)
    lm = HFLM(pretrained=model, tokenizer=tok, batch_size=batch_size)
    # The cache is keyed by request text only, so its file name carries the model identity.
    key = hashlib.sha1(json.dumps([ctx.model, ctx.adapter, chat_template]).encode()).hexdigest()[:10]
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    return CachingLM(lm, str(ctx.out_dir / f"lm_eval_cache_{key}.db"))


def _prediction(task, sample: dict, metric: str) -> dict:
    doc = sample["doc"]
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
    return {"id": doc["id"], "prompt": sample["arguments"][0][0], "predict": choices[pred],
            "label": gold_text, "score": float(sample[metric]), "choices": choices, "loglik": lls,
            **{m: float(sample[m]) for m in ("acc", "acc_norm") if m in sample}}


def evaluate(benchmark: str, lm, data_dir: str | Path | None = None, limit: int | None = None,
             num_fewshot: int | None = None, apply_chat_template: bool = False) -> tuple[dict, list[dict]]:
    """Run one benchmark with an lm-eval ``LM``; returns (summary, per-item predictions)."""
    from lm_eval.evaluator import evaluate as lm_evaluate

    metric = TASKS[benchmark][3]
    log = logging.getLogger("lm_eval")
    level = log.level
    log.setLevel(logging.ERROR)  # building local tasks triggers hub-oriented warnings that do not apply
    try:
        tasks = build_tasks(benchmark, data_dir, limit, num_fewshot)
    finally:
        log.setLevel(level)
    out = lm_evaluate(lm=lm, task_dict={"tasks": tasks, "groups": {}, "group_map": {}}, limit=limit,
                      bootstrap_iters=0, log_samples=True, apply_chat_template=apply_chat_template,
                      fewshot_as_multiturn=apply_chat_template)
    preds = [_prediction(tasks[name], s, metric) for name in tasks for s in out["samples"][name]]
    scores = [p["score"] for p in preds]
    metrics = {m: sum(p[m] for p in preds) / len(preds) for m in ("acc", "acc_norm") if preds and m in preds[0]}
    summary = {"metric": metric if benchmark != "truthfulqa" else "mc2",
               "score": sum(scores) / len(scores) if scores else math.nan, "n": len(scores),
               "ci95": list(bootstrap_ci(scores)),
               "extra": {"num_fewshot": next(iter(tasks.values())).get_config("num_fewshot"),
                         "metrics": metrics, "lm_eval_tasks": len(tasks), "fewshot_seed": FEWSHOT_SEED,
                         "chat_template": apply_chat_template}}
    return summary, preds


def run(bench: Benchmark, ctx: EvalContext) -> dict:
    t0 = time.perf_counter()
    opts = ctx.options
    lm = _load_lm(ctx, opts.batch_size, opts.chat_template)
    summary, preds = evaluate(bench.name, lm, ctx.data_dir, ctx.limit, opts.num_fewshot, opts.chat_template)
    pred_path = ctx.out_dir / "predictions.jsonl"
    pred_path.unlink(missing_ok=True)  # rewritten whole: lm-eval scores items only at the end
    with JsonlWriter(pred_path, fsync=False) as w:
        w.write_many(preds)
    return {"benchmark": bench.name, **summary, "variant": ctx.variant or f"{summary['extra']['num_fewshot']}-shot",
            "generation": None, "wall_s": round(time.perf_counter() - t0, 2)}


BENCHMARKS = tuple(Benchmark(name, "mc2" if name == "truthfulqa" else metric, variants=(), options=KnowledgeOptions,
                             run=run) for name, (_, _, _, metric) in TASKS.items())
