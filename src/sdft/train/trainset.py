"""The training set of one fine-tune, written as a plain file: the data stage of ``sdft run``.

Every fine-tune of an experiment trains on ``RUN/data/<label>-<key>/train.jsonl``, plain alpaca
records (``id``, ``task``, ``system``, ``history``, ``instruction``, ``input``, ``output``) that
``sdft train`` reads like any other data file. They are cut from one seeded sample of the task:

- vanilla (and every method but sdft): the first N sampled examples with their own answers;
- sdft: the first N records of the template's ``distilled.jsonl``, a seeded fraction R of them
  (:func:`sdft.distill.run.mixed_ids`) with the selected (distilled-or-fallback) response, the
  rest with the original answer;
- replay: the vanilla rows, then the seed's answers to the replay prompts (:mod:`sdft.train.replay`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from sdft.data.records import Example
from sdft.runs import JsonlWriter, read_jsonl

FIELDS = ("id", "task", "system", "history", "instruction", "input")


def training_rows(method: str, sampled: Sequence[Example], size: int | None, seed: int, *,
                  distilled: Path | None = None, mix_ratio: float | None = None,
                  replay_rows: list[dict] | None = None) -> list[dict]:
    """The training rows of a ``method`` fine-tune on the first ``size`` examples (all: None)."""
    if method == "sdft":
        from sdft.distill.run import mixed_ids

        records = list(read_jsonl(distilled))[:size]
        use = mixed_ids([r["id"] for r in records], mix_ratio or 0.0, seed)
        pairs = [(r, r["response"] if r["id"] in use else r["original"]) for r in records]
    else:
        pairs = [({"id": e.id, "task": e.task, "system": e.system, "history": [list(t) for t in e.history],
                   "instruction": e.instruction, "input": e.input}, e.response) for e in sampled[:size]]
    rows = [{**{k: r.get(k) for k in FIELDS}, "output": answer} for r, answer in pairs]
    if method == "replay":
        from sdft.train.replay import mix

        rows = mix(rows, replay_rows or [])
    return rows


def write_rows(dest: Path, rows: list[dict]) -> Path:
    """``dest``/train.jsonl, replaced whole (a killed write leaves no partial file behind)."""
    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest / "train.jsonl.tmp"
    tmp.unlink(missing_ok=True)
    with JsonlWriter(tmp, fsync=False) as w:
        w.write_many(rows)
    tmp.replace(dest / "train.jsonl")
    return dest / "train.jsonl"
