"""Training (and generation) speed under glibc's allocator vs tcmalloc and others, preloaded.

Each side runs `benchmarks/train.py --arms auto` (or `benchmarks/generation.py --skip-baseline`)
in a fresh subprocess with the library in LD_PRELOAD (``system``: none), in the order given and
then in reverse (A B C C B A), so drift of this shared machine falls on every side alike. Prints
each run's rate and peak memory, and each side's rate over the system allocator's (geometric
mean of its runs). An allocator cannot be swapped inside a running process, so the sides are
separate processes of one script, never separate invocations.

    python benchmarks/allocator.py --model qwen2.5-coder-0.5b --data openfunction:train --n 64 --steps 8 \\
        --lora-targets q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj \\
        --sides system,tcmalloc,/path/to/libmimalloc.so --json benchmarks/results/allocator_qwen_openfunction.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def library(side: str) -> str | None:
    if side == "system":
        return None
    if side == "tcmalloc":  # the library the `sdft` command itself would preload
        from sdft import allocator

        found = allocator.find("auto")
        if not found:
            raise SystemExit("tcmalloc not found (Debian: apt-get install libtcmalloc-minimal4)")
        return found
    if not Path(side).is_file():
        raise SystemExit(f"{side}: not a file (sides are system, tcmalloc or a library path)")
    return side


def run_side(side: str, what: str, a: argparse.Namespace) -> dict:
    env = dict(os.environ, SDFT_ALLOCATOR="system")  # the child must not pick its own
    env.pop("LD_PRELOAD", None)
    if lib := library(side):
        env["LD_PRELOAD"] = lib
    with tempfile.TemporaryDirectory() as tmp:
        out = f"{tmp}/r.json"
        if what == "train":
            cmd = [sys.executable, str(HERE / "train.py"), "--arms", "auto", "--model", a.model, "--data", a.data,
                   "--n", str(a.n), "--steps", str(a.steps), "--lora-targets", a.lora_targets, "--json", out]
        else:
            cmd = [sys.executable, str(HERE / "generation.py"), "--skip-baseline", "--model", a.model,
                   "--n", str(a.gen_n), "--max-new-tokens", str(a.gen_tokens), "--json", out]
        # the child reports which allocator it really ran with (a preload that failed to load is glibc)
        probe = [sys.executable, "-c", "from sdft import allocator; print(allocator.active() or 'system')"]
        mapped = subprocess.run(probe, env=env, capture_output=True, text=True, check=True).stdout.strip()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
        res = json.loads(Path(out).read_text())
    if what == "train":
        rate = res["sdft_train_auto"]["tokens_per_s"]
    else:
        rate = res["sdft engine"]["tok_s"]
    return {"side": side, "what": what, "mapped": mapped, "tokens_per_s": rate, "peak_rss_mb": res.get("peak_rss_mb")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sides", default="system,tcmalloc", help="comma-separated: system, tcmalloc, or library paths")
    p.add_argument("--what", default="train", help="comma-separated: train, generate")
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--data", default="gsm8k:train")
    p.add_argument("--n", type=int, default=64, help="training examples")
    p.add_argument("--steps", type=int, default=8, help="optimizer steps a run (the first is not timed)")
    p.add_argument("--lora-targets", default="q_proj,v_proj")
    p.add_argument("--gen-n", type=int, default=32, help="prompts for the generation side")
    p.add_argument("--gen-tokens", type=int, default=128, help="new tokens for the generation side")
    p.add_argument("--json", help="also write the result here")
    a = p.parse_args()
    sides = a.sides.split(",")
    runs = []
    for what in a.what.split(","):
        for side in sides + sides[::-1]:
            r = run_side(side, what, a)
            print(json.dumps(r), flush=True)
            runs.append(r)
    ratios = {}
    for what in a.what.split(","):
        base = [r["tokens_per_s"] for r in runs if r["what"] == what and r["side"] == sides[0]]
        for side in sides[1:]:
            got = [r["tokens_per_s"] for r in runs if r["what"] == what and r["side"] == side]
            geo = math.exp(sum(map(math.log, got)) / len(got) - sum(map(math.log, base)) / len(base))
            ratios[f"{what}: {Path(side).name} vs {sides[0]}"] = round(geo, 2)
    res = {"model": a.model, "data": a.data, "n": a.n, "steps": a.steps, "lora_targets": a.lora_targets.split(","),
           "runs": runs, "ratios": ratios}
    print(json.dumps(ratios, indent=2))
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
