"""Check experiment configs without running them: the base chain, every key, every stage section.

    sdft validate configs/demo.yaml
    sdft validate configs/*.yaml

An unknown key or a bad value exits 2 with one line naming the file and the key.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="+", help="experiment YAML file(s)")


def run(args: argparse.Namespace) -> int:
    from sdft.experiment import load_experiment
    from sdft.report.endpoints import check_report

    for path in args.config:
        cfg = load_experiment(path)
        check_report(cfg.report, cfg.eval.benchmarks, str(path))
        print(f"{path}: ok ({cfg.name}: {cfg.model} on {cfg.data}, methods {', '.join(cfg.methods)}, "
              f"run folder {cfg.run_dir})")
    return 0
