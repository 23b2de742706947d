"""LoRA dropout's cost in a training step: PEFT's ``nn.Dropout`` vs ``sdft.train.dropout.CheapDropout``.

Whole training runs of a few steps are too noisy here to resolve a few per cent (the same two
arms swapped 0.92x to 1.18x with their order), so this times forward + backward of one fixed
batch of real training rows, alternating the two dropouts step by step in one process (ABAB...)
and reporting each side's median.

    python benchmarks/lora_dropout.py --model qwen2.5-coder-0.5b --lora-targets q_proj,v_proj
    python benchmarks/lora_dropout.py --model qwen2.5-coder-0.5b --data openfunction:train \
        --lora-targets q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--data", default="gsm8k:train")
    p.add_argument("--rows", type=int, default=4, help="training rows in the batch (padding-free, one sequence)")
    p.add_argument("--reps", type=int, default=8, help="timed steps per side")
    p.add_argument("--lora-targets", default="q_proj,v_proj")
    p.add_argument("--json", help="also write the result here")
    a = p.parse_args()

    import torch
    from peft import LoraConfig, get_peft_model

    from sdft import models
    from sdft.data import chat
    from sdft.train import data as tdata
    from sdft.train.dropout import CheapDropout, cheapen_lora_dropout

    model, tok = models.load(a.model, padding_side="right", dtype="auto")
    model.config.use_cache = False
    targets = a.lora_targets.split(",")
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, target_modules=targets,
                                             task_type="CAUSAL_LM"))
    rows = chat.tokenize(tok, tdata.load_examples(a.data, None, a.rows), 768).rows
    ids = torch.tensor([sum((r["input_ids"] for r in rows), [])])
    labels = torch.tensor([sum((r["labels"] for r in rows), [])])
    pos = torch.tensor([sum((list(range(len(r["input_ids"]))) for r in rows), [])])
    peft_drops = {name: m for name, m in model.named_modules()
                  if type(m) is torch.nn.Dropout and "lora_dropout" in name}
    n_swapped = cheapen_lora_dropout(model)
    cheap_drops = {name: m for name, m in model.named_modules() if isinstance(m, CheapDropout)}
    assert n_swapped == len(peft_drops) == len(cheap_drops) > 0

    def use(drops):
        for name, m in drops.items():
            parent, _, key = name.rpartition(".")
            model.get_submodule(parent)[key] = m

    def step() -> float:
        t0 = time.perf_counter()
        loss = model(input_ids=ids, labels=labels, position_ids=pos).loss
        loss.backward()
        model.zero_grad(set_to_none=True)
        return time.perf_counter() - t0

    model.train()
    times: dict[str, list[float]] = {"peft": [], "cheap": []}
    for i in range(2 * a.reps + 2):
        side = ("peft", "cheap")[i % 2]
        use(peft_drops if side == "peft" else cheap_drops)
        dt = step()
        if i >= 2:  # the first pair warms up
            times[side].append(dt)
    med = {k: statistics.median(v) for k, v in times.items()}
    res = {"model": a.model, "data": a.data, "lora_targets": targets, "tokens": ids.shape[1],
           "dropout_layers": n_swapped, "median_s_per_step": {k: round(v, 3) for k, v in med.items()},
           "tokens_per_s": {k: round(ids.shape[1] / v, 1) for k, v in med.items()},
           "cheap_vs_peft": round(med["peft"] / med["cheap"], 3),
           "all_s": {k: [round(x, 3) for x in v] for k, v in times.items()}}
    print(json.dumps(res, indent=2))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
