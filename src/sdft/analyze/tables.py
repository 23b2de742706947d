"""The report's tables as plain data, computed from run folders (see :mod:`runfiles`).

A table is ``{"title", "columns", "rows", "note"}``; a cell is a string or
``{"text": main, "small": secondary}`` (the CI, shown in small type). Scores are percentages
with one decimal; deltas are percentage points. Missing values are "—".

Deltas vs vanilla use a paired bootstrap over the items both models answered when both
predictions files exist; otherwise an unpaired approximation (difference of the scores, CI
half-widths added in quadrature), marked "≈".
"""

from __future__ import annotations

import math
from typing import Any

from sdft.analyze import runfiles
from sdft.evaluate.stats import paired_difference

DASH = "—"
CAPABILITIES = {
    "math": ("gsm8k", "multiarith"),
    "code": ("humaneval",),
    "tools": ("openfunction",),
    "safety": ("advbench", "advbench_jailbreak"),
    "helpfulness": ("alpaca_eval",),
    "knowledge": ("mmlu", "truthfulqa", "arc_easy", "arc_challenge", "hellaswag", "winogrande"),
}


def capability_of(benchmark: str) -> str:
    for cap, names in CAPABILITIES.items():
        if benchmark in names or (cap == "knowledge" and benchmark.startswith("arc_")):
            return cap
    return "other"


def pct(x: float | None) -> str:
    return DASH if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def signed(pp: float) -> str:
    return f"{pp:+.1f}".replace("-", "−")


def arrow(pp: float) -> str:
    return "↑" if pp > 0.05 else "↓" if pp < -0.05 else "="


def score_cell(r: dict[str, Any] | None) -> Any:
    if not r or r.get("score") is None:
        return DASH
    ci = r.get("ci95")
    small = f"[{pct(ci[0])}, {pct(ci[1])}]" if ci and None not in ci else ""
    return {"text": pct(r["score"]), "small": small} if small else pct(r["score"])


def _label(run: dict[str, Any], m: dict[str, Any], multi: bool) -> str:
    return f"{run['name']}/{m['label']}" if multi else m["label"]


def score_table(runs: list[dict[str, Any]], benchmarks: list[str]) -> dict[str, Any]:
    multi = len(runs) > 1
    rows = [[_label(run, m, multi)] + [score_cell(m["results"].get(b)) for b in benchmarks]
            for run in runs for m in run["models"]]
    return {"title": "Benchmark scores (%, 95% CI)", "columns": ["model"] + benchmarks, "rows": rows}


def reference_vanilla(run: dict[str, Any], m: dict[str, Any]) -> dict[str, Any] | None:
    """The vanilla model trained on as many examples as ``m``, else the run's first vanilla."""
    vanillas = [v for v in run["models"] if v["method"] == "vanilla"]
    same = [v for v in vanillas if v.get("sample_size") == m.get("sample_size")]
    return (same or vanillas or [None])[0]


def delta(run: dict[str, Any], base: dict[str, Any], other: dict[str, Any], benchmark: str) -> dict[str, Any] | None:
    """other − base on one benchmark, in percentage points: {"diff", "ci95", "paired", "n"}."""
    ra, rb = base["results"].get(benchmark), other["results"].get(benchmark)
    if not ra or not rb or ra.get("score") is None or rb.get("score") is None:
        return None
    pa = runfiles.model_predictions(run, base, benchmark)
    pb = runfiles.model_predictions(run, other, benchmark)
    shared = [i for i in (pa or {}) if i in (pb or {}) and _num(pa[i]) is not None and _num(pb[i]) is not None]
    if shared:
        d = paired_difference([_num(pa[i]) for i in shared], [_num(pb[i]) for i in shared])
        return {"diff": 100 * d["diff"], "ci95": [100 * c for c in d["ci95"]], "paired": True, "n": d["n"]}
    diff = 100 * (rb["score"] - ra["score"])
    hw = [(r["ci95"][1] - r["ci95"][0]) / 2 for r in (ra, rb) if r.get("ci95") and None not in r["ci95"]]
    half = 100 * math.sqrt(sum(h * h for h in hw)) if len(hw) == 2 else float("nan")
    return {"diff": diff, "ci95": [diff - half, diff + half], "paired": False, "n": None}


def _num(rec: dict[str, Any]) -> float | None:
    s = rec.get("score")
    return float(s) if isinstance(s, (int, float)) else None


def delta_cell(d: dict[str, Any] | None) -> Any:
    if d is None:
        return DASH
    lo, hi = d["ci95"]
    ci = f"[{signed(lo)}, {signed(hi)}]" if not math.isnan(lo) else ""
    return {"text": f"{arrow(d['diff'])} {signed(d['diff'])}", "small": ci + ("" if d["paired"] else " ≈")}


def _delta_rows(runs, benchmarks, base_of) -> list[list[Any]]:
    multi, rows = len(runs) > 1, []
    for run in runs:
        for m in run["models"]:
            base = base_of(run, m)
            if base is None:
                continue
            rows.append([f"{_label(run, m, multi)} − {base['label']}"]
                        + [delta_cell(delta(run, base, m, b)) for b in benchmarks])
    return rows


PAIRED_NOTE = "Paired bootstrap over shared items; ≈ marks an unpaired approximation (predictions missing)."


def delta_table(runs: list[dict[str, Any]], benchmarks: list[str]) -> dict[str, Any] | None:
    rows = _delta_rows(runs, benchmarks, lambda run, m: None if m["method"] in ("seed", "vanilla")
                       else reference_vanilla(run, m))
    if not rows:
        return None
    return {"title": "Change vs vanilla fine-tuning (percentage points, 95% CI)", "columns": ["model"] + benchmarks,
            "rows": rows, "note": PAIRED_NOTE}


def seed_delta_table(runs: list[dict[str, Any]], benchmarks: list[str]) -> dict[str, Any] | None:
    """Each fine-tuned model − the seed per benchmark: the forgetting itself, with paired CIs."""
    def base_of(run, m):
        seed = runfiles.find_model(run, "seed")
        return None if seed is None or m is seed else seed

    rows = _delta_rows(runs, benchmarks, base_of)
    if not rows:
        return None
    return {"title": "Change vs the seed model (percentage points, 95% CI)", "columns": ["model"] + benchmarks,
            "rows": rows, "note": PAIRED_NOTE + " Negative on a skill that was not trained is forgetting."}


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
        for m in run["models"]:
            if m is seed:
                continue
            row = [_label(run, m, multi)]
            for names in caps.values():
                ds = [100 * (m["results"][b]["score"] - seed["results"][b]["score"]) for b in names
                      if m["results"].get(b, {}).get("score") is not None
                      and seed["results"].get(b, {}).get("score") is not None]
                row.append(f"{arrow(sum(ds) / len(ds))} {signed(sum(ds) / len(ds))}" if ds else DASH)
            rows.append(row)
    if not rows:
        return None
    cols = ["model"] + [f"{c} ({', '.join(n)})" for c, n in caps.items()]
    return {"title": "Forgetting summary: change vs the seed model per capability (percentage points)",
            "columns": cols, "rows": rows,
            "note": "Mean over the capability's benchmarks of (model − seed). Negative on capabilities "
                    "that were not trained is forgetting; math or tools may be the trained task."}


def _kept_share(r: dict[str, Any]) -> float | None:
    """Kept rewrites over attempted ones, from a `distill_report.json` (sdft.distill.output)."""
    return r.get("kept_rate") if r.get("distilled") else None


def acceptance_table(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    rows = []
    for run in runs:
        for d in runfiles.distill_reports(run):
            r = d["report"]
            lengths, gen = r.get("mean_length") or {}, r.get("generation") or {}
            share = _kept_share(r)
            reasons = ", ".join(f"{k} {v}" for k, v in (r.get("reasons") or {}).items() if k != "ok")
            rows.append([f"{run['name']}: {d['dir']}", ", ".join(d["labels"]),
                         ", ".join(r.get("templates") or []) or d["template"] or DASH,
                         _fmt(r.get("distilled")), _fmt(r.get("kept")), pct(share) if share is not None else DASH,
                         reasons or DASH, _fmt((lengths.get("original") or {}).get("words")),
                         _fmt((lengths.get("rewrite") or {}).get("words")),
                         _fmt(gen.get("tokens_per_s")), _fmt(gen.get("wall_s"))])
    if not rows:
        return None
    return {"title": "Distillation: rewrites kept by the selection filters",
            "columns": ["distillation", "used by", "template", "distilled", "kept", "kept %", "fallback reasons",
                        "words original", "words rewrite", "tokens/s", "wall s"], "rows": rows,
            "note": "Fallback reasons count the examples that keep the original answer; "
                    "lengths are mean words per answer."}


def template_table(runs: list[dict[str, Any]], benchmarks: list[str]) -> dict[str, Any] | None:
    rows = []
    for run in runs:
        sdft = [m for m in run["models"] if m["method"] == "sdft" and m.get("template")]
        if len({m["template"] for m in sdft}) < 2:
            continue
        reports = {d["dir"]: d["report"] for d in runfiles.distill_reports(run)}
        for m in sdft:
            share = _kept_share(reports.get(m.get("distill_dir"), {}))
            acc = pct(share) if share is not None else DASH
            rows.append([m["template"], _label(run, m, len(runs) > 1), acc]
                        + [score_cell(m["results"].get(b)) for b in benchmarks])
    if not rows:
        return None
    return {"title": "Template ablation: distillation prompt templates", "rows": rows,
            "columns": ["template", "model", "kept %"] + benchmarks}


def similarity_table(analysis: dict[str, Any]) -> dict[str, Any] | None:
    pairs, shifts = analysis.get("pairs") or {}, analysis.get("param_shift") or {}
    labels = list(dict.fromkeys(list(pairs) + list(shifts)))
    if not labels:
        return None
    rows = []
    for label in labels:
        p = pairs.get(label, {})
        row = [label, _fmt(p.get("n"))]
        for m, scale in (("bleu4", 1), ("rouge_l", 100), ("cosine", 100)):
            s = p.get(m)
            row.append({"text": f"{scale * s['mean']:.1f}", "small": f"[{scale * s['ci95'][0]:.1f}, "
                        f"{scale * s['ci95'][1]:.1f}]"} if s else DASH)
        sh = shifts.get(label)
        row.append(f"{sh['total']:.4g} ({sh['kind']})" if sh else DASH)
        rows.append(row)
    return {"title": f"Distribution shift from the seed model on {analysis.get('benchmark', '?')} outputs",
            "columns": ["model", "n", "BLEU-4", "ROUGE-L ×100", "cosine ×100", "parameter shift"], "rows": rows,
            "note": "Similarity of each model's answers to the seed's answers on the same prompts (higher = "
                    "closer to the seed). Parameter shift: sum over modules of ‖ΔW‖_F."}


def stage_table(run: dict[str, Any]) -> dict[str, Any] | None:
    stages = run["manifest"].get("stages") or {}
    rows = [[k, str(v.get("status", DASH)), _fmt(v.get("wall_s")), _fmt(v.get("sittings")),
             str(v.get("dir") or DASH)] for k, v in stages.items() if isinstance(v, dict)]
    if not rows:
        return None
    return {"title": "Stages and wall times", "columns": ["stage", "status", "wall s", "sittings", "folder"],
            "rows": rows, "note": "A stage resumed after a kill ran in several sittings; its wall time is the "
                                  "last sitting's (training's own total is in the Training table)."}


def training_table(run: dict[str, Any]) -> dict[str, Any] | None:
    keys = ("method", "n_examples", "train_tokens", "tokens_per_s", "wall_s", "mean_loss", "final_loss")
    rows = [[label] + [_fmt(t.get(k)) for k in keys] for label, t in runfiles.train_summaries(run).items()]
    if not rows:
        return None
    return {"title": "Training", "rows": rows,
            "columns": ["model", "method", "examples", "tokens", "tokens/s", "wall s", "mean loss", "last-step loss"],
            "note": "Mean loss over all steps; the last step's loss is one batch's and noisy."}


def _fmt(x: Any) -> str:
    if x is None:
        return DASH
    if isinstance(x, float):
        return f"{x:.4g}" if abs(x) < 1000 else f"{x:,.0f}"
    return str(x)
