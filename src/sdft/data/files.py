"""Read a data file's records: a JSON array, JSON Lines (also gzip-compressed), CSV / TSV with a
header row, or Parquet, as ``(where, record)`` pairs for the format converters of
:mod:`sdft.data.loaders`.

Text files must be UTF-8 (a leading BOM is allowed; UTF-16 and other encodings are refused).
Every problem is a :class:`DataError` naming the file and the place: ``path:LINE`` for JSON Lines
and CSV, ``record N`` (0-based) for a JSON array, ``row N`` for Parquet.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from pathlib import Path
from typing import Any, Iterator

from sdft.errors import DataError
from sdft.runs import parse_jsonl_lines


def _read_text(path: Path) -> str:
    """The file's text (gunzipped for ``.gz``). Data files must be UTF-8 (a BOM is dropped: it
    would otherwise glue itself to the first key or CSV column); anything else is a DataError
    naming the file, and the line and byte where decoding broke, instead of a decode traceback."""
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            raw = f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:  # not gzip, cut short, or damaged
        raise DataError(f"{path}: not a readable gzip file ({e or 'it ends early'}); "
                        "download or compress it again") from None
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
        import pyarrow
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except pyarrow.ArrowException as e:
            lfs = path.read_bytes()[:64].startswith(b"version https://git-lfs")
            hint = ("it is a Git LFS pointer, not the data: run `git lfs pull` in its repository" if lfs
                    else "a damaged or partial download?")
            raise DataError(f"{path}: not a readable Parquet file ({e}); {hint}") from None
        for i, rec in enumerate(table.to_pylist()):
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


# csv's default cap on one field (131,072 characters) is below a long document or code file in one
# cell; the whole file is in memory already, so the cap guards nothing here.
_CSV_FIELD_LIMIT = 2**31 - 1


def _iter_csv(path: Path, delimiter: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    # newline="": quoted fields may hold line breaks, which csv reads itself.
    with io.StringIO(_read_text(path), newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        if not reader.fieldnames:
            raise DataError(f"{path}: empty CSV file (a header row is required)")
        _check_delimiter(path, reader.fieldnames, delimiter)
        start = 2
        while True:
            where = f"{path}:{start}"  # the line the row starts on; quoted fields may span lines
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise DataError(f"{where}: not valid CSV ({e})") from None
            start = reader.line_num + 1
            if None in row:
                raise DataError(f"{where}: more values than header columns ({', '.join(reader.fieldnames)})")
            short = [k for k, v in row.items() if v is None]
            if short:
                raise DataError(f"{where}: field {short[0]!r}: missing (the row has fewer values than the header)")
            yield where, row


_DELIMITERS = {",": "a comma", ";": "a semicolon", "\t": "a tab"}


def _check_delimiter(path: Path, header: list[str], delimiter: str) -> None:
    """A header read as one column that holds another delimiter: the file is separated by that one."""
    other = next((d for d in _DELIMITERS if d != delimiter and len(header) == 1 and d in header[0]), None)
    if other is not None:
        raise DataError(f"{path}: the header is one column, {header[0]!r}, holding {_DELIMITERS[other]}: the "
                        f"delimiter looks wrong; a .csv file is read with commas and a .tsv file with tabs "
                        f"(rewrite the file with those, or give a tab-separated one the .tsv extension)")
