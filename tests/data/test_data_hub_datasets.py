"""Hub dataset specs (``hf:ORG/NAME[:CONFIG][@REVISION][#SPLIT]``) and their loading (load_dataset faked)."""

from __future__ import annotations

import pytest

from sdft.data import hub_datasets, tasks
from sdft.data.records import DataError


def test_hub_dataset_offline_is_a_clear_error(monkeypatch):
    import datasets

    def offline(*a, **k):
        raise ConnectionError("Couldn't reach 'org/name' on the Hub\nmore detail")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError, match=r"hf:org/name:test: could not load hub dataset 'org/name' split 'test'.*"
                                        r"Couldn't reach"):
        tasks.load_data("hf:org/name:test")
    with pytest.raises(DataError, match=r"hub dataset 'openai/gsm8k' config 'main' split 'test' revision 'v1'"):
        tasks.load_data("hf:openai/gsm8k:main@v1#test")


@pytest.mark.parametrize("spec, want", [
    ("hf:org/name", ("org/name", None, None, "train")),
    ("hf:org/name:test", ("org/name", None, None, "test")),  # the form before configs: a split word
    ("hf:openai/gsm8k:main", ("openai/gsm8k", "main", None, "train")),
    ("hf:openai/gsm8k:main#test", ("openai/gsm8k", "main", None, "test")),
    ("hf:openai/gsm8k:main@e9f1d3a#test", ("openai/gsm8k", "main", "e9f1d3a", "test")),
    ("hf:org/name@refs/pr/1", ("org/name", None, "refs/pr/1", "train")),
    ("hf:org/name#validation", ("org/name", None, None, "validation")),
    ("hf:org/name:test#train", ("org/name", "test", None, "train")),  # a config named like a split
])
def test_hub_spec_grammar(spec, want):
    p = hub_datasets.parse_hf_spec(spec)
    assert (p["name"], p["config"], p["revision"], p["split"]) == want


@pytest.mark.parametrize("spec", ["hf:noslash", "hf:a/b/c", "hf:org/name:x:y", "hf:/name"])
def test_hub_spec_errors(spec):
    with pytest.raises(DataError, match="expected hf:ORG/NAME"):
        hub_datasets.parse_hf_spec(spec)


def test_hub_dataset_records_are_converted_and_the_call_carries_config_and_revision(monkeypatch):
    import datasets

    rows = [{"instruction": "a", "output": "b"}, {"instruction": "c", "output": "d"}]
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda path, **kw: calls.append((path, kw)) or rows)
    ex = tasks.load_data("hf:org/name")
    assert [(e.id, e.response) for e in ex] == [("org/name/train/0", "b"), ("org/name/train/1", "d")]
    ex = tasks.load_data("hf:org/name:cfg@abc#test[1:]")
    assert [e.id for e in ex] == ["org/name/cfg/test/1"]
    assert calls == [("org/name", {"name": None, "split": "train", "revision": None, "data_dir": None}),
                     ("org/name", {"name": "cfg", "split": "test", "revision": "abc", "data_dir": None})]
