"""Rewrite a dataset's reference answers with the seed model and keep the faithful rewrites.

    sdft distill --model smollm2-135m --data gsm8k:train --out runs/gsm8k-distill --sample 2000
    sdft distill --data alpaca --out runs/alpaca --template refer --mix-ratio 0.5 --export alpaca
    sdft distill --data gsm8k --out runs/g --export llamafactory --push-to-hub me/gsm8k-sdft   # + OUT/hf, pushed

Writes OUT/rewrites.jsonl (resumable), OUT/distilled.jsonl (what `sdft train` reads) and
OUT/distill_report.json; a re-run with every rewrite present only redoes the selection.
"""

from __future__ import annotations

import argparse

from sdft import config
from sdft.locks import add_wait_argument, output_lock


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from sdft.distill.run import DistillConfig

    parser.add_argument("--config", metavar="YAML", help="YAML file of DistillConfig fields (flags win)")
    config.add_arguments(parser, DistillConfig)
    add_wait_argument(parser)


def run(args: argparse.Namespace) -> int:
    from sdft.distill.output import format_summary
    from sdft.distill.run import DistillConfig, run_distill

    yaml_data = config.read_config(args.config) if args.config else {}
    cfg = config.from_args(DistillConfig, args, yaml_data, where=args.config or "flags")
    with output_lock(cfg.out, folder=True, wait=args.wait):
        report = run_distill(cfg)
    print(format_summary(report))
    print(f"wrote {cfg.out}/distilled.jsonl and {cfg.out}/distill_report.json")
    return 0
