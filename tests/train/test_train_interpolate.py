"""Weight interpolation on the tiny model: alpha 0 is the seed and alpha 1 the fine-tune, token for
token, merged or not; anything else is between; a full fine-tune is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdft.errors import ConfigError
from sdft.generation import GenerationConfig, Request, SamplingParams, make_generator
from sdft.train import TrainConfig, run_train
from sdft.train.interpolate import scaled_adapter

DATA = str(Path(__file__).resolve().parents[1] / "fixtures" / "train" / "toy_math.jsonl")
PROMPTS = ["What is 7 plus 8?", "What is 31 plus 4?", "Name a colour."]


@pytest.fixture(scope="module")
def trained(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("interp") / "ft"
    run_train(TrainConfig(model=tiny_model_dir, data=DATA, out=str(out), batch_size=4, grad_accum=1, max_length=128,
                          save_steps=100, scheduler="constant", dtype="float32", lr=0.3, lora_alpha=64,
                          lora_targets=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                          max_steps=12))
    return out


def _answers(model, adapter, merge: bool) -> list[str]:
    gen = make_generator(GenerationConfig(dtype="float32", device="cpu", merge_adapter=merge), model,
                         str(adapter) if adapter else None)
    reqs = [Request(str(i), [{"role": "user", "content": p}]) for i, p in enumerate(PROMPTS)]
    out = {c.id: c.text for c in gen.generate(reqs, SamplingParams(max_new_tokens=12))}
    return [out[str(i)] for i in range(len(PROMPTS))]


@pytest.mark.parametrize("merge", [True, False])
def test_alpha_0_is_the_seed_and_alpha_1_the_finetune_token_for_token(tiny_model_dir, trained, tmp_path, merge):
    seed, ft = _answers(tiny_model_dir, None, merge), _answers(tiny_model_dir, trained, merge)
    assert seed != ft  # the fine-tune changed something, so the checks below can fail
    assert _answers(tiny_model_dir, scaled_adapter(trained, 0.0, tmp_path / "a0"), merge) == seed
    assert _answers(tiny_model_dir, scaled_adapter(trained, 1.0, tmp_path / "a1"), merge) == ft


def test_the_update_scales_linearly(tiny_model_dir, trained, tmp_path):
    from safetensors.torch import load_file

    full = load_file(str(trained / "adapter_model.safetensors"))
    half = load_file(str(scaled_adapter(trained, 0.5, tmp_path / "h") / "adapter_model.safetensors"))
    for k, v in full.items():
        want = v * 0.5 if ".lora_B." in k else v
        assert (half[k] == want).all(), k
    assert (tmp_path / "h" / "adapter_config.json").read_text() == (trained / "adapter_config.json").read_text()


def test_a_full_finetune_or_a_bad_alpha_is_refused(tmp_path, trained):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="full fine-tune"):
        scaled_adapter(tmp_path / "full", 0.5, tmp_path / "x")
    with pytest.raises(ConfigError, match="alpha"):
        scaled_adapter(trained, 1.5, tmp_path / "y")
