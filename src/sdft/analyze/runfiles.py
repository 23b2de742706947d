"""Read a run folder written by ``sdft run``: the manifest and the files its models point to.

Tolerant by design: an optional part that is missing (no on-policy model, a benchmark not
evaluated for some model, no distillation report) reads as empty, so a report can be built from
a half-finished run. Malformed files are errors that name the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sdft.errors import DataError
from sdft.evaluate.context import bench_folder
from sdft.runs import read_jsonl


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from None


def read_json_opt(path: str | Path) -> Any:
    return read_json(path) if Path(path).is_file() else None


def read_results(path: str | Path) -> dict[str, Any]:
    """The ``benchmarks`` of a results.json ({} when there is none); an entry's ``score`` and
    ``ci95`` (and those of its ``extra`` metrics) must be numbers (null: none), else a DataError
    naming the file and the benchmark, not a TypeError deep in the report's tables."""
    res = read_json_opt(path)
    if res is None:
        return {}
    benchmarks = res.get("benchmarks") if isinstance(res, dict) else None
    if not isinstance(benchmarks or {}, dict):
        raise DataError(f"{path}: `benchmarks`: expected an object of benchmark entries")
    for name, entry in (benchmarks or {}).items():
        if not isinstance(entry, dict):
            raise DataError(f"{path}: benchmarks.{name}: expected an object, got {entry!r}")
        extra = entry.get("extra") or {}
        if not isinstance(extra, dict):
            raise DataError(f"{path}: benchmarks.{name}.extra: expected an object of metrics, got {extra!r}"[:300])
        for where, e in ((name, entry), *((f"{name}.extra.{k}", v) for k, v in extra.items() if isinstance(v, dict))):
            _check_numbers(path, where, e)
    return benchmarks or {}


def _number(x: Any) -> bool:
    return x is None or (isinstance(x, (int, float)) and not isinstance(x, bool))


def _check_numbers(path: str | Path, where: str, entry: dict[str, Any]) -> None:
    if not _number(entry.get("score")):
        raise DataError(f"{path}: benchmarks.{where}.score: expected a number, got {entry['score']!r}")
    ci = entry.get("ci95")
    if ci is not None and not (isinstance(ci, list) and len(ci) == 2 and all(map(_number, ci))):
        raise DataError(f"{path}: benchmarks.{where}.ci95: expected [low, high] numbers, got {ci!r}")


def load_run(run_dir: str | Path) -> dict[str, Any]:
    """{"dir", "name", "manifest", "models": [manifest entry + "results"]} for one run."""
    d = Path(run_dir)
    mpath = d / "manifest.json"
    if not mpath.is_file():
        raise DataError(f"{mpath}: no manifest.json; is {d} a run folder written by `sdft run`?")
    manifest = read_json(mpath)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("models", []), list):
        raise DataError(f"{mpath}: expected an object with a `models` list")
    models = []
    for i, m in enumerate(manifest.get("models") or []):
        if not isinstance(m, dict) or not m.get("label"):
            raise DataError(f"{mpath}: models[{i}]: each model needs a `label`")
        m = dict(m)
        m.setdefault("method", m["label"])
        m["results"] = read_results(d / m["eval_dir"] / "results.json") if m.get("eval_dir") else {}
        models.append(m)
    return {"dir": d, "name": manifest.get("name") or d.name, "manifest": manifest, "models": models}


def find_model(run: dict[str, Any], method: str) -> dict[str, Any] | None:
    return next((m for m in run["models"] if m["method"] == method), None)


def path_in(run: dict[str, Any], rel: str | None) -> Path | None:
    """A manifest path, relative to the run folder unless absolute."""
    if not rel:
        return None
    p = Path(rel)
    return p if p.is_absolute() else run["dir"] / p


def predictions(eval_dir: str | Path | None, benchmark: str) -> dict[str, dict[str, Any]] | None:
    """Per-item predictions of one benchmark keyed by id, or None when not saved."""
    if eval_dir is None:
        return None
    path = bench_folder(eval_dir, benchmark) / "predictions.jsonl"
    if not path.is_file():
        return None
    out: dict[str, dict[str, Any]] = {}
    for i, rec in enumerate(read_jsonl(path), 1):
        if "id" not in rec:
            raise DataError(f"{path}: record {i} has no `id`")
        out[str(rec["id"])] = rec
    return out


def model_predictions(run: dict[str, Any], model: dict[str, Any], benchmark: str):
    return predictions(path_in(run, model.get("eval_dir")), benchmark)


def distill_reports(run: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per distinct distillation folder: {"dir", "labels", "report"}."""
    seen: dict[str, dict[str, Any]] = {}
    for m in run["models"]:
        rel = m.get("distill_dir")
        if not rel:
            continue
        if rel not in seen:
            rep = read_json_opt(path_in(run, rel) / "distill_report.json")
            seen[rel] = {"dir": rel, "labels": [], "report": rep or {}, "template": m.get("template")}
        seen[rel]["labels"].append(m["label"])
    return list(seen.values())


def train_summaries(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for m in run["models"]:
        p = path_in(run, m.get("train_dir"))
        summary = read_json_opt(p / "train_summary.json") if p else None
        if summary:
            out[m["label"]] = summary
    return out


IDENTITY_FILE = "identity.json"  # in a train folder: scripts/kl_identity.py's check of a retrained fine-tune


def retrained(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{label: the identity check's record} of the fine-tunes whose ``train_dir`` now holds weights
    trained again after their evaluation that are *not* the evaluated ones (a retrained sibling,
    GSM8K v2 PLAN amendment 6). ``scripts/kl_identity.py`` writes the record (``same_weights``,
    ``identical`` of ``items``, ``max_rel_diff``, ``weights_finished``: the retraining's ``.done``
    time, ``compared_with``: the KL measured with the evaluated weights). Their evaluations are the
    evaluated weights'; what was read from the weights since is the sibling's (:func:`kl_from_sibling`)."""
    out = {}
    for m in run["models"]:
        p = path_in(run, m.get("train_dir"))
        rec = read_json_opt(p / IDENTITY_FILE) if p else None
        if isinstance(rec, dict) and rec.get("same_weights") is False:
            out[m["label"]] = rec
    return out


def kl_from_sibling(run: dict[str, Any], record: dict[str, Any] | None, kl_dir: str | None) -> bool:
    """Whether a retrained sibling's KL result ``kl_dir`` (a manifest path) was measured on the
    sibling's weights: any but the one its identity check compared with, the one measured with the
    evaluated weights (paths, not file times, which a git checkout does not keep)."""
    if record is None or not kl_dir:
        return False
    compared = path_in(run, record.get("compared_with"))
    return compared is None or path_in(run, kl_dir).resolve() != compared.resolve()


def load_analysis(run: dict[str, Any]) -> dict[str, Any] | None:
    return read_json_opt(run["dir"] / "analysis" / "analysis.json")


def benchmarks_of(models: list[dict[str, Any]]) -> list[str]:
    """Benchmarks any model has, in first-seen order."""
    seen: dict[str, None] = {}
    for m in models:
        for b in m.get("results") or {}:
            seen.setdefault(b, None)
    return list(seen)


def train_logs(run: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """{label: train_log.jsonl records with a step and a loss, one per step} of the finished
    fine-tunes (``train_summary.json`` is written when training ends: an evaluated fine-tune being
    trained again after a machine change has a partial log meanwhile, which is not its own); a step
    logged twice (a resumed fine-tune redoes the steps after its checkpoint) keeps the later record."""
    out = {}
    for m in run["models"]:
        p = path_in(run, m.get("train_dir"))
        log = p / "train_log.jsonl" if p else None
        if log is None or not log.is_file() or not (p / "train_summary.json").is_file():
            continue
        by_step = {r["step"]: r for r in read_jsonl(log)
                   if isinstance(r.get("step"), (int, float)) and isinstance(r.get("loss"), (int, float))}
        if by_step:
            out[m["label"]] = [by_step[s] for s in sorted(by_step)]
    return out


def trajectory(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifest's ``trajectory`` (dev-slice evaluations along training), each entry with the
    ``results`` of its eval folder; entries whose results are missing are left out."""
    out, seen = [], set()
    for t in run["manifest"].get("trajectory") or []:
        if not isinstance(t, dict) or not t.get("eval_dir") or (t.get("label"), t.get("step")) in seen:
            continue
        res = read_results(path_in(run, t["eval_dir"]) / "results.json")
        if res:
            seen.add((t.get("label"), t.get("step")))
            out.append({**t, "results": res})
    return out
