"""Paired comparison of two results folders: B - A on the items both scored, with a CI.

XSTest gives two rows, as in the report: over-refusal of its safe prompts (lower is better) and
refusal of its unsafe prompts (higher is better); IFEval two: prompt-level strict and loose
accuracy (paired over prompts). The refusal benchmarks add their strict-rule rows
(``advbench_strict``, ``xstest_strict``, ...) when both folders' predictions carry the per-item
``refusal_strict`` field (files scored before the rule existed do not: re-score them).

    sdft compare runs/seed-eval runs/sdft-eval                    # every shared benchmark
    sdft compare runs/seed-eval runs/sdft-eval --benchmarks gsm8k,advbench
"""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", help="baseline results folder")
    parser.add_argument("b", help="results folder compared against it")
    parser.add_argument("--benchmarks", default=None, help="comma-separated (default: all in both)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from sdft import evaluate as battery
    from sdft.evaluate.context import bench_folder
    from sdft.evaluate.evaluator import compare_results
    from sdft.report.endpoints import endpoints_of

    if args.benchmarks:
        names = battery.expand(args.benchmarks)
    else:
        names = [n for n in battery.BENCHMARKS
                 if all((bench_folder(d, n) / "predictions.jsonl").exists() for d in (args.a, args.b))]
    rows = []
    for ep in endpoints_of(names, strict=True):  # the report's endpoints: XSTest's safe and unsafe halves
        row = compare_results(args.a, args.b, ep.benchmark, label=ep.label, field=ep.field)
        if ep.field != "score" and not row["n"]:
            continue
        rows.append({"endpoint": ep.key, "title": ep.title,
                     "better": "higher" if ep.higher_is_better else "lower", **row})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max([len("endpoint")] + [len(r["title"]) for r in rows])
    print(f"{'endpoint':<{width}} {'A':>7} {'B':>7} {'B-A':>7}  {'95% CI':<18} {'n':>5}  better")
    for r in rows:
        print(f"{r['title']:<{width}} {r['mean_a']:7.3f} {r['mean_b']:7.3f} {r['diff']:+7.3f}  "
              f"[{r['ci95'][0]:+.3f}, {r['ci95'][1]:+.3f}] {r['n']:>5}  {r['better']}")
    return 0
