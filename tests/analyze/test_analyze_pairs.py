"""Pairing fine-tuned models' answers with the seed's on the shared prompt ids, and reading which
models to pair from a run's manifest or the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sdft.analyze import pairs, runfiles
from sdft.errors import ConfigError, DataError

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"


def _preds(eval_dir: Path, rows: list[tuple[str, str | None]], benchmark: str = "advbench") -> Path:
    d = eval_dir / benchmark
    d.mkdir(parents=True)
    (d / "predictions.jsonl").write_text("".join(json.dumps({"id": i, "predict": p}) + "\n" for i, p in rows))
    return eval_dir


def test_paired_texts_keep_the_shared_ids_in_the_seeds_order_and_read_none_as_empty():
    seed = {"a": {"predict": "A"}, "b": {"predict": "B"}, "c": {"predict": None}}
    tuned = {"c": {"predict": "C2"}, "a": {}, "z": {"predict": "Z"}}
    assert pairs.paired_texts(seed, tuned) == (["a", "c"], ["", "C2"], ["A", ""])


def test_analyze_two_tiny_prediction_files(tmp_path):
    seed = _preds(tmp_path / "seed", [("1", "the cat sat on the mat today"), ("2", "I cannot help with that"),
                                      ("3", "only the seed answered this")])
    same = _preds(tmp_path / "same", [("1", "the cat sat on the mat today"), ("2", "I cannot help with that"),
                                      ("4", "an id the seed lacks")])
    other = _preds(tmp_path / "other", [("1", "quantum turnips dance"), ("2", "purple elephants juggle")])
    result = pairs.analyze(seed, {"same": {"eval_dir": same}, "other": {"eval_dir": other},
                                  "none": {"eval_dir": tmp_path / "absent"}},
                           measures=("bleu4", "rouge_l"), progress=False)
    assert result["benchmark"] == "advbench" and result["seed"]["n"] == 3 and result["measures"] == ["bleu4", "rouge_l"]
    same_pair, other_pair = result["pairs"]["same"], result["pairs"]["other"]
    assert same_pair["ids"] == ["1", "2"] and same_pair["n"] == 2 and same_pair["unpaired"] == 1
    assert same_pair["bleu4"]["values"] == [pytest.approx(100.0)] * 2 and same_pair["rouge_l"]["mean"] == 1.0
    assert other_pair["unpaired"] == 0 and other_pair["rouge_l"]["mean"] == 0.0 and other_pair["bleu4"]["mean"] < 10
    assert result["missing"] == {"none": f"no advbench/predictions.jsonl under {tmp_path / 'absent'}"}
    assert result["param_shift"] == {}


def test_a_measured_shift_is_read_back_when_the_weights_are_gone(tmp_path):
    seed = _preds(tmp_path / "seed", [("1", "x")])
    tuned = _preds(tmp_path / "tuned", [("1", "x")])
    (tmp_path / "param_shift.json").write_text('{"kind": "lora", "total": 2.5}')
    result = pairs.analyze(seed, {"t": {"eval_dir": tuned, "shift_file": tmp_path / "param_shift.json"}},
                           measures=("rouge_l",), progress=False)
    assert result["param_shift"] == {"t": {"kind": "lora", "total": 2.5}}


def test_a_seed_without_predictions_is_an_error_naming_the_file(tmp_path):
    with pytest.raises(DataError, match=r"gsm8k/predictions\.jsonl: the seed model has no predictions for 'gsm8k'"):
        pairs.analyze(tmp_path, {}, benchmark="gsm8k", measures=("bleu4",), progress=False)


def test_tuned_from_run_reads_the_manifest_and_measures_only_folders_with_weights(tmp_path):
    shutil.copytree(RUNS / "demo", tmp_path / "demo")
    (tmp_path / "demo" / "train" / "vanilla" / "adapter_model.safetensors").write_bytes(b"")
    sdft = tmp_path / "demo" / "train" / "sdft"
    (sdft / "param_shift.json").write_text("{}")
    run = runfiles.load_run(tmp_path / "demo")
    seed_eval, seed_model, tuned = pairs.tuned_from_run(run)
    assert seed_eval == tmp_path / "demo" / "eval" / "seed" and seed_model == "smollm2-135m"
    assert list(tuned) == ["vanilla", "sdft", "vanilla-n50", "sdft-n50", "sdft-r0.5"]
    assert tuned["vanilla"] == {"eval_dir": tmp_path / "demo" / "eval" / "vanilla",
                                "adapter": tmp_path / "demo" / "train" / "vanilla", "shift_file": None}
    assert tuned["sdft"]["adapter"] is None and tuned["sdft"]["shift_file"] == sdft / "param_shift.json"
    assert tuned["sdft-n50"]["adapter"] is None and tuned["sdft-n50"]["shift_file"] is None


def test_tuned_from_run_needs_a_seed_with_an_eval_folder(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"models": [{"label": "seed"}, {"label": "v",
                                                                                         "eval_dir": "eval/v"}]}))
    with pytest.raises(DataError, match=r"manifest\.json: models: no entry with method 'seed' and an eval_dir"):
        pairs.tuned_from_run(runfiles.load_run(tmp_path))


def test_parse_tuned_label_eval_dir_and_optional_adapter():
    assert pairs.parse_tuned(["v=e/v@t/v", "s=e/s"]) == {"v": {"eval_dir": Path("e/v"), "adapter": Path("t/v")},
                                                         "s": {"eval_dir": Path("e/s"), "adapter": None}}
    for bad in ("noequals", "=e/v", "v="):
        with pytest.raises(ConfigError, match=rf"--tuned {bad!r}: expected LABEL=EVAL_DIR\[@ADAPTER_DIR\]"):
            pairs.parse_tuned([bad])
