"""The NLL gap of each distillation: how much closer to the seed model the distilled responses are.

Reads the ``nll`` block of ``distill_report.json`` (per-token NLL of the original, distilled,
kept-rewrite and kept-original responses under the seed model, each a ratio of summed NLL to
summed tokens with a bootstrap CI; see :mod:`sdft.distill.gap`). The gaps, original − distilled
and kept originals − kept rewrites (the same examples, so a paired comparison), get a bootstrap
CI over examples when the per-example ``nll.jsonl`` is beside the report (scripts/publish_run.py
publishes it: ids and numbers); without it the gaps are point estimates. Units: nats per token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sdft.analyze import runfiles
from sdft.evaluate.stats import N_BOOT
from sdft.runs import read_jsonl

SETS = ("original", "distilled", "kept_rewrites", "kept_originals")


def _paired_gaps(path: Path, n_boot: int = N_BOOT, seed: int = 0) -> dict[str, list[float]]:
    """Bootstrap CIs of the two gaps (ratios of sums over resampled examples)."""
    rows = [r for r in read_jsonl(path) if r.get("orig_tokens")]
    if len(rows) < 2:
        return {}
    o = np.array([r["orig_nll"] for r in rows])
    on = np.array([r["orig_tokens"] for r in rows], float)
    kept = np.array(["rewrite_nll" in r for r in rows])
    w = np.array([r.get("rewrite_nll", 0.0) for r in rows])
    wn = np.array([r.get("rewrite_tokens", 0) for r in rows], float)
    d, dn = np.where(kept, w, o), np.where(kept, wn, on)
    idx = np.random.default_rng(seed).integers(0, len(rows), size=(n_boot, len(rows)))
    ratio = lambda x, n, m: (x * m)[idx].sum(1) / np.maximum((n * m)[idx].sum(1), 1e-12)  # noqa: E731
    out = {"original_minus_distilled": ratio(o, on, 1.0) - ratio(d, dn, 1.0)}
    if kept.sum() >= 2:
        ok = (kept[idx]).any(1)  # replicates that drew at least one kept example
        out["kept_originals_minus_rewrites"] = (ratio(o, on, kept) - ratio(w, wn, kept))[ok]
    return {k: [float(q) for q in np.quantile(v, [0.025, 0.975])] for k, v in out.items()}


def gaps(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{distill dir: {"used_by", set name: {...}, "gaps": {name: {"diff", "ci95"}}}} for every
    distillation whose report has an NLL block."""
    out = {}
    for d in runfiles.distill_reports(run):
        block = d["report"].get("nll") or {}
        if not isinstance(block.get("original"), dict) or block["original"].get("nll_per_token") is None:
            continue
        entry: dict[str, Any] = {"used_by": d["labels"], **{s: block.get(s) for s in SETS}}
        nll_file = runfiles.path_in(run, d["dir"]) / "nll.jsonl"
        cis = _paired_gaps(nll_file) if nll_file.is_file() else {}
        entry["gaps"] = {}
        for name, (a, b) in {"original_minus_distilled": ("original", "distilled"),
                             "kept_originals_minus_rewrites": ("kept_originals", "kept_rewrites")}.items():
            pa, pb = (block.get(a) or {}).get("nll_per_token"), (block.get(b) or {}).get("nll_per_token")
            if pa is not None and pb is not None:
                entry["gaps"][name] = {"diff": pa - pb, "ci95": cis.get(name)}
        out[d["dir"]] = entry
    return out
