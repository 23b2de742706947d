"""Generation speed: the paper code's one-prompt-at-a-time ``model.generate`` vs our engine.

    python benchmarks/generation.py                      # 64 GSM8K test prompts, 256 new tokens
    python benchmarks/generation.py --n 16 --max-new-tokens 64 --threads 1   # a quick look
    python benchmarks/generation.py --transformers-cb    # also transformers' generate_batch

Greedy decoding of the first ``--n`` GSM8K test questions (``Example.messages()``, the chat
template's default system prompt) with the real SmolLM2-135M. Prints useful tokens/s (tokens
up to and including EOS) of each way, the ratio, and the share of outputs identical to the
one-at-a-time ones. The CPU is shared with other jobs, so only ratios measured in the same run
mean anything; ``--threads 1`` makes a crowded machine far steadier (OpenMP threads that
spin-wait on busy cores slow everything down).
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=64, help="prompts (default 64)")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--batch-size", type=int, default=64, help="our engine's slots (default 64)")
    p.add_argument("--refill-at", type=int, default=None, help="free slots before a refill (default batch/4)")
    p.add_argument("--threads", type=int, default=None, help="torch threads for this process")
    p.add_argument("--transformers-cb", action="store_true", help="also time model.generate_batch")
    p.add_argument("--skip-baseline", action="store_true", help="only time the engine(s)")
    args = p.parse_args(argv)

    import torch

    from sdft import models
    from sdft.data.tasks import load_task
    from sdft.generation.base import Request, SamplingParams
    from sdft.generation.hf import HFGenerator

    if args.threads:
        torch.set_num_threads(args.threads)
    examples = load_task("gsm8k", "test")[: args.n]
    requests = [Request(ex.id, ex.messages()) for ex in examples]
    model, tok = models.load(args.model, device="cpu")
    k = args.max_new_tokens
    gen = HFGenerator(model, tok, max_batch_size=args.batch_size, refill_at=args.refill_at)
    eos = gen.eos_ids
    encoded = [tok(models.render_chat(tok, r.messages), return_tensors="pt", add_special_tokens=False)
               for r in requests]
    lengths = [e.input_ids.shape[1] for e in encoded]
    print(f"{len(requests)} prompts, {k} new tokens, {torch.get_num_threads()} threads, "
          f"prompt tokens {min(lengths)}-{max(lengths)}", flush=True)

    def useful(tokens: list[int]) -> list[int]:
        cut = next((i + 1 for i, t in enumerate(tokens) if t in eos), len(tokens))
        return tokens[:cut]

    results = {}

    def report(name: str) -> None:  # printed as each way finishes, so a slow last one loses nothing
        n_tok, wall, texts = results[name]
        line = f"{name:<28} {n_tok:>7} useful tokens in {wall:7.1f} s = {n_tok / wall:7.1f} tok/s"
        base = results.get("one-at-a-time")
        if base and name != "one-at-a-time":
            same = sum(texts[i] == base[2][i] for i in base[2]) / len(base[2])
            line += f"  ratio {(n_tok / wall) / (base[0] / base[1]):5.2f}x  identical {same:.1%}"
        print(line, flush=True)

    with torch.inference_mode():
        list(gen.generate(requests[:1], SamplingParams(max_new_tokens=4)))  # warm-up
        if not args.skip_baseline:
            t0, texts, n_tok = time.perf_counter(), {}, 0
            for r, enc in zip(requests, encoded):
                out = model.generate(**enc, max_new_tokens=k, do_sample=False)
                toks = useful(out[0, enc.input_ids.shape[1]:].tolist())
                n_tok += len(toks)
                texts[r.id] = tok.decode(toks, skip_special_tokens=True)
            results["one-at-a-time"] = (n_tok, time.perf_counter() - t0, texts)
            report("one-at-a-time")

        t0, texts, n_tok = time.perf_counter(), {}, 0
        for c in gen.generate(requests, SamplingParams(max_new_tokens=k)):
            n_tok += c.num_tokens
            texts[c.id] = c.text
        results["sdft engine"] = (n_tok, time.perf_counter() - t0, texts)
        report("sdft engine")

    if args.transformers_cb:  # outside inference_mode: its worker thread needs normal tensors
        from transformers import GenerationConfig

        cfg = GenerationConfig(max_new_tokens=k, do_sample=False, eos_token_id=sorted(eos),
                               pad_token_id=tok.pad_token_id)
        t0 = time.perf_counter()
        outs = model.generate_batch(inputs=[e.input_ids[0].tolist() for e in encoded], generation_config=cfg,
                                    progress_bar=False)
        wall = time.perf_counter() - t0
        # Request ids are assigned in input order; sort on their numeric suffix.
        ordered = sorted(outs.values(), key=lambda o: int(o.request_id.rsplit("_", 1)[-1]))
        texts, n_tok = {}, 0
        for r, o in zip(requests, ordered):
            toks = useful(list(o.generated_tokens))
            n_tok += len(toks)
            texts[r.id] = tok.decode(toks, skip_special_tokens=True)
        results["transformers generate_batch"] = (n_tok, wall, texts)
        report("transformers generate_batch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
