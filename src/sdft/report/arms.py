"""Fine-tunes grouped by method over training seeds: the numbers the tables, the forest plot and
``summary.json`` share.

An *arm* is the models of one method trained on the same data settings (sample size, mix ratio,
template) with different training seeds. A method's *main* arm is its fine-tunes in the main
comparison the run's config plans (:func:`sdft.planning.main_labels`, the rule ``sdft run``
trains by); every other fine-tune is a sweep point and is reported model by model. A manifest
whose config predates today's experiment config cannot be planned again: there the main arm is
the arm of the method's first model in the manifest (``sdft run`` lists the main methods, seed
by seed, before any sweep point).

Per arm and endpoint (see :mod:`endpoints`), over the items every model involved scored:

- **mean**: the mean over seeds of each seed's score, with the two-level bootstrap CI of
  :func:`sdft.evaluate.stats.hierarchical_mean` (items resampled, then the arm's seeds);
- **change vs the seed**: :func:`~sdft.evaluate.stats.hierarchical_difference` with the seed
  model as a one-seed arm;
- **contrast** (e.g. SDFT − vanilla): ``hierarchical_difference`` of the two main arms, items
  resampled jointly, seeds within each method. It equals the difference of the two changes vs
  the seed (the seed cancels), which is the pre-registered primary endpoint's form.

A weight-interpolation arm is also compared with the fine-tunes it was made from (each point's
manifest ``of``), point minus its own fine-tune, seed by seed (:func:`matched_difference`): the
differences' mean with a two-level bootstrap over the pairs and the items, and with two pairs or
more a ``seed_level`` of the exact sign-flip p and a paired t interval. Comparing a point with
its method's whole arm instead would set one seed's point against the mean of seeds it was not
made from.

A contrast of two arms with at least two seeds each also carries ``seed_level``: inference with
the training seed as the unit, on each seed's mean over the same items (percent): the exact
permutation p over all relabelings of the seeds and Welch's t interval
(:func:`~sdft.evaluate.stats.permutation_p`, :func:`~sdft.evaluate.stats.welch_interval`).
With three seeds a side the permutation p cannot fall below 0.10; with 3 against 5 (GSM8K v2's
secondaries against vanilla) not below 1/56 = 0.018.

With one model per side these are the per-model numbers the report always showed: results.json's
score and CI, and :func:`~sdft.evaluate.stats.paired_difference`. Without predictions (a
published folder keeps only results.json) the numbers are approximations, marked
``"approx": true``: the seeds' mean, a CI half-width adding in quadrature the mean item
half-width and 1.96 standard errors of the seed-to-seed spread, and differences adding the two
sides' half-widths in quadrature.

Scores are percent, changes percentage points.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sdft.analyze import runfiles
from sdft.errors import ConfigError
from sdft.evaluate.stats import (
    hierarchical_difference,
    hierarchical_mean,
    paired_difference,
    paired_t_interval,
    permutation_p,
    sign_flip_p,
    welch_interval,
)
from sdft.experiment import from_record
from sdft.planning import main_labels, point_labels
from sdft.report.cells import signed
from sdft.report.endpoints import Endpoint, paired_rows, result_of

UNITS = "scores in percent, changes and contrasts in percentage points, 95% CIs"


def arm_key(m: dict[str, Any]) -> tuple:
    # alpha: a weight-interpolation point is its own arm, never a seed of its fine-tune's
    return (m["method"], m.get("sample_size"), m.get("mix_ratio"), m.get("template"), m.get("alpha"))


def planned(run: dict[str, Any], methods: set[str] | None = None, points: bool = False) -> list[str] | None:
    """Labels of the models the run's config plans in its main comparison (the seed model, each
    method once per training seed: :func:`sdft.planning.main_labels`; ``methods``: only those
    methods' fine-tunes), then with ``points`` its weight-interpolation points; None when the
    manifest has no config, or one that no longer reads as an experiment config (an older layout)."""
    config = run["manifest"].get("config")
    if not isinstance(config, dict) or not config:
        return None
    try:
        cfg = from_record(config)
    except ConfigError:
        return None
    return main_labels(cfg, methods) + (point_labels(cfg) if points else [])


def main_arms(run: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """{method: its main arm's models, in seed order}, methods in plan order (seed excluded)."""
    labels = planned(run)
    if labels is None:  # an older manifest: each method's first model names its arm
        keys: dict[str, tuple] = {}
        for m in run["models"]:
            if m["method"] != "seed":
                keys.setdefault(m["method"], arm_key(m))
        return {meth: [m for m in run["models"] if arm_key(m) == key] for meth, key in keys.items()}
    by_label = {m["label"]: m for m in run["models"]}
    out: dict[str, list[dict[str, Any]]] = {}
    for label in labels[1:]:
        if (m := by_label.get(label)) is not None:
            out.setdefault(m["method"], []).append(m)
    return out


def sweep_models(run: dict[str, Any]) -> list[dict[str, Any]]:
    """Fine-tunes outside the main arms (sweep and ablation points)."""
    main = {id(m) for ms in main_arms(run).values() for m in ms}
    return [m for m in run["models"] if m["method"] != "seed" and id(m) not in main]


def sweep_groups(run: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The sweep points as the tables show them: the weight-interpolation points of one method and
    alpha over training seeds as one arm ("vanilla α=0.5"), every other point on its own."""
    out: dict[tuple, tuple[str, list[dict[str, Any]]]] = {}
    for m in sweep_models(run):
        if m.get("alpha") is None:
            out[("label", m["label"])] = (m["label"], [m])
        else:
            out.setdefault(arm_key(m), (f"{m['method']} α={float(m['alpha']):g}", []))[1].append(m)
    return [(name, ms) if len(ms) > 1 else (ms[0]["label"], ms) for name, ms in out.values()]


def is_seeded(run: dict[str, Any]) -> bool:
    return any(len(ms) > 1 for ms in main_arms(run).values())


def seed_tag(m: dict[str, Any]) -> str:
    """The per-seed key: the training seed, or the label when the manifest predates seeds."""
    return str(m["train_seed"]) if m.get("train_seed") is not None else m["label"]


def _half(ci: Any) -> float:
    return (ci[1] - ci[0]) / 2 if ci and None not in ci else float("nan")


def _approx(results: list[dict[str, Any]]) -> tuple[float, float]:
    """(mean, CI half-width) of an arm from results.json alone (fractions)."""
    scores = [r["score"] for r in results]
    item = float(np.mean([_half(r.get("ci95")) for r in results]))
    spread = 1.96 * float(np.std(scores, ddof=1)) / math.sqrt(len(scores)) if len(scores) > 1 else 0.0
    return float(np.mean(scores)), math.sqrt(item * item + spread * spread)


def _percent(x: float) -> float:
    """A fraction as percent (or a difference of fractions as percentage points)."""
    return 100 * x


def _cached(run: dict[str, Any], key: tuple, compute) -> dict[str, Any] | None:
    """The tables, the forest plot and summary.json ask for the same bootstraps."""
    cache = run.setdefault("_stats", {})
    if key not in cache:
        cache[key] = compute()
    hit = cache[key]
    return None if hit is None else {**hit, "per_seed": dict(hit["per_seed"])}


def _labels(models: list[dict[str, Any]]) -> tuple:
    return tuple(m["label"] for m in models)


def arm_mean(run: dict[str, Any], models: list[dict[str, Any]], ep: Endpoint) -> dict[str, Any] | None:
    """{"mean", "ci95", "n", "approx", "per_seed"} of one arm on ``ep`` (percent), or None."""
    return _cached(run, ("mean", _labels(models), ep.key), lambda: _arm_mean(run, models, ep))


def difference(run: dict[str, Any], base: list[dict[str, Any]], other: list[dict[str, Any]],
               ep: Endpoint) -> dict[str, Any] | None:
    """mean(other) − mean(base) on ``ep`` in percentage points: {"diff", "ci95", "n", "approx",
    "seeds", "per_seed"} (``per_seed``: each of ``other``'s seeds minus base's mean), or None."""
    return _cached(run, ("diff", _labels(base), _labels(other), ep.key), lambda: _difference(run, base, other, ep))


def _arm_mean(run, models, ep):
    results = [result_of(m, ep) for m in models]
    if any(r is None for r in results):
        return None
    tags = [seed_tag(m) for m in models]
    if len(models) == 1:  # the evaluator's own score and CI
        r = results[0]
        ci = [_percent(c) for c in r["ci95"]] if r.get("ci95") and None not in r["ci95"] else None
        return {"mean": _percent(r["score"]), "ci95": ci, "n": r.get("n"), "approx": False,
                "per_seed": {tags[0]: _percent(r["score"])}}
    rows = paired_rows(run, models, ep)
    if rows is None:
        mean, half = _approx(results)
        return {"mean": _percent(mean), "ci95": [_percent(mean - half), _percent(mean + half)],
                "n": results[0].get("n"), "approx": True,
                "per_seed": {t: _percent(r["score"]) for t, r in zip(tags, results)}}
    matrix, _ = rows
    h = hierarchical_mean(matrix)
    return {"mean": _percent(h["mean"]), "ci95": [_percent(c) for c in h["ci95"]], "n": h["n"], "approx": False,
            "per_seed": {t: _percent(float(np.mean(row))) for t, row in zip(tags, matrix)}}


def _difference(run, base, other, ep):
    ra, rb = [result_of(m, ep) for m in base], [result_of(m, ep) for m in other]
    if not ra or not rb or any(r is None for r in ra + rb):
        return None
    tags = [seed_tag(m) for m in other]
    seeds = [len(base), len(other)]
    rows = paired_rows(run, base + other, ep)
    if rows is None:
        (ma, ha), (mb, hb) = _approx(ra), _approx(rb)
        d, half = mb - ma, math.sqrt(ha * ha + hb * hb)
        return {"diff": _percent(d), "ci95": [_percent(d - half), _percent(d + half)], "n": None, "approx": True,
                "seeds": seeds,
                "per_seed": {t: _percent(r["score"] - ma) for t, r in zip(tags, rb)},
                **_seed_level([r["score"] for r in ra], [r["score"] for r in rb])}
    matrix, _ = rows
    a, b = matrix[: len(base)], matrix[len(base):]
    if len(base) == len(other) == 1:  # as the per-model tables always computed it
        d = paired_difference(a[0], b[0])
    else:
        d = hierarchical_difference(a, b)
    base_mean = float(np.mean(a))
    return {"diff": _percent(d["diff"]), "ci95": [_percent(c) for c in d["ci95"]], "n": d["n"], "approx": False,
            "seeds": seeds, "per_seed": {t: _percent(float(np.mean(row)) - base_mean) for t, row in zip(tags, b)},
            **_seed_level([float(np.mean(r)) for r in a], [float(np.mean(r)) for r in b])}


def fine_tunes_of(run: dict[str, Any], points: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The fine-tune each weight-interpolation point was made from (its manifest ``of``), in the
    points' order; None when one is not in the run."""
    by_label = {m["label"]: m for m in run["models"]}
    made_from = [by_label.get(p.get("of")) for p in points]
    return None if any(m is None for m in made_from) else made_from


def matched_difference(run: dict[str, Any], base: list[dict[str, Any]], other: list[dict[str, Any]],
                       ep: Endpoint) -> dict[str, Any] | None:
    """The mean over pairs of other[i] − base[i] on ``ep`` (pp; base[i] is the model other[i] was made
    from, e.g. by :func:`fine_tunes_of`): {"diff", "ci95", "n", "approx", "pairs", "per_seed"} (each
    pair's difference by other's seed), with ``seed_level`` ({"paired_t_ci95", "sign_flip_p",
    "flips", "per_pair"}) from two pairs on; None without results."""
    if len(base) != len(other) or not other:
        raise ValueError(f"matched pairs need one base model per model: {len(base)} vs {len(other)}")
    return _cached(run, ("matched", _labels(base), _labels(other), ep.key), lambda: _matched(run, base, other, ep))


def _matched(run, base, other, ep):
    ra, rb = [result_of(m, ep) for m in base], [result_of(m, ep) for m in other]
    if any(r is None for r in ra + rb):
        return None
    tags = [seed_tag(m) for m in other]
    rows = paired_rows(run, base + other, ep)
    if rows is None:  # results.json alone: each pair's score difference, half-widths in quadrature
        diffs = [b["score"] - a["score"] for a, b in zip(ra, rb)]
        item = float(np.mean([math.hypot(_half(a.get("ci95")), _half(b.get("ci95"))) for a, b in zip(ra, rb)]))
        spread = 1.96 * float(np.std(diffs, ddof=1)) / math.sqrt(len(diffs)) if len(diffs) > 1 else 0.0
        d, half = float(np.mean(diffs)), math.hypot(item, spread)
        out = {"diff": _percent(d), "ci95": [_percent(d - half), _percent(d + half)], "n": None, "approx": True}
    else:
        matrix, _ = rows
        k = len(other)
        pairs = np.asarray(matrix[k:], dtype=float) - np.asarray(matrix[:k], dtype=float)
        diffs = [float(row.mean()) for row in pairs]
        h = paired_difference(matrix[0], matrix[1]) if k == 1 else hierarchical_mean(pairs)
        mean = h["diff"] if k == 1 else h["mean"]
        out = {"diff": _percent(mean), "ci95": [_percent(c) for c in h["ci95"]], "n": h["n"], "approx": False}
    out.update(pairs=len(other), per_seed={t: _percent(x) for t, x in zip(tags, diffs)})
    if len(diffs) > 1:
        t, flip = paired_t_interval([_percent(x) for x in diffs]), sign_flip_p(diffs)
        out["seed_level"] = {"paired_t_ci95": t["ci95"], "sign_flip_p": flip["p"], "flips": flip["flips"],
                             "per_pair": [_percent(x) for x in diffs]}
    return out


def _seed_level(a: list[float], b: list[float]) -> dict[str, Any]:
    """{"seed_level": ...} from per-seed means (fractions) with >= 2 seeds a side, else {}."""
    if len(a) < 2 or len(b) < 2:
        return {}
    w, p = welch_interval([_percent(x) for x in a], [_percent(x) for x in b]), permutation_p(a, b)
    return {"seed_level": {"welch_ci95": w["ci95"], "welch_df": w["df"], "permutation_p": p["p"],
                           "relabelings": p["relabelings"], "base_per_seed": [_percent(x) for x in a],
                           "other_per_seed": [_percent(x) for x in b]}}


def contrast_name(method: str, reference: str = "vanilla") -> str:
    return f"{method}_minus_{reference}"


def arm_summary(run: dict[str, Any], models: list[dict[str, Any]], endpoints: list[Endpoint]) -> dict[str, Any]:
    """{"labels", "seeds", "benchmarks": {endpoint: arm_mean with "change_vs_seed"}} of one arm."""
    seed = runfiles.find_model(run, "seed")
    benches = {}
    for ep in endpoints:
        mean = arm_mean(run, models, ep)
        if mean is None:
            continue
        if seed is not None:
            mean["change_vs_seed"] = difference(run, [seed], models, ep)
        benches[ep.key] = mean
    return {"labels": [m["label"] for m in models], "seeds": [m.get("train_seed") for m in models],
            "benchmarks": benches}


def run_summary(run: dict[str, Any], endpoints: list[Endpoint]) -> dict[str, Any]:
    """The ``summary.json`` object of one run (without the verdict)."""
    seed = runfiles.find_model(run, "seed")
    arms = main_arms(run)
    out: dict[str, Any] = {"run": run["name"], "units": UNITS, "seeded": is_seeded(run), "seed_model": None,
                           "methods": {}, "contrasts": {}}
    if seed is not None:
        out["seed_model"] = {"label": seed["label"], "benchmarks": {
            ep.key: s for ep in endpoints if (s := arm_mean(run, [seed], ep)) is not None}}
    for meth, models in arms.items():
        out["methods"][meth] = arm_summary(run, models, endpoints)
    if "vanilla" in arms:
        for meth, models in arms.items():
            if meth != "vanilla":
                out["contrasts"][contrast_name(meth)] = {
                    ep.key: d for ep in endpoints if (d := difference(run, arms["vanilla"], models, ep)) is not None}
    return out


def seed_level_table(run: dict[str, Any], endpoints: list[Endpoint], primary: str | None = None,
                     multi: bool = False) -> dict[str, Any] | None:
    """Seeded runs: each method − vanilla per endpoint (the primary first) with the seeds as the
    unit beside the two-level bootstrap: Welch's interval and the exact permutation p."""
    arms = main_arms(run)
    if "vanilla" not in arms or len(arms["vanilla"]) < 2:
        return None
    rows = []
    for ep in sorted(endpoints, key=lambda e: e.key != primary):
        for meth, models in arms.items():
            d = difference(run, arms["vanilla"], models, ep) if meth != "vanilla" else None
            sl = (d or {}).get("seed_level")
            if not sl:
                continue
            boot, welch = d["ci95"], sl["welch_ci95"]
            approx = " ≈" if d["approx"] else ""
            rows.append([ep.title + (" — primary endpoint" if ep.key == primary else ""), f"{meth} − vanilla",
                         f"{signed(d['diff'])} [{signed(boot[0])}, {signed(boot[1])}]{approx}",
                         f"[{signed(welch[0])}, {signed(welch[1])}]", f"{sl['permutation_p']:.3f}",
                         f"{d['seeds'][0]} vs {d['seeds'][1]} ({sl['relabelings']} relabelings)"])
    if not rows:
        return None
    return {"title": (f"{run['name']}: " if multi else "") + "Seed-level inference (percentage points)",
            "columns": ["endpoint", "contrast", "two-level bootstrap, 95% CI", "Welch 95% CI on per-seed means",
                        "exact permutation p (two-sided)", "seeds"], "rows": rows,
            "note": "The training seed as the unit: each seed's mean over the shared items, vanilla's seeds against "
                    "the method's. Welch's t interval (unequal variances) and the exact permutation test over all "
                    "relabelings of the seeds (sdft.evaluate.stats). With n seeds a side the permutation p cannot "
                    "fall below 2 / C(2n, n): 0.10 for 3 vs 3, 0.008 for 5 vs 5; with n against m seeds not below "
                    "1 / C(n + m, n): 0.018 for 3 vs 5."}
