"""Check experiment configs without running them: the base chain, every key, every stage section.

    sdft validate configs/demo.yaml
    sdft validate configs/*.yaml

Every file named is checked and gets its own line: ``ok`` on stdout, or the error (naming the
file and the key) on stderr. The exit status is 2 if any file failed.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="+", help="experiment YAML file(s)")


def run(args: argparse.Namespace) -> int:
    from sdft.errors import SdftError
    from sdft.experiment import load_experiment
    from sdft.report.endpoints import check_report

    failed = 0
    for path in args.config:
        try:
            cfg = load_experiment(path)
            check_report(cfg.report, cfg.eval.benchmarks, str(path))
        except SdftError as e:  # the next file is still checked (`sdft validate configs/*.yaml`)
            failed += 1
            print(f"sdft validate: error: {e}", file=sys.stderr)
            continue
        print(f"{path}: ok ({cfg.name}: {cfg.model} on {cfg.data}, methods {', '.join(cfg.methods)}, "
              f"run folder {cfg.run_dir})")
    if failed and len(args.config) > 1:
        print(f"sdft validate: {failed} of {len(args.config)} configs have errors", file=sys.stderr)
    return 2 if failed else 0
