"""LLaMA-Factory dataset registries: entries, columns and tags, hub entries, num_samples, joined entries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdft.data import dataset_info, tasks
from sdft.data.records import DataError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "data"


def test_dataset_info_columns_mapping_and_sharegpt_tags(tmp_path):
    qa = dataset_info.load_dataset_info(f"{FIX / 'dataset_info.json'}#qa")
    assert [(e.id, e.instruction[:8], e.input, e.response, e.task) for e in qa] == [
        ("qa/0", "What is ", "", "100", "qa"), ("qa/1", "Spell 'c", "cat", "tac", "qa")]
    # chats.json is listed without its sub-folder: found one folder down by base name.
    (chat,) = dataset_info.load_dataset_info(f"{FIX / 'dataset_info.json'}#chats")
    assert (chat.instruction, chat.response) == ("Hello?", "Hi there.")


def test_dataset_info_errors_name_entry_and_tried_paths():
    with pytest.raises(DataError, match=r"dataset_info.json: entry 'gone': field 'file_name'.*tried .*nowhere/missing"):
        dataset_info.load_dataset_info(f"{FIX / 'dataset_info.json'}#gone")
    with pytest.raises(DataError, match=r"no entry 'nope'; entries: chats, gone, qa"):
        dataset_info.load_dataset_info(f"{FIX / 'dataset_info.json'}#nope")


@pytest.mark.parametrize("field, value", [("columns", ["instruction", "output"]), ("columns", {"prompt": ["q"]}),
                                          ("tags", "human")])
def test_columns_or_tags_of_the_wrong_shape_name_the_entry_and_field(tmp_path, field, value):
    (tmp_path / "qa.json").write_text(json.dumps([{"q": "x", "a": "y"}]))
    (tmp_path / "dataset_info.json").write_text(json.dumps({"qa": {"file_name": "qa.json", field: value}}))
    with pytest.raises(DataError, match=rf"dataset_info.json: entry 'qa': field '{field}': expected an object mapping"):
        dataset_info.load_dataset_info(f"{tmp_path / 'dataset_info.json'}#qa")


def test_a_null_column_is_no_column_as_in_llama_factory(tmp_path):
    (tmp_path / "qa.json").write_text(json.dumps([{"q": "x", "a": "y"}]))
    entry = {"file_name": "qa.json", "columns": {"prompt": "q", "response": "a", "system": None}}
    (tmp_path / "dataset_info.json").write_text(json.dumps({"qa": entry}))
    (ex,) = dataset_info.load_dataset_info(f"{tmp_path / 'dataset_info.json'}#qa")
    assert (ex.instruction, ex.response, ex.system) == ("x", "y", None)


def test_sdft_dataset_info_resolves_into_this_data_layout(data_dir):
    info = data_dir / "sdft_config" / "dataset_info.json"
    adv = tasks.load_data(f"{info}#advbench", data_dir)  # harmful_behaviors.csv lives in advbench/
    assert len(adv) == 520 and adv[0].response.startswith("Sure, here is")
    assert len(tasks.load_data(f"{info}#multiarith_test", data_dir)) == 180
    with pytest.raises(DataError, match="distilled_lima.json"):
        tasks.load_data(f"{info}#distilled_lima", data_dir)


def _registry(tmp_path, info: dict, files: dict[str, list]) -> Path:
    for name, rows in files.items():
        (tmp_path / name).write_text(json.dumps(rows), encoding="utf-8")
    path = tmp_path / "dataset_info.json"
    path.write_text(json.dumps(info), encoding="utf-8")
    return path


def test_dataset_info_prefers_hf_hub_url_with_subset_split_revision_folder(tmp_path, monkeypatch):
    import datasets

    calls = []
    rows = [{"q": f"q{i}", "a": f"a{i}"} for i in range(3)]
    monkeypatch.setattr(datasets, "load_dataset", lambda path, **kw: calls.append((path, kw)) or rows)
    info = _registry(tmp_path, {"math": {"hf_hub_url": "openai/gsm8k", "file_name": "local.json", "subset": "main",
                                         "split": "test", "revision": "v2", "folder": "data",
                                         "columns": {"prompt": "q", "response": "a"}}},
                     {"local.json": [{"instruction": "local", "output": "file"}]})
    ex = tasks.load_data(f"{info}#math")
    assert calls == [("openai/gsm8k", {"name": "main", "split": "test", "revision": "v2", "data_dir": "data"})]
    assert [(e.id, e.instruction, e.task) for e in ex] == [
        ("openai/gsm8k/main/test/0", "q0", "math"), ("openai/gsm8k/main/test/1", "q1", "math"),
        ("openai/gsm8k/main/test/2", "q2", "math")]


def test_dataset_info_num_samples_and_joined_entries(tmp_path):
    ten = [{"instruction": f"i{k}", "output": f"o{k}"} for k in range(10)]
    info = _registry(tmp_path, {"a": {"file_name": "a.json", "num_samples": 4},
                                "b": {"file_name": "b.json", "num_samples": 3},
                                "a_all": {"file_name": "a.json"},
                                "dup": {"file_name": "ids.json"}, "dup2": {"file_name": "ids.json"},
                                "bad_split": {"file_name": "a.json", "split": "test"}},
                     {"a.json": ten, "b.json": ten[:2], "ids.json": [{"id": "x", "instruction": "i", "output": "o"}]})
    a = tasks.load_data(f"{info}#a")
    assert len(a) == 4 and len({e.id for e in a}) == 4
    assert [e.id for e in a] == sorted((e.id for e in a), key=lambda i: int(i.split("/")[1]))  # file order
    assert [e.id for e in a] == [e.id for e in tasks.load_data(f"{info}#a")]  # seeded: the same every time
    b = tasks.load_data(f"{info}#b")  # more than the file holds: all of it, plus one drawn again
    assert len(b) == 3 and {e.id for e in b[:2]} == {"b/0", "b/1"} and b[2].id in ("b/0#2", "b/1#2")
    joined = tasks.load_data(f"{info}#a, b")  # LLaMA-Factory's `dataset: a,b`: concatenated in order
    assert [e.id for e in joined] == [e.id for e in a] + [e.id for e in b]
    assert [e.task for e in joined] == ["a"] * 4 + ["b"] * 3
    assert len(tasks.load_data(f"{info}#a_all,b")) == 13
    with pytest.raises(DataError, match=r"entries 'dup' and 'dup2' both hold id 'x'"):
        tasks.load_data(f"{info}#dup,dup2")
    with pytest.raises(DataError, match=r"entry 'bad_split': field 'split': a local file has only the split 'train'"):
        tasks.load_data(f"{info}#bad_split")
    with pytest.raises(DataError, match=r"no entry 'zzz'"):
        tasks.load_data(f"{info}#a,zzz")
