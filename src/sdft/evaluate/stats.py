"""Confidence intervals: percentile bootstrap over items, paired differences, and two-level
(items, training seeds) bootstraps for methods trained with several seeds; and seed-level
inference on per-seed values alone (an exact permutation test over training seeds and a Welch
t interval; for pairs made from one training seed, e.g. a weight-interpolation point and the
fine-tune it was made from, an exact sign-flip test and a paired t interval), which treats the
training seed as the unit: with three seeds a side no test can say much, whatever the number of
items.

Seeded, so a report rebuilt from the same files shows the same intervals.
"""

from __future__ import annotations

from itertools import combinations, product
from math import comb
from typing import Sequence

import numpy as np

# Bootstrap resamples of every interval here and in the report: the one default.
N_BOOT = 2000
# Relabelings the exact permutation test enumerates at most (12 vs 12 seeds: 2.7 million).
MAX_RELABELINGS = 3_000_000


def bootstrap_ci(values: Sequence[float], n_boot: int = N_BOOT, seed: int = 0,
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


def mean_ci(values: Sequence[float], seed: int = 0) -> dict:
    """``score`` (the mean, NaN when there are no values), ``n`` and the bootstrap ``ci95``."""
    n = len(values)
    return {"score": sum(values) / n if n else float("nan"), "n": n, "ci95": list(bootstrap_ci(values, seed=seed))}


def paired_difference(a: Sequence[float], b: Sequence[float], n_boot: int = N_BOOT, seed: int = 0,
                      alpha: float = 0.05) -> dict[str, float]:
    """Mean of ``b - a`` over the same items, with a bootstrap CI that resamples items jointly."""
    a_, b_ = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a_.shape != b_.shape:
        raise ValueError(f"paired scores need the same items: {a_.size} vs {b_.size}")
    d = b_ - a_
    lo, hi = bootstrap_ci(d, n_boot=n_boot, seed=seed, alpha=alpha)
    return {"diff": float(d.mean()) if d.size else float("nan"), "ci95": [lo, hi], "n": int(d.size)}


def hierarchical_difference(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]], n_boot: int = N_BOOT,
                            seed: int = 0, alpha: float = 0.05) -> dict[str, float]:
    """Mean of method B minus mean of method A, each trained with several seeds and scored on
    the same items, with a CI from a two-level bootstrap.

    ``a[s][i]`` is the score of A's training seed ``s`` on item ``i`` (B likewise; every row
    covers the same items in the same order). Each replicate resamples the items once, jointly
    for all models (the comparison stays paired), and each method's seeds independently, so the
    interval carries both the item sampling and the seed-to-seed spread. With one seed per
    method it reduces to :func:`paired_difference`'s item bootstrap.
    """
    A, B = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[1]:
        raise ValueError(f"need seeds x items arrays over the same items, got {A.shape} and {B.shape}")
    diff = float(B.mean() - A.mean())
    n_items = A.shape[1]
    if n_items == 0:
        return {"diff": float("nan"), "ci95": [float("nan"), float("nan")], "n": 0, "seeds": [0, 0]}
    rng = np.random.default_rng(seed)
    items = rng.integers(0, n_items, size=(n_boot, n_items))
    sa = rng.integers(0, A.shape[0], size=(n_boot, A.shape[0]))
    sb = rng.integers(0, B.shape[0], size=(n_boot, B.shape[0]))
    # Per replicate: the mean over resampled items of each seed's row, then over resampled seeds.
    item_means_a = np.stack([A[:, idx].mean(axis=1) for idx in items])  # (n_boot, seeds)
    item_means_b = np.stack([B[:, idx].mean(axis=1) for idx in items])
    reps = (np.take_along_axis(item_means_b, sb, 1).mean(1) - np.take_along_axis(item_means_a, sa, 1).mean(1))
    lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    return {"diff": diff, "ci95": [float(lo), float(hi)], "n": int(n_items), "seeds": [A.shape[0], B.shape[0]]}


def hierarchical_mean(a: Sequence[Sequence[float]], n_boot: int = N_BOOT, seed: int = 0,
                      alpha: float = 0.05) -> dict[str, float]:
    """Mean score of one method trained with several seeds, with the two-level bootstrap CI of
    :func:`hierarchical_difference` (items resampled, then the method's seeds).

    ``a[s][i]`` is training seed ``s``'s score on item ``i``. With one seed it is the item
    bootstrap of :func:`bootstrap_ci` (drawn from another random stream, so the bounds can differ
    from it in the last digits)."""
    A = np.asarray(a, dtype=float)
    if A.ndim != 2:
        raise ValueError(f"need a seeds x items array, got shape {A.shape}")
    n_items = A.shape[1]
    if n_items == 0 or A.shape[0] == 0:
        return {"mean": float("nan"), "ci95": [float("nan"), float("nan")], "n": 0, "seeds": A.shape[0]}
    rng = np.random.default_rng(seed)
    items = rng.integers(0, n_items, size=(n_boot, n_items))
    seeds = rng.integers(0, A.shape[0], size=(n_boot, A.shape[0]))
    item_means = np.stack([A[:, idx].mean(axis=1) for idx in items])  # (n_boot, seeds)
    reps = np.take_along_axis(item_means, seeds, 1).mean(1)
    lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    return {"mean": float(A.mean()), "ci95": [float(lo), float(hi)], "n": int(n_items), "seeds": int(A.shape[0])}


def permutation_p(a: Sequence[float], b: Sequence[float]) -> dict:
    """Exact two-sided permutation test of mean(b) − mean(a) over training seeds.

    ``a`` and ``b`` hold one value per seed (e.g. each seed's endpoint score). Every one of the
    C(n+m, n) ways to relabel the pooled values into groups of the two sizes is enumerated; ``p``
    is the share whose |difference of means| is at least the observed one (the observed labeling
    counts, so p >= 1/C; with complete separation of n vs n it is 2/C, e.g. 0.10 for 3 vs 3).
    Returns {"diff", "p", "relabelings", "seeds": [n, m]}; p is NaN when either side is empty.
    """
    x = np.concatenate([np.asarray(a, dtype=float), np.asarray(b, dtype=float)])
    n, m = len(a), len(b)
    if not n or not m:
        return {"diff": float("nan"), "p": float("nan"), "relabelings": 0, "seeds": [n, m]}
    total, count = comb(n + m, n), 0
    if total > MAX_RELABELINGS:
        raise ValueError(f"{n} vs {m} seeds: {total} relabelings, more than the exact test enumerates")
    observed = abs(x[n:].mean() - x[:n].mean())
    whole = x.sum()
    for idx in combinations(range(n + m), n):
        sa = x[list(idx)].sum()
        # a relative tolerance, so ties of the observed difference count however they are summed
        if abs((whole - sa) / m - sa / n) >= observed - 1e-9 * max(1.0, observed):
            count += 1
    return {"diff": float(x[n:].mean() - x[:n].mean()), "p": count / total, "relabelings": total, "seeds": [n, m]}


def welch_interval(a: Sequence[float], b: Sequence[float], alpha: float = 0.05) -> dict:
    """Welch's t interval for mean(b) − mean(a) from per-seed values (unequal variances,
    Welch-Satterthwaite degrees of freedom). {"diff", "ci95", "df", "seeds"}; the bounds are NaN
    with fewer than two values a side, and equal the difference when both sides have no spread."""
    from scipy.stats import t

    A, B = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    out = {"diff": float(B.mean() - A.mean()) if A.size and B.size else float("nan"),
           "ci95": [float("nan"), float("nan")], "df": float("nan"), "seeds": [int(A.size), int(B.size)]}
    if A.size < 2 or B.size < 2:
        return out
    va, vb = A.var(ddof=1) / A.size, B.var(ddof=1) / B.size
    se = float(np.sqrt(va + vb))
    if se == 0:
        out["ci95"] = [out["diff"], out["diff"]]
        return out
    df = (va + vb) ** 2 / (va**2 / (A.size - 1) + vb**2 / (B.size - 1))
    half = float(t.ppf(1 - alpha / 2, df)) * se
    out.update(ci95=[out["diff"] - half, out["diff"] + half], df=float(df))
    return out


def sign_flip_p(d: Sequence[float]) -> dict:
    """Exact two-sided test that paired differences (one per training seed) centre on 0.

    Every one of the 2^k ways to flip the signs of the k differences is enumerated; ``p`` is the
    share whose |mean| is at least the observed one (the observed signs count, so p >= 2/2^k when
    none is 0: 0.25 for 3 pairs, 0.0625 for 5). {"diff", "p", "flips", "pairs"}; p is NaN without
    pairs."""
    x = np.asarray(d, dtype=float)
    k = x.size
    if not k:
        return {"diff": float("nan"), "p": float("nan"), "flips": 0, "pairs": 0}
    if 2**k > MAX_RELABELINGS:
        raise ValueError(f"{k} pairs: {2 ** k} sign flips, more than the exact test enumerates")
    observed = abs(x.mean())
    means = np.abs(np.array(list(product((1.0, -1.0), repeat=k))) @ x) / k
    count = int((means >= observed - 1e-9 * max(1.0, observed)).sum())
    return {"diff": float(x.mean()), "p": count / 2**k, "flips": 2**k, "pairs": k}


def paired_t_interval(d: Sequence[float], alpha: float = 0.05) -> dict:
    """Student's t interval for the mean of paired differences (one per training seed):
    {"diff", "ci95", "df", "pairs"}; NaN bounds with fewer than two pairs, the mean itself when
    the differences do not vary."""
    from scipy.stats import t

    x = np.asarray(d, dtype=float)
    out = {"diff": float(x.mean()) if x.size else float("nan"), "ci95": [float("nan"), float("nan")],
           "df": float(x.size - 1) if x.size > 1 else float("nan"), "pairs": int(x.size)}
    if x.size < 2:
        return out
    half = float(t.ppf(1 - alpha / 2, x.size - 1)) * float(x.std(ddof=1)) / np.sqrt(x.size)
    out["ci95"] = [out["diff"] - half, out["diff"] + half]
    return out


def _kappa(po: np.ndarray, pe: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pe < 1, (po - pe) / np.where(pe < 1, 1 - pe, 1), np.nan)


def cohen_kappa(a: Sequence, b: Sequence) -> float:
    """Cohen's κ of two raters' labels over the same items: (p_o - p_e) / (1 - p_e), with p_o the
    share of items they agree on and p_e the agreement their label frequencies give by chance.
    NaN when chance agreement is 1 (both always give the one same label) or there are no items."""
    if len(a) != len(b):
        raise ValueError(f"kappa needs two labels per item: {len(a)} vs {len(b)}")
    if not len(a):
        return float("nan")
    labels = sorted(set(a) | set(b), key=str)
    A, B = (np.asarray([labels.index(x) for x in v]) for v in (a, b))
    pe = sum((A == k).mean() * (B == k).mean() for k in range(len(labels)))
    return float(_kappa(np.asarray((A == B).mean()), np.asarray(pe)))


def kappa_ci(a: Sequence, b: Sequence, n_boot: int = N_BOOT, seed: int = 0, alpha: float = 0.05) -> dict:
    """``score`` (Cohen's κ), ``n``, ``ci95`` (percentile bootstrap over items, the replicates
    where κ is undefined left out) and ``agreement`` (the raw share of items agreed on)."""
    n, kappa = len(a), cohen_kappa(a, b)
    out = {"score": kappa, "n": n, "ci95": [float("nan"), float("nan")],
           "agreement": float(np.mean([x == y for x, y in zip(a, b)])) if n else float("nan")}
    if n < 2:
        return out
    labels = sorted(set(a) | set(b), key=str)
    A, B = (np.asarray([labels.index(x) for x in v]) for v in (a, b))
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    ra, rb = A[idx], B[idx]
    po = (ra == rb).mean(axis=1)
    pe = sum((ra == k).mean(axis=1) * (rb == k).mean(axis=1) for k in range(len(labels)))
    reps = _kappa(po, pe)
    reps = reps[~np.isnan(reps)]
    if reps.size:
        lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
        out["ci95"] = [float(lo), float(hi)]
    return out
