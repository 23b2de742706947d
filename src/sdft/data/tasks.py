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

What each reader gives a record (its ``meta`` fields, the checks it makes) is in
:mod:`sdft.data.readers`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

from sdft.data import dataset_info, hub_datasets, loaders, readers
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
                      partial(readers.read_math, columns=_GSM8K), "train", template="math", check="math", epochs=5),
    "multiarith": TaskSpec({"test": "multiarith/multiarith_test.json"}, readers.read_math, "eval", template="math",
                           check="math"),
    "openfunction": TaskSpec({"train": "openfunction/openfunction_train.json",
                              "test": "openfunction/openfunction_test.json"}, readers.read_instruct, "train",
                             template="refer", check="function_call", epochs=5),
    "codealpaca": TaskSpec({"train": "codealpaca/code_alpaca_2k.json"}, readers.read_instruct, "train", check="code"),
    "alpaca": TaskSpec({"train": "alpaca/alpaca_train.json"}, readers.read_instruct, "train"),
    "dolly": TaskSpec({"train": "dolly/dolly_train.json"}, readers.read_instruct, "train"),
    "lima": TaskSpec({"train": "lima/lima_train.json"}, readers.read_instruct, "train"),
    "alpaca_distilled_ref": TaskSpec({"train": "reference_distilled/distilled_alpaca.json"},
                                     partial(readers.read_instruct, ids_of="alpaca"), "train"),
    "openfunction_distilled_ref": TaskSpec({"train": "reference_distilled/distilled_openfunction.json"},
                                           partial(readers.read_instruct, ids_of="openfunction"), "train"),
    "alpaca_eval": TaskSpec({"test": "alpaca_eval/alpaca_eval.json"}, readers.read_instruct, "eval"),
    "advbench": TaskSpec({"test": "advbench/harmful_behaviors.csv"},
                         partial(readers.read_instruct, columns={"prompt": "goal", "response": "target"}), "eval"),
    "humaneval": TaskSpec({"test": "humaneval/HumanEval.jsonl.gz"}, readers.read_humaneval, "eval"),
    "xstest": TaskSpec({"test": "xstest/xstest_prompts.csv"}, readers.read_xstest, "eval"),
    "ifeval": TaskSpec({"test": "ifeval/input_data.jsonl"}, readers.read_ifeval, "eval"),
    "mmlu": TaskSpec({s: "mmlu/mmlu.zip" for s in ("test", "val", "dev")}, readers.read_mmlu, "eval"),
    "truthfulqa": TaskSpec({"validation": "truthfulqa/TruthfulQA.csv"}, readers.read_truthfulqa, "eval"),
    "arc_easy": TaskSpec({s: f"arc/ARC-Easy-{s.title()}.jsonl" for s in ("test", "dev", "train")},
                         readers.read_arc, "eval"),
    "arc_challenge": TaskSpec({s: f"arc/ARC-Challenge-{s.title()}.jsonl" for s in ("test", "dev", "train")},
                              readers.read_arc, "eval"),
    "hellaswag": TaskSpec({"validation": "hellaswag/hellaswag_val_full.txt.bz2"}, readers.read_hellaswag, "eval"),
    "winogrande": TaskSpec({"dev": "winogrande/dev.jsonl", "train_xs": "winogrande/train_xs.jsonl"},
                           readers.read_winogrande, "eval"),
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


def check_benchmark_spec(spec: str) -> None:
    """What :func:`load_benchmark_data` would read for ``spec``, checked without reading it
    (`sdft validate`): a task's name and split, or an existing file (``FILE#column`` too); its
    DataError otherwise. A registry entry or an ``hf:`` dataset is left to the loader (a hub
    dataset may be reachable only from another machine)."""
    m = _SLICE.match(spec)
    if m:
        return check_benchmark_spec(m["spec"])
    path = spec.partition("#")[0]
    if spec.startswith("hf:") or Path(path).is_file():
        return
    if _kind(spec) is None and ("/" in path or Path(path).suffix):  # meant as a file
        raise DataError(f"{path}: no such file")
    check_spec(spec)


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
