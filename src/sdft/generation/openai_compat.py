"""Generation through any OpenAI-compatible chat server (vLLM, SGLang, llama.cpp server, OpenAI).

The HTTP is the ``openai`` package's client (the ``[openai]`` extra): it retries HTTP 408, 409,
429, 5xx, connection errors and timeouts ``max_retries`` times with exponential backoff and
jitter, waits as long as a ``Retry-After`` header asks (up to two minutes), and fails at once
on any other 4xx (a mistake in the request or a bad key does not get better by retrying).
One client is shared by a thread pool that keeps ``concurrency`` requests in flight (a
batching server is only fast when it is kept busy); completions are yielded as they arrive.

The server is an :class:`sdft.generation.endpoint.ApiEndpoint`. Its URL may be given with or
without the trailing ``/v1`` (``http://host:8000`` and ``http://host:8000/v1`` reach the same
server); unset, ``$OPENAI_BASE_URL`` is used. The key is read from the environment variable the
endpoint names; without one a placeholder is sent, which servers started without ``--api-key``
accept.

Prefill (an assistant turn that must start with given text) is sent the way vLLM supports it:
the prefix as a final ``assistant`` message plus ``"continue_final_message": true,
"add_generation_prompt": false`` in the body (``extra_body``). SGLang accepts the same fields;
servers that do not know them either ignore them (and answer a fresh turn) or reject the
request, so check your server before relying on prefill. The returned text is the
continuation only.

Limits: the server applies its own chat template, so ``Completion.prompt`` is the JSON of the
messages sent, not the rendered text; ``num_tokens`` is the server's ``usage.completion_tokens``
(falling back to a whitespace word count when the server reports no usage).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any, Iterator, Sequence

from sdft.config import ConfigError
from sdft.generation.base import Completion, Request, SamplingParams
from sdft.generation.endpoint import ApiEndpoint
from sdft.models import ModelError


class OpenAIGenerator:
    """``generate(requests, sampling)`` against the ``endpoint``'s server and model; ``extra_body``
    is merged into every request body (server-specific fields such as vLLM's ``top_k``)."""

    def __init__(self, endpoint: ApiEndpoint, timeout_s: float = 600, max_retries: int = 5,
                 extra_body: dict[str, Any] | None = None):
        try:
            import openai
        except ImportError:
            raise ConfigError("backend openai needs the openai package: pip install 'sdft[openai]'") from None
        base = (endpoint.url or os.environ.get("OPENAI_BASE_URL") or "").rstrip("/")
        if not base:
            raise ConfigError("backend openai needs `base_url` (e.g. http://localhost:8000/v1) "
                              "or $OPENAI_BASE_URL")
        self.base_url = base if base.endswith("/v1") else base + "/v1"
        self.model = endpoint.model
        self.concurrency = max(1, int(endpoint.concurrency))
        self.max_retries = int(max_retries)
        self.extra_body = dict(extra_body or {})
        self._openai = openai
        self.client = openai.OpenAI(base_url=self.base_url, api_key=endpoint.api_key(),
                                    timeout=timeout_s, max_retries=self.max_retries)

    def generate(self, requests: Sequence[Request], sampling: SamplingParams) -> Iterator[Completion]:
        pending = list(reversed(requests))
        # A bounded window rather than submitting everything, and queued requests cancelled on
        # the way out: a caller that stops iterating (Ctrl-C, a failed request) then waits only
        # for the requests already being answered.
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="openai")
        try:
            running = set()
            while pending or running:
                while pending and len(running) < 2 * self.concurrency:
                    running.add(pool.submit(self._one, pending.pop(), sampling))
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    yield fut.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _one(self, request: Request, sampling: SamplingParams) -> Completion:
        messages = [dict(m) for m in request.messages]
        extra: dict[str, Any] = {}
        if request.prefill:
            messages.append({"role": "assistant", "content": request.prefill})
            extra = {"continue_final_message": True, "add_generation_prompt": False}
        optional = {"stop": list(sampling.stop)} if sampling.stop else {}
        try:
            reply = self.client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=sampling.max_new_tokens,
                temperature=sampling.temperature, top_p=sampling.top_p, seed=sampling.seed,
                extra_body={**extra, **self.extra_body} or None, **optional)
        except self._openai.APIStatusError as e:
            raise self._failed(request, f"HTTP {e.status_code}: {e.response.text[:300]}") from None
        except self._openai.APIConnectionError as e:  # timeouts included
            raise self._failed(request, f"{e} {e.__cause__ or ''}") from None
        try:
            choice = reply.choices[0]
            text = choice.message.content or ""
        except (TypeError, IndexError, AttributeError):
            raise ModelError(f"{self.base_url}: request {request.id!r}: reply has no choices[0].message: "
                             f"{reply.model_dump_json()[:200]}") from None
        usage = reply.usage
        n = usage.completion_tokens if usage else None
        return Completion(request.id, text, int(n) if n is not None else len(text.split()),
                          "length" if choice.finish_reason == "length" else "stop",
                          prompt=json.dumps(messages, ensure_ascii=False),
                          extras={"prompt_tokens": usage.prompt_tokens if usage else None})

    def _failed(self, request: Request, what: str) -> ModelError:
        return ModelError(f"{self.base_url}: request {request.id!r} failed: {what} "
                          f"(transient errors were retried up to {self.max_retries} times)")
