"""Figures along training, from saved files only: loss curves and the dev-slice trajectory.

- :func:`loss_curves`: each fine-tune's training loss per optimizer step (``train_log.jsonl``),
  one panel per method with a shared y axis, one line per model (a running mean over a tenth
  of the steps, the raw per-step loss faint behind it).
- :func:`trajectory_figure`: the manifest's ``trajectory``: the seed (step 0), the training
  snapshots and the final model of each followed fine-tune, scored on the dev slice. One panel
  per benchmark against the step, and, when both are there, AdvBench refusal against GSM8K
  accuracy (safety vs task gain) joined along training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdft.analyze.figures import panels, save


def _running_mean(ys: list[float], window: int) -> list[float]:
    out, total = [], 0.0
    for i, y in enumerate(ys):
        total += y
        if i >= window:
            total -= ys[i - window]
        out.append(total / min(i + 1, window))
    return out


def loss_curves(logs: dict[str, list[dict[str, Any]]], method_of: dict[str, str], out_base: str | Path) -> list[Path]:
    """``logs``: {label: records with step and loss}; ``method_of``: {label: method}."""
    logs = {k: v for k, v in logs.items() if v}
    if not logs:
        return []
    methods = list(dict.fromkeys(method_of.get(k, k) for k in logs))
    fig, axes = panels(len(methods), width=4.6, height=3.0, max_cols=3)
    for ax in axes[1:]:
        ax.sharey(axes[0])
    for ax, method in zip(axes, methods):
        labels = [k for k in logs if method_of.get(k, k) == method]
        for i, label in enumerate(labels):
            steps = [r["step"] for r in logs[label]]
            loss = [float(r["loss"]) for r in logs[label]]
            window = max(1, round(len(loss) / 10))
            ax.plot(steps, loss, color=f"C{i}", alpha=0.25, linewidth=0.8)
            ax.plot(steps, _running_mean(loss, window), color=f"C{i}", linewidth=1.6,
                    label=f"{label} (mean {sum(loss) / len(loss):.2f})")
        ax.set_title(f"{method}: training loss", fontsize=10)
        ax.set_xlabel("optimizer step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("loss (per token)", fontsize=8)
    return save(fig, out_base)


def _point(results: dict[str, Any], bench: str) -> tuple[float, float, float] | None:
    r = results.get(bench) or {}
    if not isinstance(r.get("score"), (int, float)):
        return None
    ci = r.get("ci95") if r.get("ci95") and None not in r["ci95"] else [r["score"], r["score"]]
    return 100 * r["score"], 100 * ci[0], 100 * ci[1]


def trajectory_lines(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{label: {"method", "train_seed", "steps": [...], "results": [...]}} for each followed
    fine-tune, the seed's step-0 evaluation first on every line."""
    seed = next((e for e in entries if e.get("method") == "seed"), None)
    lines: dict[str, dict[str, Any]] = {}
    for e in sorted((e for e in entries if e.get("method") != "seed"), key=lambda e: e["step"]):
        line = lines.setdefault(e["label"], {"method": e.get("method"), "train_seed": e.get("train_seed"),
                                              "steps": [], "results": []})
        if not line["steps"] and seed is not None and e["step"] != 0:
            line["steps"].append(0)
            line["results"].append(seed["results"])
        line["steps"].append(e["step"])
        line["results"].append(e["results"])
    return lines


def trajectory_figure(entries: list[dict[str, Any]], out_base: str | Path,
                      task: str = "gsm8k", safety: str = "advbench") -> list[Path]:
    lines = trajectory_lines(entries)
    if not lines:
        return []
    benches = list(dict.fromkeys(b for ln in lines.values() for res in ln["results"] for b in res
                                 if _point(res, b) is not None))
    scatter = task in benches and safety in benches
    fig, axes = panels(len(benches) + scatter, width=4.3, height=3.2, max_cols=3)
    methods = list(dict.fromkeys(ln["method"] for ln in lines.values()))
    styles = ["-", "--", ":", "-."]

    def look(label: str) -> dict[str, Any]:
        ln = lines[label]
        same = [k for k in lines if lines[k]["method"] == ln["method"]]
        return {"color": f"C{methods.index(ln['method'])}", "linestyle": styles[same.index(label) % len(styles)]}

    for ax, bench in zip(axes, benches):
        for label, ln in lines.items():
            pts = [(s, p) for s, res in zip(ln["steps"], ln["results"]) if (p := _point(res, bench))]
            xs, ys = [s for s, _ in pts], [p[0] for _, p in pts]
            err = [[p[0] - p[1] for _, p in pts], [p[2] - p[0] for _, p in pts]]
            ax.errorbar(xs, ys, yerr=err, marker="o", markersize=4, capsize=2, elinewidth=0.7, label=label,
                        **look(label))
        ax.set_title(f"{bench} on the dev slice (%, 95% CI)", fontsize=9)
        ax.set_xlabel("training step (0 = seed model)", fontsize=8)
        ax.tick_params(labelsize=7)
    if scatter:
        ax = axes[len(benches)]
        for label, ln in lines.items():
            pts = [(s, a[0], b[0]) for s, res in zip(ln["steps"], ln["results"])
                   if (a := _point(res, task)) and (b := _point(res, safety))]
            ax.plot([p[1] for p in pts], [p[2] for p in pts], marker="o", markersize=4, label=label, **look(label))
            for s, x, y in pts:
                ax.annotate(str(s), (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel(f"{task} accuracy (%, task gain)", fontsize=8)
        ax.set_ylabel(f"{safety} refusal (%, safety)", fontsize=8)
        ax.set_title("safety vs task along training (labels: step)", fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    return save(fig, out_base)
