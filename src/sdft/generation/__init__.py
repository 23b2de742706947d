"""Generation backends behind one interface (see :mod:`sdft.generation.base`).

``BACKENDS`` is the one table of backends: name -> factory. Factories import their module
only when called, so choosing ``openai`` never imports torch and ``fake`` needs nothing.

    gen = make_generator("hf", "smollm2-135m", max_batch_size=32)
    gen = make_generator("openai", "Qwen/Qwen2.5-7B-Instruct", base_url="http://localhost:8000")
"""

from __future__ import annotations

from typing import Any, Callable

from sdft.generation.base import Completion, Generator, Request, SamplingParams

__all__ = ["BACKENDS", "Completion", "Generator", "Request", "SamplingParams", "make_generator"]


def _hf(model: str | None, adapter: str | None, **options: Any) -> Generator:
    from sdft.generation.hf import HFGenerator

    return HFGenerator.from_spec(model, adapter=adapter, **options)


def _openai(model: str | None, adapter: str | None, **options: Any) -> Generator:
    from sdft.config import ConfigError
    from sdft.generation.openai_compat import OpenAIGenerator

    if adapter:
        raise ConfigError("backend openai: `adapter` is not supported; serve the adapter with the server "
                          "(e.g. vLLM --lora-modules) and pass its name as the model")
    if not options.get("base_url") or not model:
        raise ConfigError("backend openai needs `base_url` (e.g. http://localhost:8000) and `model` "
                          "(the name the server serves)")
    return OpenAIGenerator(model=model, **options)


def _fake(model: str | None, adapter: str | None, **options: Any) -> Generator:
    from sdft.generation.fake import FakeGenerator

    return FakeGenerator(options.get("respond"))


BACKENDS: dict[str, Callable[..., Generator]] = {"hf": _hf, "openai": _openai, "fake": _fake}


def make_generator(backend: str, model: str | None = None, adapter: str | None = None,
                   **options: Any) -> Generator:
    """Build a generator; ``options`` go to the backend's constructor (unknown ones are errors)."""
    from sdft.config import ConfigError

    if backend not in BACKENDS:
        raise ConfigError(f"unknown generation backend {backend!r}; choose from {', '.join(BACKENDS)}")
    try:
        return BACKENDS[backend](model, adapter, **options)
    except TypeError as e:  # an option the backend does not take
        raise ConfigError(f"backend {backend}: {e}") from None
