"""Read instruction data in the common file formats into :class:`Example` records.

Formats (``FORMATS`` maps each name to its record converter):

- ``alpaca``: ``instruction``, optional ``input``, ``output``, optional ``history`` (a list of
  ``[user, assistant]`` pairs) and ``system``. Other field names through a LLaMA-Factory style
  ``columns`` mapping (``prompt``/``query``/``response``/``history``/``system``), e.g. the
  GSM8K copy's ``question``/``answer``.
- ``sharegpt``: ``conversations``, a list of ``{from, value}`` turns; ``messages``: a list of
  ``{role, content}``. The last turn is the reference response and must be the assistant's;
  earlier user/assistant pairs become ``history``; a leading system turn becomes ``system``.

Containers: a JSON array, JSON Lines (also gzip-compressed), CSV with a header row (alpaca
fields only), always UTF-8 (a leading BOM is allowed; UTF-16 and other encodings are refused),
or Parquet (as ``sdft distill --export hf`` writes and LLaMA-Factory reads).
:func:`load_file` sniffs the format from the first record's keys unless ``fmt`` forces one.
:func:`load_table` reads a benchmark's items from a user's table (a prompt column found by
name, the reference answer optional). :func:`load_dataset_info` reads entries of a
LLaMA-Factory ``dataset_info.json`` the way LLaMA-Factory does (``hf_hub_url`` before
``file_name``, ``subset``, ``split``, ``revision``, ``folder``, ``num_samples``; ``#a,b`` joins
several); :func:`load_hf` reads a hub dataset ``hf:ORG/NAME[:CONFIG][@REVISION][#SPLIT]``
(needs the network, so it fails offline).

Every problem is a :class:`DataError` naming the file, the place (``path:LINE`` for JSON Lines
and CSV, ``record N`` with a 0-based index for a JSON array) and the field. Fields this module
does not map are kept in ``Example.meta``. Not supported: LLaMA-Factory's function-call and
observation turns, images, and ranking (preference) data.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from sdft.data.records import Example
from sdft.errors import DataError
from sdft.runs import parse_jsonl_lines

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


def _read_text(path: Path) -> str:
    """The file's text (gunzipped for ``.gz``). Data files must be UTF-8 (a BOM is dropped: it
    would otherwise glue itself to the first key or CSV column); anything else is a DataError
    naming the file, and the line and byte where decoding broke, instead of a decode traceback."""
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
        raw = f.read()
    # UTF-16 (what some Windows editors save) decodes as "valid" UTF-8 full of NULs when it has no
    # BOM: its ASCII text puts a NUL in every other byte. JSON or CSV text never holds a raw NUL,
    # so a few NULs elsewhere mean a damaged (or binary) file, not another encoding.
    nul = raw.find(b"\x00")
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or (nul >= 0 and _looks_utf16(raw)):
        raise DataError(f"{path}: the file looks UTF-16 encoded (byte-order mark or NUL bytes); "
                        "data files must be UTF-8: re-save it as UTF-8")
    if nul >= 0:
        line, count = raw[:nul].count(b"\n") + 1, raw.count(0)
        raise DataError(f"{path}:{line}: {count} NUL byte(s) in a UTF-8 file (the first at offset "
                        f"{nul}); JSON and CSV text never hold a raw NUL: the file is damaged or not text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8 (byte {raw[e.start]:#04x} at offset {e.start}); "
                        "data files must be UTF-8: re-save it as UTF-8") from None


def _looks_utf16(raw: bytes) -> bool:
    """Most NULs at odd offsets (UTF-16-LE ASCII) or most at even ones (BE), and many of them."""
    odd, even = raw[1::2].count(0), raw[0::2].count(0)
    return max(odd, even) >= len(raw) // 8 and min(odd, even) <= max(odd, even) // 4


def iter_records(path: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(where, record)`` from a JSON array, JSON Lines or CSV file (optionally .gz)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    ext = path.suffixes[-2] if path.suffix == ".gz" and len(path.suffixes) > 1 else path.suffix
    if ext in (".csv", ".tsv"):
        yield from _iter_csv(path, "\t" if ext == ".tsv" else ",")
        return
    if ext == ".parquet":
        import pyarrow.parquet as pq

        for i, rec in enumerate(pq.read_table(path).to_pylist()):
            yield f"{path}: row {i}", rec
        return
    text = _read_text(path)
    if ext != ".jsonl" and text.lstrip()[:1] == "[":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{e.lineno}: invalid JSON ({e.msg} at column {e.colno})") from None
        for i, rec in enumerate(data):
            where = f"{path}: record {i}"
            if not isinstance(rec, dict):
                raise DataError(f"{where}: expected a JSON object, got {type(rec).__name__}")
            yield where, rec
        return
    # JSON Lines (also a .json file holding one object per line, as LLaMA-Factory accepts).
    for lineno, rec in parse_jsonl_lines(text.splitlines(), path):
        yield f"{path}:{lineno}", rec


def _iter_csv(path: Path, delimiter: str) -> Iterator[tuple[str, dict[str, Any]]]:
    # newline="": quoted fields may hold line breaks, which csv reads itself.
    with io.StringIO(_read_text(path), newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        if not reader.fieldnames:
            raise DataError(f"{path}: empty CSV file (a header row is required)")
        start = 2
        for row in reader:
            where = f"{path}:{start}"  # the line the row starts on; quoted fields may span lines
            start = reader.line_num + 1
            if None in row:
                raise DataError(f"{where}: more values than header columns ({', '.join(reader.fieldnames)})")
            short = [k for k, v in row.items() if v is None]
            if short:
                raise DataError(f"{where}: field {short[0]!r}: missing (the row has fewer values than the header)")
            yield where, row


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
                    "(alpaca), 'question'/'answer', 'conversations' (sharegpt) or 'messages'; pass a format or columns")


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


# LLaMA-Factory's num_samples draws from NumPy's global RNG (seeded by the training seed); ours
# is a fixed seed, so the same registry gives the same records on every run and machine.
NUM_SAMPLES_SEED = 0


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


# ---------------------------------------------------------------- hub datasets

# Before configs could be named, ``hf:org/name:SPLIT`` named the split; one of these after the
# colon (with no ``#SPLIT``) still does.
_SPLIT_WORDS = ("train", "test", "validation")
_HF_SPEC = re.compile(r"hf:(?P<name>[^:@#]+)(?::(?P<config>[^:@#]*))?(?:@(?P<revision>[^:@#]+))?"
                      r"(?:#(?P<split>[^:@#]+))?")


def parse_hf_spec(spec: str) -> dict[str, str | None]:
    """``hf:ORG/NAME[:CONFIG][@REVISION][#SPLIT]`` as ``{name, config, revision, split}``.

    ``hf:openai/gsm8k:main`` is config ``main`` (split ``train``), ``hf:openai/gsm8k:main@e9f1d3a#test``
    pins a revision (a branch, tag or commit) and takes the test split. For the form this grammar
    grew from, ``hf:org/name:test`` (``train``, ``test`` or ``validation`` after the colon, no
    ``#``) names the split; to load a config that has one of those names, give the split too
    (``hf:org/name:test#train``)."""
    m = _HF_SPEC.fullmatch(spec.strip())
    if not m or m["name"].count("/") != 1 or not all(m["name"].split("/")):
        raise DataError(f"{spec}: expected hf:ORG/NAME[:CONFIG][@REVISION][#SPLIT], e.g. hf:openai/gsm8k:main#test")
    config, split = m["config"] or None, m["split"]
    if split is None and config in _SPLIT_WORDS:
        config, split = None, config
    return {"name": m["name"], "config": config, "revision": m["revision"], "split": split or "train"}


def load_hf(spec: str, fmt: str | None = None, columns: dict | None = None, tags: dict | None = None,
            task: str | None = None) -> list[Example]:
    """Load ``hf:ORG/NAME[:CONFIG][@REVISION][#SPLIT]`` (see :func:`parse_hf_spec`)."""
    p = parse_hf_spec(spec)
    return load_hf_dataset(p["name"], config=p["config"], split=p["split"], revision=p["revision"], fmt=fmt,
                           columns=columns, tags=tags, task=task, where=spec)


def load_hf_dataset(name: str, config: str | None = None, split: str = "train", revision: str | None = None,
                    folder: str | None = None, fmt: str | None = None, columns: dict | None = None,
                    tags: dict | None = None, task: str | None = None, where: str | None = None) -> list[Example]:
    """One split of a hub dataset through ``datasets.load_dataset``; offline (or a wrong name,
    config, split or revision) is a DataError that says so and what to do instead."""
    where = where or f"hf:{name}"
    try:
        import datasets
    except ImportError:
        raise DataError(f"{where}: the `datasets` package is needed for hub datasets; pip install datasets") from None
    what = f"hub dataset {name!r}" + (f" config {config!r}" if config else "") + f" split {split!r}" \
        + (f" revision {revision!r}" if revision else "")
    try:
        ds = datasets.load_dataset(name, name=config, split=split, revision=revision, data_dir=folder)
    except Exception as e:  # the hub raises many types (connection, missing repo, bad config or split)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"{where}: could not load {what} (offline, or no such dataset/config/split/revision?): "
                        f"{first}. Download it elsewhere and pass a local file.") from None
    records = ((f"{where}: record {i}", dict(rec)) for i, rec in enumerate(ds))
    prefix = "/".join([name] + ([config] if config else []) + [split])
    return convert(records, fmt, columns, tags, id_prefix=prefix, task=task)
