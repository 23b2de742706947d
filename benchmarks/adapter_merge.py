"""Generating with a LoRA fine-tune: the adapter kept as PEFT layers vs merged into the weights.

    python benchmarks/adapter_merge.py --adapter runs/gsm8k_forgetting/train/vanilla-s1-7e95f1e8

Evaluation loads a fine-tune as the base model plus its PEFT adapter; every adapted linear
layer then runs three matmuls (base, A, B) instead of one. This times our engine on the same
greedy GSM8K prompts (``--split``; default the dev slice the calibration uses) three ways, in one
process at one dtype (bf16 where the CPU has it):

* ``peft``: the adapter as PEFT layers (what ``sdft eval --adapter`` does today);
* ``merged``: ``merge_and_unload()`` on the bf16 base (W + BA rounded in bf16);
* ``merged_fp32``: merged on a float32 copy of the base, then cast to bf16 (one rounding of
  W + BA: the nearest bf16 model to the float32 fine-tune).

It prints tokens/s, the ratio to ``peft``, and how many greedy answers equal ``peft``'s and
``merged_fp32``'s. Only ratios within one run mean anything on a shared CPU.
"""

from __future__ import annotations

import argparse
import json
import time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--adapter", required=True, help="a LoRA folder written by sdft train")
    p.add_argument("--model", default="qwen2.5-coder-0.5b")
    p.add_argument("--split", default="gsm8k:train[-300:]", help="task data spec (default the GSM8K dev slice)")
    p.add_argument("--n", type=int, default=48)
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--json", help="also write the figures here")
    args = p.parse_args(argv)

    import torch

    from sdft import models
    from sdft.data.tasks import load_data
    from sdft.generation.base import Request, SamplingParams
    from sdft.generation.hf import HFGenerator

    reqs = [Request(ex.id, ex.messages()) for ex in load_data(args.split)[: args.n]]
    sampling = SamplingParams(max_new_tokens=args.max_new_tokens)
    dtype = models.resolve_dtype("auto", "cpu")

    def merged_fp32():
        model, tok = models.load(args.model, adapter=args.adapter, dtype="float32", merge_adapter=True)
        return model.to(models.torch_dtype(dtype)), tok

    ways = {
        "peft": lambda: models.load(args.model, adapter=args.adapter, dtype=dtype),
        "merged": lambda: models.load(args.model, adapter=args.adapter, dtype=dtype, merge_adapter=True),
        "merged_fp32": merged_fp32,
    }
    out: dict = {"adapter": args.adapter, "model": args.model, "dtype": dtype, "n": len(reqs),
                 "max_new_tokens": args.max_new_tokens, "threads": torch.get_num_threads(), "ways": {}}
    texts: dict[str, dict[str, str]] = {}
    for name, build in ways.items():
        t0 = time.perf_counter()
        model, tok = build()
        load = time.perf_counter() - t0
        gen = HFGenerator(model, tok, max_batch_size=args.batch_size)
        list(gen.generate(reqs[:1], SamplingParams(max_new_tokens=4)))  # warm up
        t0, n, texts[name] = time.perf_counter(), 0, {}
        for c in gen.generate(reqs, sampling):
            n += c.num_tokens
            texts[name][c.id] = c.text
        wall = time.perf_counter() - t0
        out["ways"][name] = {"tokens": n, "wall_s": round(wall, 1), "tok_per_s": round(n / wall, 1),
                             "load_s": round(load, 1)}
        print(f"{name:12s} {n:6d} tok in {wall:6.1f} s: {n / wall:6.1f} tok/s (load {load:.1f} s)", flush=True)
        del gen, model
    base = out["ways"]["peft"]["tok_per_s"]
    for name, w in out["ways"].items():
        w["ratio_to_peft"] = round(w["tok_per_s"] / base, 2)
        w["same_as_peft"] = sum(texts[name][k] == texts["peft"][k] for k in texts["peft"])
        w["same_as_merged_fp32"] = sum(texts[name][k] == texts["merged_fp32"][k] for k in texts["peft"])
        print(f"{name:12s} {w['ratio_to_peft']:.2f}x peft; identical answers: {w['same_as_peft']}/{len(reqs)} "
              f"to peft, {w['same_as_merged_fp32']}/{len(reqs)} to merged_fp32")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
