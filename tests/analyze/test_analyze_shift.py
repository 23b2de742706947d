"""Parameter shift on the tiny random Llama: zero for an untouched adapter, known values otherwise."""

from __future__ import annotations

import json
import math

import pytest

from sdft.analyze.shift import lora_scale, parameter_shift
from sdft.config import ConfigError


def test_fresh_adapter_has_zero_shift(lora_model, tmp_path):
    model = lora_model()
    model.save_pretrained(tmp_path)
    res = parameter_shift(tmp_path)
    assert res["kind"] == "lora" and res["n_modules"] == 4  # 2 layers × (q_proj, v_proj)
    assert res["total"] == 0.0
    assert "model.layers.0.self_attn.q_proj" in res["per_module"]


def test_hand_set_adapter_gives_known_norm(lora_model, tmp_path):
    import torch

    model = lora_model(known=True)
    model.save_pretrained(tmp_path)
    res = parameter_shift(tmp_path)
    # scale alpha / r = 4 / 2 = 2, times ‖B·A‖_F = 5
    assert res["total"] == pytest.approx(10.0)
    assert res["per_module"]["model.layers.0.self_attn.q_proj"] == pytest.approx(10.0)
    assert res["per_module"]["model.layers.1.self_attn.v_proj"] == 0.0
    # The same number as the weight PEFT actually merges into the base model.
    w0 = model.base_model.model.model.layers[0].self_attn.q_proj.base_layer.weight.detach().clone()
    merged = model.merge_and_unload()
    moved = torch.linalg.norm(merged.model.layers[0].self_attn.q_proj.weight - w0).item()
    assert moved == pytest.approx(10.0, rel=1e-5)


def test_rslora_scale(lora_model, tmp_path):
    model = lora_model(known=True, use_rslora=True)
    model.save_pretrained(tmp_path)
    assert parameter_shift(tmp_path)["total"] == pytest.approx(5 * 4 / math.sqrt(2))


def test_rank_and_alpha_patterns():
    cfg = {"r": 8, "lora_alpha": 16, "rank_pattern": {"layers.0.self_attn.q_proj": 4},
           "alpha_pattern": {r"layers\.\d+\.self_attn\.v_proj": 32}}
    assert lora_scale(cfg, "model.layers.0.self_attn.q_proj") == 16 / 4
    assert lora_scale(cfg, "model.layers.10.self_attn.q_proj") == 16 / 8  # "0" must not match "10"
    assert lora_scale(cfg, "model.layers.3.self_attn.v_proj") == 32 / 8
    assert lora_scale({**cfg, "use_rslora": True}, "model.layers.3.self_attn.k_proj") == 16 / math.sqrt(8)


def test_full_checkpoint_with_one_known_change(tiny_model_dir, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    with torch.no_grad():
        w = model.model.layers[0].mlp.down_proj.weight
        w[0, 0] += 0.5
        w[1, 1] -= 1.2
    model.save_pretrained(tmp_path)
    res = parameter_shift(tmp_path, seed=tiny_model_dir)
    assert res["kind"] == "full"
    assert res["per_module"]["model.layers.0.mlp.down_proj.weight"] == pytest.approx(1.3, abs=1e-5)
    assert res["total"] == pytest.approx(1.3, abs=1e-5) and res["l2"] == pytest.approx(1.3, abs=1e-5)
    assert parameter_shift(tiny_model_dir, seed=tiny_model_dir)["total"] == 0.0


def test_bad_folders_are_config_errors(tmp_path, tiny_model_dir):
    with pytest.raises(ConfigError, match="neither a LoRA adapter"):
        parameter_shift(tmp_path)
    with pytest.raises(ConfigError, match="needs the seed model"):
        parameter_shift(tiny_model_dir)
    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 2}))
    with pytest.raises(ConfigError, match="adapter weights missing"):
        parameter_shift(tmp_path)
