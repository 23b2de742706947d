"""LLaMA-Factory's dataset registry: entries of a ``dataset_info.json`` read the way LLaMA-Factory
reads them (``hf_hub_url`` before ``file_name``, ``subset``, ``split``, ``revision``, ``folder``,
``formatting``, ``columns``, ``tags``, ``num_samples``; ``#a,b`` joins several entries)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sdft.data.hub_datasets import load_hf_dataset
from sdft.data.loaders import FORMATS, load_file
from sdft.data.records import Example
from sdft.errors import DataError

# LLaMA-Factory's num_samples draws from NumPy's global RNG (seeded by the training seed); ours
# is a fixed seed, so the same registry gives the same records on every run and machine.
NUM_SAMPLES_SEED = 0


def load_dataset_info(spec: str, data_dir: str | Path | None = None) -> list[Example]:
    """Load ``path/to/dataset_info.json#entry`` (LLaMA-Factory's dataset registry format), or
    ``#a,b,c``: several entries joined in that order (LLaMA-Factory's ``dataset: a,b,c``).

    Per entry, as LLaMA-Factory reads it: ``hf_hub_url`` wins over ``file_name`` and loads the
    hub dataset with ``subset`` (its config), ``split`` (default ``train``), ``revision`` and
    ``folder`` (its data_dir); ``num_samples`` keeps N records drawn at random without
    replacement, and when N exceeds the dataset, all records plus N - len drawn with
    replacement (repeats get ids ``<id>#2``, ``#3``, ...). Unlike LLaMA-Factory the draw is
    seeded (:data:`NUM_SAMPLES_SEED`) and the records keep their file order.

    ``file_name`` is looked up relative to the json's folder, then under ``data_dir``; as a
    fallback a file of the same base name one folder down in either (the SDFT repository's
    registry names ``multiarith_test.json`` where this data folder has
    ``multiarith/multiarith_test.json``). A local file has one split, ``train``.
    """
    info_path, _, names = spec.partition("#")
    info_path = Path(info_path)
    if not info_path.is_file():
        raise DataError(f"{info_path}: dataset registry not found")
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{info_path}:{e.lineno}: invalid JSON ({e.msg} at column {e.colno})") from None
    entries = [n.strip() for n in names.split(",") if n.strip()]
    if not entries:
        raise DataError(f"{spec}: name an entry after '#' (path/dataset_info.json#entry[,entry...])")
    out: list[Example] = []
    first: dict[str, str] = {}
    for entry in entries:
        for ex in _load_entry(info, info_path, entry, data_dir):
            if ex.id in first:
                raise DataError(f"{info_path}: entries {first[ex.id]!r} and {entry!r} both hold id {ex.id!r}")
            first[ex.id] = entry
            out.append(ex)
    return out


def _load_entry(info: Any, info_path: Path, entry: str, data_dir: str | Path | None) -> list[Example]:
    if not isinstance(info, dict) or entry not in info:
        known = ", ".join(sorted(info)) if isinstance(info, dict) else "none"
        raise DataError(f"{info_path}: no entry {entry!r}; entries: {known}")
    spec_d, where = info[entry], f"{info_path}: entry {entry!r}"
    if not isinstance(spec_d, dict):
        raise DataError(f"{where}: expected an object")
    fmt = spec_d.get("formatting", "alpaca")
    if fmt not in FORMATS:
        raise DataError(f"{where}: field 'formatting': {fmt!r} is not one of {', '.join(FORMATS)}")
    columns = spec_d.get("columns") or {}
    for field, value in (("columns", columns), ("tags", spec_d.get("tags") or {})):
        if not isinstance(value, dict) or not all(v is None or isinstance(v, str) for v in value.values()):
            raise DataError(f"{where}: field {field!r}: expected an object mapping names to column names "
                            f"(strings, or null for none), got {value!r}"[:300])
    if fmt == "sharegpt" and "messages" not in columns:
        columns = {**columns, "messages": "conversations"}
    num = spec_d.get("num_samples")
    if num is not None and (not isinstance(num, int) or isinstance(num, bool) or num < 1):
        raise DataError(f"{where}: field 'num_samples': expected a positive integer, got {num!r}")
    split = spec_d.get("split") or "train"
    if spec_d.get("hf_hub_url"):
        examples = load_hf_dataset(spec_d["hf_hub_url"], config=spec_d.get("subset"), split=split,
                                   revision=spec_d.get("revision"), folder=spec_d.get("folder"), fmt=fmt,
                                   columns=columns, tags=spec_d.get("tags"), task=entry, where=where)
    else:
        if split != "train":
            raise DataError(f"{where}: field 'split': a local file has only the split 'train', got {split!r}")
        examples = load_file(_find_file(spec_d, info_path, where, data_dir), fmt, columns, spec_d.get("tags"),
                             id_prefix=entry, task=entry)
    return examples if num is None else _num_samples(examples, num)


def _find_file(spec_d: dict, info_path: Path, where: str, data_dir: str | Path | None) -> Path:
    name = spec_d.get("file_name")
    if not isinstance(name, str) or not name:
        raise DataError(f"{where}: field 'file_name': missing (and no 'hf_hub_url')")
    roots = list(dict.fromkeys([info_path.parent] + ([Path(data_dir)] if data_dir else [])))
    candidates = [root / name for root in roots]
    for root in roots:
        candidates += sorted(root.glob(f"*/{Path(name).name}"))
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        tried = [str(root / name) for root in roots] + [str(root / "*" / Path(name).name) for root in roots]
        raise DataError(f"{where}: field 'file_name': {name!r} not found; tried {', '.join(dict.fromkeys(tried))}")
    return found


def _num_samples(examples: list[Example], n: int) -> list[Example]:
    """``n`` records as LLaMA-Factory's ``num_samples`` picks them, seeded, in file order."""
    import copy
    import random

    rng = random.Random(NUM_SAMPLES_SEED)
    picked = sorted(rng.sample(range(len(examples)), min(n, len(examples))))
    extra = sorted(rng.choices(range(len(examples)), k=n - len(picked))) if n > len(examples) else []
    out = [examples[i] for i in picked]
    seen: dict[str, int] = {}
    for i in extra:
        seen[examples[i].id] = seen.get(examples[i].id, 1) + 1
        dup = copy.deepcopy(examples[i])
        dup.id = f"{dup.id}#{seen[dup.id]}"
        out.append(dup)
    return out
