"""`sdft analyze`: a run folder, or the seed's eval folder and the fine-tunes' on the command line
or in a YAML file, under the field's new name (seed_eval) and its old one (seed); what it prints,
and its one-line errors with exit status 2."""

from __future__ import annotations

import json
import shutil
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


def test_a_run_folder_writes_its_analysis_folder_and_prints_one_line_a_model(tmp_path, capsys):
    run = tmp_path / "demo"
    shutil.copytree(DEMO, run)
    assert main(["analyze", str(run), "--measures", "rouge_l", "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert sorted(_pairs(run / "analysis")) == ["sdft", "vanilla"]
    assert not list((run / "analysis").glob("*.png"))  # --no-figures
    lines = out.splitlines()
    assert any(line.startswith("vanilla") and "n=8" in line and "rouge_l 0." in line for line in lines)
    assert any(line.startswith("sdft-n50") and "skipped: no advbench/predictions.jsonl" in line for line in lines)
    assert lines[-1] == f"wrote {run / 'analysis' / 'analysis.json'}"


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["analyze", "--out", str(tmp_path)]) == 2
    assert "sdft analyze: error: nothing to analyze: give RUN_DIR" in capsys.readouterr().err
    assert main(["analyze", "--seed", str(tmp_path), "--tuned", "bad", "--out", str(tmp_path)]) == 2
    assert "--tuned 'bad': expected LABEL=EVAL_DIR[@ADAPTER_DIR]" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (lambda t: [str(shutil.copytree(DEMO, t / "demo")), "--seed-eval", "x"],
     "give either RUN_DIR or --seed-eval/--tuned, not both"),
    (lambda t: ["--seed-eval", str(DEMO / "eval" / "seed"), "--tuned", f"v={DEMO / 'eval' / 'vanilla'}"],
     "--out is required without a run folder"),
    (lambda t: [str(t)], "manifest.json: no manifest.json"),
    (lambda t: ["--config", str(t / "cfg.yaml")], "cfg.yaml: unknown key(s) 'benchmarc'"),
])
def test_bad_arguments_exit_2_with_a_line_naming_the_problem_and_no_traceback(tmp_path, capsys, args, message):
    (tmp_path / "cfg.yaml").write_text("benchmarc: advbench\n")
    assert main(["analyze", *args(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sdft analyze: error:") and message in err and "Traceback" not in err
    assert not (DEMO / "analysis").exists()  # the shared fixture stays unwritten


@pytest.mark.parametrize("args, message", [
    (lambda t: ["--measures", "bleu4,bogus"], "measures: unknown similarity measure(s) 'bogus'; "
                                              "choose from bleu4, rouge_l, cosine"),
    (lambda t: ["--benchmark", "bogus"], "unknown benchmark 'bogus'; known: gsm8k"),
    (lambda t: ["--tuned", f"v={t / 'nosuch'}"], "--tuned v: eval folder {t}/nosuch: no such folder"),
    (lambda t: ["--tuned", f"v={DEMO / 'eval' / 'vanilla'}@{t / 'nosuch'}"], "--tuned v: adapter folder "),
])
def test_a_bad_measure_benchmark_or_folder_is_an_error_before_anything_is_written(tmp_path, capsys, args, message):
    """A bad measure raised ValueError after the embedding model loaded; --benchmark bogus said the
    seed had no predictions for it; a missing --tuned folder was "skipped" with exit 0."""
    out = tmp_path / "out"
    assert main(["analyze", "--seed-eval", str(DEMO / "eval" / "seed"), "--tuned", f"s={DEMO / 'eval' / 'sdft'}",
                 "--out", str(out), *args(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message.replace("{t}", str(tmp_path)) in err and "Traceback" not in err
    assert not (out / "analysis.json").exists()
