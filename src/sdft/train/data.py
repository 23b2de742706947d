"""The examples a fine-tune trains on (tokenized by :mod:`sdft.data.chat`; on-policy rows by
:mod:`sdft.train.onpolicy`)."""

from __future__ import annotations

from sdft.data.chat import check_answers
from sdft.data.records import Example
from sdft.errors import DataError


def load_examples(spec: str, data_dir: str | None = None, limit: int = 0) -> list[Example]:
    """Examples to train on, from any data spec (:func:`sdft.data.tasks.load_data`): a task, a
    plain training file, or a ``distilled.jsonl``, whose ``response`` is the selected answer."""
    from sdft.data.tasks import load_data

    examples = load_data(spec, data_dir=data_dir)
    if limit:
        examples = examples[:limit]
    if not examples:
        raise DataError(f"{spec}: no examples to train on")
    check_answers(examples, spec)  # before any model is loaded
    return examples


def task_of(examples: list[Example]) -> str | None:
    tasks = {e.task for e in examples}
    return tasks.pop() if len(tasks) == 1 else None
