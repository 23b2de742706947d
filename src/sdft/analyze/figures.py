"""The shift analysis's figure, and the plotting helpers every figure of sdft uses.

- :func:`similarity_histograms`: distribution of each similarity measure per fine-tuned model,
  means marked with dashed lines (paper Fig. 9: vanilla vs SDFT on AdvBench).
- :func:`panels` lays out a grid of axes; :func:`save` writes a figure as PNG (for the HTML
  report) and SVG (for papers). The report's figures are :mod:`sdft.report.figures`.

Uses matplotlib's object API (``Figure`` without pyplot), so no global backend is switched and
nothing needs a display.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

MEASURE_NAMES = {"bleu4": "BLEU-4 vs seed", "rouge_l": "ROUGE-L vs seed", "cosine": "Embedding cosine vs seed",
                 "param_shift": "Parameter shift (sum of norms)"}


def panels(n_panels: int, width: float = 4.2, height: float = 3.2, max_cols: int = 3):
    """A figure of ``n_panels`` axes, at most ``max_cols`` a row, each ``width`` × ``height`` inches."""
    from matplotlib.figure import Figure

    cols = min(n_panels, max_cols)
    rows = math.ceil(n_panels / cols)
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n_panels)]
    return fig, axes


def save(fig, out_base: str | Path) -> list[Path]:
    """Write ``out_base``.png and .svg; return both paths."""
    base = Path(out_base)
    base.parent.mkdir(parents=True, exist_ok=True)
    paths = [base.with_suffix(".png"), base.with_suffix(".svg")]
    fig.savefig(paths[0], dpi=110)
    fig.savefig(paths[1])
    return paths


def similarity_histograms(pairs: dict[str, dict[str, Any]], out_base: str | Path,
                          measures: tuple[str, ...] = ("bleu4", "rouge_l", "cosine")) -> list[Path]:
    """Overlaid histograms of each measure, one colour per model, its mean as a dashed line."""
    measures = tuple(m for m in measures if any(m in p for p in pairs.values()))
    if not measures:
        return []
    fig, axes = panels(len(measures))
    for ax, measure in zip(axes, measures):
        for i, (label, pair) in enumerate(pairs.items()):
            summ = pair.get(measure)
            if not summ or not summ.get("values"):
                continue
            color = f"C{i}"
            ax.hist(summ["values"], bins=20, alpha=0.45, color=color, label=f"{label} (n={len(summ['values'])})")
            ax.axvline(summ["mean"], color=color, linestyle="--", linewidth=1.6)
            ax.text(summ["mean"], 0.98 - 0.07 * i, f" {summ['mean']:.2f}", color=color,
                    transform=ax.get_xaxis_transform(), va="top", fontsize=8)
        ax.set_title(MEASURE_NAMES.get(measure, measure), fontsize=10)
        ax.set_ylabel("examples")
        ax.legend(fontsize=8, loc="upper left" if measure == "bleu4" else "upper center")
    return save(fig, out_base)
