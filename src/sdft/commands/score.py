"""Score an existing predictions file without a model.

    sdft score gsm8k runs/seed-eval/gsm8k/predictions.jsonl
    sdft score openfunction saves/generated_predictions.jsonl     # LLaMA-Factory's output

The file needs `predict` and `label` on every line (for gsm8k/multiarith the label is the
reference answer text, for openfunction the reference call, for humaneval the task id).
Prints score, n and the 95% bootstrap CI (and extra metrics such as openfunction's AST match).
"""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("benchmark", help="gsm8k, multiarith, openfunction, humaneval, advbench, ...")
    parser.add_argument("predictions", help="JSONL file with predict and label fields")
    parser.add_argument("--data-dir", default=None, help="data folder (humaneval tests)")
    parser.add_argument("--allow-code-execution", action="store_true",
                        help="let humaneval run the predicted code in the sandbox")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from sdft.evaluate.evaluator import score_file

    res = score_file(args.benchmark, args.predictions, data_dir=args.data_dir,
                     allow_code_execution=args.allow_code_execution)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    lo, hi = res["ci95"]
    print(f"{res['benchmark']}: {res['metric']} = {res['score']:.4f}  (n={res['n']}, 95% CI [{lo:.4f}, {hi:.4f}])")
    for key, ex in res["extra"].items():
        print(f"  {key} = {ex['score']:.4f}  (95% CI [{ex['ci95'][0]:.4f}, {ex['ci95'][1]:.4f}])")
    return 0
