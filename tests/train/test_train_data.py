"""The examples a fine-tune trains on, the train config's presets and errors, the CLI's bad input."""

from __future__ import annotations

import json

import pytest

from sdft.config import ConfigError, from_dict
from sdft.train import TrainConfig
from sdft.train import data as tdata


def test_training_files_load_as_plain_data(tmp_path):
    # A plain alpaca file that names its task (what the pipeline writes) and a distilled.jsonl,
    # whose `response` is the selected answer, both load through the one data loader.
    plain = tmp_path / "train.jsonl"
    plain.write_text(json.dumps({"id": "g/1", "instruction": "a", "output": "b", "task": "gsm8k"}) + "\n")
    distilled = tmp_path / "distilled.jsonl"
    distilled.write_text(json.dumps({"id": "d/1", "task": "dolly", "instruction": "q", "input": "",
                                     "response": "rewrite", "original": "orig", "kept": True}) + "\n")
    (ex,) = tdata.load_examples(str(plain))
    assert (ex.id, ex.response, ex.task) == ("g/1", "b", "gsm8k") and "task" not in ex.meta
    (ex,) = tdata.load_examples(str(distilled))
    assert (ex.id, ex.response, ex.task, ex.meta["original"]) == ("d/1", "rewrite", "dolly", "orig")
    assert tdata.task_of(tdata.load_examples(str(plain))) == "gsm8k"


def test_config_presets_and_errors():
    cfg = TrainConfig(data="gsm8k", out="x")
    assert (cfg.lora_r, cfg.lora_alpha, cfg.lora_targets, cfg.lr, cfg.scheduler,
            cfg.batch_size, cfg.grad_accum) == (8, 16, ["q_proj", "v_proj"], 1e-4, "cosine", 2, 4)
    tasks = ("gsm8k", "openfunction", "alpaca", "dolly", "lima", "codealpaca", "magicoder", "my_file", None)
    assert [cfg.resolved_epochs(t) for t in tasks] == [5, 5, 2, 2, 2, 2, 2, 2, 2]
    assert TrainConfig(epochs=1.5).resolved_epochs("gsm8k") == 1.5
    with pytest.raises(ConfigError, match="method"):
        TrainConfig(data="d", out="o", method="ppo").validate()
    # models.DTYPES less float16 (it would need loss scaling): one list, checked before loading
    TrainConfig(data="d", out="o", dtype="bfloat16").validate()
    with pytest.raises(ConfigError, match="float16 would need loss scaling"):
        TrainConfig(data="d", out="o", dtype="float16").validate()
    with pytest.raises(ConfigError, match="lora_rank"):
        from_dict(TrainConfig, {"lora_rank": 4}, "train.yaml")
    assert from_dict(TrainConfig, {"lora_targets": "q_proj,k_proj"}).lora_targets == ["q_proj", "k_proj"]


@pytest.mark.parametrize("values, message", [
    # a negative limit would train on all but the last N (Python's slicing)
    ({"limit": -2}, r"train: `limit` must be >= 0 \(0 = no limit\), got -2"),
    ({"max_steps": -1}, r"train: `max_steps` must be >= 0"),
    # 0 epochs and no max_steps: a "finished" fine-tune of 0 steps
    ({"epochs": 0}, r"train: `epochs` must be > 0 \(or set max_steps\), got 0"),
    ({"epochs": -1.0}, r"train: `epochs` must be > 0"),
    # transformers' SchedulerType names it, not a traceback when training starts
    ({"scheduler": "cosin"}, r"train: `scheduler` must be one of linear, cosine, .*got 'cosin'"),
])
def test_values_that_would_fail_or_mislead_later_are_errors_now(values, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(data="d", out="o", **values).validate()


def test_the_limits_edges_stay_valid():
    for values in ({"limit": 0}, {"epochs": 0, "max_steps": 5}, {"scheduler": "cosine_with_restarts"},
                   {"scheduler": "constant"}):
        TrainConfig(data="d", out="o", **values).validate()


def test_lora_targets_must_name_modules_of_the_model():
    import torch

    class Attn(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.q_proj, self.v_proj, self.norm = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.nn.LayerNorm(2)

    model = torch.nn.Sequential(Attn(), Attn())
    TrainConfig(lora_targets=["q_proj", "v_proj"]).validate_targets(model)
    TrainConfig(lora_targets=["0.q_proj"]).validate_targets(model)  # a dotted suffix, as PEFT matches
    TrainConfig(full=True, lora_targets=["nope"]).validate_targets(model)  # no adapter: nothing to match
    # one typo beside a right name: PEFT would wrap q_proj only, without a word
    with pytest.raises(ConfigError, match=r"train: `lora_targets`: q_prj matches no module of .*; "
                                          r"its linear modules: q_proj, v_proj$"):
        TrainConfig(lora_targets=["q_prj", "v_proj"]).validate_targets(model)


def test_run_train_names_a_wrong_lora_target_before_training(tiny_model_dir, tmp_path):
    from sdft.train import run_train

    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"instruction": "q", "output": "a"}) + "\n")
    with pytest.raises(ConfigError, match=r"q_prj matches no module of .*; its linear modules: down_proj, gate_proj, "
                                          r"k_proj, lm_head, o_proj, q_proj, up_proj, v_proj"):
        run_train(TrainConfig(model=tiny_model_dir, data=str(data), out=str(tmp_path / "o"), lora_targets=["q_prj"]))
    assert not (tmp_path / "o" / "train_summary.json").exists()
