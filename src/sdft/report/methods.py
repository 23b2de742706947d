"""Which way of fine-tuning forgets least: the methods side by side, at their measured cost.

Built from the saved files like the rest of the report (no model). For a run with more than
vanilla and one other method, or with weight-interpolation points:

- **methods × benchmarks**: each method's change vs the seed model and its contrast with vanilla
  per endpoint, paired bootstrap CIs (two-level over items and training seeds when a method has
  several, :mod:`arms`); vanilla's interpolation points against the fine-tunes they were made
  from, seed by seed (:func:`arms.matched_difference`);
- **cost**: what each method's training spent per its ``train_summary.json`` ``cost`` (token
  positions forwarded, forward and backward passes, wall and CPU time, peak memory; means over
  seeds), and its wall time per step relative to vanilla;
- **Pareto figure**: x the change on the target task (the benchmark of the training task), y the
  change on the retention endpoint (the report's primary endpoint when the run evaluated it and
  it is not the target, else the mean change over every other endpoint, its CI an approximation
  adding the half-widths in quadrature); one point per method and per interpolation alpha, the
  seed at 0;
- **the best method** on the primary endpoint, named only when its CI against every other method
  lies wholly on the better side of 0 (the decision rule of :mod:`decision`, extended to many
  methods); otherwise the statement says which comparison is undecided.

Interpolation points are models whose manifest entry has ``alpha`` (``sdft run``'s
``sweeps.interpolation``); those of one method and alpha over training seeds form an arm.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

from sdft.analyze import runfiles
from sdft.report import arms
from sdft.report.cells import DASH, signed
from sdft.report.decision import completeness, outcome, provisional, seed_test
from sdft.report.endpoints import Endpoint, endpoint, endpoints_of, evaluated, result_of


def _name(method: str) -> str:
    from sdft.experiment import METHOD_NAMES

    return METHOD_NAMES.get(method, method)


def interpolation_arms(run: dict[str, Any]) -> dict[tuple[str, float], list[dict[str, Any]]]:
    """{(method, alpha): its models over training seeds}, in manifest order."""
    out: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for m in run["models"]:
        if m.get("alpha") is not None:
            out.setdefault((m["method"], float(m["alpha"])), []).append(m)
    return out


def applies(run: dict[str, Any]) -> bool:
    return len(arms.main_arms(run)) > 2 or bool(interpolation_arms(run))


def target_endpoint(run: dict[str, Any], endpoints: list[Endpoint]) -> Endpoint | None:
    """The endpoint of the training task (``data: gsm8k:train`` -> gsm8k), when it was evaluated."""
    data = str((run["manifest"].get("config") or {}).get("data") or "")
    task = Path(data.split(":")[0]).stem
    return next((e for e in endpoints if e.benchmark == task), None)


def _retention(run, seed, models, endpoints, target, primary) -> dict[str, Any] | None:
    """The y of a Pareto point: the primary endpoint's change, else the mean change elsewhere."""
    if primary is not None and (target is None or primary.key != target.key):
        d = arms.difference(run, [seed], models, primary)
        return d and {**d, "name": primary.title}
    others = [e for e in endpoints if e.in_mean and (target is None or e.key != target.key)]
    # a change is "better" upwards: lower-is-better endpoints count negated (paired with the
    # endpoints that have a difference, so a missing one cannot shift the signs of the rest)
    signed_ds = [(1 if e.higher_is_better else -1, d) for e in others
                 if (d := arms.difference(run, [seed], models, e)) is not None]
    if not signed_ds:
        return None
    signs, ds = [s for s, _ in signed_ds], [d for _, d in signed_ds]
    diff = sum(s * d["diff"] for s, d in zip(signs, ds)) / len(ds)
    half = math.sqrt(sum(((d["ci95"][1] - d["ci95"][0]) / 2) ** 2 for d in ds)) / len(ds)
    return {"diff": diff, "ci95": [diff - half, diff + half], "approx": True, "name": "mean of the other endpoints"}


def pareto_points(run: dict[str, Any], primary: str | None = None) -> list[dict[str, Any]]:
    """One point per main method and per interpolation arm: {"label", "method", "alpha", "x",
    "x_ci", "y", "y_ci", "y_name", "seeds"} in percentage points."""
    seed = runfiles.find_model(run, "seed")
    endpoints = endpoints_of(runfiles.benchmarks_of(run["models"]))
    target = target_endpoint(run, endpoints)
    if seed is None or target is None:
        return []
    prim = endpoint_or_none(primary)
    if prim is not None and result_of(seed, prim) is None:
        prim = None  # not evaluated in this run (or no endpoint at all): no y would exist, use the mean
    main = [(meth, None, ms) for meth, ms in arms.main_arms(run).items()]
    main += [(meth, alpha, ms) for (meth, alpha), ms in interpolation_arms(run).items()]
    out = []
    for meth, alpha, models in main:
        x = arms.difference(run, [seed], models, target)
        y = _retention(run, seed, models, endpoints, target, prim)
        if x is None or y is None:
            continue
        label = meth if alpha is None else f"{meth} α={alpha:g}"
        out.append({"label": label, "method": meth, "alpha": 1.0 if alpha is None else alpha, "x": x["diff"],
                    "x_ci": x["ci95"], "y": y["diff"], "y_ci": y["ci95"], "y_name": y["name"],
                    "y_approx": bool(y.get("approx")), "seeds": len(models), "target": target.title})
    return out


def endpoint_or_none(key: str | None) -> Endpoint | None:
    """The endpoint named ``key``; None for no key or one :func:`endpoint` rejects (any other name is
    an endpoint, evaluated in a given run or not)."""
    if not key:
        return None
    try:
        return endpoint(key)
    except StopIteration:
        return None


def pareto_figure(points: list[dict[str, Any]], out_base: str | Path) -> list[Path]:
    """Target-task change (x) against retention change (y), CIs as bars; each method's
    interpolation path drawn from the seed (0, 0) through its alphas to the fine-tune."""
    if not points:
        return []
    from matplotlib.figure import Figure

    from sdft.analyze.figures import save

    methods = list(dict.fromkeys(p["method"] for p in points))
    fig = Figure(figsize=(7.0, 5.2), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.plot([0], [0], marker="*", color="black", markersize=11, linestyle="", label="seed model")
    for i, meth in enumerate(methods):
        pts = sorted((p for p in points if p["method"] == meth), key=lambda p: p["alpha"])
        color = f"C{i}"
        if len(pts) > 1:
            ax.plot([0] + [p["x"] for p in pts], [0] + [p["y"] for p in pts], color=color, linewidth=0.9,
                    linestyle="--", alpha=0.7)
        for p in pts:
            final = p["alpha"] == 1.0
            ax.errorbar([p["x"]], [p["y"]], xerr=[[p["x"] - p["x_ci"][0]], [p["x_ci"][1] - p["x"]]],
                        yerr=[[p["y"] - p["y_ci"][0]], [p["y_ci"][1] - p["y"]]], color=color,
                        marker="o" if final else "s", markersize=7 if final else 4, capsize=2, linewidth=0.8,
                        label=_name(meth) if final else None, alpha=1.0 if final else 0.6)
            if not final:
                ax.annotate(f"α={p['alpha']:g}", (p["x"], p["y"]), fontsize=7, xytext=(3, 3),
                            textcoords="offset points", color=color)
    ax.set_xlabel(f"{points[0]['target']}: change vs the seed (pp, 95% CI) → task gained", fontsize=9)
    ax.set_ylabel(f"{points[0]['y_name']}: change vs the seed (pp) → kept", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=8, frameon=False, loc="best")
    return save(fig, out_base)


def _cell(d: dict[str, Any] | None) -> str:
    if d is None:
        return DASH
    lo, hi = d["ci95"]
    return f"{signed(d['diff'])} [{signed(lo)}, {signed(hi)}]" + (" ≈" if d.get("approx") else "")


def methods_table(run: dict[str, Any]) -> dict[str, Any] | None:
    """Methods × endpoints (the strict rule's where scored): change vs the seed, then vs vanilla
    (pp, paired 95% CIs); the weight-interpolation arms after the trained methods (vs vanilla: what
    interpolating a method's fine-tunes toward the seed changed against vanilla's fine-tunes)."""
    seed = runfiles.find_model(run, "seed")
    main = arms.main_arms(run)
    endpoints = evaluated(runfiles.benchmarks_of(run["models"]), run["models"])
    if seed is None or not main:
        return None
    rows = []
    matched = False
    for name, meth, models, point in [(f"{_name(m)} ({m}", m, ms, False) for m, ms in main.items()] + [
            (f"weight interpolation of {_name(m)}, α={a:g} ({m} α={a:g}", m, ms, True)
            for (m, a), ms in interpolation_arms(run).items()]:
        # vanilla's points against the fine-tunes they were made from, seed by seed (arms.matched_difference)
        own = arms.fine_tunes_of(run, models) if point and meth == "vanilla" else None
        matched |= own is not None
        cells = []
        for ep in endpoints:
            vs_seed = _cell(arms.difference(run, [seed], models, ep))
            if own is not None:
                vs_van = _cell(arms.matched_difference(run, own, models, ep))
            elif meth == "vanilla" or "vanilla" not in main:  # vanilla itself, or a point made from an unknown one
                vs_van = DASH
            else:
                vs_van = _cell(arms.difference(run, main["vanilla"], models, ep))
            cells.append(f"{vs_seed} / {vs_van}")
        rows.append([f"{name}, {len(models)} seed{'s' if len(models) > 1 else ''})"] + cells)
    return {"title": "Methods × benchmarks: change vs the seed / vs vanilla", "rows": rows,
            "columns": ["method"] + [ep.title + ("" if ep.higher_is_better else " (lower = better)")
                                     for ep in endpoints],
            "note": "Percentage points with paired bootstrap 95% CIs (items, and training seeds when a method has "
                    "several); ≈ marks an unpaired approximation." + (
                        " A weight-interpolation point of vanilla is set against the fine-tune it was made from, "
                        "seed by seed (the mean of each point minus its own fine-tune), not against vanilla's "
                        "seeds it was not made from." if matched else "")}


COST_KEYS = ("tokens_forwarded", "forward_passes", "backward_passes", "wall_s", "peak_memory_mb")


def whole_cost(summary: dict[str, Any]) -> bool:
    """Whether a ``train_summary.json``'s ``cost`` covers every step it trained: its
    ``steps_counted`` says so; a summary older than that field counted only its last sitting, so
    there only a training never resumed."""
    cost = summary.get("cost") or {}
    if "steps_counted" in cost:
        return cost["steps_counted"] == summary.get("steps")
    return bool(cost) and not summary.get("resumed_from")


def costs(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{method: mean over its main arm's seeds of each cost, plus steps and tokens/s, and
    ``left_out``: the seeds whose cost covers part of their training (:func:`whole_cost`)}."""
    summaries = runfiles.train_summaries(run)
    out = {}
    for meth, models in arms.main_arms(run).items():
        recorded = [m["label"] for m in models if (summaries.get(m["label"]) or {}).get("cost")]
        got = [summaries[label] for label in recorded if whole_cost(summaries[label])]
        left_out = [label for label in recorded if not whole_cost(summaries[label])]
        if not got:
            if left_out:  # a row of dashes that says why, rather than no row
                out[meth] = {"seeds": 0, "left_out": left_out}
            continue
        # a count left None (a torch.compile run does not count passes) counts as 0 here
        mean = {k: sum(float(s["cost"].get(k) or 0) for s in got) / len(got) for k in COST_KEYS}
        # CPU time only where every seed counted it (older summaries did not)
        cpu = [s["cost"].get("cpu_s") for s in got]
        mean["cpu_s"] = None if None in cpu else sum(cpu) / len(cpu)
        mean["steps"] = sum(s.get("steps") or 0 for s in got) / len(got)
        mean["tokens_per_s"] = mean["tokens_forwarded"] / mean["wall_s"] if mean["wall_s"] else None
        mean["wall_per_step"] = mean["wall_s"] / mean["steps"] if mean["steps"] else None
        mean["peak_memory_kind"] = got[0]["cost"].get("peak_memory_kind")
        mean["seeds"] = len(got)
        mean["left_out"] = left_out
        out[meth] = mean
    return out


def cost_table(run: dict[str, Any]) -> dict[str, Any] | None:
    c = costs(run)
    if not c:
        return None
    base = (c.get("vanilla") or {}).get("wall_per_step")
    rows = []
    for meth, v in c.items():
        if not v["seeds"]:
            rows.append([_name(meth)] + [DASH] * 9)
            continue
        rel = f"{v['wall_per_step'] / base:.2f}×" if base and v.get("wall_per_step") else DASH
        rows.append([_name(meth), f"{v['steps']:.0f}", f"{v['tokens_forwarded']:,.0f}", f"{v['forward_passes']:,.0f}",
                     f"{v['backward_passes']:,.0f}", f"{v['wall_s']:.0f}",
                     f"{v['cpu_s']:.0f}" if v.get("cpu_s") is not None else DASH,
                     f"{v['tokens_per_s']:.1f}" if v.get("tokens_per_s") else DASH, rel,
                     f"{v['peak_memory_mb']:,.0f}"])
    kind = next((v["peak_memory_kind"] for v in c.values() if v["seeds"]), None)
    left = [label for v in c.values() for label in v["left_out"]]
    return {"title": "Cost of training per method (mean over training seeds)", "rows": rows,
            "columns": ["method", "steps", "token positions forwarded", "forward passes", "backward passes",
                        "wall s", "CPU s", "tokens/s", "s per step vs vanilla", "peak memory MiB"],
            "note": "Forward passes count every pass of the transformer trunk: training, the seed's or teacher's "
                    "forward, and each decoding step of on-policy sampling; backward passes are the forwards run "
                    "with gradients. Wall s, tokens/s and the ratio to vanilla count any time a training sat paused; "
                    "CPU s (the training process's CPU time, all threads; on a GPU the host's share only; — "
                    "where a seed did not record it) does not. "
                    f"Peak memory: {kind or 'not recorded'}." + (
                        f" Left out: {', '.join(left)}, resumed from a checkpoint that did not carry the cost of "
                        "the sittings before (their counts cover the last sitting only)." if left else "")}


def best_method(run: dict[str, Any], primary: str | None, seed_test_alpha: float | None = None,
                decide: list[str] | None = None) -> dict[str, Any] | None:
    """The best method on the primary endpoint's change vs the seed, named only when its paired CI
    against every other method lies wholly on the better side of 0 and, where the plan adds the
    seed-level test (``seed_test_alpha``, :mod:`decision`), its permutation p is at most that.
    Where the plan's rule reads only some methods (``decide``) and others are compared here, the
    statement says it is descriptive ("descriptive": true): many comparisons, none corrected."""
    ep = endpoint_or_none(primary)
    seed = runfiles.find_model(run, "seed")
    main = arms.main_arms(run)
    if ep is None or seed is None or len(main) < 2:
        return None
    changes = {m: d for m, ms in main.items() if (d := arms.difference(run, [seed], ms, ep)) is not None}
    if len(changes) < 2:
        return None
    sign = 1 if ep.higher_is_better else -1
    lead = max(changes, key=lambda m: sign * changes[m]["diff"])
    tied = [m for m in changes if changes[m]["diff"] == changes[lead]["diff"]]
    if len(tied) > 1:
        return _descriptive({"endpoint": ep.key, "leader": None, "best": None, "undecided_against": tied,
                             "statement": f"{ep.title}: no best method is named: {', '.join(_name(m) for m in tied)} "
                                          f"tie at {signed(changes[lead]['diff'])} pp vs the seed."}, changes, decide)
    undecided = []
    for other in changes:
        if other == lead:
            continue
        d = arms.difference(run, main[other], main[lead], ep)
        by_ci = None if d is None or d.get("approx") else outcome(d["ci95"], ep.higher_is_better)
        if seed_test(by_ci, d or {}, seed_test_alpha) != "better":
            undecided.append((other, d, by_ci == "better"))
    test = f" and the exact permutation p over training seeds is at most {seed_test_alpha:g}" \
        if seed_test_alpha is not None else ""
    if not undecided:
        statement = (f"{ep.title}: {_name(lead)} is the best method: its 95% CI against every other method lies "
                     f"wholly on the better side of 0{test}.")
    else:
        other, d, ci_better = undecided[0]
        ci = f" ({signed(d['diff'])} pp, 95% CI [{signed(d['ci95'][0])}, {signed(d['ci95'][1])}])" if d else ""
        level = (d or {}).get("seed_level")
        why = ("does not exclude 0" if not ci_better else
               f"excludes 0 but its permutation p is {level['permutation_p']:.3f} (> {seed_test_alpha:g})" if level
               else "excludes 0 but has no seed-level test (fewer than two training seeds a side)")
        statement = (f"{ep.title}: no best method is named. {_name(lead)} leads ({signed(changes[lead]['diff'])} pp vs "
                     f"the seed) but its CI against {_name(other)}{ci} {why}"
                     + (f", nor against {len(undecided) - 1} other method(s)." if len(undecided) > 1 else "."))
    return _descriptive({"endpoint": ep.key, "leader": lead, "best": None if undecided else lead,
                         "undecided_against": [o for o, *_ in undecided], "statement": statement}, changes, decide)


def _descriptive(best: dict[str, Any], methods: dict[str, Any], decide: list[str] | None) -> dict[str, Any]:
    outside = decide is not None and bool(set(methods) - set(decide) - {"vanilla"})
    if outside:
        best["statement"] = (f"Descriptive, outside the plan's decision rule (which reads "
                             f"{', '.join(_name(m) for m in decide)} against vanilla only): " + best["statement"])
    return {**best, "descriptive": outside}


def pending_note(run: dict[str, Any]) -> str | None:
    """The section's caveat while planned models (interpolation points included) lack results: the
    tables, the Pareto figure and the best-method statement cover only what was evaluated."""
    status = completeness(run, points=True)
    if status["complete"] is not False:
        return None
    return (provisional(status, ", weight-interpolation points included") + " A method or point without results "
            "is not in the tables or the Pareto figure yet, and a method is compared over the seeds it has.")


def _vs_fine_tunes(run: dict[str, Any], points: list[dict[str, Any]], endpoints: list[Endpoint]) -> dict[str, Any]:
    """{"fine_tunes": the labels the points were made from, "change_vs_fine_tunes": {endpoint:
    :func:`arms.matched_difference`}}; {} when a point's fine-tune is not in the run."""
    own = arms.fine_tunes_of(run, points)
    if own is None:
        return {}
    return {"fine_tunes": [m["label"] for m in own], "change_vs_fine_tunes": {
        ep.key: d for ep in endpoints if (d := arms.matched_difference(run, own, points, ep)) is not None}}


def summary(run: dict[str, Any], primary: str | None, seed_test_alpha: float | None = None,
            decide: list[str] | None = None) -> dict[str, Any] | None:
    """summary.json's ``methods_comparison``: Pareto points, costs, the best-method statement, each
    interpolation arm's scores as ``methods`` gives a main arm's (per seed, change vs the seed) and
    its change vs the fine-tunes it was made from (``change_vs_fine_tunes``, seed by seed), and
    ``complete``: :func:`~sdft.report.decision.completeness` over every planned model and point."""
    if not applies(run):
        return None
    endpoints = endpoints_of(runfiles.benchmarks_of(run["models"]), strict=True)
    interp = {f"{meth} α={alpha:g}": {"method": meth, "alpha": alpha, **arms.arm_summary(run, models, endpoints),
                                      **_vs_fine_tunes(run, models, endpoints)}
              for (meth, alpha), models in interpolation_arms(run).items()}
    return {"pareto": pareto_points(run, primary), "costs": costs(run),
            "best": best_method(run, primary, seed_test_alpha, decide), "interpolation": interp,
            "complete": completeness(run, points=True)}


def report_blocks(runs: list[dict[str, Any]], fig_dir: Path | None, primary: str | None,
                  more: Callable[[dict[str, Any], str | None], dict[str, Any] | None] = lambda r, p: None,
                  seed_test_alpha: float | None = None, decide: list[str] | None = None) -> list:
    """The report's "Methods" section, for the runs it applies to; ``more(run, primary)``: a table
    to end each run's part with (the report passes the forgetting predictors'); ``seed_test_alpha``
    and ``decide``: as :func:`best_method`."""
    blocks: list = []
    for r in runs:
        if not applies(r):
            continue
        if not blocks:
            blocks.append(("h2", "Methods compared"))
        if len(runs) > 1:
            blocks.append(("h3", r["name"]))
        best = best_method(r, primary, seed_test_alpha, decide)
        if best:
            blocks.append(("decision", [best["statement"]]))
        if note := pending_note(r):
            blocks.append(("p", note))
        for t in (methods_table(r), cost_table(r)):
            if t:
                blocks.append(("table", t))
        if fig_dir is not None:
            pts = pareto_points(r, primary)
            stem = "pareto" if len(runs) == 1 else f"pareto_{len(blocks)}"
            paths = pareto_figure(pts, fig_dir / stem)
            if paths:
                blocks.append(("figure", (paths, f"{r['name']}: target task gained (x) vs {pts[0]['y_name']} kept "
                                                 "(y), changes vs the seed with 95% CIs; squares: weight "
                                                 "interpolation α of each method, dashed from the seed")))
        t = more(r, primary)
        if t:
            blocks.append(("table", t))
    return blocks
