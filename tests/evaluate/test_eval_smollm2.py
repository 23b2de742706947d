"""`sdft eval` with the real SmolLM2-135M on 4 items of gsm8k and advbench."""

from __future__ import annotations

import json

import pytest

from sdft.cli import main
from sdft.runs import read_jsonl


@pytest.mark.slow
def test_sdft_eval_smollm2_gsm8k_advbench(tmp_path, data_dir, smollm2_dir):
    out = tmp_path / "ev"
    rc = main(["eval", "--model", "smollm2-135m", "--benchmarks", "gsm8k,advbench", "--out", str(out),
               "--limit", "4", "--max-new-tokens", "48", "--data-dir", str(data_dir), "--no-progress"])
    assert rc == 0
    res = json.loads((out / "results.json").read_text())["benchmarks"]
    for name in ("gsm8k", "advbench"):
        lines = list(read_jsonl(out / name / "predictions.jsonl"))
        assert res[name]["n"] == 4 and len(lines) == 4
        from sdft.models import resolve_dtype

        assert res[name]["dtype"] == resolve_dtype("auto", "cpu")  # what ran, not "auto"
        assert res[name]["score"] == pytest.approx(sum(r["score"] for r in lines) / 4)
        # The recorded prompt is SmolLM2's chat template, default system prompt included.
        assert lines[0]["prompt"].startswith("<|im_start|>system\n")
        assert lines[0]["prompt"].endswith("<|im_start|>assistant\n")
        assert all(r["predict"].strip() for r in lines)
        assert all(r["num_tokens"] <= 48 for r in lines)
