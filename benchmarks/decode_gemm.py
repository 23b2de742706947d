"""The ceiling a batched decode step's matmuls can reach on this CPU, against a 2048^2 matmul.

`benchmarks/generation.py` reports each engine's "roofline": 2 x parameters x tokens / wall
time over the rate of one 2048x2048 matmul. A decode step with B rows does not multiply 2048^2
matrices: it runs every linear layer of the model on a (B, in) input. This times exactly those
calls (``F.linear`` on the model's own weights, one decoder layer's worth and the LM head, at
the engine's dtype) and reports their combined rate as a share of the 2048^2 rate measured in the
same process: no engine's decode can exceed that share in its matmuls, whatever it schedules.

    python benchmarks/decode_gemm.py --model qwen2.5-coder-0.5b --batch 16,32,64,128
"""

from __future__ import annotations

import argparse
import json
import time


def _rate(fn, flops: float, reps: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return flops * reps / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="qwen2.5-coder-0.5b")
    p.add_argument("--batch", default="16,32,64,128", help="comma-separated decode batch sizes")
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--json", help="also write the result here")
    a = p.parse_args()

    import torch
    import torch.nn.functional as F

    from sdft import models

    model, _ = models.load(a.model, dtype="auto")
    dtype = next(model.parameters()).dtype
    layer = model.model.layers[0]
    linears = [m for m in layer.modules() if isinstance(m, torch.nn.Linear)]
    n_layers = len(model.model.layers)
    head = model.get_output_embeddings()

    sq = torch.randn(2048, 2048, dtype=dtype)
    peak = _rate(lambda: sq @ sq, 2 * 2048**3, a.reps)
    res = {"model": a.model, "dtype": str(dtype).removeprefix("torch."), "threads": torch.get_num_threads(),
           "matmul_2048_gflop_s": round(peak / 1e9, 1), "by_batch": {}}
    with torch.inference_mode():
        for b in map(int, a.batch.split(",")):
            total_s, total_flops = 0.0, 0.0
            for m in [*linears, head]:
                x = torch.randn(b, m.in_features, dtype=dtype)
                flops = 2 * b * m.in_features * m.out_features
                times = n_layers if m is not head else 1
                r = _rate(lambda x=x, m=m: F.linear(x, m.weight, m.bias), flops, a.reps)
                total_s += times * flops / r
                total_flops += times * flops
            rate = total_flops / total_s
            res["by_batch"][b] = {"gflop_s": round(rate / 1e9, 1), "share_of_2048": round(rate / peak, 3),
                                  "matmul_ms_per_step": round(1e3 * total_s, 1)}
            print(f"batch {b:>4}: decode-step matmuls {rate / 1e9:6.1f} GFLOP/s = {rate / peak:5.1%} of the "
                  f"2048^2 rate ({peak / 1e9:.1f}); {1e3 * total_s:.1f} ms a step", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
