"""The generator interface: ``generate(requests, sampling) -> completions``.

Every backend (in-process ``hf``, ``openai``-compatible servers, the ``fake`` one tests use)
takes the same :class:`Request` list and yields :class:`Completion` objects *as they finish*,
in any order, so callers can append them to a JSONL file and resume after a kill.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol, Sequence, runtime_checkable

from sdft.generation.endpoint import DEFAULT_CONCURRENCY, DEFAULT_KEY_ENV, ApiEndpoint


@dataclass
class SamplingParams:
    """How to decode. ``temperature == 0`` is greedy; otherwise sampling seeded by ``seed``.

    ``stop`` strings end a completion early (the stop string itself is cut off, as in
    OpenAI's API); the model's EOS token always ends it.
    """

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()


@dataclass
class GenerationConfig:
    """How a stage that generates builds its generator: the ``generation:`` block of the distill,
    eval and generate configs, and the same flags (``--backend``, ``--dtype``, ...) on each command.

    backend: hf (in-process, continuously batched), vllm (in-process vLLM), openai (any
        OpenAI-compatible server), fake (tests)
    base_url: openai: server address, e.g. http://localhost:8000/v1 (default: $OPENAI_BASE_URL)
        (base_url, api_key_env and concurrency are the endpoint's, see sdft.generation.endpoint)
    api_key_env: openai: name of the environment variable that holds the API key
    dtype: hf, vllm: auto (bf16 on CUDA and on CPUs with native bf16, else float32), float32, bfloat16, float16
    device: hf: cpu or cuda (default: cuda when available)
    max_batch_size: hf, vllm: sequences decoded together (128: 1.19x the rate of 64 for Qwen-0.5B on 2 CPU cores)
    concurrency: openai: requests in flight (enough to keep a batching server busy)
    timeout_s: openai: seconds one request may take before it is retried
    merge_adapter: hf: merge a LoRA adapter into the weights before generating (one matmul per
        layer instead of three: 1.46x the rate for Qwen-0.5B in bf16 on 2 CPU cores; greedy answers
        differ about as much as bf16 rounding makes them); false keeps the PEFT layers
    """

    backend: str = "hf"
    base_url: str | None = None
    api_key_env: str = DEFAULT_KEY_ENV
    dtype: str = "auto"
    device: str | None = None
    max_batch_size: int = 128
    concurrency: int = DEFAULT_CONCURRENCY
    timeout_s: float = 600.0
    merge_adapter: bool = True

    def __post_init__(self) -> None:
        # checked when the config is read: caught only when the model loaded, a bad dtype left a
        # settings.json behind that refused the corrected command
        from sdft.errors import ConfigError
        from sdft.models import DTYPES

        if self.dtype not in DTYPES:
            raise ConfigError(f"generation: `dtype` must be one of {', '.join(DTYPES)}, got {self.dtype!r}")

    def endpoint(self, model: str | None) -> ApiEndpoint:
        """The openai backend's endpoint serving ``model`` (the stage's model)."""
        return ApiEndpoint(self.base_url, model, self.api_key_env, self.concurrency)

    def merges(self, adapter: str | None) -> bool:
        """Whether generating with ``adapter`` merges it into the weights (hf backend only)."""
        return bool(adapter) and self.backend == "hf" and self.merge_adapter

    def merge_record(self, adapter: str | None) -> dict[str, bool]:
        """What stage keys and settings guards record of merging: ``{"merge_adapter": True}`` where
        it happens, else nothing, so unmerged and adapter-free stages keep the keys and settings they
        had before the field existed."""
        return {"merge_adapter": True} if self.merges(adapter) else {}


@dataclass
class Request:
    """One prompt. ``messages`` go through the model's chat template with a generation prompt;
    ``prefill`` is text the assistant turn starts with (it is not part of the completion)."""

    id: str
    messages: list[dict[str, str]]
    prefill: str = ""


@dataclass
class Completion:
    id: str
    text: str
    num_tokens: int  # generated tokens counted up to and including EOS / the stop point
    finish_reason: str  # "stop" (EOS or stop string) or "length" (hit max_new_tokens)
    prompt: str = ""  # the exact rendered prompt text, for the record
    extras: dict = field(default_factory=dict)


class Generator(Protocol):
    def generate(self, requests: Sequence[Request], sampling: SamplingParams) -> Iterator[Completion]:
        ...


@runtime_checkable
class LocalModel(Protocol):
    """A generator that runs a model in this process and can lend it out: measurements that need
    the seed's own log-likelihoods (the NLL gap) reuse it instead of loading a second copy. The
    in-process ``hf`` engine is one; a server backend is not."""

    def local_model(self) -> tuple[Any, Any]:
        """``(model, tokenizer)``."""
        ...
