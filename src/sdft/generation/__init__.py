"""Generation backends behind one interface (see :mod:`sdft.generation.base`).

``BACKENDS`` is the one table of backends: name -> factory ``(config, model, adapter)``.
Factories import their module only when called, so choosing ``openai`` never imports torch and
``fake`` needs nothing. Every stage that generates holds a :class:`GenerationConfig` and calls
:func:`make_generator` with it:

    gen = make_generator(GenerationConfig(dtype="bfloat16", max_batch_size=128), "qwen2.5-coder-0.5b")
    gen = make_generator(GenerationConfig(backend="openai", base_url="http://localhost:8000/v1"),
                         "Qwen/Qwen2.5-7B-Instruct")
"""

from __future__ import annotations

from typing import Any, Callable

from sdft.generation.base import Completion, GenerationConfig, Generator, Request, SamplingParams

__all__ = ["BACKENDS", "Completion", "GenerationConfig", "Generator", "Request", "SamplingParams",
           "make_generator"]


def _hf(cfg: GenerationConfig, model: str | None, adapter: str | None, **extra: Any) -> Generator:
    from sdft.generation.hf import HFGenerator

    return HFGenerator.from_spec(model, adapter=adapter, device=cfg.device, dtype=cfg.dtype,
                                 max_batch_size=cfg.max_batch_size, merge_adapter=cfg.merge_adapter, **extra)


def _vllm(cfg: GenerationConfig, model: str | None, adapter: str | None, **extra: Any) -> Generator:
    from sdft.generation.vllm_backend import VLLMGenerator

    return VLLMGenerator.from_spec(model, adapter=adapter, dtype=cfg.dtype, max_batch_size=cfg.max_batch_size,
                                   **extra)


def _openai(cfg: GenerationConfig, model: str | None, adapter: str | None, **extra: Any) -> Generator:
    from sdft.errors import ConfigError
    from sdft.generation.openai_compat import OpenAIGenerator

    if adapter:
        raise ConfigError("backend openai: `adapter` is not supported; serve the adapter with the server "
                          "(e.g. vLLM --lora-modules) and pass its name as the model")
    if not model:
        raise ConfigError("backend openai needs `model` (the name the server serves)")
    return OpenAIGenerator(cfg.endpoint(model), timeout_s=cfg.timeout_s, **extra)


def _fake(cfg: GenerationConfig, model: str | None, adapter: str | None, **extra: Any) -> Generator:
    from sdft.generation.fake import FakeGenerator

    return FakeGenerator(extra.get("respond"))


BACKENDS: dict[str, Callable[..., Generator]] = {"hf": _hf, "vllm": _vllm, "openai": _openai, "fake": _fake}


def make_generator(cfg: GenerationConfig | None = None, model: str | None = None, adapter: str | None = None,
                   **extra: Any) -> Generator:
    """The generator ``cfg`` describes, for ``model`` (+ ``adapter``). ``extra`` goes to the
    backend's constructor as is (tuning knobs and test hooks; an unknown one is an error)."""
    from sdft.errors import ConfigError

    cfg = cfg or GenerationConfig()
    if cfg.backend not in BACKENDS:
        raise ConfigError(f"unknown generation backend {cfg.backend!r}; choose from {', '.join(BACKENDS)}")
    try:
        return BACKENDS[cfg.backend](cfg, model, adapter, **extra)
    except TypeError as e:  # an option the backend does not take
        raise ConfigError(f"backend {cfg.backend}: {e}") from None
