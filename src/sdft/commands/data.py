"""Inspect the data: list the task table, preview records, or validate a dataset.

    sdft data list                          # tasks, splits, record counts, files
    sdft data show gsm8k:test --limit 2     # records as JSON, one per line
    sdft data check my_data.jsonl           # validate a file; exit 2 with the problem if bad

SPEC is a task name, ``task:split``, a file (alpaca / sharegpt / messages records in JSON,
JSON Lines or CSV), ``path/to/dataset_info.json#entry[,entry...]`` or
``hf:org/name[:config][@revision][#split]``; any of them may end in a Python slice of its records,
``[start:stop]`` (``gsm8k:train[-300:]``, ``advbench[400:520]``), the ids staying the dataset's own.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

from sdft.data import tasks
from sdft.errors import DataError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    data_dir_help = f"data folder (default: ${tasks.ENV_VAR}, else shared/data beside the checkout)"
    parser.add_argument("--data-dir", default=None, help=data_dir_help)
    sub = parser.add_subparsers(dest="action", required=True, metavar="{list,show,check}")
    listing = sub.add_parser("list", help="the task table with record counts")
    listing.add_argument("--no-counts", action="store_true",
                         help="skip reading the files (only show whether they exist)")
    show = sub.add_parser("show", help="print records of SPEC as JSON lines")
    show.add_argument("spec")
    show.add_argument("--limit", type=_limit, default=3, help="records to print (default 3; 0 for all)")
    check = sub.add_parser("check", help="validate SPEC and print counts")
    check.add_argument("spec")
    for p in (listing, show, check):  # `sdft data list --data-dir X` as well as `sdft data --data-dir X list`
        # (SUPPRESS: left out, it does not overwrite the value given before the action)
        p.add_argument("--data-dir", default=argparse.SUPPRESS, help=data_dir_help)


def _limit(text: str) -> int:
    """``--limit``: a count, 0 for all; a negative one is refused (it sliced off the last records)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of records, got {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (all) or a positive number of records, got {n}")
    return n


def run(args: argparse.Namespace) -> int:
    return {"list": _list, "show": _show, "check": _check}[args.action](args)


def _list(args) -> int:
    root = tasks.data_dir(args.data_dir)
    print(f"data folder: {root}")
    print(f"{'task':<28} {'kind':<6} {'split':<11} {'records':>8}  file")
    for name, spec in tasks.TASKS.items():
        for split, rel in spec.files.items():
            path = root / rel
            if not path.is_file():
                count = "missing"
            elif args.no_counts:
                count = "-"
            else:
                try:
                    count = str(len(tasks.load_task(name, split, root)))
                except DataError:
                    count = "invalid"  # `sdft data check name:split` prints why
            print(f"{name:<28} {spec.kind:<6} {split:<11} {count:>8}  {rel}")
    return 0


def _show(args) -> int:
    examples = tasks.load_data(args.spec, args.data_dir)
    for ex in examples[: args.limit or None]:
        print(json.dumps(ex.to_dict(), ensure_ascii=False))
    return 0


def _check(args) -> int:
    examples = tasks.load_data(args.spec, args.data_dir)
    if not examples:
        raise DataError(f"{args.spec}: no records")
    n = len(examples)
    empty = sum(1 for ex in examples if not ex.response.strip())
    meta_keys = Counter(k for ex in examples for k in ex.meta)
    print(f"{args.spec}: {n} records, ids unique")
    print(f"  with input: {sum(1 for ex in examples if ex.input)}; with history: "
          f"{sum(1 for ex in examples if ex.history)}; with system: {sum(1 for ex in examples if ex.system)}")
    print(f"  mean characters: instruction {sum(len(ex.user_text()) for ex in examples) / n:.0f}, "
          f"response {sum(len(ex.response) for ex in examples) / n:.0f}")
    if meta_keys:
        print("  meta fields: " + ", ".join(f"{k} ({c})" for k, c in meta_keys.most_common()))
    if empty:
        # Allowed (eval files may carry no reference) but useless for training, so say it.
        first = next(ex.id for ex in examples if not ex.response.strip())
        print(f"  warning: {empty} records have an empty response (first: {first})")
    return 0
