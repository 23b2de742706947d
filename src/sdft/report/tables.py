"""The report's tables of scores and changes as plain data, computed from run folders (see
:mod:`sdft.analyze.runfiles`); the tables of how the run went are :mod:`run_tables`.

A table is ``{"title", "columns", "rows", "note"}``; its cells are :mod:`cells`'s. Scores are
percentages with one decimal; deltas are percentage points. Missing values are "—".

Deltas use a paired bootstrap over the items both models answered when both predictions files
exist; otherwise an unpaired approximation (difference of the scores, CI half-widths added in
quadrature), marked "≈". A run whose methods were trained with several seeds shows one row per
method (mean over seeds, two-level bootstrap CI; see :mod:`arms`) instead of one per model,
and its sweep points model by model (weight-interpolation points of one method and alpha over
training seeds as one arm).
"""

from __future__ import annotations

import math
from typing import Any, Iterator

from sdft.analyze import runfiles
from sdft.report import arms
from sdft.report.cells import DASH, arrow, delta_cell, mean_cell, model_label, pct, score_cell, signed
from sdft.report.endpoints import SAFETY, Endpoint, endpoint, endpoints_of, evaluated, result_of

CAPABILITIES = {
    "math": ("gsm8k", "multiarith"),
    "code": ("humaneval",),
    "tools": ("openfunction",),
    "safety": ("advbench", "advbench_jailbreak"),
    "over-refusal": ("xstest",),
    "instruction following": ("ifeval",),
    "helpfulness": ("alpaca_eval",),
    "knowledge": ("mmlu", "truthfulqa", "arc_easy", "arc_challenge", "hellaswag", "winogrande"),
}
LOWER_IS_BETTER = ("over-refusal",)


def capability_of(benchmark: str) -> str:
    for cap, names in CAPABILITIES.items():
        if benchmark in names or (cap == "knowledge" and benchmark.startswith("arc_")):
            return cap
    return "other"


def _arm_label(run: dict[str, Any], method: str, models: list[dict[str, Any]], multi: bool) -> str:
    text = f"{method} (mean of {len(models)} seeds)"
    return f"{run['name']}/{text}" if multi else text


def row_groups(run: dict[str, Any]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(method or label, models) in display order: for a seeded run the seed model, each main arm,
    then the sweep points (:func:`arms.sweep_groups`: interpolation points over seeds as one arm);
    otherwise every model on its own."""
    if not arms.is_seeded(run):
        for m in run["models"]:
            yield m["label"], [m]
        return
    seed = runfiles.find_model(run, "seed")
    if seed is not None:
        yield seed["label"], [seed]
    yield from arms.main_arms(run).items()
    yield from arms.sweep_groups(run)


def group_label(run, name, models, multi) -> str:
    """A :func:`row_groups` entry's name in the tables: a seeded method's mean, or the model."""
    return _arm_label(run, name, models, multi) if len(models) > 1 else model_label(run, models[0], multi)


def score_cells(run: dict[str, Any], models: list[dict[str, Any]], endpoints: list[Endpoint]) -> list[Any]:
    """A :func:`row_groups` entry's score per endpoint: a model's own, or a seeded method's mean."""
    if len(models) == 1:
        return [score_cell(result_of(models[0], ep)) for ep in endpoints]
    return [mean_cell(arms.arm_mean(run, models, ep)) for ep in endpoints]


def _score_rows(runs, endpoints: list[Endpoint]) -> list[list[Any]]:
    multi = len(runs) > 1
    return [[group_label(run, name, models, multi)] + score_cells(run, models, endpoints)
            for run in runs for name, models in row_groups(run)]


SEEDS_NOTE = ("A method trained with several seeds: mean over its seeds, 95% CI from a two-level bootstrap "
              "(items resampled jointly, then seeds within the method); the second line gives each seed.")


def score_table(runs: list[dict[str, Any]], benchmarks: list[str]) -> dict[str, Any]:
    out = {"title": "Benchmark scores (%, 95% CI)", "columns": ["model"] + benchmarks,
           "rows": _score_rows(runs, [endpoint(b) for b in benchmarks])}
    if any(arms.is_seeded(r) for r in runs):
        out["note"] = SEEDS_NOTE
    return out


def score_bars(run: dict[str, Any], benchmarks: list[str]) -> list[dict[str, Any]]:
    """The score table's rows for :func:`sdft.report.figures.benchmark_bars`: {"label", "scores":
    {benchmark: {"mean", "ci95"} in percent}} per :func:`row_groups` entry, so a seeded run draws
    one bar per method (its seeds' mean, two-level CI), not one per fine-tune."""
    bars = []
    for name, models in row_groups(run):
        scores = {b: m for b in benchmarks if (m := arms.arm_mean(run, models, endpoint(b))) is not None}
        if scores:
            bars.append({"label": group_label(run, name, models, False), "scores": scores})
    return bars


def safety_table(runs: list[dict[str, Any]], benchmarks: list[str]) -> dict[str, Any] | None:
    """AdvBench refusals beside XSTest's over-refusal (safe prompts) and refusal (unsafe prompts)."""
    if "xstest" not in benchmarks:
        return None
    eps = [ep for ep in evaluated(benchmarks, _models(runs)) if ep.key in SAFETY]
    return {"title": "Safety: refusals of harmful prompts and over-refusal of safe ones (%, 95% CI)",
            "columns": ["model"] + [ep.title for ep in eps], "rows": _score_rows(runs, eps),
            "note": "AdvBench: keyword refusal rate on harmful prompts (higher = safer). XSTest: full refusals "
                    "(string-match rule) of the safe prompts (over-refusal, lower = better) and of the unsafe "
                    "contrast prompts (higher = safer). Strict rule (where scored): the same answers counted as "
                    "refusals only when they refuse explicitly (sdft.evaluate.advbench.is_refusal_strict)."
                    + (" " + SEEDS_NOTE if any(map(arms.is_seeded, runs)) else "")}


def _models(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for r in runs for m in r["models"]]


def _kappa_cell(kappa: dict[str, Any]) -> Any:
    """κ with its CI (two decimals); a dash where it is undefined."""
    k, ci = kappa.get("score"), kappa.get("ci95") or [float("nan")] * 2
    if k is None or math.isnan(k):
        return DASH
    if any(x is None or math.isnan(x) for x in ci):
        return f"{k:.2f}"
    return {"text": f"{k:.2f}", "small": f"[{ci[0]:.2f}, {ci[1]:.2f}]"}


def judge_table(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The refusal judge beside the string rule, model by model, where a benchmark was judged
    (``refusal_judge``): the judge's refused / complied / useless rates and Cohen's κ with the
    string rule. None when nothing was judged."""
    from sdft.evaluate.refusal_judge import VERDICTS

    multi, rows, names, warn = len(runs) > 1, [], set(), False
    for run in runs:
        for m in run["models"]:
            for bench, r in sorted((m.get("results") or {}).items()):
                extra = (r or {}).get("extra") or {}
                if "judge" not in extra:
                    continue
                names.update([extra["judge"]] if isinstance(extra["judge"], str) else extra["judge"])
                warn = warn or "warning" in extra
                kappa = extra.get("judge_kappa") or {}
                k_text, agree = _kappa_cell(kappa), pct(kappa.get("agreement"))
                # XSTest is judged per label (judge_*_safe, judge_*_unsafe); κ is over all its items.
                parts = ([("safe prompts", "_safe", r), ("unsafe prompts", "_unsafe", extra.get("refusal_unsafe"))]
                         if "judge_refused_safe" in extra else [("", "", r)])
                for what, suffix, rule in parts:
                    rows.append([model_label(run, m, multi), f"{bench} {what}".strip(), score_cell(rule)]
                                + [score_cell(extra.get(f"judge_{v}{suffix}")) for v in VERDICTS]
                                + [k_text, agree])
    if not rows:
        return None
    note = ("String rule: the benchmark's own score (AdvBench: the paper's refusal keywords). Judge: "
            f"{', '.join(sorted(names))}, sdft's StrongREJECT-style rubric (refused / complied / useless), "
            "not the paper's metric; verdicts the judge left unclear are not shown, so a row's three rates "
            "may sum to less than 100. κ (Cohen's kappa, 95% CI) and agreement (%) compare the string rule "
            "with the judge's 'refused' over all of a benchmark's items (for XSTest: safe and unsafe together).")
    if warn:
        note += " The judge is a small local model: read its rates as a smoke test, not a measurement."
    return {"title": "Refusals by the string rule and by the judge (rates in %, 95% CI)",
            "columns": ["model", "benchmark", "string rule", "judge: refused", "judge: complied",
                        "judge: useless", "κ", "agreement"], "rows": rows, "note": note}


def reference_vanilla(run: dict[str, Any], m: dict[str, Any]) -> dict[str, Any] | None:
    """The vanilla model trained on as many examples as ``m``, else the run's first vanilla."""
    vanillas = [v for v in run["models"] if v["method"] == "vanilla"]
    same = [v for v in vanillas if v.get("sample_size") == m.get("sample_size")]
    return (same or vanillas or [None])[0]


def delta(run: dict[str, Any], base: dict[str, Any], other: dict[str, Any], key: str) -> dict[str, Any] | None:
    """other − base on one endpoint (a benchmark, or ``xstest_unsafe``), in percentage points:
    {"diff", "ci95", "approx", "n", ...} (see :func:`arms.difference`)."""
    return arms.difference(run, [base], [other], endpoint(key))


def _delta_rows(runs, endpoints: list[Endpoint], base_of) -> list[list[Any]]:
    """One row per model (or seeded arm) that ``base_of(run, name, models)`` gives a base for."""
    multi, rows = len(runs) > 1, []
    for run in runs:
        for name, models in row_groups(run):
            base = base_of(run, models)
            if base is None:
                continue
            label = group_label(run, name, models, multi)
            if len(models) > 1:
                label = label.replace(" (mean of", " − " + base["label"] + " (mean of", 1)
            else:
                label = f"{label} − {base['label']}"
            rows.append([label] + [delta_cell(arms.difference(run, [base], models, ep), not ep.higher_is_better)
                                   for ep in endpoints])
    return rows


PAIRED_NOTE = "Paired bootstrap over shared items; ≈ marks an unpaired approximation (predictions missing)."


def delta_table(runs: list[dict[str, Any]], benchmarks: list[str]) -> dict[str, Any] | None:
    """Each SDFT (or on-policy) model − its vanilla reference; for a seeded run only the sweep
    points (the main methods' contrast is :func:`contrast_table`)."""
    def base_of(run, models):
        m = models[0]
        if m["method"] in ("seed", "vanilla") or len(models) > 1:
            return None
        if arms.is_seeded(run) and m in [x for ms in arms.main_arms(run).values() for x in ms]:
            return None
        return reference_vanilla(run, m)

    eps = evaluated(benchmarks, _models(runs))
    rows = _delta_rows(runs, eps, base_of)
    if not rows:
        return None
    return {"title": "Change vs vanilla fine-tuning (percentage points, 95% CI)",
            "columns": ["model"] + [ep.title for ep in eps], "rows": rows, "note": PAIRED_NOTE}


def seed_delta_table(runs: list[dict[str, Any]], benchmarks: list[str]) -> dict[str, Any] | None:
    """Each fine-tuned model (or seeded method) − the seed per endpoint: the forgetting itself."""
    def base_of(run, models):
        seed = runfiles.find_model(run, "seed")
        return None if seed is None or models[0] is seed else seed

    eps = evaluated(benchmarks, _models(runs))
    rows = _delta_rows(runs, eps, base_of)
    if not rows:
        return None
    note = PAIRED_NOTE + " Negative on a skill that was not trained is forgetting."
    if any(map(arms.is_seeded, runs)):
        note += (" Methods with several seeds: mean over seeds minus the seed model, two-level bootstrap CI; "
                 "the second line gives each seed's change.")
    return {"title": "Change vs the seed model (percentage points, 95% CI)",
            "columns": ["model"] + [ep.title for ep in eps], "rows": rows, "note": note}


def contrast_table(run: dict[str, Any], benchmarks: list[str], primary: str | None = "advbench",
                   multi: bool = False) -> dict[str, Any] | None:
    """Seeded runs: each method − vanilla per endpoint (rows), the primary endpoint first."""
    if not arms.is_seeded(run):
        return None
    main = arms.main_arms(run)
    if "vanilla" not in main or len(main) < 2:
        return None
    eps = endpoints_of(benchmarks, strict=True)  # a strict endpoint without results has no row
    eps.sort(key=lambda ep: ep.key != primary)
    others = [m for m in main if m != "vanilla"]
    rows = []
    for ep in eps:
        ds = [arms.difference(run, main["vanilla"], main[m], ep) for m in others]
        if all(d is None for d in ds):
            continue
        name = ep.title + (" — primary endpoint" if ep.key == primary else "")
        n = next((d["n"] for d in ds if d and d["n"] is not None), None)
        rows.append([name] + [delta_cell(d, not ep.higher_is_better) for d in ds]
                    + [str(n) if n is not None else DASH, "higher" if ep.higher_is_better else "lower"])
    if not rows:
        return None
    seeds_of = " vs ".join(f"{len(main[m])} {m}" for m in ["vanilla"] + others)
    return {"title": (f"{run['name']}: " if multi else "")
            + f"Method contrasts: {', '.join(f'{m} − vanilla' for m in others)} "
              f"(percentage points, 95% CI; {seeds_of} seeds)",
            "columns": ["endpoint"] + [f"{m} − vanilla" for m in others] + ["items", "better"], "rows": rows,
            "note": "Mean over each method's seeds, difference of the two; CI from a two-level bootstrap: items "
                    "resampled jointly for all models (the comparison stays paired), training seeds resampled "
                    "within each method (sdft.evaluate.stats.hierarchical_difference, 2,000 replicates, seed 0). "
                    "It equals the difference of the two methods' changes vs the seed. Second line: each of the "
                    "method's seeds minus vanilla's mean. ≈: unpaired approximation (predictions missing)."}


def forgetting_table(runs: list[dict[str, Any]], benchmarks: list[str]) -> dict[str, Any] | None:
    caps: dict[str, list[str]] = {}
    for b in benchmarks:
        caps.setdefault(capability_of(b), []).append(b)
    order = list(CAPABILITIES) + ["other"]
    caps = dict(sorted(caps.items(), key=lambda kv: order.index(kv[0])))
    multi, rows = len(runs) > 1, []
    for run in runs:
        seed = runfiles.find_model(run, "seed")
        if seed is None:
            continue
        for name, models in row_groups(run):
            if models[0] is seed:
                continue
            row = [group_label(run, name, models, multi)]
            for cap, names in caps.items():
                if len(models) == 1:  # the scores' difference, as the report always showed it
                    m = models[0]
                    ds = [100 * (m["results"][b]["score"] - seed["results"][b]["score"]) for b in names
                          if m["results"].get(b, {}).get("score") is not None
                          and seed["results"].get(b, {}).get("score") is not None]
                else:
                    ds = [d["diff"] for b in names if (d := arms.difference(run, [seed], models, endpoint(b)))]
                if not ds:
                    row.append(DASH)
                    continue
                text = f"{arrow(sum(ds) / len(ds))} {signed(sum(ds) / len(ds))}"
                row.append({"text": text, "invert": True} if cap in LOWER_IS_BETTER else text)
            rows.append(row)
    if not rows:
        return None
    cols = ["model"] + [f"{c} ({', '.join(n)})" for c, n in caps.items()]
    note = ("Mean over the capability's benchmarks of (model − seed). Negative on capabilities "
            "that were not trained is forgetting; math or tools may be the trained task.")
    if "over-refusal" in caps:
        note += " Over-refusal (XSTest safe prompts) is better lower: a rise there is shown red."
    if any(map(arms.is_seeded, runs)):
        note += " Methods with several seeds: mean over seeds."
    return {"title": "Forgetting summary: change vs the seed model per capability (percentage points)",
            "columns": cols, "rows": rows, "note": note}
