"""The tables of how a run went: here the distillation table, fed by the real distill stage."""

from __future__ import annotations

import json

from sdft.analyze.runfiles import load_run
from sdft.report import run_tables


def test_distillation_table_reads_what_distill_writes(tmp_path, data_dir):
    """The table is fed by a report from the real distillation stage, not a hand-made file."""
    from sdft.distill import DistillConfig, run_distill
    from sdft.generation.fake import FakeGenerator

    run = tmp_path / "run"
    cfg = DistillConfig(data="gsm8k:train", sample=4, out=str(run / "distill" / "d"), progress=False)
    calls = []

    def rewrite(req):  # every other rewrite has a wrong number and falls back to the original
        calls.append(req.id)
        reference = req.messages[-1]["content"].split("### Reference answer:\n")[-1]
        return "The answer is 0.5." if len(calls) % 2 else "So: " + reference

    report = run_distill(cfg, generator=FakeGenerator(rewrite))
    assert report["reasons"] == {"check_failed": 2, "ok": 2}
    (run / "manifest.json").write_text(json.dumps({"name": "r", "models": [
        {"label": "sdft", "method": "sdft", "distill_dir": "distill/d", "eval_dir": "eval/sdft"}]}))
    table = run_tables.acceptance_table([load_run(run)])
    (row,) = table["rows"]
    assert row[2:7] == ["math", "4", "2", "50.0", "check_failed 2"]  # two rewrites kept of four
    assert "—" not in row  # every column found its field
