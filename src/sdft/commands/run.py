"""Run an experiment config end to end: distil, fine-tune, evaluate, analyse, report.

    sdft run configs/demo.yaml
    sdft run configs/demo.yaml train.lr=2e-4 --dry-run     # the plan: cached / partial / to run, an estimate
    sdft run configs/table1_gsm8k.yaml train.lr=2e-4 seeds=[1,2] --out runs/gsm8k-lr2e-4 --only vanilla-s1
    sdft run configs/gsm8k_forgetting_v2.yaml --blind     # every model stage, no score shown, no report

Each stage writes into its own folder of the run and marks it done, so re-running the same
command resumes where a killed run stopped and a changed setting re-runs only the stages it
affects (the run folder's layout is described in :mod:`sdft.pipeline`). Overrides are
``KEY.SUB=VALUE`` on top of the file, checked like its keys.
"""

from __future__ import annotations

import argparse
import math

from sdft.locks import add_wait_argument, output_lock


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="experiment YAML (see `sdft ls`)")
    parser.add_argument("overrides", nargs="*", metavar="KEY.SUB=VALUE",
                        help="config values on top of the file, checked like its keys (train.lr=2e-4 seeds=[1,2])")
    parser.add_argument("--out", help="run folder (default: the config's `out`, else runs/<name>)")
    parser.add_argument("--data-dir", help="folder of the shared datasets")
    parser.add_argument("--only", metavar="LABELS", help="train and evaluate only these models (comma-separated "
                        "labels such as vanilla-s1; the seed model is always evaluated; the config's other "
                        "models already evaluated in the run folder stay in its manifest, and so in the "
                        "report and the closing score table, blind sittings' models too unless --blind)")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved config and the stage plan "
                        "(cached / partial / to run, estimated time) without loading a model")
    parser.add_argument("--blind", action="store_true", help="run every model stage and write its files, but "
                        "show no score (a pre-registered run whose numbers stay unread until its plan says): no "
                        "closing score table, no analysis or report built, no evaluation scores to TensorBoard, no "
                        "fine-tune pushed (train.push_to_hub and push_merged are refused, the model card carrying "
                        "scores; a distilled set's push still runs)")
    add_wait_argument(parser)
    parser.add_argument("--gen-tok-s", type=_rate, metavar="RATE",
                        help="--dry-run: generation tokens/s to estimate with")
    parser.add_argument("--train-tok-s", type=_rate, metavar="RATE",
                        help="--dry-run: training tokens/s to estimate with")


def _rate(text: str) -> float:
    """A tokens/s flag: a positive number (-5 estimated "~-3890 s"; 0 fell back to the default)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected tokens per second, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of tokens per second, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    from sdft.experiment import load_experiment, parse_overrides
    from sdft.pipeline import Stages, run_experiment

    overrides = parse_overrides(args.overrides)
    origins = {item.partition("=")[0].strip(): item for item in args.overrides}  # (to name one in an error)
    for key, flag in (("out", args.out), ("data_dir", args.data_dir)):
        if flag:
            overrides[key], origins[key] = flag, f"--{key.replace('_', '-')} {flag}"
    cfg = load_experiment(args.config, overrides, origins)
    only = [x.strip() for x in (args.only or "").split(",") if x.strip()]
    if args.dry_run:
        from sdft.dryrun import describe, print_plan

        stages = Stages(cfg, args.config, only or None)
        print_plan(cfg, stages, describe(stages, args.gen_tok_s, args.train_tok_s))
        return 0
    with output_lock(cfg.run_dir, folder=True, wait=args.wait):  # one run per folder: its lock covers every stage
        run_experiment(cfg, args.config, only=only or None, blind=args.blind)
    return 0
