"""The files distillation leaves: one record per example, read back as training examples, the
alpaca / LLaMA-Factory exports, and the report's counts (run_distill's use of them:
test_distill_run.py)."""

from __future__ import annotations

import json

import pytest

from sdft.data.records import Example
from sdft.distill import output
from sdft.errors import DataError

EXAMPLES = [Example(id="a", instruction="2+2?", response="4", task="gsm8k", meta={"src": 1}),
            Example(id="b", instruction="Greet", response="Hello.", input="politely", system="Be kind.",
                    history=[("Hi", "Hello!")])]


def _records() -> list[dict]:
    return [output.distilled_record(EXAMPLES[0], "Two and two make 4.", "ok", "math", prompt="P"),
            output.distilled_record(EXAMPLES[1], "Yo.", "check_failed", "none")]


def test_a_kept_rewrite_is_the_response_and_a_rejected_one_falls_back_to_the_original():
    kept, rejected = _records()
    assert (kept["response"], kept["original"], kept["kept"], kept["prompt"]) == ("Two and two make 4.", "4", True, "P")
    assert (rejected["response"], rejected["rewrite"], rejected["kept"], rejected["reason"]) == (
        "Hello.", "Yo.", False, "check_failed")
    assert rejected["history"] == [["Hi", "Hello!"]]  # JSON-ready lists


def test_write_then_load_gives_the_training_examples_with_what_selection_saw(tmp_path):
    output.write_distilled(tmp_path / "distilled.jsonl", _records())
    a, b = output.load_distilled(tmp_path)  # a folder reads its distilled.jsonl
    assert (a.id, a.response, a.task) == ("a", "Two and two make 4.", "gsm8k")
    assert a.meta == {"src": 1, "original": "4", "rewrite": "Two and two make 4.", "kept": True, "reason": "ok"}
    assert (b.response, b.input, b.system, b.history) == ("Hello.", "politely", "Be kind.", [("Hi", "Hello!")])
    assert not list(tmp_path.glob("*.tmp"))  # written through a temporary file, replaced whole


def test_load_errors_name_the_file_and_the_record(tmp_path):
    with pytest.raises(DataError, match=r"distilled\.jsonl: no such distilled file \(run `sdft distill` first\)"):
        output.load_distilled(tmp_path)
    bad = tmp_path / "distilled.jsonl"
    bad.write_text('{"id": "x1", "instruction": "q"}\n')
    with pytest.raises(DataError, match="record x1: missing or non-string `response`"):
        output.load_distilled(bad)
    bad.write_text('{"id": "x1", "instruction": "q", "response": "r"}\n{"instruction": 3, "response": "r"}\n')
    with pytest.raises(DataError, match=f"{bad}: record #2: missing or non-string `id`"):
        output.load_distilled(bad)


def test_alpaca_export_adds_history_and_system_columns_only_when_some_record_has_them(tmp_path):
    path = output.export_alpaca(_records(), tmp_path, "hf:openai/gsm8k:main")
    assert path.name == "distilled_gsm8k.json"
    rows = json.loads(path.read_text())
    assert rows[0] == {"instruction": "2+2?", "input": "", "output": "Two and two make 4.", "history": []}
    rows = json.loads(output.export_alpaca(_records(), tmp_path, "data/x.jsonl", with_system=True).read_text())
    assert rows[1]["system"] == "Be kind." and rows[0]["system"] == ""
    single = json.loads(output.export_alpaca(_records()[:1], tmp_path, "y.json", with_system=True).read_text())
    assert set(single[0]) == {"instruction", "input", "output"}


def test_llamafactory_export_merges_its_entry_into_an_existing_registry(tmp_path):
    (tmp_path / "dataset_info.json").write_text('{"mine": {"file_name": "m.json"}}')
    info = json.loads(output.export_llamafactory(_records(), tmp_path, "gsm8k:train").read_text())
    assert info["mine"] == {"file_name": "m.json"}
    assert info["sdft_gsm8k"] == {"file_name": "distilled_gsm8k.json", "formatting": "alpaca", "columns": {
        "prompt": "instruction", "query": "input", "response": "output", "history": "history", "system": "system"}}


def test_report_counts_reasons_and_lengths_and_the_summary_says_them():
    records = _records() + [output.distilled_record(Example(id="c", instruction="q", response="one two"), None,
                                                    "not_mixed", "none")]
    report = output.build_report(records, {"a": {"num_tokens": 7}, "b": {"num_tokens": 2}, "c": {}},
                                 {"generated": 2, "tokens": 9, "wall_s": 3.0, "tokens_per_s": 3.0}, template="x")
    assert (report["total"], report["distilled"], report["kept"], report["fallback"]) == (3, 2, 1, 2)
    assert report["kept_rate"] == 0.5 and report["template"] == "x"
    assert report["reasons"] == {"check_failed": 1, "not_mixed": 1, "ok": 1} and report["checks"] == ["math", "none"]
    assert report["mean_length"]["rewrite"] == {"chars": 11.0, "words": 3.0}  # "Two and two make 4." and "Yo."
    assert report["generation"]["rewrite_tokens_total"] == 9
    text = output.format_summary(report)
    assert text.splitlines()[0] == "distilled 2 of 3 examples; kept 1 rewrites (50.0% of distilled), 2 use the original"
    assert "generation: 2 rewrites, 9 tokens in 3.0 s (3.0 tok/s); 0 hit the token limit" in text
