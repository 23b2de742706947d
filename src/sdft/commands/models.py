"""`sdft models`: list the built-in aliases, or prepare one (convert its GGUF into the cache).

    sdft models list
    sdft models prepare qwen2.5-coder-0.5b     # concatenates, verifies, converts once
"""

from __future__ import annotations

import argparse
import time

from sdft import models
from sdft.errors import ModelError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "prepare"], help="list aliases, or convert one into the cache")
    parser.add_argument("model", nargs="?", default=models.DEFAULT_MODEL, help="alias, .gguf file or model dir")


def _status(alias: str) -> str:
    try:
        src = models.resolve(alias)
    except ModelError as e:
        return "not installed: " + str(e).splitlines()[-1].strip()
    if src.gguf and (models.converted_dir(src) / "config.json").exists():
        return f"ready (cached in {models.converted_dir(src)})"
    return f"installed, not converted yet ({src.path})"


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        print(f"cache: {models.cache_dir()}  (set SDFT_CACHE_DIR to move it)")
        for alias in models.ALIASES:
            mark = " (default)" if alias == models.DEFAULT_MODEL else ""
            print(f"  {alias}{mark}: {_status(alias)}")
        print("Any local HF model dir, .gguf file, or hub id is accepted too.")
        return 0
    t0 = time.perf_counter()
    path = models.materialize(models.resolve(args.model))
    print(f"{args.model}: ready at {path} ({time.perf_counter() - t0:.1f} s)")
    return 0
