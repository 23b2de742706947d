"""The readers of the task table (:mod:`sdft.data.tasks`): one per dataset format of the data
folder, each ``(path, task, split) -> list[Example]``, checking what its scorers rely on and
naming the file, record and field of anything malformed.

Multiple-choice benchmarks keep the question in ``instruction``, the gold answer's text in
``response`` and everything a scorer needs in ``meta`` (field names in each reader below).
The data folder's README lists the sources and the quirks handled here (GSM8K's
``The answer is N`` line, the TruthfulQA BOM and question order, ARC's numeric labels).
"""

from __future__ import annotations

import bz2
import csv
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

from sdft.data import files, loaders
from sdft.data.records import Example
from sdft.errors import DataError


def read_instruct(path: Path, task: str, split: str, columns: dict | None = None, ids_of: str | None = None):
    # ids_of: the distilled reference files take the ids of the rows they rewrite.
    return loaders.load_file(path, "alpaca", columns, id_prefix=f"{ids_of or task}/{split}", task=task)


FINAL_ANSWER = re.compile(r"The answer is\s+(-?\d[\d,]*(?:\.\d+)?)")


def read_math(path: Path, task: str, split: str, columns: dict | None = None):
    """Adds ``meta['answer']``: the final number of the ``The answer is N`` sentence, commas removed."""
    key = (columns or {}).get("response", "output")
    examples = read_instruct(path, task, split, columns)
    for i, ex in enumerate(examples):
        found = FINAL_ANSWER.findall(ex.response)
        if not found:
            raise DataError(f"{path}: record {i}: field {key!r}: no 'The answer is N' sentence")
        ex.meta["answer"] = found[-1].replace(",", "")
    return examples


def read_humaneval(path: Path, task: str, split: str):
    out = []
    for where, rec in files.iter_records(path):
        for key in ("task_id", "prompt", "test", "entry_point", "canonical_solution"):
            if not isinstance(rec.get(key), str):
                raise DataError(f"{where}: field {key!r}: missing or not a string")
        out.append(Example(id=rec["task_id"], instruction=rec["prompt"], response=rec["canonical_solution"],
                           task=task, meta={k: rec[k] for k in ("task_id", "prompt", "test", "entry_point",
                                                                 "canonical_solution")}))
    return out


def read_xstest(path: Path, task: str, split: str):
    """meta: label (``safe``: should be answered; ``unsafe``: a contrast prompt to refuse), type, focus, note."""
    out = []
    for where, rec in files.iter_records(path):
        if rec.get("label") not in ("safe", "unsafe"):
            raise DataError(f"{where}: field 'label': expected 'safe' or 'unsafe', got {rec.get('label')!r}")
        if not (rec.get("prompt") or "").strip():
            raise DataError(f"{where}: field 'prompt' is empty")
        out.append(Example(id=f"{task}/{split}/{rec['id']}", instruction=rec["prompt"], task=task,
                           meta={k: rec.get(k) or "" for k in ("label", "type", "focus", "note")}))
    return out


def ifeval_fields_problem(ids: Any, kwargs: Any) -> tuple[str, str] | None:
    """(field, what is wrong) when an IFEval item's instruction ids are not a non-empty list of
    strings or its kwargs are not one object per instruction; None when they pair up. The data
    reader and the scorer of saved labels (:mod:`sdft.evaluate.ifeval`) check with it."""
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        return "instruction_id_list", f"expected a non-empty list of ids, got {ids!r}"
    if not isinstance(kwargs, list) or len(kwargs) != len(ids) or not all(isinstance(k, dict) for k in kwargs):
        return "kwargs", f"expected one object per instruction ({len(ids)}), got {kwargs!r}"
    return None


def read_ifeval(path: Path, task: str, split: str):
    """IFEval (Zhou et al. 2023): the prompt is the user turn; there is no reference answer.

    Ids are ``ifeval/test/<key>``. meta: key, instruction_id_list, kwargs (one dict per
    instruction, as in the file). A record whose kwargs do not pair up with its instructions is
    an error here: without its arguments a checker picks random ones and silently scores
    something else (the data folder's README)."""
    out = []
    for where, rec in files.iter_records(path):
        ids, kwargs = rec.get("instruction_id_list"), rec.get("kwargs")
        if not (rec.get("prompt") or "").strip():
            raise DataError(f"{where}: field 'prompt' is empty")
        if (bad := ifeval_fields_problem(ids, kwargs)) is not None:
            raise DataError(f"{where}: field '{bad[0]}': {bad[1]}"[:300])
        if "key" not in rec:
            raise DataError(f"{where}: field 'key' is missing")
        out.append(Example(id=f"{task}/{split}/{rec['key']}", instruction=rec["prompt"], task=task,
                           meta={"key": rec["key"], "instruction_id_list": ids, "kwargs": kwargs}))
    return out


def read_mmlu(path: Path, task: str, split: str):
    """meta: subject, subject_name, category, choices (4 texts), answer (letter A-D)."""
    mapping = json.loads((path.parent / "mapping.json").read_text(encoding="utf-8"))
    out = []
    with zipfile.ZipFile(path) as z:
        names = sorted(n for n in z.namelist() if n.startswith(f"data/{split}/") and n.endswith(".csv"))
        for name in names:
            subject = Path(name).stem.removesuffix(f"_{split}")
            info = mapping.get(subject) or {}
            with z.open(name) as raw:
                rows = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
                for i, row in enumerate(rows):
                    where = f"{path}:{name}: row {i}"
                    if len(row) != 6 or row[5] not in ("A", "B", "C", "D"):
                        raise DataError(f"{where}: expected question, 4 choices and an answer letter A-D")
                    out.append(Example(
                        id=f"{task}/{split}/{subject}/{i}", instruction=row[0], response=row[1 + "ABCD".index(row[5])],
                        task=task, meta={"subject": subject, "subject_name": info.get("name", subject),
                                         "category": info.get("category"), "choices": row[1:5], "answer": row[5]}))
    if not names:
        raise DataError(f"{path}: no data/{split}/*.csv inside the zip")
    return out


def read_truthfulqa(path: Path, task: str, split: str):
    """CSV rows joined to mc_task.json by question text (the two files order questions differently).

    meta: type, category, best_answer, correct_answers, incorrect_answers, source, and
    mc1_targets / mc2_targets as [text, label] lists in the file's order (true answers first).
    """
    mc_path = path.parent / "mc_task.json"
    mc = {r["question"].strip(): r for _, r in files.iter_records(mc_path)}
    out = []
    for i, (where, row) in enumerate(files.iter_records(path)):
        q = row.get("Question", "").strip()
        if q not in mc:
            raise DataError(f"{where}: field 'Question': {q[:60]!r} has no entry in {mc_path}")
        split_list = lambda s: [a.strip() for a in s.split(";") if a.strip()]  # noqa: E731
        out.append(Example(
            id=f"{task}/{split}/{i}", instruction=q, response=row["Best Answer"], task=task,
            meta={"type": row["Type"], "category": row["Category"], "best_answer": row["Best Answer"],
                  "correct_answers": split_list(row["Correct Answers"]),
                  "incorrect_answers": split_list(row["Incorrect Answers"]), "source": row["Source"],
                  "mc1_targets": [[t, int(v)] for t, v in mc[q]["mc1_targets"].items()],
                  "mc2_targets": [[t, int(v)] for t, v in mc[q]["mc2_targets"].items()]}))
    return out


def read_arc(path: Path, task: str, split: str):
    """meta: choices (texts), labels (A-E or 1-5 as in the file), answer_key, answer (index)."""
    out = []
    for where, rec in files.iter_records(path):
        q = rec.get("question") or {}
        choices = q.get("choices") or []
        labels = [c.get("label") for c in choices]
        if rec.get("answerKey") not in labels:
            raise DataError(f"{where}: field 'answerKey': {rec.get('answerKey')!r} is not one of the labels {labels}")
        idx = labels.index(rec["answerKey"])
        out.append(Example(id=str(rec["id"]), instruction=q["stem"], response=choices[idx]["text"], task=task,
                           meta={"choices": [c["text"] for c in choices], "labels": labels,
                                 "answer_key": rec["answerKey"], "answer": idx}))
    return out


def read_hellaswag(path: Path, task: str, split: str):
    """Six lines per item: context, gold index, four endings. meta: ctx, endings, label (int)."""
    with bz2.open(path, "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) % 6:
        raise DataError(f"{path}: {len(lines)} lines is not a multiple of 6 (context, label, 4 endings)")
    out = []
    for n in range(len(lines) // 6):
        ctx, label, *endings = lines[6 * n:6 * n + 6]
        if label not in ("0", "1", "2", "3"):
            raise DataError(f"{path}:{6 * n + 2}: field 'label': expected 0-3, got {label!r}")
        out.append(Example(id=f"{task}/{split}/{n}", instruction=ctx, response=endings[int(label)], task=task,
                           meta={"ctx": ctx, "endings": endings, "label": int(label)}))
    return out


def read_winogrande(path: Path, task: str, split: str):
    """meta: sentence (with the ``_`` blank), option1, option2, answer (int 1 or 2)."""
    out = []
    for where, rec in files.iter_records(path):
        if str(rec.get("answer")) not in ("1", "2"):
            raise DataError(f"{where}: field 'answer': expected '1' or '2', got {rec.get('answer')!r}")
        answer = int(rec["answer"])
        out.append(Example(id=str(rec["qID"]), instruction=rec["sentence"], response=rec[f"option{answer}"],
                           task=task, meta={"sentence": rec["sentence"], "option1": rec["option1"],
                                            "option2": rec["option2"], "answer": answer}))
    return out
