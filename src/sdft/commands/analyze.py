"""Measure the distribution shift of fine-tuned models from the seed (paper §4, Figs. 5-9).

Compares each fine-tuned model's outputs with the seed model's on the same prompts of one
benchmark (BLEU-4, ROUGE-L, embedding cosine) and its weights with the seed's (parameter
shift). Writes analysis.json and the similarity histograms (PNG + SVG; the figures of the scores
are the report's). No generation: it reads saved predictions, so evaluate the models first.

    sdft analyze runs/demo                                # pairs from the run's manifest
    sdft analyze --seed-eval seed-eval/ --tuned vanilla=vanilla-eval/@vanilla-train/ \\
        --tuned sdft=sdft-eval/@sdft-train/ --benchmark advbench --out analysis/   # any eval/train folders
"""

from __future__ import annotations

import argparse

from sdft.analyze.config import AnalyzeConfig
from sdft.config import add_arguments as add_config_arguments
from sdft.config import from_args, read_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", nargs="?", help="run folder written by `sdft run` (or use --seed-eval/--tuned)")
    parser.add_argument("--config", help="YAML file with AnalyzeConfig fields")
    parser.add_argument("--tuned", action="append", metavar="LABEL=EVAL_DIR[@ADAPTER_DIR]",
                        help="a fine-tuned model to compare with the seed; repeatable")
    add_config_arguments(parser, AnalyzeConfig, skip=("tuned",))


def run(args: argparse.Namespace) -> int:
    from sdft.analyze.run import run_analyze

    cfg = from_args(AnalyzeConfig, args, read_config(args.config) if args.config else None,
                    where=args.config or "flags")
    run_analyze(cfg, args.run_dir)
    return 0
