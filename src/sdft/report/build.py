"""Build ``report.md``, a self-contained ``report.html`` and ``summary.json`` from run folders'
saved files.

No model is loaded: everything comes from manifests, results.json, predictions, distillation
reports, training logs and summaries, and ``analysis/analysis.json`` when ``sdft analyze`` has
run. The report is a list of blocks (see :mod:`render`) rendered as markdown and as HTML.

``summary.json`` holds the numbers a verdict is written from (see :mod:`arms`)::

    {"methods": {"vanilla": {"seeds": [1, 2, 3], "labels": [...], "benchmarks": {name: {"mean",
      "ci95", "n", "approx", "per_seed": {seed: score}, "change_vs_seed": {"diff", "ci95", ...}}}},
      "sdft": {...}},
     "contrasts": {"sdft_minus_vanilla": {name: {"diff", "ci95", "n", "seeds", ...}}},
     "seed_model": {...}, "nll_gap": {distill dir: {...}}, "units": ...,
     "retrained_siblings": {label: identity check} (fine-tunes trained again whose weights are not
      the evaluated ones, where any: :func:`sdft.analyze.runfiles.retrained`),
     "predictors": {"per_model": [{"label", "method", "kl", "nll_gap", "retention", ...}],
      "correlations": {"kl"|"nll_gap": {"n", "pearson", "spearman"}}} (where a fine-tune has one),
     "decision": {"sdft_minus_vanilla": {"endpoint", "diff", "ci95", "outcome", "statement", "complete",
      "missing", ...}}, "methods_comparison": {"pareto", "costs", "best", "interpolation": {arm: like a
      method, with "change_vs_fine_tunes" seed by seed}, "complete": {"complete", "planned",
      "evaluated", "missing"}} (more than two methods, or interpolation points), "non_inferiority":
      {"sdft_minus_vanilla": {endpoint: {"margin", "diff", "ci95", "non_inferior", "statement",
      "complete", ...}}} (where margins are set), "verdict": text or null}

(with several runs: ``{"runs": {name: that object without the verdict}, "verdict": ...}``).
``decision`` is the pre-registered rule applied to the primary endpoint (see :mod:`decision`),
with whether every planned model has been evaluated. The verdict is a person's reading of the
numbers: given by the caller, else kept from the ``summary.json`` already in the folder (so
rebuilding the report does not erase it), else (one run, built into another folder) from the
run's own ``report/summary.json``, else null.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sdft.analyze import nll_gap, runfiles
from sdft.report import arms, curves, decision, finding, flips, ifeval_table, methods, predictors, run_tables, tables
from sdft.report import figures as figs
from sdft.report.cells import DASH
from sdft.report.endpoints import endpoints_of, evaluated
from sdft.report.render import Block, to_html, to_markdown
from sdft.report_config import ReportConfig
from sdft.runs import finite, write_text


def tiny_model_note(run: dict[str, Any]) -> str | None:
    """A warning when the seed model's name says it is under a billion parameters."""
    seed = runfiles.find_model(run, "seed") or {}
    spec = str(seed.get("model") or (run["manifest"].get("config") or {}).get("model") or "")
    m = re.search(r"(\d+(?:\.\d+)?)\s*([mb])(?![a-z])", spec.lower())
    if not m or (m.group(2) == "b" and float(m.group(1)) >= 1):
        return None
    size = f"{m.group(1)}{m.group(2).upper()}"
    return (f"{run['name']}: the seed model ({spec}, about {size} parameters) is tiny. Absolute scores are low "
            "and many differences between methods are within the confidence intervals; read the CIs, "
            "not just the point estimates.")


def notes(run: dict[str, Any]) -> list[str]:
    man = run["manifest"]
    out = [str(n) for n in man.get("notes") or []]
    note = (man.get("config") or {}).get("note")
    if note:
        out.append(str(note))
    tiny = tiny_model_note(run)
    if tiny and not any("tiny" in n.lower() or "135m" in n.lower() for n in out):
        out.append(tiny)
    unpaired = unpaired_note(run)
    if unpaired:
        out.append(unpaired)
    sibling = sibling_note(run)
    if sibling:
        out.append(sibling)
    status = decision.completeness(run)
    if status["complete"] is False:  # a run still going, or one whose folders were lost
        out.append(f"{run['name']}: incomplete: {status['evaluated']} of {status['planned']} planned models have "
                   f"results (missing: {', '.join(status['missing'])}); what was not evaluated is absent from the "
                   "tables and figures, and a contrast that needs it has no decision.")
    return out


def sibling_note(run: dict[str, Any]) -> str | None:
    """Which fine-tunes are retrained siblings (:func:`runfiles.retrained`), with their identity
    check's figures, and what in the report comes from their weights rather than the evaluated ones."""
    siblings = runfiles.retrained(run)
    if not siblings:
        return None
    said = "; ".join(f"{label} ({r.get('identical')} of {r.get('items')} items identical, largest relative "
                     f"difference {r['max_rel_diff']:.1e})" if isinstance(r.get("max_rel_diff"), (int, float))
                     else label for label, r in siblings.items())
    return (f"{run['name']}: retrained siblings: {said}, by their KL to the seed recomputed item by item against the "
            "one measured before (`scripts/kl_identity.py`). These fine-tunes were trained again after a machine "
            "change (same code, data and training seed) and are near-identical siblings of the evaluated weights, "
            "not the same weights to the last digit. Their scores are the evaluated weights'; what was read from "
            "the weights after the retraining is the sibling's: their weight-interpolation points, a KL to the seed "
            "marked † in the predictor table, the parameter shift, the training log and loss curve.")


def unpaired_note(run: dict[str, Any]) -> str | None:
    """Where some evaluated model's folder keeps no per-item predictions (nor scores), so its
    contrasts are unpaired approximations (a published folder): how to get the paired numbers."""
    from sdft.evaluate.saved import scored_lines_file

    if not any((d := runfiles.path_in(run, m.get("eval_dir"))) is not None and scored_lines_file(d, b) is None
               for m in run["models"] for b in m["results"]):
        return None
    carry = Path(run["dir"]) / "carry"
    how = (f"restore the run's stages (`python scripts/carry_run.py restore {carry} runs/{run['name']}`) and "
           f"rebuild from there (`sdft report runs/{run['name']}`)" if carry.is_dir() else
           "rebuild the report from the run folder that holds them")
    return (f"{run['name']}: this folder lacks per-item predictions for some models, so their contrasts (≈) are "
            f"unpaired approximations; for the paired numbers, {how}.")


def _manifest_blocks(run: dict[str, Any]) -> list[Block]:
    man, prov = run["manifest"], run["manifest"].get("provenance") or {}
    seed = runfiles.find_model(run, "seed") or {}
    cfg = man.get("config") or {}
    items = [f"run folder: {run['dir']}", f"seed model: {seed.get('model') or cfg.get('model') or DASH}"]
    for key in ("data", "task", "train_data", "sample_size", "seed", "seeds"):
        if key in cfg and not isinstance(cfg[key], dict):
            items.append(f"{key}: {cfg[key]}" if not isinstance(cfg[key], list) else
                         f"training {key}: {', '.join(map(str, cfg[key]))}")
    shown = ("sample_size", "mix_ratio", "template", "train_seed")
    items.append("models: " + "; ".join(
        f"{m['label']} ({m['method']}" + "".join(f", {k}={m[k]}" for k in shown if m.get(k) is not None) + ")"
        for m in run["models"]))
    items.append(f"git: {prov.get('git') or DASH}; time: {prov.get('time') or DASH}")
    versions = prov.get("versions") or {}
    if versions:
        items.append("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    blocks: list[Block] = [("h3", f"Run {run['name']}"), ("ul", items)]
    for t in (run_tables.stage_table(run), run_tables.training_table(run)):
        if t:
            blocks.append(("table", t))
    if cfg:
        blocks.append(("code", ("resolved config (hyper-parameters)", json.dumps(cfg, indent=2, default=str))))
    return blocks


def forest_rows(run: dict[str, Any], benchmarks: list[str]) -> list[dict[str, Any]]:
    """The change-vs-seed table's numbers, one row per endpoint × model (or seeded method)."""
    seed = runfiles.find_model(run, "seed")
    if seed is None:
        return []
    rows = []
    for ep in evaluated(benchmarks, run["models"]):
        for name, models in tables.row_groups(run):
            if models[0] is seed:
                continue
            d = arms.difference(run, [seed], models, ep)
            if d is not None:
                label = f"{name} ({len(models)} seeds)" if len(models) > 1 else name
                rows.append({"endpoint": ep.title + ("" if ep.higher_is_better else " (lower = better)"),
                             "model": label, "method": models[0]["method"], "diff": d["diff"],
                             "ci95": d["ci95"], "approx": d["approx"]})
    return rows


def _run_figures(run: dict[str, Any], analysis: dict[str, Any] | None, out: Path) -> dict[str, list[Path]]:
    benchmarks = runfiles.benchmarks_of(run["models"])
    found = figs.all_figures(run["models"], tables.score_bars(run, benchmarks), benchmarks, analysis, out)
    found["forest"] = figs.forest_plot(forest_rows(run, benchmarks), out / "forest")
    found["loss"] = curves.loss_curves(runfiles.train_logs(run), {m["label"]: m["method"] for m in run["models"]},
                                       out / "loss_curves")
    found["trajectory"] = curves.trajectory_figure(runfiles.trajectory(run), out / "trajectory")
    return {k: v for k, v in found.items() if v}


def build_blocks(runs: list[dict[str, Any]], fig_dir: Path | None, title: str | None = None,
                 primary: str | None = "advbench", flip_items: int = 20, verdict: str | None = None,
                 rule: list[str] | None = None, lead: list[str] | None = None,
                 seed_test_alpha: float | None = None, margins: list[str] | None = None,
                 decide: list[str] | None = None) -> list[Block]:
    """The report's blocks; ``rule``: the decision rule's statements (:func:`decision_lines`);
    ``margins``: the non-inferiority calls (:func:`non_inferiority_lines`);
    ``lead``: the finding in words (:func:`finding.finding_lines`), first thing under the title;
    ``seed_test_alpha``, ``decide``: as :func:`write_report` (the best method among several reads
    them too)."""
    benchmarks = runfiles.benchmarks_of([m for r in runs for m in r["models"]])
    multi = len(runs) > 1
    blocks: list[Block] = [("h1", title or "SDFT report: " + ", ".join(r["name"] for r in runs))]
    if lead:
        blocks.append(("finding", lead))
    all_notes = [n for r in runs for n in notes(r)]
    if all_notes:
        blocks.append(("notes", all_notes))
    if verdict:
        blocks.append(("verdict", verdict))
    if rule:
        blocks.append(("decision", rule))
    if margins:
        blocks.append(("non_inferiority", margins))
    analyses = {r["name"]: runfiles.load_analysis(r) for r in runs}
    run_figs: dict[str, dict[str, list[Path]]] = {}
    if fig_dir is not None:
        for r in runs:
            sub = fig_dir / re.sub(r"[^A-Za-z0-9_.-]+", "_", r["name"]) if multi else fig_dir
            run_figs[r["name"]] = _run_figures(r, analyses[r["name"]], sub)

    def figure(key: str, caption: str) -> None:
        for r in runs:
            if key in run_figs.get(r["name"], {}):
                blocks.append(("figure", (run_figs[r["name"]][key], f"{r['name']}: {caption}")))

    blocks.append(("h2", "Results"))
    results = [tables.score_table(runs, benchmarks), tables.safety_table(runs, benchmarks), tables.judge_table(runs),
               *ifeval_table.tables_of(runs)]
    results += [tables.contrast_table(r, runfiles.benchmarks_of(r["models"]), primary, multi) for r in runs]
    results += [arms.seed_level_table(r, endpoints_of(runfiles.benchmarks_of(r["models"]), strict=True), primary,
                                       multi) for r in runs]
    results += [tables.delta_table(runs, benchmarks), tables.seed_delta_table(runs, benchmarks),
                tables.forgetting_table(runs, benchmarks)]
    blocks.extend(("table", t) for t in results if t)
    # more than two methods, or interpolation; each run's part ends with the forgetting predictors
    blocks.extend(methods.report_blocks(runs, fig_dir, primary, more=predictors.predictor_table,
                                        seed_test_alpha=seed_test_alpha, decide=decide))
    figure("benchmarks", "scores per benchmark, 95% CI")
    seeded = any(map(arms.is_seeded, runs))
    figure("forest", "change vs the seed model per benchmark (percentage points, 95% CI"
           + ("; methods with several seeds: mean over seeds, two-level bootstrap)" if seeded else ")"))
    browsers = [(r, b) for r in runs if flip_items > 0
                and (b := flips.browser(r, runfiles.benchmarks_of(r["models"]), flip_items))]
    if browsers:
        blocks.append(("h2", flips.HEADING))
        blocks.append(("p", f"Items whose score differs between the seed model and the fine-tunes (for methods trained "
                            f"with several seeds, each method's first seed), at most {flip_items} per benchmark, those "
                            "where the fine-tunes disagree first. Prompts and answers are quoted verbatim, including "
                            "harmful requests and jailbroken answers: this page is for inspecting a run locally."))
        for i, (r, data) in enumerate(browsers):
            if multi:
                blocks.append(("h3", r["name"]))
            blocks.append(("flips", (data, f"flips-{i}")))
    if any(k in f for f in run_figs.values() for k in ("loss", "trajectory")):
        blocks.append(("h2", "Along training"))
        figure("loss", "training loss per optimizer step (running mean over a tenth of the steps; raw loss faint)")
        figure("trajectory", "dev-slice scores along training: the seed (step 0), the snapshots and the final model")
    if any(analyses.values()):
        blocks.append(("h2", "Distribution shift"))
    for r in runs:
        a = analyses[r["name"]]
        if not a:
            continue
        t = run_tables.similarity_table(a)
        if t:
            t["title"] = (f"{r['name']}: " if multi else "") + t["title"]
            blocks.append(("table", t))
        if "similarity" in run_figs.get(r["name"], {}):
            caption = f"{r['name']}: similarity to the seed's answers, means dashed (cf. paper Fig. 9)"
            blocks.append(("figure", (run_figs[r["name"]]["similarity"], caption)))
    sweeps = [(r["name"], k, v) for r in runs for k, v in run_figs.get(r["name"], {}).items() if k.startswith("sweep_")]
    if sweeps:
        blocks.append(("h2", "Sweeps"))
        for name, key, paths in sweeps:
            axis = figs.SWEEP_AXES[key.removeprefix("sweep_")]
            blocks.append(("figure", (paths, f"{name}: scores and shift measures vs {axis} (cf. paper Figs. 5-8)")))
    distill = [t for t in (run_tables.acceptance_table(runs), run_tables.template_table(runs, benchmarks),
                           run_tables.nll_table(runs, {r["name"]: nll_gap.gaps(r) for r in runs})) if t]
    if distill:
        blocks.append(("h2", "Distillation"))
        blocks.extend(("table", t) for t in distill)
    blocks.append(("h2", "Run manifest"))
    for r in runs:
        blocks.extend(_manifest_blocks(r))
    return blocks


def summary(runs: list[dict[str, Any]], verdict: str | None = None, primary: str | None = "advbench",
            seed_test_alpha: float | None = None, decide: list[str] | None = None,
            non_inferiority: dict[str, float] | None = None) -> dict[str, Any]:
    """The ``summary.json`` object (see the module docstring); ``seed_test_alpha``, ``decide`` and
    ``non_inferiority`` as in :func:`write_report`."""
    per_run = {}
    for r in runs:
        s = arms.run_summary(r, endpoints_of(runfiles.benchmarks_of(r["models"]), strict=True))
        s["nll_gap"] = nll_gap.gaps(r)
        if siblings := runfiles.retrained(r):
            s["retrained_siblings"] = siblings
        per_model = predictors.rows(r, primary)
        if any(m["kl"] is not None or m["nll_gap"] is not None for m in per_model):
            s["predictors"] = {"per_model": per_model, "correlations": predictors.correlations(per_model)}
        s["decision"] = decision.decisions(r, s, primary, seed_test_alpha, decide)
        if non_inferiority:
            s["non_inferiority"] = decision.non_inferiority(r, s, non_inferiority, decide)
        if (compared := methods.summary(r, primary, seed_test_alpha, decide)) is not None:
            s["methods_comparison"] = compared
        per_run[r["name"]] = s
    if len(runs) == 1:
        return {**next(iter(per_run.values())), "verdict": verdict}
    return {"runs": per_run, "verdict": verdict}


def decision_lines(summary_obj: dict[str, Any]) -> list[str]:
    """The decision rule's statements in a ``summary.json`` object, prefixed with the run name
    when it covers several runs."""
    per_run = summary_obj.get("runs") or {"": summary_obj}
    return [(f"{name}: " if name else "") + d["statement"] for name, s in per_run.items()
            for d in (s.get("decision") or {}).values()]


def non_inferiority_lines(summary_obj: dict[str, Any]) -> list[str]:
    """The plan's non-inferiority calls in a ``summary.json`` object, like :func:`decision_lines`."""
    per_run = summary_obj.get("runs") or {"": summary_obj}
    return [(f"{name}: " if name else "") + n["statement"] for name, s in per_run.items()
            for by_ep in (s.get("non_inferiority") or {}).values() for n in by_ep.values()]


def write_configured(run_dirs: list[str | Path], out_dir: str | Path, cfg: ReportConfig) -> dict[str, Any]:
    """:func:`write_report` with a :class:`~sdft.report_config.ReportConfig`'s settings (``out``
    aside): what `sdft report` and every `sdft run` build."""
    return write_report(run_dirs, out_dir, title=cfg.title, figures=cfg.figures, primary=cfg.primary,
                        flip_items=cfg.flip_items, verdict=cfg.verdict, seed_test_alpha=cfg.seed_test_alpha,
                        decide=cfg.decide, non_inferiority=cfg.non_inferiority)


def write_report(run_dirs: list[str | Path], out_dir: str | Path, title: str | None = None,
                 figures: bool = True, primary: str | None = "advbench", flip_items: int = 20,
                 verdict: str | None = None, seed_test_alpha: float | None = None,
                 decide: list[str] | None = None, non_inferiority: dict[str, float] | None = None) -> dict[str, Any]:
    """Write ``report.md``, ``report.html``, ``summary.json`` and ``figures/`` under ``out_dir``;
    return their paths and the decision rule's statements (``decisions``). ``primary``: the
    endpoint whose method contrast is listed first, marked as the primary endpoint and read by the
    decision rule; ``flip_items``: most flipped items shown per benchmark (0: no browser);
    ``seed_test_alpha``: the level of the permutation test over training seeds that the decision
    rule also needs (:mod:`sdft.report.decision`), where a plan fixed one; ``decide``: the methods
    whose contrast with vanilla the rule reads (default every one: a plan's secondaries stay
    descriptive); ``non_inferiority``: margins (points) per endpoint for the plan's
    non-inferiority calls, stated after the rule's (:func:`decision.non_inferiority`)."""
    runs = [runfiles.load_run(d) for d in run_dirs]
    names = [r["name"] for r in runs]
    for r in runs:  # two runs with one name would make their table rows indistinguishable
        if names.count(r["name"]) > 1:
            r["name"] = f"{r['name']} ({r['dir']})"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary_path = out / "summary.json"
    if verdict is None:  # kept from this folder's summary, else (another --out) from the run's own report
        kept = [summary_path] + ([Path(runs[0]["dir"]) / "report" / "summary.json"] if len(runs) == 1 else [])
        verdict = next((v for p in kept if p.is_file() and (v := (runfiles.read_json(p) or {}).get("verdict"))),
                       None)
    summary_obj = summary(runs, verdict, primary, seed_test_alpha, decide, non_inferiority)
    rule, margins = decision_lines(summary_obj), non_inferiority_lines(summary_obj)
    blocks = build_blocks(runs, out / "figures" if figures else None, title, primary, flip_items, verdict, rule,
                          finding.finding_lines(runs, summary_obj, primary), seed_test_alpha, margins, decide)
    drawn = {p for kind, val in blocks if kind == "figure" for p in val[0]}
    for old in (out / "figures").rglob("*") if (out / "figures").is_dir() else []:
        if old.suffix in (".png", ".svg") and old not in drawn:
            old.unlink()  # a figure an earlier build drew and this one does not (e.g. a sweep now too short)
    md, page = out / "report.md", out / "report.html"
    # atomic: a kill or a full disk must not leave a cut-off summary.json (the next build reads its
    # verdict back) or a half report in place of the last whole one
    write_text(md, to_markdown(blocks, out))
    write_text(page, to_html(blocks))
    write_text(summary_path, json.dumps(finite(summary_obj), indent=1) + "\n")
    return {"md": md, "html": page, "summary": summary_path, "decisions": rule, "non_inferiority": margins}
