"""List the experiment configs shipped in configs/ (the repository's, then ./configs).

    sdft ls
    sdft ls --all        # also each config's model, data and methods
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", action="store_true", help="also print each config's model, data and methods")


def run(args: argparse.Namespace) -> int:
    from sdft.config import read_config
    from sdft.experiment import shipped_configs

    configs = shipped_configs()
    if not configs:
        print("no configs found (looked in the repository's configs/ and ./configs)")
        return 1
    width = max(len(p.stem) for p in configs)
    for p in configs:
        data = read_config(p)
        print(f"{p.stem:<{width}}  {data.get('description', '')}")
        if args.all:
            print(f"{'':<{width}}  model={data.get('model')} data={data.get('data')} methods={data.get('methods')}")
    return 0
