"""Confidence intervals: percentile bootstrap over items, and paired differences.

Seeded, so a report rebuilt from the same files shows the same intervals.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def bootstrap_ci(values: Sequence[float], n_boot: int = 2000, seed: int = 0,
                 alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of per-item scores."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return (float("nan"), float("nan"))
    if x.size == 1:
        return (float(x[0]), float(x[0]))
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi))


def paired_difference(a: Sequence[float], b: Sequence[float], n_boot: int = 2000, seed: int = 0,
                      alpha: float = 0.05) -> dict[str, float]:
    """Mean of ``b - a`` over the same items, with a bootstrap CI that resamples items jointly."""
    a_, b_ = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a_.shape != b_.shape:
        raise ValueError(f"paired scores need the same items: {a_.size} vs {b_.size}")
    d = b_ - a_
    lo, hi = bootstrap_ci(d, n_boot=n_boot, seed=seed, alpha=alpha)
    return {"diff": float(d.mean()) if d.size else float("nan"), "ci95": [lo, hi], "n": int(d.size)}
