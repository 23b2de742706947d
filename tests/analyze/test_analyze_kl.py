"""KL(fine-tune || seed) on the fine-tune's own answers, with the tiny random Llama: a LoRA that
changes nothing is at KL 0 from its seed, one that changes a weight is not, and a full fine-tune
(no adapter to disable) is an error."""

from __future__ import annotations

import json

import pytest

from sdft.analyze.kl import KL_FILE, kl_on_answers
from sdft.errors import ConfigError


@pytest.fixture
def predictions(tmp_path):
    rows = [{"id": "a", "prompt": "Question: what is 2 + 2?\nAnswer:", "predict": " 4, because two and two make four."},
            {"id": "b", "prompt": "Say hello.", "predict": " Hello there, friend!"},
            {"id": "c", "prompt": "An empty answer is skipped.", "predict": ""}]
    path = tmp_path / "predictions.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _adapter(lora_model, tmp_path, known: bool):
    folder = tmp_path / ("known" if known else "fresh")
    lora_model(known=known).save_pretrained(folder)
    return folder


def test_a_lora_that_changes_nothing_is_at_kl_zero_from_its_seed(lora_model, tiny_model_dir, predictions, tmp_path):
    result = kl_on_answers(tiny_model_dir, _adapter(lora_model, tmp_path, False), predictions, tmp_path / "out")
    assert result["kl_per_token"] == pytest.approx(0.0, abs=1e-7)
    assert result["n_items"] == 2 and [r["id"] for r in result["per_item"]] == ["a", "b"]  # the empty answer skipped
    assert result["n_tokens"] == sum(r["tokens"] for r in result["per_item"]) > 0
    assert json.loads((tmp_path / "out" / KL_FILE).read_text()) == result


def test_a_lora_that_moved_a_weight_has_a_positive_kl(lora_model, tiny_model_dir, predictions, tmp_path):
    result = kl_on_answers(tiny_model_dir, _adapter(lora_model, tmp_path, True), predictions, tmp_path / "out",
                           limit=1)
    assert result["n_items"] == 1 and result["per_item"][0]["id"] == "a"
    assert result["kl_per_token"] > 1e-6 and result["kl_per_token"] == pytest.approx(result["per_item"][0]["kl"])
    assert result["direction"] == "KL(fine-tune || seed)"


def test_the_items_are_the_first_in_data_order_whatever_order_the_answers_finished_in():
    """A predictions file lists answers as they finished, the short ones first: the KL used to
    read its first lines, so each model's shortest answers, on items differing between models."""
    from sdft.analyze.kl import in_data_order

    lines = [{"id": f"gsm8k/test/{i}"} for i in (12, 3, 100, 0, 7)] + [{"id": "odd"}, {"id": "gsm8k/test/2"}]
    assert [r["id"] for r in in_data_order(lines)] == \
        ["gsm8k/test/0", "gsm8k/test/2", "gsm8k/test/3", "gsm8k/test/7", "gsm8k/test/12", "gsm8k/test/100", "odd"]


def test_a_full_fine_tune_has_no_adapter_to_disable(tiny_model_dir, predictions, tmp_path):
    with pytest.raises(ConfigError, match="a full fine-tune has none"):
        kl_on_answers(tiny_model_dir, tiny_model_dir, predictions, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_answers_carried_without_prompts_get_the_prompts_their_evaluation_rendered(
        lora_model, tiny_model_dir, tmp_path, data_dir):
    """scripts/carry_run.py leaves every record's rendered prompt out (a copy of the dataset); a KL
    stage run later on the restored answers renders them again, as the evaluation did, from the
    run's own data folder (`sdft run --data-dir`), not the default one."""
    import shutil

    from sdft.cli import main

    out = tmp_path / "eval"
    assert main(["eval", "--model", str(tiny_model_dir), "--benchmarks", "gsm8k", "--benchmark-data",
                 "gsm8k=gsm8k:test[:3]", "--max-new-tokens", "6", "--out", str(out), "--data-dir", str(data_dir),
                 "--no-progress"]) == 0
    whole = out / "gsm8k" / "predictions.jsonl"
    carried = tmp_path / "carried" / "gsm8k" / "predictions.jsonl"
    carried.parent.mkdir(parents=True)
    shutil.copy(out / "gsm8k" / "settings.json", carried.parent)
    lines = [json.loads(x) for x in whole.read_text().splitlines()]
    carried.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "prompt"}) + "\n" for r in lines))

    adapter = _adapter(lora_model, tmp_path, True)
    a = kl_on_answers(tiny_model_dir, adapter, whole, tmp_path / "a")
    b = kl_on_answers(tiny_model_dir, adapter, carried, tmp_path / "b", data_dir=data_dir)
    assert a["n_items"] == 3 and a["per_item"] == b["per_item"] and a["kl_per_token"] == b["kl_per_token"]

    (carried.parent / "settings.json").unlink()
    from sdft.errors import DataError

    with pytest.raises(DataError, match="have no 'prompt', and it cannot be rendered again .*settings.json"):
        kl_on_answers(tiny_model_dir, adapter, carried, tmp_path / "c", data_dir=data_dir)
