"""The report's figures, drawn from saved numbers only (see :mod:`sdft.analyze.figures` for the
helpers and the similarity histograms).

- :func:`sweep_figure`: every benchmark score and every shift measure against sample size or
  mix ratio, one line per method, the seed as a dotted level (paper Figs. 5-8); drawn only for
  a sweep of three points or more.
- :func:`benchmark_bars`: per-benchmark bars per model (per method, for one trained with
  several seeds) with 95% CI whiskers.
- :func:`forest_plot`: every model's (or seeded method's) change vs the seed per endpoint, with
  its CI, in percentage points as in the tables.

Uses matplotlib's object API (``Figure`` without pyplot), so no global backend is switched and
nothing needs a display.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sdft.analyze.figures import MEASURE_NAMES, panels, save, similarity_histograms

SWEEP_AXES = {"sample_size": "training examples", "mix_ratio": "share of distilled responses"}


def sweep_points(models: list[dict[str, Any]], analysis: dict[str, Any] | None, axis: str) -> list[dict[str, Any]]:
    """Models on one sweep axis: {"label", "line", "x", "values": {name: y}}.

    Sample size: one line per (method, mix ratio), so an SDFT point at mix 0.5 does not join the
    mix-1.0 line. Mix ratio: vanilla is the 0.0 end of the SDFT line, so one line per sample size.
    """
    pairs = (analysis or {}).get("pairs") or {}
    shifts = (analysis or {}).get("param_shift") or {}
    out = []
    for m in models:
        if m.get("method") not in ("vanilla", "sdft") or m.get(axis) is None:
            continue
        values = {b: 100 * r["score"] for b, r in (m.get("results") or {}).items() if r.get("score") is not None}
        for measure in ("bleu4", "rouge_l", "cosine"):
            if measure in pairs.get(m["label"], {}):
                values[measure] = pairs[m["label"]][measure]["mean"]
        if m["label"] in shifts:
            values["param_shift"] = shifts[m["label"]]["total"]
        if axis == "sample_size":
            line = f"{m['method']} (mix {m.get('mix_ratio')})" if m.get("mix_ratio") is not None else m["method"]
        else:
            line = f"n={m.get('sample_size')}" if m.get("sample_size") is not None else "all"
        out.append({"label": m["label"], "line": line, "x": float(m[axis]), "values": values})
    return out


MIN_SWEEP_POINTS = 3  # two points make a line through anything; they are in the tables already


def _by_line(points: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Points per line, sorted by x; models at the same x (training seeds) averaged into one."""
    groups: dict[str, dict[float, list[dict[str, Any]]]] = {}
    for p in points:
        groups.setdefault(p["line"], {}).setdefault(p["x"], []).append(p)
    out = {}
    for line, by_x in groups.items():
        out[line] = []
        for x in sorted(by_x):
            same = by_x[x]
            names = dict.fromkeys(n for p in same for n in p["values"])
            values = {n: sum(v) / len(v) for n in names if (v := [p["values"][n] for p in same if n in p["values"]])}
            out[line].append({"label": ", ".join(p["label"] for p in same), "line": line, "x": x, "values": values})
    return out


def sweep_figure(models: list[dict[str, Any]], analysis: dict[str, Any] | None, axis: str,
                 out_base: str | Path) -> list[Path]:
    """One panel per benchmark / measure against ``axis``; nothing unless some line has at least
    three points (models trained with several seeds count once, at their mean)."""
    lines: dict[str, list[dict[str, Any]]] = {}
    for line, pts in _by_line(sweep_points(models, analysis, axis)).items():
        if len(pts) >= MIN_SWEEP_POINTS:
            lines[line] = pts
    if not lines:
        return []
    # A panel is worth drawing only where some line has enough points of that measure.
    names: dict[str, None] = {}
    for pts in lines.values():
        for p in pts:
            for name in p["values"]:
                if sum(name in q["values"] for q in pts) >= MIN_SWEEP_POINTS:
                    names[name] = None
    if not names:
        return []
    seed = next((m for m in models if m.get("method") == "seed"), None)
    seed_scores = {b: 100 * r["score"] for b, r in ((seed or {}).get("results") or {}).items()
                   if r.get("score") is not None}
    fig, axes = panels(len(names), width=3.8, height=2.9, max_cols=4)
    for ax, name in zip(axes, names):
        for i, (line, pts) in enumerate(lines.items()):
            xs = [p["x"] for p in pts if name in p["values"]]
            ys = [p["values"][name] for p in pts if name in p["values"]]
            ax.plot(xs, ys, marker="o", color=f"C{i}", label=line)
        if name in seed_scores:
            ax.axhline(seed_scores[name], color="grey", linestyle=":", label="seed")
        ax.set_title(MEASURE_NAMES.get(name, f"{name} (%)"), fontsize=9)
        ax.set_xlabel(SWEEP_AXES.get(axis, axis), fontsize=8)
        xs_all = sorted({p["x"] for pts in lines.values() for p in pts})
        ax.set_xticks(xs_all, [f"{x:g}" for x in xs_all])
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    return save(fig, out_base)


def benchmark_bars(bars: list[dict[str, Any]], benchmarks: list[str], out_base: str | Path) -> list[Path]:
    """Grouped bars: one group per benchmark, one bar per entry of ``bars`` ({"label", "scores":
    {benchmark: {"mean", "ci95"}}}, percent: a model, or a method's mean over its training
    seeds), whiskers at the 95% CI."""
    bars = [b for b in bars if any(k in b["scores"] for k in benchmarks)]
    if not bars or not benchmarks:
        return []
    from matplotlib.figure import Figure

    width = 0.8 / len(bars)
    fig = Figure(figsize=(max(6.0, 1.1 * len(benchmarks) * max(1, len(bars) / 3)), 3.6), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    for i, bar in enumerate(bars):
        xs, ys, lo, hi = [], [], [], []
        for j, b in enumerate(benchmarks):
            r = bar["scores"].get(b)
            if not r or r.get("mean") is None or math.isnan(r["mean"]):
                continue
            y = r["mean"]
            ci = r.get("ci95") or [y, y]
            xs.append(j - 0.4 + width * (i + 0.5))
            ys.append(y)
            lo.append(max(0.0, y - ci[0]))
            hi.append(max(0.0, ci[1] - y))
        ax.bar(xs, ys, width=width, color=f"C{i}", label=bar["label"], yerr=[lo, hi], capsize=2,
               error_kw={"elinewidth": 0.8})
    ax.set_xticks(range(len(benchmarks)), benchmarks, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("score (%)")
    ax.legend(fontsize=8, ncols=min(len(bars), 6), loc="upper center", bbox_to_anchor=(0.5, -0.25))
    return save(fig, out_base)


def forest_plot(rows: list[dict[str, Any]], out_base: str | Path) -> list[Path]:
    """Changes vs the seed with their CIs, one row per endpoint × model (or method), grouped by
    endpoint, coloured by method. ``rows``: {"endpoint", "model", "method", "diff", "ci95",
    "approx"}, in percentage points."""
    rows = [r for r in rows if r.get("diff") is not None and not math.isnan(r["diff"])]
    if not rows:
        return []
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig = Figure(figsize=(8.0, 0.9 + 0.26 * len(rows)), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    ys, labels, previous = [], [], None
    for i, r in enumerate(rows):
        y = -i
        color = f"C{methods.index(r['method'])}"
        lo, hi = r["ci95"] if r.get("ci95") and not math.isnan(r["ci95"][0]) else (r["diff"], r["diff"])
        ax.plot([lo, hi], [y, y], color=color, linewidth=1.6, linestyle=":" if r.get("approx") else "-")
        ax.plot([r["diff"]], [y], marker="o", color=color, markersize=5)
        if previous is not None and r["endpoint"] != previous:
            ax.axhline(y + 0.5, color="#dddddd", linewidth=0.8)
        previous = r["endpoint"]
        ys.append(y)
        labels.append(f"{r['endpoint']} · {r['model']}")
    ax.axvline(0, color="grey", linewidth=0.9)
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_ylim(-len(rows) + 0.5, 0.5)
    ax.set_xlabel("change vs the seed model (percentage points, 95% CI)", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    handles = [Line2D([], [], color=f"C{i}", marker="o", label=m) for i, m in enumerate(methods)]
    if any(r.get("approx") for r in rows):
        handles.append(Line2D([], [], color="grey", linestyle=":", label="≈ unpaired (no predictions)"))
    ax.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.09 - 1.2 / len(rows)),
              ncols=len(handles), frameon=False)
    return save(fig, out_base)


def all_figures(models: list[dict[str, Any]], bars: list[dict[str, Any]], benchmarks: list[str],
                analysis: dict[str, Any] | None, out_dir: str | Path) -> dict[str, list[Path]]:
    """Every figure the saved numbers allow, keyed by name; missing inputs give no figure.
    ``bars``: :func:`benchmark_bars`' entries."""
    out_dir = Path(out_dir)
    figs = {"benchmarks": benchmark_bars(bars, benchmarks, out_dir / "benchmarks")}
    if analysis and analysis.get("pairs"):
        figs["similarity"] = similarity_histograms(analysis["pairs"], out_dir / "similarity_hist")
    for axis in SWEEP_AXES:
        figs[f"sweep_{axis}"] = sweep_figure(models, analysis, axis, out_dir / f"sweep_{axis}")
    return {k: v for k, v in figs.items() if v}
