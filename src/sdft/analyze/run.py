"""Run the shift analysis: compare fine-tuned models' outputs and weights with the seed's.

:func:`run_analyze` is what ``sdft analyze`` and the pipeline's last stage call; it reads only
saved predictions (and adapters for parameter shift) and writes ``analysis.json`` + figures.
"""

from __future__ import annotations

from pathlib import Path

from sdft.analyze.config import AnalyzeConfig
from sdft.errors import ConfigError


def run_analyze(cfg: AnalyzeConfig, run_dir: str | Path | None = None) -> dict:
    """Compare the fine-tuned models' outputs and weights with the seed's; write analysis.json
    (+ figures) and return it. ``run_dir`` (a `sdft run` folder) or ``cfg.seed_eval``/``cfg.tuned``."""
    from sdft import evaluate as battery
    from sdft.analyze import figures, pairs, runfiles
    from sdft.runs import provenance, write_json

    battery.get(cfg.benchmark)  # an unknown name lists the known ones (not "the seed has no predictions")
    if run_dir:
        if cfg.seed_eval or cfg.tuned:
            raise ConfigError("give either RUN_DIR or --seed-eval/--tuned, not both")
        run_info = runfiles.load_run(run_dir)
        seed_eval, seed_model, tuned = pairs.tuned_from_run(run_info)
        out = Path(cfg.out or Path(run_dir) / "analysis")
    elif cfg.seed_eval and cfg.tuned:
        seed_eval, seed_model, tuned = Path(cfg.seed_eval), None, pairs.parse_tuned(cfg.tuned)
        if not cfg.out:
            raise ConfigError("--out is required without a run folder")
        _check_folders(seed_eval, tuned)
        out = Path(cfg.out)
    else:
        raise ConfigError("nothing to analyze: give RUN_DIR, or --seed-eval EVAL_DIR with one or more --tuned")
    result = pairs.analyze(seed_eval, tuned, cfg.benchmark, seed_model=cfg.seed_model or seed_model,
                           measures=tuple(cfg.measures))
    result["provenance"] = provenance()
    write_json(out / "analysis.json", result)
    figs = []
    if cfg.figures and result["pairs"]:  # the scores' figures are the report's (sdft.report.figures)
        figs = figures.similarity_histograms(result["pairs"], out / "similarity_hist")
    for label, p in result["pairs"].items():
        line = ", ".join(f"{m} {p[m]['mean']:.3f}" for m in cfg.measures if m in p)
        shift = result["param_shift"].get(label)
        print(f"{label:<16} n={p['n']:<5} {line}" + (f", shift {shift['total']:.4g}" if shift else ""))
    for label, why in result["missing"].items():
        print(f"{label:<16} skipped: {why}")
    print(f"wrote {out / 'analysis.json'}" + (f" and {len(figs)} figure files" if figs else ""))
    return result


def _check_folders(seed_eval: Path, tuned: dict[str, dict]) -> None:
    """Folders named on the command line must exist: a typo'd one was "skipped", and the analysis
    written without it exited 0 (a run folder's models may still be unevaluated, so only these)."""
    if not seed_eval.is_dir():
        raise ConfigError(f"--seed-eval {seed_eval}: no such folder")
    for label, t in tuned.items():
        for what, folder in (("eval folder", t["eval_dir"]), ("adapter folder", t["adapter"])):
            if folder is not None and not Path(folder).is_dir():
                raise ConfigError(f"--tuned {label}: {what} {folder}: no such folder")
