"""Shared fixtures: the data directory, a tiny random-weight model, the real packaged model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = Path(os.environ.get("SDFT_DATA_DIR") or REPO.parent / "shared" / "data")
    if not (d / "README.md").exists():
        pytest.skip(f"data directory not found at {d}")
    return d


@pytest.fixture(scope="session")
def smollm2_dir() -> str:
    """The real SmolLM2-135M, converted once into the user cache (about 30 s the first time)."""
    from sdft import models

    return models.materialize(models.resolve("smollm2-135m"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, smollm2_dir) -> str:
    """A 2-layer, hidden-16 Llama with random weights and SmolLM2's real tokenizer and chat
    template: fast enough for training and generation paths, real enough for templating."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=1024,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id, tie_word_embeddings=True)
    model = LlamaForCausalLM(cfg)
    out = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)
