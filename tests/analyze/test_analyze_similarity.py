"""Similarity measures against known values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sdft.analyze import similarity


def test_bleu4_known_values():
    assert similarity.bleu4(["the cat sat on the mat"], ["the cat sat on the mat"]) == [pytest.approx(100.0)]
    assert similarity.bleu4(["alpha beta gamma delta"], ["one two three four"]) == [0.0]
    # Hand-computed: n-gram precisions 5/6, 3/5, 2/4, 1/3, equal lengths (no brevity penalty).
    expected = 100 * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25
    (got,) = similarity.bleu4(["the cat sat on the mat"], ["the cat sat on a mat"])
    assert got == pytest.approx(expected, abs=1e-6)
    assert got == pytest.approx(53.728, abs=1e-3)


def test_rouge_l_known_pair():
    # LCS "the cat sat on mat" = 5 tokens of 6 on both sides: P = R = F = 5/6.
    (f,) = similarity.rouge_l(["the cat sat on the mat"], ["the cat sat on a mat"])
    assert f == pytest.approx(5 / 6)
    # Different lengths: LCS "a b c" = 3; P = 3/3, R = 3/6 -> F = 2PR/(P+R) = 2/3.
    (f,) = similarity.rouge_l(["a b c"], ["a x b y c z"])
    assert f == pytest.approx(2 / 3)


def test_lengths_must_match():
    with pytest.raises(ValueError, match="one reference per hypothesis"):
        similarity.bleu4(["a"], [])


def test_cosine_with_an_injected_encoder():
    vectors = {"x": [1.0, 0.0], "y": [0.0, 2.0], "z": [-3.0, 0.0], "w": [1.0, 1.0]}
    encode = lambda texts: np.array([vectors[t] for t in texts])  # noqa: E731
    sims = similarity.cosine(["x", "x", "x", "w"], ["x", "y", "z", "x"], encode=encode)
    assert sims == pytest.approx([1.0, 0.0, -1.0, 1 / math.sqrt(2)])


def test_encoder_runs_on_the_default_device_and_is_recorded(monkeypatch, tmp_path):
    import sentence_transformers
    import torch

    from sdft import models, runs

    made = []

    class Encoder:  # stands in for SentenceTransformer: records where it was asked to run
        def __init__(self, path, device):
            made.append(device)
            self.device = torch.device("cpu")

        def parameters(self):
            return iter([torch.zeros(1, dtype=torch.float32)])

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", Encoder)
    monkeypatch.setattr(models, "default_device", lambda: "cuda")  # a GPU machine: no longer pinned to the CPU
    with runs.computing() as used:
        similarity.load_encoder(tmp_path)
        similarity.load_encoder(tmp_path, device="cpu")
    assert made == ["cuda", "cpu"]
    assert used == [{"what": str(tmp_path), "device": "cpu", "dtype": "float32"}] * 2


def test_summarize_mean_ci_and_values():
    s = similarity.summarize([0.0, 1.0, 1.0, 0.0])
    assert s["mean"] == 0.5 and s["values"] == [0.0, 1.0, 1.0, 0.0]
    assert 0.0 <= s["ci95"][0] <= 0.5 <= s["ci95"][1] <= 1.0


def test_compare_rejects_unknown_measure():
    with pytest.raises(ValueError, match="unknown similarity measure"):
        similarity.compare(["a"], ["a"], measures=("meteor",))


@pytest.mark.slow
def test_cosine_with_the_packaged_minilm():
    texts = ["I cannot help with that request.", "Here is a recipe for pancakes with blueberries."]
    same = similarity.cosine(texts, texts)
    assert same == pytest.approx([1.0, 1.0], abs=1e-5)
    cross = similarity.cosine(texts, list(reversed(texts)))
    assert all(-1.0 <= c <= 1.0 for c in cross) and cross[0] < 0.6
    close = similarity.cosine(["I can't assist with that."], ["I cannot help with that request."])
    assert close[0] > cross[0]
