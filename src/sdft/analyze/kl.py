"""The KL between a LoRA fine-tune and its seed on the fine-tune's own answers (the forgetting
predictor of "RL's Razor", Shenfeld et al. 2025), measured by the pipeline's ``predict`` stage.

The seed is the same model with its LoRA adapter disabled, so a full fine-tune has no KL here.
:mod:`sdft.report.predictors` reads the ``kl_to_seed.json`` this writes.

The items are the first ``limit`` of the benchmark in its data order (the number that ends an id
such as ``gsm8k/test/238``), the same items for every model. A predictions file lists answers in
the order they finished, shortest first within a batch, so its first lines were each model's
shortest answers, on items that differed from model to model (found 2026-12-05: vanilla-s1's
first 64 GSM8K answers averaged 110 characters against 245 over all 400, and 38 of its 64 items
were the seed's first 64); a KL measured so is confounded with answer length.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sdft.runs import write_text

KL_FILE = "kl_to_seed.json"
ITEM_ORDER = "data order"  # part of the predict stage's key: the rule choosing the items


def in_data_order(lines: list[dict]) -> list[dict]:
    """Prediction lines sorted by their item's place in the data (an id's trailing number; ids
    without one keep their file order, after the numbered ones)."""
    def place(i_line):
        i, line = i_line
        m = re.search(r"(\d+)$", str(line.get("id", "")))
        return (0, int(m.group(1)), i) if m else (1, 0, i)

    return [line for _, line in sorted(enumerate(lines), key=place)]


def kl_on_answers(model_spec: str, adapter: str | Path, predictions: str | Path, out: str | Path,
                  limit: int = 64, dtype: str = "float32", data_dir: str | Path | None = None) -> dict[str, Any]:
    """Mean per-token KL(fine-tune || seed) on the fine-tune's saved answers to the first
    ``limit`` items in data order (``predictions``: a predictions.jsonl with the rendered
    ``prompt`` and the answer ``predict``; an empty answer counts no token); writes
    ``out``/kl_to_seed.json. A carried run's answers get their prompts rendered again from the
    items in ``data_dir`` (the run's data folder; default the data folder). A full fine-tune (no
    adapter to disable) is an error."""
    from sdft import models
    from sdft.errors import ConfigError
    from sdft.evaluate.generative import refill

    if not (Path(adapter) / "adapter_config.json").exists():
        raise ConfigError(f"{adapter}: the KL to the seed is measured with the LoRA adapter disabled; "
                          "a full fine-tune has none")
    model, tok = models.load(model_spec, adapter=str(adapter), dtype=dtype, padding_side="right")
    lines = [json.loads(x) for x in Path(predictions).read_text(encoding="utf-8").splitlines() if x.strip()]
    lines = refill(in_data_order(lines)[:limit], Path(predictions), tok, data_dir)  # a carried run has no prompts
    per_item, kl_total, n_total = kl_per_item(model, tok, lines)
    result = {"kl_per_token": kl_total / n_total if n_total else None, "n_items": len(per_item),
              "n_tokens": n_total, "predictions": str(predictions), "direction": "KL(fine-tune || seed)",
              "items": f"the first {limit} in {ITEM_ORDER}",
              "per_item": per_item}
    write_text(Path(out) / KL_FILE, json.dumps(result, indent=1) + "\n")  # atomic: a stage's result
    return result


def kl_per_item(model, tok, lines: list[dict]) -> tuple[list[dict[str, Any]], float, int]:
    """([{id, kl (per token), tokens}], summed KL, tokens) of each line's answer (``predict``) after
    its ``prompt``, one answer at a time (no padding, so no batch enters the numbers); an empty
    answer is skipped."""
    import torch
    from tqdm.auto import tqdm

    from sdft.train.objectives import kl_terms

    out, kl_total, n_total = [], 0.0, 0
    with torch.no_grad():
        for r in tqdm(lines, desc="KL to the seed", unit="answer", leave=False):
            p = tok(r["prompt"], add_special_tokens=False)["input_ids"]
            a = tok(r["predict"], add_special_tokens=False)["input_ids"]
            if not a:
                continue
            ids = torch.tensor([p + a], device=model.device)
            labels = torch.tensor([[-100] * len(p) + a], device=model.device)
            _, kl, n = kl_terms(model, {"input_ids": ids, "labels": labels})
            out.append({"id": r["id"], "kl": kl.item() / max(n.item(), 1), "tokens": int(n.item())})
            kl_total, n_total = kl_total + kl.item(), n_total + int(n.item())
    return out, kl_total, n_total
