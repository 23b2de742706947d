"""Evaluate a model (optionally with an adapter) on benchmarks of the paper's battery.

    sdft eval --model smollm2-135m --benchmarks gsm8k,advbench --out runs/seed-eval --limit 16
    sdft eval --model smollm2-135m --adapter runs/sdft --benchmarks paper --out runs/sdft-eval \\
        --variant gsm8k=paper --allow-code-execution
    sdft eval --config eval.yaml          # the same fields as YAML keys; flags override them

Writes OUT/results.json (score, n, 95% bootstrap CI, prompt variant, generation settings,
versions, wall time per benchmark) and OUT/<benchmark>/predictions.jsonl; re-running the same
command resumes; with an --adapter folder written by `sdft train` (and no --limit), its model
card (README.md) gets these scores. humaneval runs model-written code and needs --allow-code-execution
(or SDFT_ALLOW_CODE_EXECUTION=1 in the environment).
Per-benchmark options (humaneval samples, mmlu batch_size, ...) are YAML only: `options:` in
the --config file, each checked against that benchmark's options class.
Benchmarks: gsm8k multiarith openfunction humaneval advbench advbench_jailbreak xstest ifeval alpaca_eval
mmlu truthfulqa arc_easy arc_challenge hellaswag winogrande, and lm_eval:TASK for an lm-eval task
whose data is local; groups: math safety knowledge paper.

Your own items: --benchmark-data advbench=my_redteam.csv (the prompt column found by name:
prompt, goal, behavior, instruction, question) or advbench=my_redteam.csv#Behavior; a math
benchmark's table also needs a reference-answer column. --refusal-judge JUDGE (openai, local
or a model spec) adds a judge's refusal rates and their agreement (Cohen's kappa) with the
keyword score to advbench, advbench_jailbreak and xstest; the keyword rate stays the score.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from sdft.locks import add_wait_argument, output_lock

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from sdft.config import add_arguments as add_fields
    from sdft.evaluate.evaluator import EvalConfig

    parser.add_argument("--config", metavar="YAML", help="YAML file with EvalConfig fields")
    add_fields(parser, EvalConfig, skip=("variants", "options", "benchmark_data"))
    parser.add_argument("--variant", action="append", default=[], metavar="BENCHMARK=VARIANT",
                        help="prompt variant for one benchmark (repeatable), e.g. gsm8k=paper")
    parser.add_argument("--benchmark-data", action="append", default=[], metavar="BENCHMARK=SPEC", dest="data_flags",
                        help="items of one benchmark from other data (repeatable): a task slice or a "
                             "CSV/JSON/JSONL file, FILE#column to name its prompt column, e.g. "
                             "advbench=my_redteam.csv#Behavior")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_wait_argument(parser)


def run(args: argparse.Namespace) -> int:
    from sdft.config import ConfigError, from_args, read_config
    from sdft.evaluate.evaluator import EvalConfig, run_eval

    data = read_config(args.config) if args.config else {}
    # Flags beat the YAML's entries one benchmark at a time.
    for key, flag, items in (("variants", "--variant BENCHMARK=VARIANT", args.variant),
                             ("benchmark_data", "--benchmark-data BENCHMARK=SPEC", args.data_flags)):
        table = dict(data.get(key) or {})
        for item in items:
            name, sep, value = item.partition("=")  # only the first "=": a path may hold more
            if not (sep and name.strip() and value.strip()):
                raise ConfigError(f"{flag.split()[0]} expects {flag.split()[1]}, got {item!r}")
            table[name.strip()] = value.strip()
        if table:
            data[key] = table
    cfg = from_args(EvalConfig, args, data, where=args.config or "flags")
    for line in cfg.ignored():
        log.warning("%s", line)
    with output_lock(cfg.out, folder=True, wait=args.wait):
        results = run_eval(cfg, progress=not args.no_progress)
    print(f"{'benchmark':<20} {'metric':<13} {'score':>7}  {'95% CI':<17} {'n':>5} {'wall s':>8}")
    for name, e in results["benchmarks"].items():
        lo, hi = e.get("ci95", [float("nan")] * 2)
        print(f"{name:<20} {e.get('metric', ''):<13} {e['score']:7.3f}  [{lo:.3f}, {hi:.3f}]  "
              f"{e.get('n', 0):>5} {e.get('wall_s', 0):8.1f}")
    print(f"wrote {cfg.out}/results.json")
    # A folder `sdft train` wrote; a --limit smoke test does not replace the card's table.
    if cfg.adapter and cfg.limit is None and (Path(cfg.adapter) / "train_summary.json").is_file():
        from sdft import hub

        print(f"wrote the scores into its model card {hub.write_model_card(cfg.adapter, results=results)}")
    return 0
