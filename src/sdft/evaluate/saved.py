"""Saved predictions files: re-score one without a model, publish them without their text,
read their per-item scores, and compare two results folders item by item.

A results folder (``sdft eval``'s ``--out``, see :mod:`sdft.evaluate.evaluator`) keeps each
benchmark's ``predictions.jsonl``; a published folder keeps ``scores.jsonl`` instead, the same
lines without their text (:func:`scores_only`). :func:`item_scores` reads either, by the one
rule for which lines are items, for ``sdft compare`` and the report.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

from sdft import evaluate as battery
from sdft.config import ConfigError
from sdft.evaluate.benchmark import Benchmark
from sdft.evaluate.context import EvalContext, bench_folder
from sdft.evaluate.stats import paired_difference
from sdft.locks import output_lock
from sdft.runs import read_jsonl, write_json


def _read_predictions(path: str | Path) -> list[dict]:
    """Our predictions.jsonl or LLaMA-Factory's generated_predictions.jsonl (no ids: line numbers).
    Every scorer reads ``predict`` and ``label`` as text (IFEval's label is a JSON string; null,
    as in older AdvBench files, is empty text), so another type is an error naming the line; so
    is an id given twice (which line's score is it?)."""
    from sdft.data.records import DataError

    path = Path(path)
    if path.is_dir():
        inside = next((p for p in (path / "predictions.jsonl", path / "generated_predictions.jsonl") if p.is_file()),
                      None)
        raise DataError(f"{path}: is a folder, not a predictions file"
                        + (f"; did you mean {inside}?" if inside else ""))
    if not path.is_file():
        raise DataError(f"{path}: no such predictions file")
    records, seen = [], {}
    for i, rec in enumerate(read_jsonl(path), 1):
        for key in ("predict", "label"):
            if key not in rec:
                raise DataError(f"{path}:{i}: a prediction needs `predict` and `label` fields")
            if rec[key] is not None and not isinstance(rec[key], str):
                raise DataError(f"{path}:{i}: field `{key}`: expected text, got {type(rec[key]).__name__} "
                                f"{str(rec[key])[:60]!r}")
        rec.setdefault("id", str(i - 1))
        if str(rec["id"]) in seen:
            raise DataError(f"{path}:{i}: id {rec['id']!r} is also on line {seen[str(rec['id'])]}; "
                            "each prediction needs its own id")
        seen[str(rec["id"])] = i
        records.append(rec)
    if not records:  # a score of nan over n=0 is no result: most likely the wrong file
        raise DataError(f"{path}: no predictions in the file (it is empty)")
    return records


def score_file(benchmark: str, path: str | Path, options: dict | None = None, data_dir: str | None = None,
               seed: int = 0, allow_code_execution: bool = False, progress: bool = True,
               write: bool = False) -> dict[str, Any]:
    """Score a predictions file; existing ``score`` fields are recomputed. ``options`` are the
    benchmark's own (as in ``EvalConfig.options``). No model is needed, except a judge that
    ``options`` asks for (``refusal_judge``): its verdicts are then written into the file (the
    other fields left as they were), so scoring it again judges nothing.

    ``write``: also write the recomputed per-item fields into the file, and the new ``extra``
    into the benchmark's entry of the folder's results.json (``<dir>/<benchmark>/predictions.jsonl``
    next to ``<dir>/results.json``), so files scored before a metric existed (the strict refusal
    rule) gain it. The score itself must come out as saved: a line or an entry whose score
    would change is a DataError, and nothing is written. The result then has ``written``: the file,
    the per-item fields it gained, the results.json updated (None without an entry) and its new
    ``extra`` keys.

    A file in an evaluation folder's layout is rewritten under that folder's lock: an evaluation
    appending to it meanwhile would lose the lines it wrote after the rewrite read the file."""
    rewrites = write or bool((options or {}).get("refusal_judge"))
    where = Path(path).resolve()  # `sdft score gsm8k predictions.jsonl --write` from inside the folder
    folder = where.parent.parent if rewrites and where.parent.name == benchmark else None
    with output_lock(folder, folder=True) if folder is not None else contextlib.nullcontext():
        return _score_file(benchmark, path, options, data_dir, seed, allow_code_execution, progress, write)


def _score_file(benchmark: str, path: str | Path, options: dict | None, data_dir: str | None, seed: int,
                allow_code_execution: bool, progress: bool, write: bool) -> dict[str, Any]:
    from sdft.data.tasks import data_dir as default_data_dir
    from sdft.evaluate.generative import rewrite, score_records, summarize

    bench = battery.get(benchmark)
    if not bench.scores_files:
        raise ConfigError(f"{benchmark} is not a generative benchmark; it cannot score a file")
    lines = _read_predictions(path)
    _check_labels(bench, path, lines)
    # scored as text: null is empty (the file keeps its null: _write_scores adds fields only)
    records = [{**{k: v for k, v in r.items() if k != "score"}, "predict": r["predict"] or "",
                "label": r["label"] or ""} for r in lines]
    # Only a batch scorer (humaneval's tests) reads the data folder, so only it needs one.
    ctx = EvalContext(model="", adapter=None, out_dir=Path(path).parent, get_generator=lambda: None,
                      data_dir=default_data_dir(data_dir) if bench.score_many else None, progress=progress,
                      options=bench.parse_options(options, {"allow_code_execution": allow_code_execution}))
    score_records(bench, records, ctx)
    if bench.judge is not None:
        before = [dict(r) for r in records]
        if bench.judge(records, ctx, Path(path)):
            for line, old, new in zip(lines, before, records):
                line.update({k: v for k, v in new.items() if old.get(k) != v})
            rewrite(Path(path), lines)
    res = {"benchmark": benchmark, "file": str(path), **summarize(bench, records, seed)}
    if res.get("n") == 0:  # nan over no item is no result: the lines are not what this benchmark counts
        from sdft.data.records import DataError

        raise DataError(f"{path}: no line counts toward {benchmark}'s {res.get('metric')} (n=0 after scoring); "
                        f"is it another benchmark's predictions?")
    if write:
        res["written"] = _write_scores(Path(path), lines, records, res)
    return res


def _check_labels(bench: Benchmark, path: str | Path, lines: list[dict]) -> None:
    """Every line's label must be one ``bench`` scores: a file of another benchmark's predictions
    would otherwise score (0.0 or nan) as if it were a result."""
    from sdft.data.records import DataError

    bad = [(i, why) for i, r in enumerate(lines, 1) if (why := bench.check_label(r["label"] or "")) is not None]
    if bad:
        i, why = bad[0]
        which = (f"no line has a {bench.name} label; is it another benchmark's predictions?" if len(bad) == len(lines)
                 else f"{len(bad)} of {len(lines)} lines have no {bench.name} label")
        raise DataError(f"{path}:{i}: field `label`: {why} ({which})")


def _results_beside(results_path: Path) -> dict[str, Any] | None:
    """The eval folder's results.json, or None where there is none; one that is not an sdft
    results file is an error before anything is written."""
    from sdft.data.records import DataError

    if not results_path.is_file():
        return None
    try:
        results = json.loads(results_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{results_path}: not a readable results file ({e}); not written") from None
    if not isinstance(results, dict) or not isinstance(results.get("benchmarks", {}), dict):
        raise DataError(f"{results_path}: not an sdft results file (expected an object with a "
                        "'benchmarks' object); not written")
    return results


def _write_scores(path: Path, lines: list[dict], records: list[dict], res: dict[str, Any]) -> dict[str, Any]:
    """:func:`score_file`'s ``write``: the per-item fields into ``path``, ``extra`` into results.json.
    Returns what was written: {"file", "fields_added", "results" (None: no entry), "extra_added"}."""
    from sdft.data.records import DataError
    from sdft.evaluate.generative import rewrite

    for i, (line, new) in enumerate(zip(lines, records), 1):
        if "score" in line and not (_number(line["score"]) and float(line["score"]) == float(new["score"])):
            raise DataError(f"{path}:{i}: score {line['score']!r} would become {new['score']}; not written")
    results_path = path.parent.parent / "results.json"
    results = _results_beside(results_path)
    entry = ((results or {}).get("benchmarks") or {}).get(res["benchmark"])
    if entry is not None and not isinstance(entry, dict):
        raise DataError(f"{results_path}: benchmarks.{res['benchmark']}: expected an object, got "
                        f"{type(entry).__name__}; not written")
    if entry is not None and not (_number(saved := entry.get("score", float("nan")))
                                  and abs(float(saved) - res["score"]) < 1e-12):
        raise DataError(f"{results_path}: {res['benchmark']} score {entry.get('score')!r} would become "
                        f"{res['score']}; not written")
    added = sorted({k for line, new in zip(lines, records) for k in new if k not in line})
    rewrite(path, [{**line, **{k: v for k, v in new.items() if k not in ("predict", "label")}}
                   for line, new in zip(lines, records)])
    written = {"file": str(path), "fields_added": added, "results": None, "extra_added": []}
    if entry is not None:
        written.update(results=str(results_path), extra_added=sorted(set(res["extra"]) - set(entry.get("extra") or {})))
        entry["extra"] = res["extra"]
        write_json(results_path, results)
    return written


SCORES_FILE = "scores.jsonl"
TEXT_FIELDS = ("prompt", "predict", "request", "error")  # what a published scores file never keeps
_TOKEN = re.compile(r"[\w:/.@+-]{0,80}")  # an id, a status, an instruction name: no spaces


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float)):
        return True
    if isinstance(value, str):
        return bool(_TOKEN.fullmatch(value))
    return isinstance(value, list) and all(_plain(v) for v in value)


def scores_only(records: list[dict]) -> list[dict]:
    """The lines of a predictions file without their text, for publishing (``scores.jsonl``):
    numbers, flags and short tokens (ids, statuses, IFEval's instruction names) stay, the prompt,
    answer, request and error go, and so does every other string with a space. ``label`` stays
    only when every line's is such a token (XSTest's safe/unsafe, HumanEval's task ids; not
    GSM8K's reference solutions), so the per-item rules of :func:`item_scores` read the file as
    they read the predictions."""
    labels = all(_plain(r.get("label", "")) and isinstance(r.get("label", ""), str) for r in records)
    return [{k: v for k, v in r.items() if k not in TEXT_FIELDS and (k != "label" or labels) and _plain(v)}
            for r in records]


def scored_lines_file(results_dir: str | Path, benchmark: str) -> Path | None:
    """The file a benchmark's per-item scores are read from: its predictions, else (a published
    folder) its :data:`SCORES_FILE`; None when neither exists."""
    folder = bench_folder(results_dir, benchmark)
    return next((p for p in (folder / "predictions.jsonl", folder / SCORES_FILE) if p.is_file()), None)


def item_scores(results_dir: str | Path, benchmark: str, label: str | None = None,
                field: str = "score") -> dict[str, float]:
    """Per-item scores of one benchmark in a results folder (per task for humaneval): the one rule
    for which lines an item score is read from, used by `sdft compare` and the report. ``label``:
    only the lines with that label (XSTest's ``unsafe`` prompts; a line without one counts as
    ``safe``) instead of the benchmark's own per-item selection; ``field``: the per-item field read
    (IFEval's ``prompt_loose``, its instruction counts ``inst_strict`` / ``inst_loose`` /
    ``inst_given``, ``refusal_strict``: the strict rule); lines without it, and lines not yet
    scored, are left out.
    Read from the predictions, or from a published folder's scores file (:func:`scores_only`)."""
    from sdft.data.records import DataError

    path = scored_lines_file(results_dir, benchmark)
    if path is None:
        raise DataError(f"{bench_folder(results_dir, benchmark) / 'predictions.jsonl'}: no predictions for "
                        f"{benchmark} in {results_dir}")
    records = list(read_jsonl(path))
    for i, r in enumerate(records, 1):
        if "id" not in r:
            raise DataError(f"{path}: record {i} has no `id`")
        if r.get("score") is not None and not _number(r["score"]):  # else dropped unseen, and n shrinks
            raise DataError(f"{path}:{i}: field `score`: expected a number, got {r['score']!r}")
    records = [r for r in records if _number(r.get("score"))]  # a line generated, not yet scored, is no item
    if label is not None:
        records = [r for r in records if (r.get("label") or "safe") == label]
    else:  # may add fields (IFEval's instruction counts), so `field` is looked for after it
        records = battery.get(benchmark).per_item(records)
    return {str(r["id"]): float(r[field]) for r in records if _number(r.get(field))}


def _number(x: Any) -> bool:
    return isinstance(x, (int, float))


def per_given(rows: list[list[float]], given: list[float]) -> list[list[float]]:
    """Counts over items (IFEval's instructions followed per prompt) as item scores whose mean is
    a ratio of sums: each divided by the mean of ``given`` (the instructions each prompt gives,
    the same for every model) over these items, so a row's mean is its followed over given."""
    scale = sum(given) / len(given) if given else 0.0
    return [[v / scale for v in row] for row in rows] if scale else rows


def compare_results(dir_a: str | Path, dir_b: str | Path, benchmark: str, seed: int = 0,
                    label: str | None = None, field: str = "score", per: str | None = None) -> dict[str, Any]:
    """Paired difference B - A on the items both folders scored, with a bootstrap CI (``label``,
    ``field``: as :func:`item_scores`; ``per``: the field of each item's count that ``field``
    counts out of, for a ratio of sums, see :func:`per_given`)."""
    a, b = item_scores(dir_a, benchmark, label, field), item_scores(dir_b, benchmark, label, field)
    shared = sorted(set(a) & set(b))
    sa, sb = [a[i] for i in shared], [b[i] for i in shared]
    if per is not None:  # counts: the ratio of sums over the shared items
        given = item_scores(dir_a, benchmark, label, per)
        sa, sb = per_given([sa, sb], [given[i] for i in shared])
    n = len(shared)
    return {"benchmark": benchmark, "label": label, "field": field, "a": str(dir_a), "b": str(dir_b), "n": n,
            "only_a": len(a) - n, "only_b": len(b) - n,
            "mean_a": sum(sa) / n if n else float("nan"), "mean_b": sum(sb) / n if n else float("nan"),
            **{k: v for k, v in paired_difference(sa, sb, seed=seed).items() if k != "n"}}
