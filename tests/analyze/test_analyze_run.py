"""run_analyze, what `sdft analyze` and the pipeline's last stage call: where it reads the pairs
from, where it writes, and the settings it refuses (the command's flags: tests/commands/)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sdft.analyze.config import AnalyzeConfig
from sdft.analyze.run import run_analyze
from sdft.errors import ConfigError

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "runs" / "demo"


def test_a_run_folder_with_another_out_and_seed_model(tmp_path):
    run = tmp_path / "demo"
    shutil.copytree(DEMO, run)
    cfg = AnalyzeConfig(measures=["bleu4"], figures=False, out=str(tmp_path / "elsewhere"), seed_model="other-model")
    result = run_analyze(cfg, run)
    assert not (run / "analysis").exists()
    saved = json.loads((tmp_path / "elsewhere" / "analysis.json").read_text())
    assert saved["seed"] == {"eval_dir": str(run / "eval" / "seed"), "n": 8, "model": "other-model"}
    assert saved["pairs"] == json.loads(json.dumps(result["pairs"])) and "git" in saved["provenance"]
    assert sorted(saved["pairs"]) == ["sdft", "vanilla"] and saved["measures"] == ["bleu4"]


def test_the_seed_model_defaults_to_the_runs_and_figures_are_drawn(tmp_path):
    run = tmp_path / "demo"
    shutil.copytree(DEMO, run)
    result = run_analyze(AnalyzeConfig(measures=["rouge_l"]), run)
    assert result["seed"]["model"] == "smollm2-135m"
    assert sorted(p.name for p in (run / "analysis").glob("similarity_hist.*")) == ["similarity_hist.png",
                                                                                     "similarity_hist.svg"]


@pytest.mark.parametrize("cfg, run_dir, message", [
    (AnalyzeConfig(seed_eval="s"), DEMO, "give either RUN_DIR or --seed-eval/--tuned, not both"),
    (AnalyzeConfig(tuned=["v=e"]), DEMO, "give either RUN_DIR or --seed-eval/--tuned, not both"),
    (AnalyzeConfig(seed_eval="s", tuned=["v=e"]), None, "--out is required without a run folder"),
    (AnalyzeConfig(seed_eval="s"), None, "nothing to analyze"),
    (AnalyzeConfig(), None, "nothing to analyze"),
])
def test_settings_it_refuses(cfg, run_dir, message):
    with pytest.raises(ConfigError, match=message):
        run_analyze(cfg, run_dir)
