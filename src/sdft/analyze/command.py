"""Measure the distribution shift of fine-tuned models from the seed (paper §4, Figs. 5-9).

Compares each fine-tuned model's outputs with the seed model's on the same prompts of one
benchmark (BLEU-4, ROUGE-L, embedding cosine) and its weights with the seed's (parameter
shift). Writes analysis.json and the figures (PNG + SVG). No generation: it reads saved
predictions, so evaluate the models first.

    sdft analyze runs/demo                                # pairs from the run's manifest
    sdft analyze --seed runs/demo/eval/seed --tuned vanilla=runs/demo/eval/vanilla@runs/demo/train/vanilla \\
        --tuned sdft=runs/demo/eval/sdft@runs/demo/train/sdft --benchmark advbench --out analysis/
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sdft.analyze import AnalyzeConfig
from sdft.config import add_arguments as add_config_arguments
from sdft.config import from_args, load_yaml
from sdft.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", nargs="?", help="run folder written by `sdft run` (or use --seed/--tuned)")
    parser.add_argument("--config", help="YAML file with AnalyzeConfig fields")
    parser.add_argument("--tuned", action="append", metavar="LABEL=EVAL_DIR[@ADAPTER_DIR]",
                        help="a fine-tuned model to compare with the seed; repeatable")
    add_config_arguments(parser, AnalyzeConfig, skip=("tuned",))


def run_analyze(cfg: AnalyzeConfig, run_dir: str | Path | None = None) -> dict:
    """Compare the fine-tuned models' outputs and weights with the seed's; write analysis.json
    (+ figures) and return it. ``run_dir`` (a `sdft run` folder) or ``cfg.seed``/``cfg.tuned``."""
    from sdft.analyze import figures, pairs, runfiles
    from sdft.runs import provenance, write_json

    models = None
    if run_dir:
        if cfg.seed or cfg.tuned:
            raise ConfigError("give either RUN_DIR or --seed/--tuned, not both")
        run_info = runfiles.load_run(run_dir)
        seed_eval, seed_model, tuned = pairs.tuned_from_run(run_info)
        models = run_info["models"]
        out = Path(cfg.out or Path(run_dir) / "analysis")
    elif cfg.seed and cfg.tuned:
        seed_eval, seed_model, tuned = Path(cfg.seed), None, pairs.parse_tuned(cfg.tuned)
        if not cfg.out:
            raise ConfigError("--out is required without a run folder")
        out = Path(cfg.out)
    else:
        raise ConfigError("nothing to analyze: give RUN_DIR, or --seed EVAL_DIR with one or more --tuned")
    result = pairs.analyze(seed_eval, tuned, cfg.benchmark, seed_model=cfg.seed_model or seed_model,
                           measures=tuple(cfg.measures))
    result["provenance"] = provenance()
    write_json(out / "analysis.json", result)
    figs = {}
    if cfg.figures:
        if models is None:  # standalone: the tuned labels are the only models we know of
            models = [{"label": k, "method": k, "results": {}} for k in tuned]
        figs = figures.all_figures(models, runfiles.benchmarks_of(models), result, out)
    for label, p in result["pairs"].items():
        line = ", ".join(f"{m} {p[m]['mean']:.3f}" for m in cfg.measures if m in p)
        shift = result["param_shift"].get(label)
        print(f"{label:<16} n={p['n']:<5} {line}" + (f", shift {shift['total']:.4g}" if shift else ""))
    for label, why in result["missing"].items():
        print(f"{label:<16} skipped: {why}")
    print(f"wrote {out / 'analysis.json'}" + (f" and {sum(len(v) for v in figs.values())} figure files" if figs else ""))
    return result


def run(args: argparse.Namespace) -> int:
    cfg = from_args(AnalyzeConfig, args, load_yaml(args.config) if args.config else None,
                    where=args.config or "sdft analyze")
    run_analyze(cfg, args.run_dir)
    return 0
