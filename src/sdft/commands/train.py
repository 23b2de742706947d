"""Fine-tune a chat model on a task set (vanilla) or on a distilled set (SDFT).

    sdft train --model smollm2-135m --data gsm8k --limit 200 --out runs/gsm8k-vanilla
    sdft train --model smollm2-135m --data runs/gsm8k/distilled.jsonl --out runs/gsm8k-sdft
    sdft train --data gsm8k --method onpolicy --out runs/gsm8k-onpolicy --max-steps 50
    sdft train --data gsm8k --out runs/g --report-to tensorboard --push-to-hub me/smollm2-gsm8k-lora
    accelerate launch --config_file configs/accelerate/ddp.yaml -m sdft.cli train --data alpaca --out runs/a

Defaults are the paper's: LoRA r=8/alpha 16 on q_proj,v_proj, lr 1e-4, cosine, batch 2 x
grad-accum 4, epochs from the task (gsm8k 5, openfunction 5, alpaca/dolly/lima/codealpaca 2).
Re-running with the same --out resumes from the last checkpoint; a finished run is skipped
unless --overwrite. Load the result with `sdft generate --adapter OUT` / `sdft eval --adapter OUT`.
"""

from __future__ import annotations

import argparse
import json
import logging

from sdft.config import add_arguments as add_config_arguments
from sdft.config import from_args, read_config
from sdft.locks import add_wait_argument, output_lock
from sdft.train.config import TrainConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="YAML", help="YAML file with TrainConfig fields (flags override it)")
    add_config_arguments(parser, TrainConfig)
    add_wait_argument(parser)


def run(args: argparse.Namespace) -> int:
    from sdft.train import run_train

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    yaml_data = read_config(args.config) if args.config else None
    cfg = from_args(TrainConfig, args, yaml_data, where=args.config or "flags")
    with output_lock(cfg.out, folder=True, wait=args.wait):
        summary = run_train(cfg)
    if summary:  # empty on non-main processes of a distributed run
        print(json.dumps({k: v for k, v in summary.items() if k != "dropped_ids"}, indent=2))
    return 0
