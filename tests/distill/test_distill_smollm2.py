"""End to end on the real SmolLM2-135M: 8 GSM8K training problems through `sdft distill`."""

from __future__ import annotations

import json

import pytest

from sdft.answers import math_answers_equal
from sdft.cli import main


@pytest.mark.slow
def test_distill_8_gsm8k_with_smollm2(tmp_path, data_dir, smollm2_dir, capsys):
    out = tmp_path / "distill"
    args = ["distill", "--model", "smollm2-135m", "--data", "gsm8k:train", "--data-dir", str(data_dir),
            "--out", str(out), "--limit", "8", "--max-new-tokens", "64", "--no-progress", "--export", "alpaca"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "distilled 8 of 8 examples" in printed

    report = json.loads((out / "distill_report.json").read_text())
    rows = [json.loads(x) for x in (out / "distilled.jsonl").read_text().splitlines()]
    rewrites = [json.loads(x) for x in (out / "rewrites.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and len(rewrites) == 8 and report["distilled"] == 8
    assert sum(report["reasons"].values()) == 8 and report["generation"]["tokens"] > 0
    # the prompt went through SmolLM2's chat template, with the math opener pre-filled
    assert rewrites[0]["prompt"].rstrip().endswith("<|im_start|>assistant\nGreat! Let's think step by step.")
    assert "Below are a math question and its reference answer" in rewrites[0]["prompt"]
    assert "You are a helpful AI assistant named SmolLM" in rewrites[0]["prompt"]  # its own system prompt
    for r in rows:
        assert r["response"] == (r["rewrite"] if r["kept"] else r["original"])
        if r["kept"]:  # a kept rewrite gives the reference's final number
            assert r["reason"] == "ok" and not r["response"].startswith("Great!")
            assert math_answers_equal(r["response"], r["original"])
        else:
            assert r["reason"] in ("empty", "truncated", "echo", "check_failed")
            if r["reason"] == "check_failed":
                assert not math_answers_equal(r["rewrite"], r["original"])
    assert report["kept"] == sum(r["kept"] for r in rows)
    exported = json.loads((out / "distilled_gsm8k.json").read_text())
    assert [e["output"] for e in exported] == [r["response"] for r in rows]

    # a second run resumes: nothing generated, the same selection
    assert main(args) == 0
    again = json.loads((out / "distill_report.json").read_text())
    assert again["generation"]["generated"] == 0 and again["reasons"] == report["reasons"]
