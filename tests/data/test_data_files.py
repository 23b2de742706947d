"""Reading a data file's records: UTF-8 only, and UTF-16, NUL bytes or other encodings named as such."""

from __future__ import annotations

import pytest

from sdft.data import files
from sdft.data.records import DataError

GOOD = '{"instruction": "x", "output": "y"}'


@pytest.mark.parametrize("name,encoding", [("u16.jsonl", "utf-16"), ("u16.json", "utf-16-le"),
                                           ("u16.csv", "utf-16")])
def test_utf16_file_is_a_data_error_saying_utf8(tmp_path, name, encoding):
    # "utf-16" writes a byte-order mark, "utf-16-le" none (its ASCII text is then NUL-riddled).
    text = "instruction,output\nx,y\n" if name.endswith(".csv") else f"[{GOOD}]" if name.endswith(".json") else GOOD
    p = tmp_path / name
    p.write_text(text, encoding=encoding)
    with pytest.raises(DataError, match=r"u16\.\w+: the file looks UTF-16 encoded .* must be UTF-8"):
        list(files.iter_records(p))


def test_nul_bytes_in_a_utf8_file_are_named_as_such_not_as_utf16(tmp_path):
    p = tmp_path / "nul.jsonl"
    p.write_bytes((GOOD + "\n" + '{"instruction": "caf\u00e9\x00\x00", "output": "y"}\n').encode("utf-8"))
    with pytest.raises(DataError) as e:
        list(files.iter_records(p))
    msg = str(e.value)
    assert msg.startswith(f"{p}:2: 2 NUL byte(s) in a UTF-8 file (the first at offset ") and "UTF-16" not in msg


def test_other_non_utf8_bytes_name_the_line_and_byte(tmp_path):
    p = tmp_path / "latin1.jsonl"
    p.write_bytes((GOOD + "\n" + '{"instruction": "caf\u00e9", "output": "y"}\n').encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.jsonl:2: not valid UTF-8 \(byte 0xe9 at offset 56\).*must be UTF-8"):
        list(files.iter_records(p))
    bom = tmp_path / "bom.csv"  # a UTF-8 BOM is fine: it is not glued to the first column name
    bom.write_bytes("instruction,output\nx,y\n".encode("utf-8-sig"))
    assert [rec for _, rec in files.iter_records(bom)] == [{"instruction": "x", "output": "y"}]


@pytest.mark.parametrize("header,named", [("question;answer", "a semicolon"), ("question\tanswer", "a tab")])
def test_a_csv_header_read_as_one_column_holding_another_delimiter_says_the_delimiter_looks_wrong(
        tmp_path, header, named):
    path = tmp_path / "items.csv"
    path.write_text(f"{header}\n{header.replace('question', 'q').replace('answer', '1')}\n")
    with pytest.raises(DataError, match=f"items.csv: the header is one column, .* holding {named}: "
                                        "the delimiter looks wrong"):
        list(files.iter_records(path))
    (tmp_path / "ok.csv").write_text("prompt\nwhat; and why?\n")  # a semicolon in a value is fine
    assert [r for _, r in files.iter_records(tmp_path / "ok.csv")] == [{"prompt": "what; and why?"}]


def test_a_gz_file_that_is_not_gzip_or_is_cut_short_is_a_data_error(tmp_path):
    import gzip

    plain = tmp_path / "plain.jsonl.gz"  # named .gz but never compressed
    plain.write_text(GOOD + "\n")
    with pytest.raises(DataError, match=r"plain\.jsonl\.gz: not a readable gzip file \(.*\); download or compress"):
        list(files.iter_records(plain))
    whole = gzip.compress(((GOOD + "\n") * 200).encode())
    cut = tmp_path / "cut.jsonl.gz"  # an interrupted download
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"cut\.jsonl\.gz: not a readable gzip file"):
        list(files.iter_records(cut))
    for at in range(20, len(whole) - 8, 7):  # one byte damaged anywhere in the compressed stream
        bad = bytearray(whole)
        bad[at] ^= 0xFF
        cut.write_bytes(bytes(bad))
        try:
            list(files.iter_records(cut))  # a damage the format cannot see may still parse
        except DataError:
            pass


def test_a_parquet_file_that_is_a_git_lfs_pointer_says_so(tmp_path):
    pointer = tmp_path / "train.parquet"  # what a clone without git-lfs leaves
    pointer.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 1234\n")
    with pytest.raises(DataError, match=r"train\.parquet: not a readable Parquet file \(.*\); it is a Git LFS "
                                         r"pointer, not the data: run `git lfs pull`"):
        list(files.iter_records(pointer))
    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(b"PAR1" + b"\x00" * 40)
    with pytest.raises(DataError, match=r"damaged\.parquet: not a readable Parquet file .*partial download"):
        list(files.iter_records(damaged))


def test_a_csv_cell_longer_than_the_csv_modules_default_cap_is_read(tmp_path):
    long = "x" * 300_000  # csv's default cap is 131,072 characters a field
    p = tmp_path / "long.csv"
    p.write_text(f'instruction,output\n"{long}",y\n')
    assert [rec for _, rec in files.iter_records(p)] == [{"instruction": long, "output": "y"}]
