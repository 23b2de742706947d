"""The files distillation leaves behind, and reading them back.

``distilled.jsonl`` holds one record per input example: the fields that rebuild the training
:class:`Example` (``id``, ``task``, ``system``, ``history``, ``instruction``, ``input``,
``response``) plus what selection saw (``original``, ``rewrite``, ``kept``, ``reason``,
``check``) and the distillation ``prompt``. :func:`load_distilled` is what the trainer calls.

Exports (``EXPORTS``, the ``export`` setting): ``alpaca``, the authors' ``distilled_<name>.json``;
``llamafactory``, that file plus a ``dataset_info.json`` entry ``sdft_<name>`` that LLaMA-Factory
(and ``sdft --data OUT/dataset_info.json#sdft_<name>``) reads; ``hf``, a datasets folder
``OUT/hf/`` (``data/train-00000-of-00001.parquet``, a README.md dataset card, and a
``dataset_info.json`` entry pointing at the hub repo) that ``push_to_hub`` uploads as is.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from statistics import mean
from typing import Any, Iterable

from sdft.data.records import Example
from sdft.errors import DataError
from sdft.runs import JsonlWriter, provenance, read_jsonl, write_json, write_text


def distilled_record(ex: Example, rewrite: str | None, reason: str, check: str,
                     prompt: str = "") -> dict[str, Any]:
    kept = reason == "ok"
    return {
        "id": ex.id, "task": ex.task, "system": ex.system,
        "history": [list(t) for t in ex.history],
        "instruction": ex.instruction, "input": ex.input,
        "response": rewrite if kept else ex.response,
        "original": ex.response, "rewrite": rewrite, "kept": kept, "reason": reason, "check": check,
        "prompt": prompt, "meta": ex.meta,
    }


def write_distilled(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Rewrite the whole file atomically: it is derived data, recomputed on every run."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.unlink(missing_ok=True)
    with JsonlWriter(tmp, fsync=False) as w:
        w.write_many(records)
    os.replace(tmp, path)


_REQUIRED = ("id", "instruction", "response")


def load_distilled(path: str | Path) -> list[Example]:
    """Training examples from ``distilled.jsonl``: ``response`` is the selected answer;
    ``meta`` keeps the source meta plus ``original``, ``rewrite``, ``kept`` and ``reason``."""
    path = Path(path)
    if path.is_dir():
        path = path / "distilled.jsonl"
    if not path.exists():
        raise DataError(f"{path}: no such distilled file (run `sdft distill` first)")
    out = []
    for n, rec in enumerate(read_jsonl(path), 1):
        for key in _REQUIRED:
            if not isinstance(rec.get(key), str):
                raise DataError(f"{path}: record {rec.get('id', f'#{n}')}: missing or non-string `{key}`")
        meta = dict(rec.get("meta") or {})
        meta.update({k: rec.get(k) for k in ("original", "rewrite", "kept", "reason")})
        out.append(Example(id=rec["id"], instruction=rec["instruction"], response=rec["response"],
                           input=rec.get("input") or "", system=rec.get("system"),
                           history=[tuple(t) for t in rec.get("history") or []],
                           task=rec.get("task"), meta=meta))
    return out


HF_DIR = "hf"
PARQUET = "data/train-00000-of-00001.parquet"


def _name(data_spec: str) -> str:
    return Path(data_spec.removeprefix("hf:").split(":")[0].split("#")[0]).stem or "data"


def export_alpaca(records: list[dict[str, Any]], out: Path, data_spec: str, with_system: bool = False,
                  **_: Any) -> Path:
    """The authors' format: a JSON array of ``instruction``/``input``/``output`` (+ ``history``
    when any record has earlier turns, + ``system`` with ``with_system`` when any has one),
    named ``distilled_<name>.json``."""
    with_history = any(r["history"] for r in records)
    with_system = with_system and any(r.get("system") for r in records)
    rows = []
    for r in records:
        row = {"instruction": r["instruction"], "input": r["input"], "output": r["response"]}
        if with_history:
            row["history"] = r["history"]
        if with_system:
            row["system"] = r.get("system") or ""
        rows.append(row)
    path = out / f"distilled_{_name(data_spec)}.json"
    write_json(path, rows)
    return path


def _lf_columns(records: list[dict[str, Any]]) -> dict[str, str]:
    cols = {"prompt": "instruction", "query": "input", "response": "output"}
    if any(r["history"] for r in records):
        cols["history"] = "history"
    if any(r.get("system") for r in records):
        cols["system"] = "system"
    return cols


def export_llamafactory(records: list[dict[str, Any]], out: Path, data_spec: str, **_: Any) -> Path:
    """distilled_<name>.json plus OUT/dataset_info.json with its entry ``sdft_<name>`` (merged
    into an existing registry file there)."""
    data = export_alpaca(records, out, data_spec, with_system=True)
    info_path = out / "dataset_info.json"
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.exists() else {}
    info[f"sdft_{_name(data_spec)}"] = {"file_name": data.name, "formatting": "alpaca", "columns": _lf_columns(records)}
    write_json(info_path, info)
    return info_path


def export_hf(records: list[dict[str, Any]], out: Path, data_spec: str, report: dict[str, Any] | None = None,
              repo_id: str | None = None, **_: Any) -> Path:
    """OUT/hf/: the selected responses as parquet (one ``train`` split), the dataset card and a
    LLaMA-Factory entry for the hub copy. Columns: id, task, system, history, instruction,
    input, output (the training response), original, kept, reason."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sdft import hub

    schema = pa.schema([("id", pa.string()), ("task", pa.string()), ("system", pa.string()),
                        ("history", pa.list_(pa.list_(pa.string()))), ("instruction", pa.string()),
                        ("input", pa.string()), ("output", pa.string()), ("original", pa.string()),
                        ("kept", pa.bool_()), ("reason", pa.string())])
    rows = [{"id": r["id"], "task": r.get("task"), "system": r.get("system"), "history": r["history"],
             "instruction": r["instruction"], "input": r["input"], "output": r["response"],
             "original": r["original"], "kept": r["kept"], "reason": r["reason"]} for r in records]
    folder = out / HF_DIR
    (folder / PARQUET).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / PARQUET)
    entry = f"sdft_{_name(data_spec)}"
    lf = {"formatting": "alpaca", "columns": _lf_columns(records)}
    write_json(folder / "dataset_info.json", {entry: {"hf_hub_url": repo_id, **lf} if repo_id
                                              else {"file_name": PARQUET, **lf}})
    write_text(folder / "README.md", hub.dataset_card(report or {}, repo_id=repo_id, name=_name(data_spec),
                                                      entry=entry))
    return folder


EXPORTS = {"alpaca": export_alpaca, "llamafactory": export_llamafactory, "hf": export_hf}


def _mean_len(texts: list[str]) -> dict[str, float]:
    if not texts:
        return {"chars": 0.0, "words": 0.0}
    return {"chars": round(mean(len(t) for t in texts), 1), "words": round(mean(len(t.split()) for t in texts), 1)}


def build_report(records: list[dict[str, Any]], rewrites: dict[str, dict], gen_stats: dict[str, Any],
                 **extra: Any) -> dict[str, Any]:
    reasons: dict[str, int] = {}
    for r in records:
        reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    attempted = [r for r in records if r["reason"] != "not_mixed"]
    kept = sum(r["kept"] for r in records)
    used = [r["id"] for r in records]
    tokens = sum(int(rewrites[i].get("num_tokens") or 0) for i in used if i in rewrites)
    return {
        "total": len(records),
        "distilled": len(attempted),
        "kept": kept,
        "fallback": len(records) - kept,
        "kept_rate": round(kept / len(attempted), 4) if attempted else 0.0,
        "reasons": dict(sorted(reasons.items())),
        "checks": sorted({r["check"] for r in records}),
        "mean_length": {
            "original": _mean_len([r["original"] for r in records]),
            "rewrite": _mean_len([r["rewrite"] for r in attempted if r["rewrite"] is not None]),
            "response": _mean_len([r["response"] for r in records]),
        },
        "generation": {**gen_stats, "rewrite_tokens_total": tokens},
        **extra,
        "provenance": provenance(),
    }


def format_summary(report: dict[str, Any]) -> str:
    """A few lines for the terminal."""
    lines = [f"distilled {report['distilled']} of {report['total']} examples; "
             f"kept {report['kept']} rewrites ({report['kept_rate']:.1%} of distilled), "
             f"{report['fallback']} use the original"]
    lines.append("  reasons: " + ", ".join(f"{k}={v}" for k, v in report["reasons"].items()))
    ml = report["mean_length"]
    lines.append(f"  mean words: original {ml['original']['words']}, rewrite {ml['rewrite']['words']}, "
                 f"training response {ml['response']['words']}")
    g = report["generation"]
    if g.get("generated"):
        lines.append(f"  generation: {g['generated']} rewrites, {g['tokens']} tokens in {g['wall_s']:.1f} s "
                     f"({g['tokens_per_s']} tok/s); {g.get('truncated', 0)} hit the token limit")
    else:
        lines.append(f"  generation: nothing new (all {g.get('skipped', 0)} rewrites already in rewrites.jsonl)")
    if report.get("export"):
        lines.append(f"  exported: {report['export']}")
    return "\n".join(lines)
