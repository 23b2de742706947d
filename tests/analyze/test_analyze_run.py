"""`sdft analyze` without a run folder: the seed's eval folder and the fine-tunes' on the command
line or in a YAML file, under the field's new name (seed_eval) and its old one (seed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdft.analyze.config import AnalyzeConfig
from sdft.cli import main
from sdft.config import ConfigError, from_dict

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "runs" / "demo"


def _pairs(out: Path) -> dict:
    return json.loads((out / "analysis.json").read_text())["pairs"]


@pytest.mark.parametrize("flag", ["--seed-eval", "--seed"])
def test_standalone_analysis_with_the_new_and_the_old_flag(tmp_path, flag):
    out = tmp_path / flag.strip("-")
    assert main(["analyze", flag, str(DEMO / "eval" / "seed"), "--tuned", f"vanilla={DEMO / 'eval' / 'vanilla'}",
                 "--measures", "bleu4", "--out", str(out)]) == 0
    pairs = _pairs(out)
    assert list(pairs) == ["vanilla"] and pairs["vanilla"]["n"] == 8
    # four of the eight answers are the seed's own refusal, word for word
    assert sorted(pairs["vanilla"]["bleu4"]["values"])[-4:] == [pytest.approx(100.0)] * 4
    # the analysis draws its own figure only: the scores' figures are the report's
    written = {p.name for p in out.iterdir()} - {"run.log"}
    assert written == {"analysis.json", "similarity_hist.png", "similarity_hist.svg"}


def test_the_old_key_is_read_from_a_config_file_and_both_keys_are_an_error(tmp_path):
    config = tmp_path / "analyze.yaml"
    config.write_text(f"seed: {DEMO / 'eval' / 'seed'}\ntuned: [sdft={DEMO / 'eval' / 'sdft'}]\nmeasures: [bleu4]\n"
                      "figures: false\n")
    assert main(["analyze", "--config", str(config), "--out", str(tmp_path / "o")]) == 0
    assert list(_pairs(tmp_path / "o")) == ["sdft"]
    assert from_dict(AnalyzeConfig, {"seed": "a"}).seed_eval == "a"
    with pytest.raises(ConfigError, match="`seed` is the old name of `seed_eval`"):
        from_dict(AnalyzeConfig, {"seed": "a", "seed_eval": "b"}, "x.yaml: analyze")
