"""The task table: every dataset of the data folder by name, and :func:`load_data` for any spec.

``TASKS`` maps a task name to its files per split (paths relative to the data folder; the
first split listed is the default), the function that reads them, its kind ("train":
data to fine-tune or distil on; "eval": held-out or benchmark data, never to be trained on),
and what the stages know about it: its distillation template, the check a rewrite must pass,
and its training epochs (:func:`task_entry` finds the entry for a record's task). Only the
requested split's file is read.

Ids are the dataset's own (HumanEval ``task_id``, ARC ``id``, WinoGrande ``qID``) or
``{task}/{split}/{index}``; MMLU's are ``mmlu/{split}/{subject}/{index}``. The reference
distilled files reuse the ids of the training rows they rewrite (``alpaca/train/17``), so an
original and its distilled response pair up by id just like the output of ``sdft distill``.

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
import os
import re
import zipfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

from sdft.data import dataset_info, files, hub_datasets, loaders
from sdft.data.records import Example
from sdft.errors import DataError

ENV_VAR = "SDFT_DATA_DIR"


def data_dir(override: str | Path | None = None) -> Path:
    """The data folder: ``override`` > ``$SDFT_DATA_DIR`` > ``shared/data`` beside the checkout."""
    if override or os.environ.get(ENV_VAR):
        d = Path(override or os.environ[ENV_VAR]).expanduser()
        if not d.is_dir():
            source = "--data-dir" if override else f"${ENV_VAR}"
            raise DataError(f"data directory {d} (from {source}) does not exist")
        return d
    repo = Path(__file__).resolve().parents[3]
    tried = [repo.parent / "shared" / "data"] if (repo / "pyproject.toml").is_file() else []
    tried.append(Path.cwd().parent / "shared" / "data")
    for d in tried:
        if d.is_dir():
            return d
    raise DataError(f"data directory not found (tried {', '.join(map(str, tried))}); "
                    f"pass --data-dir or set {ENV_VAR}")


_data_dir = data_dir  # the loaders below take a ``data_dir`` argument that shadows the function


# ---------------------------------------------------------------- readers: (path, task, split) -> Examples

def _instruct(path: Path, task: str, split: str, columns: dict | None = None, ids_of: str | None = None):
    # ids_of: the distilled reference files take the ids of the rows they rewrite.
    return loaders.load_file(path, "alpaca", columns, id_prefix=f"{ids_of or task}/{split}", task=task)


_FINAL = re.compile(r"The answer is\s+(-?\d[\d,]*(?:\.\d+)?)")


def _math(path: Path, task: str, split: str, columns: dict | None = None):
    """Adds ``meta['answer']``: the final number of the ``The answer is N`` sentence, commas removed."""
    key = (columns or {}).get("response", "output")
    examples = _instruct(path, task, split, columns)
    for i, ex in enumerate(examples):
        found = _FINAL.findall(ex.response)
        if not found:
            raise DataError(f"{path}: record {i}: field {key!r}: no 'The answer is N' sentence")
        ex.meta["answer"] = found[-1].replace(",", "")
    return examples


def _humaneval(path: Path, task: str, split: str):
    out = []
    for where, rec in files.iter_records(path):
        for key in ("task_id", "prompt", "test", "entry_point", "canonical_solution"):
            if not isinstance(rec.get(key), str):
                raise DataError(f"{where}: field {key!r}: missing or not a string")
        out.append(Example(id=rec["task_id"], instruction=rec["prompt"], response=rec["canonical_solution"],
                           task=task, meta={k: rec[k] for k in ("task_id", "prompt", "test", "entry_point",
                                                                 "canonical_solution")}))
    return out


def _xstest(path: Path, task: str, split: str):
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


def _ifeval(path: Path, task: str, split: str):
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
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise DataError(f"{where}: field 'instruction_id_list': expected a non-empty list of ids, got {ids!r}")
        if not isinstance(kwargs, list) or len(kwargs) != len(ids) or not all(isinstance(k, dict) for k in kwargs):
            raise DataError(f"{where}: field 'kwargs': expected one object per instruction ({len(ids)}), "
                            f"got {kwargs!r}"[:300])
        if "key" not in rec:
            raise DataError(f"{where}: field 'key' is missing")
        out.append(Example(id=f"{task}/{split}/{rec['key']}", instruction=rec["prompt"], task=task,
                           meta={"key": rec["key"], "instruction_id_list": ids, "kwargs": kwargs}))
    return out


def _mmlu(path: Path, task: str, split: str):
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


def _truthfulqa(path: Path, task: str, split: str):
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


def _arc(path: Path, task: str, split: str):
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


def _hellaswag(path: Path, task: str, split: str):
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


def _winogrande(path: Path, task: str, split: str):
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


# ---------------------------------------------------------------- the table

# What a task outside the table (a plain file) gets.
DEFAULT_TEMPLATE = "using"
DEFAULT_CHECK = "none"
DEFAULT_EPOCHS = 2


@dataclass(frozen=True)
class TaskSpec:
    files: dict[str, str]  # split -> path under the data folder; the first split is the default
    reader: Callable[[Path, str, str], list[Example]]
    kind: str  # "train" | "eval"
    # distillation template (a name in sdft.distill.templates.TEMPLATES): the paper's choice
    template: str = DEFAULT_TEMPLATE
    # what a rewrite must keep of the reference (a name in sdft.distill.select.CHECKS)
    check: str = DEFAULT_CHECK
    # training passes over the data (TrainConfig.epochs unset). gsm8k/openfunction/alpaca/dolly
    # are the paper's scripts; lima and codealpaca are open-ended instruction sets of alpaca's
    # size and style, so they get alpaca's 2 (the paper's MagiCoder run, which codealpaca stands
    # in for, also used 2)
    epochs: int = DEFAULT_EPOCHS


_GSM8K = {"prompt": "question", "response": "answer"}

TASKS: dict[str, TaskSpec] = {
    "gsm8k": TaskSpec({"train": "gsm8k/gsm8k_train.json", "test": "gsm8k/gsm8k_test.json"},
                      partial(_math, columns=_GSM8K), "train", template="math", check="math", epochs=5),
    "multiarith": TaskSpec({"test": "multiarith/multiarith_test.json"}, _math, "eval", template="math",
                           check="math"),
    "openfunction": TaskSpec({"train": "openfunction/openfunction_train.json",
                              "test": "openfunction/openfunction_test.json"}, _instruct, "train",
                             template="refer", check="function_call", epochs=5),
    "codealpaca": TaskSpec({"train": "codealpaca/code_alpaca_2k.json"}, _instruct, "train", check="code"),
    "alpaca": TaskSpec({"train": "alpaca/alpaca_train.json"}, _instruct, "train"),
    "dolly": TaskSpec({"train": "dolly/dolly_train.json"}, _instruct, "train"),
    "lima": TaskSpec({"train": "lima/lima_train.json"}, _instruct, "train"),
    "alpaca_distilled_ref": TaskSpec({"train": "reference_distilled/distilled_alpaca.json"},
                                     partial(_instruct, ids_of="alpaca"), "train"),
    "openfunction_distilled_ref": TaskSpec({"train": "reference_distilled/distilled_openfunction.json"},
                                           partial(_instruct, ids_of="openfunction"), "train"),
    "alpaca_eval": TaskSpec({"test": "alpaca_eval/alpaca_eval.json"}, _instruct, "eval"),
    "advbench": TaskSpec({"test": "advbench/harmful_behaviors.csv"},
                         partial(_instruct, columns={"prompt": "goal", "response": "target"}), "eval"),
    "humaneval": TaskSpec({"test": "humaneval/HumanEval.jsonl.gz"}, _humaneval, "eval"),
    "xstest": TaskSpec({"test": "xstest/xstest_prompts.csv"}, _xstest, "eval"),
    "ifeval": TaskSpec({"test": "ifeval/input_data.jsonl"}, _ifeval, "eval"),
    "mmlu": TaskSpec({s: "mmlu/mmlu.zip" for s in ("test", "val", "dev")}, _mmlu, "eval"),
    "truthfulqa": TaskSpec({"validation": "truthfulqa/TruthfulQA.csv"}, _truthfulqa, "eval"),
    "arc_easy": TaskSpec({s: f"arc/ARC-Easy-{s.title()}.jsonl" for s in ("test", "dev", "train")}, _arc, "eval"),
    "arc_challenge": TaskSpec({s: f"arc/ARC-Challenge-{s.title()}.jsonl" for s in ("test", "dev", "train")},
                              _arc, "eval"),
    "hellaswag": TaskSpec({"validation": "hellaswag/hellaswag_val_full.txt.bz2"}, _hellaswag, "eval"),
    "winogrande": TaskSpec({"dev": "winogrande/dev.jsonl", "train_xs": "winogrande/train_xs.jsonl"},
                           _winogrande, "eval"),
}


# Tasks known by name only (their data is not public): records that carry such a name (a
# dataset_info.json entry of LLaMA-Factory's, as the paper's runs had) get the entry of the
# task that stands in for them here.
STAND_INS = {"magicoder": "codealpaca"}


def task_entry(task: str | None) -> TaskSpec | None:
    """The table entry whose template, check and epochs apply to records of ``task``; None for
    a task the table does not know (a plain file's), which gets the defaults."""
    task = task or ""
    return TASKS.get(STAND_INS.get(task, task))


def task_path(name: str, split: str | None = None, data_dir: str | Path | None = None) -> tuple[str, Path]:
    """The split (default filled in) and file of a task; errors name the known tasks / splits."""
    split = _task_split(name, split)
    return split, _data_dir(data_dir) / TASKS[name].files[split]


def _task_split(name: str, split: str | None) -> str:
    if name not in TASKS:
        raise DataError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")
    spec = TASKS[name]
    split = split or next(iter(spec.files))
    if split not in spec.files:
        raise DataError(f"task {name!r} has no split {split!r}; splits: {', '.join(spec.files)}")
    return split


def load_task(name: str, split: str | None = None, data_dir: str | Path | None = None) -> list[Example]:
    """Examples of one task split (the task's first split when ``split`` is None)."""
    split, path = task_path(name, split, data_dir)
    if not path.is_file():
        raise DataError(f"task {name!r} split {split!r}: file {path} not found")
    return TASKS[name].reader(path, name, split)


_SLICE = re.compile(r"^(?P<spec>.+)\[(?P<start>-?\d*):(?P<stop>-?\d*)\]$")


def load_data(spec: str, data_dir: str | Path | None = None) -> list[Example]:
    """Load ``task``, ``task:split``, a file path, ``dataset_info.json#entry[,entry...]`` or
    ``hf:org/name[:config][@revision][#split]`` (see :func:`sdft.data.hub_datasets.parse_hf_spec`).

    Any of them may end in a Python slice of its records, ``[start:stop]`` (``gsm8k:train[-300:]``,
    ``advbench[400:520]``): ids stay the dataset's own, so a held-out slice never collides with
    the rest."""
    m = _SLICE.match(spec)
    if m:
        return _sliced(m, load_data(m["spec"], data_dir))
    kind = _kind(spec)
    if kind == "hf":
        return hub_datasets.load_hf(spec)
    if kind == "task":
        name, _, split = spec.partition(":")
        return load_task(name, split or None, data_dir)
    if kind == "registry":
        try:
            root = _data_dir(data_dir)
        except DataError:
            root = None  # the registry's own folder is still searched
        return dataset_info.load_dataset_info(spec, root)
    if kind == "file":
        return loaders.load_file(spec)
    raise _unknown_spec(spec)


def _kind(spec: str) -> str | None:
    """Which reader :func:`load_data` uses for ``spec`` (no slice): hf, task, registry or file;
    None for none of them."""
    if spec.startswith("hf:"):
        return "hf"
    if spec.partition(":")[0] in TASKS:
        return "task"
    if "#" in spec and spec.split("#", 1)[0].endswith(".json"):
        return "registry"
    return "file" if Path(spec).is_file() else None


def check_spec(spec: str) -> None:
    """What :func:`load_data` would read for ``spec``, checked without reading it (`sdft validate`):
    a task's name and split against the table, or an existing file; its DataError otherwise. A
    registry entry or an ``hf:`` dataset is left to the loader."""
    m = _SLICE.match(spec)
    if m:
        return check_spec(m["spec"])
    kind = _kind(spec)
    if kind == "task":
        name, _, split = spec.partition(":")
        _task_split(name, split or None)
    elif kind is None:
        raise _unknown_spec(spec)


def _unknown_spec(spec: str) -> DataError:
    return DataError(f"{spec!r} is neither a task ({', '.join(TASKS)}), an existing file, "
                     "a dataset_info.json#entry nor hf:org/name[:config][@revision][#split]")


def _sliced(m: re.Match, examples: list[Example]) -> list[Example]:
    start, stop = (int(v) if v else None for v in (m["start"], m["stop"]))
    if not examples[start:stop]:
        raise DataError(f"{m[0]}: the slice [{m['start']}:{m['stop']}] selects no records")
    return examples[start:stop]


def _is_registry(path: str) -> bool:
    """Whether a ``.json`` file is a dataset registry (one object of entries), not a table."""
    if not path.endswith(".json"):
        return False
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False  # JSON Lines, or broken: the table reader names the problem
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, dict) for v in obj.values())


def load_benchmark_data(spec: str, data_dir: str | Path | None = None, need_reference: bool = False,
                        check: Callable[[Example], str | None] | None = None) -> list[Example]:
    """A benchmark's items (``EvalConfig.benchmark_data``): what :func:`load_data` reads, except
    that a file is a user's table read by :func:`sdft.data.loaders.load_table`: ``FILE`` finds
    the prompt column by its name, ``FILE#column`` names it (``my_redteam.csv#Behavior``); a
    reference answer is needed only if ``need_reference``. A slice ``[start:stop]`` may follow."""
    m = _SLICE.match(spec)
    if m:
        return _sliced(m, load_benchmark_data(m["spec"], data_dir, need_reference, check))
    path, _, column = spec.partition("#")
    if spec.partition(":")[0] in TASKS or spec.startswith("hf:") or not Path(path).is_file() or _is_registry(path):
        return load_data(spec, data_dir)
    return loaders.load_table(path, column or None, need_reference, check)
