"""The NLL gap: per-response log-likelihoods under the seed model in the training context."""

from __future__ import annotations

import json

import pytest

from sdft import models
from sdft.data.chat import tokenize
from sdft.data.records import Example
from sdft.distill import gap


def test_response_nll_matches_the_models_own_loss(tiny_model_dir):
    import torch

    model, tok = models.load(tiny_model_dir, device="cpu", dtype="float32")
    examples = [Example(id=f"e{i}", instruction="Add " * (i + 1) + "things.", response="It is " + "7 " * (3 * i + 1))
                for i in range(5)]
    got = gap.response_nll(model, tok, examples, batch_tokens=64)  # several padded batches
    assert len(got) == len(examples)
    for ex, (nll, n) in zip(examples, got):
        (row,) = tokenize(tok, [ex], 2048).rows
        with torch.no_grad():
            loss = model(input_ids=torch.tensor([row["input_ids"]]), labels=torch.tensor([row["labels"]])).loss
        n_resp = sum(t != -100 for t in row["labels"][1:])
        assert n == n_resp
        assert nll / n == pytest.approx(float(loss), rel=1e-4)


def test_summary_of_the_three_sets(tmp_path):
    path = tmp_path / gap.NLL_FILE
    rows = [{"id": "a", "orig_nll": 20.0, "orig_tokens": 10, "rewrite_nll": 5.0, "rewrite_tokens": 10},
            {"id": "b", "orig_nll": 30.0, "orig_tokens": 10}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = gap.summarize(path)
    assert s["original"]["nll_per_token"] == 2.5            # (20 + 30) / 20
    assert s["distilled"]["nll_per_token"] == 1.75          # (5 + 30) / 20: the kept rewrite replaces a
    assert s["kept_rewrites"]["nll_per_token"] == 0.5 and s["kept_rewrites"]["n"] == 1
    assert s["kept_originals"]["nll_per_token"] == 2.0
    lo, hi = s["original"]["ci95"]
    assert lo <= 2.5 <= hi


def test_gap_bootstrap_uses_the_one_n_boot_default():
    """gap.summarize writes N_BOOT out (distill does not import evaluate); this holds them equal."""
    import inspect

    from sdft.evaluate.stats import N_BOOT

    assert inspect.signature(gap.summarize).parameters["n_boot"].default == N_BOOT
