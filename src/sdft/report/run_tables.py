"""The report's tables of how a run went, beside its scores: stages and wall times, training,
distillation (rewrites kept, template ablation, NLL gap) and the distribution shift from
``analysis.json``. Plain data, as in :mod:`tables`; cells from :mod:`cells`.
"""

from __future__ import annotations

from typing import Any

from sdft.analyze import runfiles
from sdft.report.cells import DASH, fmt, model_label, number, pct, score_cell


def nll_table(runs: list[dict[str, Any]], gaps: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The NLL gap per distillation: {run name: nll_gap.gaps(run)}."""
    names = {"original": "original answers", "distilled": "distilled set (what SDFT trains on)",
             "kept_rewrites": "kept rewrites", "kept_originals": "their original answers"}
    rows = []
    for run in runs:
        for d, g in gaps.get(run["name"], {}).items():
            where = f"{run['name']}: {d}" if len(runs) > 1 else d
            for key, text in names.items():
                s = g.get(key) or {}
                if s.get("nll_per_token") is None:
                    continue
                ci = s.get("ci95")
                rows.append([f"{where}: {text}", {"text": f"{s['nll_per_token']:.3f}",
                             "small": f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""},
                             fmt(s.get("n")), fmt(s.get("tokens"))])
            for key, text in (("original_minus_distilled", "gap: original − distilled"),
                              ("kept_originals_minus_rewrites", "gap on the kept examples: originals − rewrites")):
                s = g["gaps"].get(key)
                if s:
                    ci = s.get("ci95")
                    rows.append([f"{where}: {text}", {"text": number(s["diff"], "+.3f"),
                                 "small": f"[{number(ci[0], '+.3f')}, {number(ci[1], '+.3f')}]" if ci else "no CI"},
                                 DASH, DASH])
    if not rows:
        return None
    return {"title": "NLL gap: per-token NLL of the training responses under the seed model (nats, 95% CI)",
            "columns": ["responses", "NLL / token", "examples", "tokens"], "rows": rows,
            "note": "Measured in the training context on a sample of the distilled examples; lower = closer to the "
                    "seed model's own distribution, which is what SDFT's distilled set is meant to be. A positive gap "
                    "means the distilled responses are closer. Gap CIs: paired bootstrap over examples from nll.jsonl "
                    "(published with it; without it, no CI)."}


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
                         fmt(r.get("distilled")), fmt(r.get("kept")), pct(share) if share is not None else DASH,
                         reasons or DASH, fmt((lengths.get("original") or {}).get("words")),
                         fmt((lengths.get("rewrite") or {}).get("words")),
                         fmt(gen.get("tokens_per_s")), fmt(gen.get("wall_s"))])
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
            rows.append([m["template"], model_label(run, m, len(runs) > 1), acc]
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
        row = [label, fmt(p.get("n"))]
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
    rows = [[k, str(v.get("status", DASH)), fmt(v.get("wall_s")), fmt(v.get("sittings")), str(v.get("cpu") or DASH),
             str(v.get("dir") or DASH), _earlier_runs(v.get("earlier") or [])]
            for k, v in stages.items() if isinstance(v, dict)]
    if not rows:
        return None
    return {"title": "Stages and wall times",
            "columns": ["stage", "status", "wall s", "sittings", "CPU", "folder", "runs it replaced"], "rows": rows,
            "note": "A stage resumed after a kill ran in several sittings; its wall time is the last sitting's "
                    "(training's own total is in the Training table). A stage that ran again (a fine-tune "
                    "retrained on another machine, a measurement redone) lists the finished runs it replaced, "
                    "oldest first: commit, CPU where recorded, wall time; their records are the published "
                    "manifest's 'earlier' lists."}


def _earlier_runs(records: list[dict[str, Any]]) -> str:
    return "; ".join(", ".join(x for x in (str(r.get("git") or "?")[:7], r.get("cpu"), f"{fmt(r.get('wall_s'))} s")
                               if x) for r in records) or DASH


def training_table(run: dict[str, Any]) -> dict[str, Any] | None:
    keys = ("method", "n_examples", "train_tokens", "tokens_per_s", "wall_s", "mean_loss", "final_loss")
    rows = [[label] + [fmt(t.get(k)) for k in keys] for label, t in runfiles.train_summaries(run).items()]
    if not rows:
        return None
    return {"title": "Training", "rows": rows,
            "columns": ["model", "method", "examples", "tokens", "tokens/s", "wall s", "mean loss", "last-step loss"],
            "note": "Mean loss over all steps; the last step's loss is one batch's and noisy."}
