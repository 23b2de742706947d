"""Read instruction data in the common file formats into :class:`Example` records.

Formats (``FORMATS`` maps each name to its record converter):

- ``alpaca``: ``instruction``, optional ``input``, ``output``, optional ``history`` (a list of
  ``[user, assistant]`` pairs) and ``system``. Other field names through a LLaMA-Factory style
  ``columns`` mapping (``prompt``/``query``/``response``/``history``/``system``), e.g. the
  GSM8K copy's ``question``/``answer``.
- ``sharegpt``: ``conversations``, a list of ``{from, value}`` turns; ``messages``: a list of
  ``{role, content}``. The last turn is the reference response and must be the assistant's;
  earlier user/assistant pairs become ``history``; a leading system turn becomes ``system``.

The records come from :func:`sdft.data.files.iter_records` (a JSON array, JSON Lines, CSV with
a header row (alpaca fields only) or Parquet, as ``sdft distill --export hf`` writes and
LLaMA-Factory reads). :func:`load_file` sniffs the format from the first record's keys unless
``fmt`` forces one. :func:`load_table` reads a benchmark's items from a user's table (a prompt
column found by name, the reference answer optional). The other sources build on
:func:`convert`: a LLaMA-Factory ``dataset_info.json`` (:mod:`sdft.data.dataset_info`) and a hub
dataset ``hf:ORG/NAME[:CONFIG][@REVISION][#SPLIT]`` (:mod:`sdft.data.hub_datasets`).

Every problem is a :class:`DataError` naming the file, the place (``path:LINE`` for JSON Lines
and CSV, ``record N`` with a 0-based index for a JSON array) and the field. Fields this module
does not map are kept in ``Example.meta``. Not supported: LLaMA-Factory's function-call and
observation turns, images, and ranking (preference) data.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any, Callable, Iterable

from sdft.data.files import iter_records
from sdft.data.records import Example
from sdft.errors import DataError

ALPACA_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output",
                  "history": "history", "system": "system"}
GSM8K_COLUMNS = {"prompt": "question", "response": "answer"}
SHAREGPT_TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human",
                 "assistant_tag": "gpt", "system_tag": "system"}
MESSAGES_TAGS = {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                 "assistant_tag": "assistant", "system_tag": "system"}
# Role names accepted whatever the tags say: files mix the ShareGPT and OpenAI spellings.
_USER_ROLES = {"human", "user"}
_ASSISTANT_ROLES = {"gpt", "assistant"}


# ---------------------------------------------------------------- field checks

def _text(rec: dict, key: str | None, where: str, required: bool = False, nonempty: bool = False) -> str:
    if not key or key not in rec or rec[key] is None:
        if required:
            raise DataError(f"{where}: field {key!r}: missing (record has {', '.join(map(repr, rec)) or 'no fields'})")
        return ""
    value = rec[key]
    if not isinstance(value, str):
        raise DataError(f"{where}: field {key!r}: expected a string, got {type(value).__name__}")
    if nonempty and not value.strip():
        raise DataError(f"{where}: field {key!r}: empty")
    return value


def _history(rec: dict, key: str | None, where: str) -> list[tuple[str, str]]:
    value = rec.get(key) if key else None
    if value is None:
        return []
    if not isinstance(value, list):
        raise DataError(f"{where}: field {key!r}: expected a list of [user, assistant] pairs, "
                        f"got {type(value).__name__}")
    out = []
    for i, pair in enumerate(value):
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(t, str) for t in pair)):
            raise DataError(f"{where}: field {key!r}: item {i}: expected a [user, assistant] pair of strings")
        out.append((pair[0], pair[1]))
    return out


def _meta(rec: dict, used: Iterable[str | None]) -> dict[str, Any]:
    used = set(used) | {"id"}
    return {k: v for k, v in rec.items() if k not in used}


# ---------------------------------------------------------------- converters

def from_alpaca(rec: dict, where: str, columns: dict | None = None, tags: dict | None = None) -> Example:
    cols = {**ALPACA_COLUMNS, **(columns or {})}
    return Example(
        id="", instruction=_text(rec, cols["prompt"], where, required=True, nonempty=True),
        # A None response column: a prompt-only table (a benchmark that needs no reference).
        input=_text(rec, cols["query"], where),
        response=_text(rec, cols["response"], where, required=cols["response"] is not None),
        history=_history(rec, cols["history"], where), system=_text(rec, cols["system"], where) or None,
        meta=_meta(rec, cols.values()))


def _from_turns(rec: dict, where: str, columns: dict | None, tags: dict, default_key: str) -> Example:
    key = (columns or {}).get("messages") or default_key
    turns = rec.get(key)
    if turns is None:
        raise DataError(f"{where}: field {key!r}: missing (record has {', '.join(map(repr, rec))})")
    if not isinstance(turns, list) or not turns:
        raise DataError(f"{where}: field {key!r}: expected a non-empty list of turns")
    role_tag, content_tag = tags["role_tag"], tags["content_tag"]
    users, assistants = _USER_ROLES | {tags["user_tag"]}, _ASSISTANT_ROLES | {tags["assistant_tag"]}
    system = _text(rec, (columns or {}).get("system", "system"), where) or None
    roles, texts = [], []
    for i, turn in enumerate(turns):
        at = f"{where}: field {key!r}: turn {i}"
        if not isinstance(turn, dict):
            raise DataError(f"{at}: expected an object, got {type(turn).__name__}")
        role, text = turn.get(role_tag), turn.get(content_tag)
        if not isinstance(text, str):
            raise DataError(f"{at}: {content_tag!r}: expected a string, got {type(text).__name__}")
        if role == tags["system_tag"] and i == 0:
            system = text
            continue
        want = ("user", users, "a user") if len(roles) % 2 == 0 else ("assistant", assistants, "an assistant")
        if role not in want[1]:
            raise DataError(f"{at}: {role_tag!r}: expected {want[2]} turn "
                            f"({'/'.join(sorted(want[1]))}), got {role!r}")
        roles.append(want[0])
        texts.append(text)
    if not roles or roles[-1] != "assistant":
        raise DataError(f"{where}: field {key!r}: the last turn must be the assistant's reference response")
    if not texts[-2].strip():
        raise DataError(f"{where}: field {key!r}: turn {len(turns) - 2}: empty user turn")
    history = [(texts[i], texts[i + 1]) for i in range(0, len(texts) - 2, 2)]
    return Example(id="", instruction=texts[-2], response=texts[-1], history=history, system=system,
                   meta=_meta(rec, [key, "system"]))


def from_sharegpt(rec: dict, where: str, columns: dict | None = None, tags: dict | None = None) -> Example:
    return _from_turns(rec, where, columns, {**SHAREGPT_TAGS, **(tags or {})}, "conversations")


def from_messages(rec: dict, where: str, columns: dict | None = None, tags: dict | None = None) -> Example:
    return _from_turns(rec, where, columns, {**MESSAGES_TAGS, **(tags or {})}, "messages")


Converter = Callable[..., Example]
FORMATS: dict[str, Converter] = {"alpaca": from_alpaca, "sharegpt": from_sharegpt, "messages": from_messages}


def sniff(rec: dict, where: str) -> tuple[str, dict | None]:
    """Format name and column mapping guessed from one record's keys."""
    if "conversations" in rec:
        return "sharegpt", None
    if "messages" in rec:
        return "messages", None
    if "instruction" in rec and "output" not in rec and "response" in rec:
        return "alpaca", {"response": "response"}  # e.g. the distilled.jsonl of `sdft distill`
    if "instruction" in rec:
        return "alpaca", None
    if "question" in rec and "answer" in rec:
        return "alpaca", GSM8K_COLUMNS
    raise DataError(f"{where}: cannot tell the format from the fields {sorted(rec)}; expected 'instruction'/'output' "
                    "(alpaca), 'question'/'answer', 'conversations' (sharegpt) or 'messages'. Rename the fields to "
                    "one of these, or describe the file in a dataset_info.json entry and give "
                    f"PATH/dataset_info.json#NAME as the data, e.g. {_entry_example(rec, where)}")


def _entry_example(rec: dict, where: str) -> str:
    """A dataset_info.json entry mapping this record's likely prompt and answer fields."""
    by_lower = {k.lower(): k for k in rec}
    prompt = next((by_lower[n] for n in PROMPT_COLUMNS if n in by_lower), "YOUR_PROMPT_FIELD")
    response = next((by_lower[n] for n in REFERENCE_COLUMNS if n in by_lower and by_lower[n] != prompt),
                    "YOUR_ANSWER_FIELD")
    file_name = Path(re.sub(r"(:\d+|: (record|row) \d+)$", "", where)).name
    return json.dumps({"NAME": {"file_name": file_name, "columns": {"prompt": prompt, "response": response}}})


# ---------------------------------------------------------------- entry points

def convert(records: Iterable[tuple[str, dict]], fmt: str | None = None, columns: dict | None = None,
            tags: dict | None = None, id_prefix: str = "data", task: str | None = None, id_key: str = "id",
            check: Callable[[Example], str | None] | None = None) -> list[Example]:
    """Turn ``(where, record)`` pairs into Examples; ids are the record's ``id_key`` field or
    ``{id_prefix}/{index}``. ``check(example)`` may name a problem, raised as a DataError at its place."""
    if fmt is not None and fmt not in FORMATS:
        raise DataError(f"unknown data format {fmt!r}; choose from {', '.join(FORMATS)}")
    out: list[Example] = []
    seen: dict[str, str] = {}
    converter = FORMATS[fmt] if fmt else None
    for i, (where, rec) in enumerate(records):
        if converter is None:
            name, sniffed = sniff(rec, where)
            converter, columns = FORMATS[name], columns or sniffed
        ex = converter(rec, where, columns=columns, tags=tags)
        ex.id = str(rec[id_key]) if rec.get(id_key) not in (None, "") else f"{id_prefix}/{i}"
        ex.meta.pop(id_key, None)
        problem = check(ex) if check else None
        if problem:
            raise DataError(f"{where}: {problem}")
        if ex.id in seen:
            raise DataError(f"{where}: field 'id': duplicate id {ex.id!r} (first at {seen[ex.id]})")
        seen[ex.id] = where
        # A record may name its task (the training files the pipeline writes do): epoch presets
        # and distillation templates are looked up by it.
        ex.task = task or (ex.meta.pop("task", None) if isinstance(ex.meta.get("task"), str) else None)
        out.append(ex)
    return out


def load_file(path: str | Path, fmt: str | None = None, columns: dict | None = None, tags: dict | None = None,
              id_prefix: str | None = None, task: str | None = None) -> list[Example]:
    """Load a JSON / JSON Lines / CSV file of any format above (sniffed unless ``fmt`` is given)."""
    path = Path(path)
    prefix = id_prefix or path.name.split(".")[0]
    return convert(iter_records(path), fmt, columns, tags, prefix, task)


# Where a benchmark table's prompt is looked for when no column is named (first match, any case),
# then its reference answer, which only benchmarks that score against a reference need.
PROMPT_COLUMNS = ("prompt", "goal", "behavior", "instruction", "question")
REFERENCE_COLUMNS = ("output", "response", "answer", "solution", "target")


def load_table(path: str | Path, prompt_column: str | None = None, need_reference: bool = False,
               check: Callable[[Example], str | None] | None = None) -> list[Example]:
    """A benchmark's items from a user's CSV / JSON / JSON Lines table, e.g. a red-team set.

    The prompt is ``prompt_column`` or the first of :data:`PROMPT_COLUMNS` present (names
    compared case-insensitively, so HarmBench's ``Behavior`` is found); the reference answer the
    first of :data:`REFERENCE_COLUMNS` present, an error when absent only if ``need_reference``.
    An ``instruction`` prompt takes an ``input`` column along, as in the alpaca format, and
    ``system`` / ``history`` columns are read as there. Ids are the ``id`` column's (any case),
    else ``<file stem>/<row index>``; other columns go to ``meta``. Chat-format files
    (``conversations`` / ``messages``) are read by :func:`load_file`. ``check(example)`` may
    name a problem with an item, raised at its place: one that names no field (``field 'x': ...``)
    is about the reference answer and gets that column's name."""
    path = Path(path)
    records = iter_records(path)
    first = next(records, None)
    if first is None:
        raise DataError(f"{path}: no records")
    rec = first[1]
    if prompt_column is None and ("conversations" in rec or "messages" in rec):
        return load_file(path)
    by_lower: dict[str, str] = {}
    for key in rec:
        by_lower.setdefault(key.lower(), key)
    have = ", ".join(map(repr, rec)) or "none"

    def find(names) -> str | None:
        return next((by_lower[n] for n in names if n in by_lower), None)

    if prompt_column is not None:
        prompt = prompt_column if prompt_column in rec else by_lower.get(prompt_column.lower())
        if prompt is None:
            raise DataError(f"{path}: no column {prompt_column!r}; its columns: {have}")
    else:
        prompt = find(PROMPT_COLUMNS)
        if prompt is None:
            raise DataError(f"{path}: no prompt column: looked for {', '.join(PROMPT_COLUMNS)} (any case) "
                            f"among its columns {have}; name one as {path}#COLUMN")
    response = find(n for n in REFERENCE_COLUMNS if n != prompt.lower())
    if need_reference and response is None:
        raise DataError(f"{path}: no reference-answer column: looked for {', '.join(REFERENCE_COLUMNS)} "
                        f"(any case) among its columns {have}; this benchmark scores answers against a reference")
    columns = {"prompt": prompt, "response": response, "system": find(["system"]), "history": find(["history"]),
               "query": find(["input"]) if prompt.lower() == "instruction" else None}

    def check_item(ex: Example) -> str | None:
        problem = check(ex)
        return f"field {response!r}: {problem}" if problem and not problem.startswith("field ") else problem

    rows = itertools.chain([first], records)
    if response and not need_reference:  # a row without a reference is fine then
        rows = ((w, r if r.get(response) is not None else {**r, response: ""}) for w, r in rows)
    return convert(rows, "alpaca", columns, id_prefix=path.name.split(".")[0], id_key=find(["id"]) or "id",
                   check=check_item if check else None)


