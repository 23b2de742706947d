"""Score an existing predictions file without a model.

    sdft score gsm8k runs/seed-eval/gsm8k/predictions.jsonl
    sdft score openfunction saves/generated_predictions.jsonl     # LLaMA-Factory's output
    sdft score advbench runs/seed-eval/advbench/predictions.jsonl --refusal-judge qwen2.5-coder-0.5b

The file needs `predict` and `label` on every line (for gsm8k/multiarith the label is the
reference answer text, for openfunction the reference call, for humaneval the task id).
Prints score, n and the 95% bootstrap CI (and extra metrics such as openfunction's AST match).
With --refusal-judge (advbench, advbench_jailbreak, xstest) a judge model also reads every
answer; its verdicts are written into the file, so scoring it again needs no model.
With --write the recomputed per-item fields (e.g. the strict refusal rule's ``refusal_strict``,
new since the file was scored) go into the file and the new ``extra`` into the folder's
results.json; the score must come out as saved, else nothing is written:

    sdft score advbench runs/exp/eval/seed-1234abcd/advbench/predictions.jsonl --write
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
    parser.add_argument("--refusal-judge", default=None, metavar="JUDGE",
                        help="refusal benchmarks: also judge each answer with local, openai or a model spec")
    parser.add_argument("--judge-model", default=None, help="model name the judge endpoint serves (openai)")
    parser.add_argument("--judge-base-url", default=None, help="judge endpoint, e.g. http://localhost:8000/v1")
    parser.add_argument("--judge-api-key-env", default=None, help="environment variable holding the judge's key")
    parser.add_argument("--write", action="store_true",
                        help="write the per-item fields into the file and `extra` into the folder's results.json")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from sdft.evaluate.saved import score_file

    judge = {k: v for k, v in (("refusal_judge", args.refusal_judge), ("judge_model", args.judge_model),
                               ("judge_base_url", args.judge_base_url),
                               ("judge_api_key_env", args.judge_api_key_env)) if v is not None}
    res = score_file(args.benchmark, args.predictions, options=judge or None, data_dir=args.data_dir,
                     allow_code_execution=args.allow_code_execution, write=args.write)
    if args.json:
        from sdft.runs import finite

        print(json.dumps(finite(res), indent=2, allow_nan=False))
        return 0
    lo, hi = res["ci95"]
    print(f"{res['benchmark']}: {res['metric']} = {res['score']:.4f}  (n={res['n']}, 95% CI [{lo:.4f}, {hi:.4f}])")
    for key, ex in res["extra"].items():
        if isinstance(ex, dict) and "score" in ex:
            print(f"  {key} = {ex['score']:.4f}  (95% CI [{ex['ci95'][0]:.4f}, {ex['ci95'][1]:.4f}])")
        else:
            print(f"  {key}: {ex}")
    if (w := res.get("written")) is not None:
        print(_written_line(w))
    return 0


def _written_line(w: dict) -> str:
    """What --write changed, in one line: the file's new per-item fields and results.json's extra."""
    added = lambda keys: f" (added: {', '.join(keys)})" if keys else " (no field added)"  # noqa: E731
    line = f"wrote {w['file']}{added(w['fields_added'])}"
    if w["results"]:
        return line + f" and {w['results']} extra{added(w['extra_added'])}"
    return line + "; no results.json entry beside it to update"
