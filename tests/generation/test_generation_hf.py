"""The continuously batched HF backend against one-at-a-time greedy decoding."""

from __future__ import annotations

import copy

import pytest

from sdft.generation.base import Request, SamplingParams

QUESTIONS = [
    "Hi",
    "What is 2 + 2?",
    "Name three colours of the rainbow, please.",
    "Tom has 3 apples and buys 5 more. How many apples does he have now? Explain step by step.",
    "Write a haiku about the sea.",
    "Translate 'good morning' into French and Spanish, and say which one is shorter.",
    "ok",
]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    """The shared tiny model with weights scaled up: at the default init it greedily repeats one
    token forever, which would make every comparison below trivially true."""
    import torch

    from sdft import models

    model, tok = models.load(tiny_model_dir, device="cpu")
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0, 1.0)
    return model, tok


def _requests(prefill=""):
    return [Request(f"q{i}", [{"role": "user", "content": q}], prefill) for i, q in enumerate(QUESTIONS)]


def _one_at_a_time(model, tok, req, k):
    """The paper code's way: each prompt alone through model.generate, no padding."""
    from sdft.models import render_chat

    enc = tok(render_chat(tok, req.messages, req.prefill), return_tensors="pt", add_special_tokens=False)
    out = model.generate(**enc, max_new_tokens=k, min_new_tokens=k, do_sample=False)
    return out[0, enc.input_ids.shape[1]:].tolist()


def _gen(model, tok, **kw):
    from sdft.generation.hf import HFGenerator

    return HFGenerator(model, tok, **{"max_batch_size": 3, "refill_at": 1, **kw})


@pytest.mark.parametrize("evict_at", [1, 2, 3])
def test_continuous_batching_matches_one_at_a_time_greedy(tiny, evict_at):
    model, tok = tiny
    k = 12
    reqs = _requests()
    refs = {r.id: _one_at_a_time(model, tok, r, k) for r in reqs}
    # Make rows finish at different steps (a random model rarely emits its real EOS): declare
    # as "EOS" tokens that some references emit early, so rows are evicted and slots refilled.
    # evict_at > 1: finished rows keep decoding a while before their slots are reclaimed.
    gen = _gen(model, tok, evict_at=evict_at)
    gen.eos_ids = {refs["q0"][2], refs["q3"][6]}
    expected = {}
    for rid, toks in refs.items():
        cut = next((i + 1 for i, t in enumerate(toks) if t in gen.eos_ids), len(toks))
        expected[rid] = toks[:cut]
    assert len({len(v) for v in expected.values()}) > 1, "rows should finish at different steps"
    got = list(gen.generate(reqs, SamplingParams(max_new_tokens=k)))
    assert sorted(c.id for c in got) == sorted(refs)
    for c in got:
        want = expected[c.id]
        assert c.text == tok.decode(want, skip_special_tokens=True), c.id
        assert c.num_tokens == len(want)
        assert c.finish_reason == ("length" if len(want) == k and want[-1] not in gen.eos_ids else "stop")
    # Completions are yielded as they finish, not in request order.
    assert [c.id for c in got] != [r.id for r in reqs]


def test_the_kv_cache_goes_by_the_name_the_models_forward_takes(tiny):
    """transformers 5.24 renamed forward's past_key_values= to cache=; the GPU image has 5.17. A
    name the forward does not take would vanish into its **kwargs (and a cache of its own be built)."""
    import inspect

    import torch
    from peft import LoraConfig, get_peft_model

    from sdft.generation.hf import _cache_arg

    class Before524(torch.nn.Module):
        def forward(self, input_ids=None, attention_mask=None, position_ids=None, past_key_values=None, **kwargs):
            raise AssertionError("not called")

    assert _cache_arg(Before524()) == "past_key_values"
    model, _ = tiny
    assert _cache_arg(model) in inspect.signature(model.forward).parameters  # not a deprecated alias
    peft = get_peft_model(copy.deepcopy(model), LoraConfig(r=2, target_modules=["q_proj"]))
    assert _cache_arg(peft) == _cache_arg(model)  # PeftModel.forward(*args, **kwargs) passes it on


def test_a_prompt_that_does_not_fit_beside_the_running_rows_waits_for_them(tiny):
    """A KV budget for one row at a time: free slots but no room must mean decode, not an empty prefill."""
    from sdft.models import render_chat

    model, tok = tiny
    k = 6
    reqs = _requests()
    longest = max(len(tok(render_chat(tok, r.messages), add_special_tokens=False)["input_ids"]) for r in reqs)
    gen = _gen(model, tok, max_batch_tokens=longest + k)
    got = {c.id: c for c in gen.generate(reqs, SamplingParams(max_new_tokens=k))}
    assert sorted(got) == sorted(r.id for r in reqs)
    for r in reqs:  # one row at a time is exactly the unbatched greedy decode
        ref = _one_at_a_time(model, tok, r, k)
        cut = next((i + 1 for i, t in enumerate(ref) if t in gen.eos_ids), k)
        assert got[r.id].text == tok.decode(ref[:cut], skip_special_tokens=True), r.id


def test_lm_head_only_sees_contiguous_inputs(tiny):
    """A strided (rows, 1, hidden) view makes torch's CPU matmul copy the LM head weight once per
    row (an OOM kill on Qwen at 93 prefill rows); every prefill and decode must hand it a
    contiguous tensor with one position per row."""
    model, tok = tiny
    seen = []
    hook = model.get_output_embeddings().register_forward_hook(
        lambda mod, args, out: seen.append((tuple(args[0].shape), args[0].is_contiguous())))
    try:
        list(_gen(model, tok).generate(_requests(), SamplingParams(max_new_tokens=4)))
    finally:
        hook.remove()
    assert len(seen) > 4 and all(contiguous and shape[1] == 1 for shape, contiguous in seen), seen


def test_max_new_tokens_gives_length_and_prompt_is_rendered(tiny):
    from sdft.models import render_chat

    model, tok = tiny
    reqs = _requests(prefill="Sure,")
    gen = _gen(model, tok, max_batch_size=4)
    gen.eos_ids = set()  # never stop early
    got = {c.id: c for c in gen.generate(reqs, SamplingParams(max_new_tokens=5))}
    for r in reqs:
        c = got[r.id]
        assert (c.finish_reason, c.num_tokens) == ("length", 5)
        assert c.prompt == render_chat(tok, r.messages, "Sure,")
        assert c.prompt.endswith("<|im_start|>assistant\nSure,")


def test_stop_string_cuts_text(tiny):
    model, tok = tiny
    reqs = _requests()[:3]
    gen = _gen(model, tok)
    gen.eos_ids = set()
    full = {c.id: c.text for c in gen.generate(reqs, SamplingParams(max_new_tokens=16))}
    text = full["q1"]
    stop = text[6:9]
    assert stop.strip(), f"pick another slice of {text!r}"
    got = {c.id: c for c in gen.generate(reqs, SamplingParams(max_new_tokens=16, stop=(stop,)))}
    c = got["q1"]
    assert c.text == text[: text.index(stop)]
    assert c.finish_reason == "stop" and c.num_tokens < 16
    for rid, t in full.items():  # the other rows stop at the same string if they contain it
        assert got[rid].text == (t[: t.index(stop)] if stop in t else t)


def test_seeded_sampling_is_reproducible_and_seed_dependent(tiny):
    model, tok = tiny
    reqs = _requests()
    gen = _gen(model, tok)

    def sample(seed):
        sp = SamplingParams(max_new_tokens=8, temperature=1.0, top_p=0.95, seed=seed)
        return {c.id: c.text for c in gen.generate(reqs, sp)}

    a, b, c = sample(1), sample(1), sample(2)
    assert a == b
    assert a != c
    greedy = {c.id: c.text for c in gen.generate(reqs, SamplingParams(max_new_tokens=8))}
    assert a != greedy


@pytest.mark.slow
def test_real_smollm2_answers_a_math_question():
    from sdft.generation.hf import HFGenerator

    gen = HFGenerator.from_spec("smollm2-135m", device="cpu")
    q = "Natalia sold 48 clips in April and half as many clips in May. How many clips did she sell in all?"
    reqs = [Request("n", [{"role": "user", "content": q}]),
            Request("m", [{"role": "user", "content": "What is 7 + 5?"}])]
    got = {c.id: c for c in gen.generate(reqs, SamplingParams(max_new_tokens=96))}
    assert any(ch.isdigit() for ch in got["n"].text), got["n"].text
    assert "12" in got["m"].text, got["m"].text


def test_a_lora_adapter_is_merged_for_generation_unless_asked_not_to(tmp_path, tiny_model_dir):
    """``merge_adapter`` (default on) folds the LoRA into the weights: no PEFT layers are left,
    and the logits are the adapted model's (the same as with PEFT layers, not the base's)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from sdft.generation import GenerationConfig, make_generator

    torch.manual_seed(0)
    lora = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                          LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    lora.save_pretrained(tmp_path / "adapter")
    cfg = GenerationConfig(dtype="float32", device="cpu")
    ids = torch.tensor([[1, 5, 9, 13, 2]])

    merged = make_generator(cfg, tiny_model_dir, adapter=str(tmp_path / "adapter")).model
    kept = make_generator(GenerationConfig(dtype="float32", device="cpu", merge_adapter=False), tiny_model_dir,
                          adapter=str(tmp_path / "adapter")).model
    base = make_generator(cfg, tiny_model_dir).model
    assert not any("lora_" in name for name, _ in merged.named_modules())
    assert any("lora_" in name for name, _ in kept.named_modules())
    with torch.no_grad():
        out = {k: m(ids).logits for k, m in {"merged": merged, "kept": kept, "base": base}.items()}
    torch.testing.assert_close(out["merged"], out["kept"], atol=1e-4, rtol=1e-4)
    assert (out["merged"] - out["base"]).abs().max() > 1e-2
