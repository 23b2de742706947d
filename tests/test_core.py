"""Run files, config machinery and the fake generator: the contracts every stage uses."""

import argparse
import dataclasses
import json

import pytest

from sdft.config import ConfigError, add_arguments, field_help, from_args, from_dict
from sdft.data.records import DataError
from sdft.generation.base import Request, SamplingParams
from sdft.generation.fake import FakeGenerator
from sdft.generation.runner import generate_jsonl
from sdft.runs import JsonlWriter, computing, done_ids, note_compute, read_jsonl, write_json


def test_partial_last_line_is_cut_and_resume_skips_done(tmp_path):
    path = tmp_path / "out.jsonl"
    with JsonlWriter(path) as w:
        w.write({"id": "a", "x": 1})
        w.write({"id": "b", "x": 2})
    with path.open("a") as f:
        f.write('{"id": "c", "x"')  # a writer killed mid-line
    assert done_ids(path) == {"a", "b"}
    assert path.read_text().endswith("}\n")

    gen = FakeGenerator()
    reqs = [Request(i, [{"role": "user", "content": f"q{i}"}]) for i in "abcd"]
    stats = generate_jsonl(gen, reqs, SamplingParams(), path, progress=False)
    assert (stats.skipped, stats.generated) == (2, 2)
    assert [r.id for r in gen.calls[0]] == ["c", "d"]
    assert [r["id"] for r in read_jsonl(path)] == ["a", "b", "c", "d"]


def test_invalid_json_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": 1}\n\n{"id": 2,}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:3: invalid JSON"):
        list(read_jsonl(path))


def test_a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    import errno
    import os

    from sdft.runs import write_text

    path = tmp_path / "summary.json"
    write_json(path, {"verdict": "kept"})

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError):
        write_text(path, '{"verdict": "cut')
    assert json.loads(path.read_text()) == {"verdict": "kept"} and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_jsonl_file_in_another_encoding_names_the_line_not_a_decode_traceback(tmp_path):
    utf16 = tmp_path / "preds.jsonl"  # what PowerShell 5's `>` writes
    utf16.write_text('{"id": "a", "answer": "x"}\n', encoding="utf-16")
    with pytest.raises(DataError, match=r"preds.jsonl:1: the file looks UTF-16 encoded .*must be UTF-8"):
        list(read_jsonl(utf16))
    cp1252 = tmp_path / "cp.jsonl"
    cp1252.write_bytes('{"id": "a"}\r\n{"id": "caf\u00e9"}\r\n'.encode("cp1252"))
    with pytest.raises(DataError, match=r"cp.jsonl:2: not valid UTF-8 \(byte 0xe9 at column 12\)"):
        list(read_jsonl(cp1252))
    crlf = tmp_path / "crlf.jsonl"  # Windows line ends and UTF-8 are fine
    crlf.write_bytes('{"id": "a"}\r\n\r\n{"id": "caf\u00e9"}\r\n'.encode("utf-8"))
    assert [r["id"] for r in read_jsonl(crlf)] == ["a", "caf\u00e9"]
    cr = tmp_path / "cr.jsonl"  # bare CR line ends, which text mode read
    cr.write_bytes(b'{"id": "a"}\r{"id": "b"}\r\n{"id": "c"}\r')
    assert [r["id"] for r in read_jsonl(cr)] == ["a", "b", "c"]


@dataclasses.dataclass
class _Cfg:
    """Example.

    lr: learning rate
    targets: modules to adapt
    full: train every weight
    """

    lr: float = 1e-4
    targets: list[str] = dataclasses.field(default_factory=lambda: ["q_proj", "v_proj"])
    full: bool = False
    name: str | None = None


def test_flag_over_yaml_over_default_and_unknown_key():
    p = argparse.ArgumentParser()
    add_arguments(p, _Cfg)
    args = p.parse_args(["--lr", "0.5", "--full"])
    cfg = from_args(_Cfg, args, {"lr": 0.1, "targets": "a,b"})
    assert (cfg.lr, cfg.targets, cfg.full, cfg.name) == (0.5, ["a", "b"], True, None)
    assert "learning rate" in p.format_help()
    with pytest.raises(ConfigError, match="'lr_rate'"):
        from_dict(_Cfg, {"lr_rate": 1}, "demo.yaml")
    with pytest.raises(ConfigError, match="`lr` expects float"):
        from_dict(_Cfg, {"lr": "fast"})


def test_field_help_joins_a_wrapped_help_line_and_stops_at_the_next_header():
    class Doc:
        """Settings.

        Speed
        dtype: auto, float32 or bfloat16
            (LoRA: base in it, adapter in float32)
        batch: examples per step
        Output
            indented prose after a header is not a field's help
        """

    assert field_help(Doc) == {"dtype": "auto, float32 or bfloat16 (LoRA: base in it, adapter in float32)",
                               "batch": "examples per step"}


def test_stop_strings_and_length_in_fake_backend():
    gen = FakeGenerator({"x": "one two three STOP four"})
    (c,) = gen.generate([Request("x", [{"role": "user", "content": ""}])], SamplingParams(stop=("STOP",)))
    assert (c.text, c.finish_reason) == ("one two three ", "stop")
    (c,) = gen.generate([Request("x", [{"role": "user", "content": ""}])], SamplingParams(max_new_tokens=2))
    assert (c.text, c.finish_reason) == ("one two", "length")


@dataclasses.dataclass
class _Lengths:
    """lengths: per-name caps"""
    lengths: dict[str, int] = dataclasses.field(default_factory=dict)


def test_typed_dict_from_a_flag_and_from_yaml():
    p = argparse.ArgumentParser()
    add_arguments(p, _Lengths)
    cfg = from_args(_Lengths, p.parse_args(["--lengths", "advbench=128, gsm8k=64"]))
    assert cfg.lengths == {"advbench": 128, "gsm8k": 64}
    assert from_dict(_Lengths, {"lengths": {"a": "7"}}).lengths == {"a": 7}
    with pytest.raises(ConfigError, match="lengths.a` expects int"):
        from_dict(_Lengths, {"lengths": {"a": "many"}}, "x.yaml")
    with pytest.raises(ConfigError, match="`lengths` expects dict"):
        from_args(_Lengths, p.parse_args(["--lengths", "advbench"]))


def test_git_hash_is_the_one_the_process_started_with(monkeypatch):
    import subprocess

    from sdft import runs

    runs.git_hash.cache_clear()
    first = runs.git_hash()
    assert first is None or len(first.split("-")[0]) == 40

    def moved_on(cmd, **kw):  # a commit made while a long run goes on
        return subprocess.CompletedProcess(cmd, 0, stdout="f" * 40 + "\n", stderr="")

    monkeypatch.setattr(subprocess, "run", moved_on)
    assert runs.git_hash() == first and runs.provenance()["git"] == first
    runs.git_hash.cache_clear()
    assert runs.git_hash().startswith("f" * 40)  # without the pin it would have read the new HEAD
    runs.git_hash.cache_clear()


def test_provenance_names_the_cpu_from_proc_cpuinfo(tmp_path):
    from sdft import runs

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14\nflags\t: fpu avx2\n")
    assert runs.cpu_model(str(info)) == "AMD EPYC 9R14"
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n")
    assert runs.cpu_model(str(arm)) == "CPU implementer 0x41 CPU part 0xd0c"
    assert runs.provenance()["cpu"] == runs.cpu_model()  # this machine's, wherever it is read from


def test_write_json_leaves_another_writers_temp_file_alone(tmp_path):
    # Two ranks of a DDP fine-tune write train_config.json at once; with one shared temp name
    # the first rename took the second writer's file away (FileNotFoundError in that rank).
    path = tmp_path / "train_config.json"
    other = tmp_path / "train_config.json.tmp"
    other.write_text("the other rank, mid-write")
    write_json(path, {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}
    assert other.read_text() == "the other rank, mid-write"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train_config.json", "train_config.json.tmp"]


def test_computing_collects_the_models_loaded_inside_the_block_only():
    note_compute("before", "cpu", "float32")
    with computing() as outer:
        note_compute("a", "cuda:0", "bfloat16")
        with computing() as inner:
            note_compute("b", "cuda:0", "bfloat16")
        assert inner == [{"what": "b", "device": "cuda:0", "dtype": "bfloat16"}]
    assert [r["what"] for r in outer] == ["a", "b"]
