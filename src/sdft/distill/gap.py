"""The distribution gap SDFT closes, measured directly: how likely the seed model finds each
training response, in the exact context training will show it.

For a seeded sample of distilled examples, the mean per-token negative log-likelihood of the
response under the seed model is computed for the original answer and, where the rewrite was
kept, for the rewrite. The prompt is rendered as training renders it (:func:`sdft.data.chat.tokenize`:
chat template, the model's own system prompt, generation prompt; the response ends in the
template's end-of-turn marker).
Three means summarise it (each a ratio of summed NLL to summed tokens, with a bootstrap CI over
examples): the **original** set, the **distilled** set training sees (the kept rewrite, else the
original) and the **kept rewrites** alone next to their own originals. SDFT's premise is that
the distilled set sits closer to the model (lower NLL) than the original one.

Forward passes only; rows are written to ``nll.jsonl`` as they finish, so a killed stage resumes.
Logits are computed for response positions only (the LM head over a 150k vocabulary is a large
share of the work).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sdft.data.records import Example
from sdft.runs import JsonlWriter, done_ids, read_jsonl

NLL_FILE = "nll.jsonl"


def pick(records: Sequence[dict], n: int, seed: int) -> list[dict]:
    """The seeded sample of distilled records whose NLL is measured (input order kept)."""
    if n >= len(records):
        return list(records)
    keep = sorted(random.Random(f"{seed}-nll").sample(range(len(records)), n))
    return [records[i] for i in keep]


def response_nll(model, tok, examples: Sequence[Example], max_length: int = 2048,
                 batch_tokens: int = 4096) -> list[tuple[float, int]]:
    """``(summed NLL in nats, response tokens)`` per example, in order."""
    import torch

    from sdft.data.chat import tokenize
    from sdft.errors import DataError

    if not examples:
        return []
    try:
        prepared = tokenize(tok, list(examples), max_length, where="nll")
    except DataError:  # every prompt fills max_length: nothing to score
        return [(float("nan"), 0)] * len(examples)
    by_id = {r["id"]: r for r in prepared.rows}
    rows = [by_id.get(e.id) for e in examples]
    out: list[tuple[float, int]] = [(float("nan"), 0)] * len(rows)
    order = sorted((i for i, r in enumerate(rows) if r is not None), key=lambda i: len(rows[i]["input_ids"]))
    backbone, head = model.base_model, model.get_output_embeddings()
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    dev = next(model.parameters()).device
    start = 0
    size = {i: len(rows[i]["input_ids"]) for i in order}
    with torch.inference_mode():
        while start < len(order):
            width, end = 0, start
            while end < len(order) and max(width, size[order[end]]) * (end - start + 1) <= batch_tokens:
                width = max(width, size[order[end]])
                end += 1
            end = max(end, start + 1)
            batch = [rows[i] for i in order[start:end]]
            width = max(len(r["input_ids"]) for r in batch)
            ids = torch.tensor([r["input_ids"] + [pad] * (width - len(r["input_ids"])) for r in batch], device=dev)
            mask = torch.tensor([[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in batch],
                                device=dev)
            labels = torch.tensor([r["labels"] + [-100] * (width - len(r["labels"])) for r in batch], device=dev)
            hidden = backbone(input_ids=ids, attention_mask=mask).last_hidden_state
            target = labels[:, 1:]
            keep = target != -100
            logits = head(hidden[:, :-1][keep]).float()
            nll = -torch.log_softmax(logits, -1).gather(-1, target[keep][:, None])[:, 0]
            row_of = keep.nonzero()[:, 0]
            sums = torch.zeros(len(batch), dtype=torch.float64, device=dev).index_add_(0, row_of, nll.double())
            counts = keep.sum(-1)
            for j, i in enumerate(order[start:end]):
                out[i] = (float(sums[j]), int(counts[j]))
            start = end
    return out


def measure(records: Sequence[dict], model, tok, path: Path, max_length: int = 2048,
            progress: bool = True) -> None:
    """Append ``id, orig_nll, orig_tokens[, rewrite_nll, rewrite_tokens]`` to ``path`` for the
    records not there yet (a rewrite is scored only where it was kept)."""
    todo = [r for r in records if r["id"] not in done_ids(path)]
    if not todo:
        return
    chunk = 32
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(records), initial=len(records) - len(todo), desc="nll gap", unit="rec")
    with JsonlWriter(path) as w:
        for k in range(0, len(todo), chunk):
            part = todo[k:k + chunk]
            orig = response_nll(model, tok, [_example(r, r["original"]) for r in part], max_length)
            kept = [r for r in part if r.get("kept")]
            rw = dict(zip((r["id"] for r in kept),
                          response_nll(model, tok, [_example(r, r["rewrite"]) for r in kept], max_length)))
            for r, (o_nll, o_n) in zip(part, orig):
                line = {"id": r["id"], "orig_nll": o_nll, "orig_tokens": o_n}
                if r["id"] in rw:
                    line["rewrite_nll"], line["rewrite_tokens"] = rw[r["id"]]
                w.write(line)
            if bar is not None:
                bar.update(len(part))
    if bar is not None:
        bar.close()


def _example(r: dict, response: str) -> Example:
    return Example(id=r["id"], instruction=r["instruction"], input=r.get("input") or "", response=response,
                   system=r.get("system"), history=[tuple(t) for t in r.get("history") or []], task=r.get("task"))


def summarize(path: Path, seed: int = 0, n_boot: int = 2000) -> dict[str, Any]:
    """The three per-token means with 95 % bootstrap CIs (examples resampled), from ``path``.
    ``n_boot`` is :data:`sdft.evaluate.stats.N_BOOT`, written out rather than imported so the
    distillation stage does not reach up into evaluation (a test holds the two equal)."""
    rows = [r for r in read_jsonl(path) if r.get("orig_tokens")]
    if not rows:
        return {}
    o_nll = np.array([r["orig_nll"] for r in rows])
    o_n = np.array([r["orig_tokens"] for r in rows])
    kept = np.array(["rewrite_nll" in r for r in rows])
    r_nll = np.array([r.get("rewrite_nll", 0.0) for r in rows])
    r_n = np.array([r.get("rewrite_tokens", 0) for r in rows])
    d_nll, d_n = np.where(kept, r_nll, o_nll), np.where(kept, r_n, o_n)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(rows), size=(n_boot, len(rows)))

    def ratio(nll, n, mask=None) -> dict[str, Any]:
        m = np.ones(len(rows), bool) if mask is None else mask
        if not m.any():
            return {"nll_per_token": None, "n": 0}
        point = nll[m].sum() / n[m].sum()
        boot_num = (nll * m)[idx].sum(1)
        boot_den = (n * m)[idx].sum(1)
        ok = boot_den > 0
        lo, hi = np.quantile(boot_num[ok] / boot_den[ok], [0.025, 0.975])
        return {"nll_per_token": round(float(point), 4), "ci95": [round(float(lo), 4), round(float(hi), 4)],
                "n": int(m.sum()), "tokens": int(n[m].sum())}

    return {"original": ratio(o_nll, o_n), "distilled": ratio(d_nll, d_n),
            "kept_rewrites": ratio(r_nll, r_n, kept), "kept_originals": ratio(o_nll, o_n, kept),
            "what": "mean per-token NLL (nats) of the training responses under the seed model, "
                    "in the training context; lower = closer to the model's own distribution"}
