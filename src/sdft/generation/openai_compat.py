"""Generation through any OpenAI-compatible chat server (vLLM, SGLang, llama.cpp server, ...).

Each request is one ``POST {base_url}/v1/chat/completions``; a thread pool keeps
``concurrency`` of them in flight and completions are yielded as they arrive. Transient
failures (HTTP 429, 5xx, connection errors, timeouts) are retried with exponential backoff
and jitter (a ``Retry-After`` header is honoured when longer); other 4xx answers are a
mistake in the request and fail at once. Only the standard library is used.

Prefill (an assistant turn that must start with given text) is sent the way vLLM supports it:
the prefix as a final ``assistant`` message plus ``"continue_final_message": true,
"add_generation_prompt": false`` in the body. SGLang accepts the same fields; servers that do
not know them either ignore them (and answer a fresh turn) or reject the request, so check
your server before relying on prefill. The returned text is the continuation only.

Limits: the server applies its own chat template, so ``Completion.prompt`` is the JSON of the
messages sent, not the rendered text; ``num_tokens`` is the server's ``usage.completion_tokens``
(falling back to a whitespace word count when the server reports no usage).
"""

from __future__ import annotations

import json
import os
import random
import time
import urllib.error
import urllib.request
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any, Iterator, Sequence

from sdft.generation.base import Completion, Request, SamplingParams
from sdft.models import ModelError

RETRY_STATUS = {408, 409, 425, 429}  # plus every 5xx


class OpenAIGenerator:
    """``generate(requests, sampling)`` against ``base_url`` serving ``model``."""

    def __init__(self, base_url: str | None, model: str, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 64, timeout_s: float = 600, max_retries: int = 5, backoff_s: float = 1.0,
                 extra_body: dict[str, Any] | None = None):
        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            from sdft.config import ConfigError

            raise ConfigError("backend openai needs `base_url` (e.g. http://localhost:8000/v1) "
                              "or $OPENAI_BASE_URL")
        base = base_url.rstrip("/")
        self.url = (base if base.endswith("/v1") else base + "/v1") + "/chat/completions"
        self.model = model
        self.api_key = os.environ.get(api_key_env) if api_key_env else None
        self.concurrency = max(1, int(concurrency))
        self.timeout_s, self.max_retries, self.backoff_s = timeout_s, int(max_retries), backoff_s
        self.extra_body = dict(extra_body or {})

    def generate(self, requests: Sequence[Request], sampling: SamplingParams) -> Iterator[Completion]:
        pending = list(reversed(requests))
        # A bounded window rather than submitting everything: a caller that stops iterating
        # (Ctrl-C, an error) then waits for at most ``2 * concurrency`` requests, not all.
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="openai") as pool:
            running = set()
            while pending or running:
                while pending and len(running) < 2 * self.concurrency:
                    running.add(pool.submit(self._one, pending.pop(), sampling))
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    yield fut.result()

    def body(self, request: Request, sampling: SamplingParams) -> dict[str, Any]:
        """The JSON body sent for one request (public so callers can inspect or log it)."""
        messages = [dict(m) for m in request.messages]
        body: dict[str, Any] = {"model": self.model, "max_tokens": sampling.max_new_tokens,
                                "temperature": sampling.temperature, "top_p": sampling.top_p,
                                "seed": sampling.seed}
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if request.prefill:
            messages.append({"role": "assistant", "content": request.prefill})
            body["continue_final_message"] = True
            body["add_generation_prompt"] = False
        body["messages"] = messages
        body.update(self.extra_body)
        return body

    def _one(self, request: Request, sampling: SamplingParams) -> Completion:
        body = self.body(request, sampling)
        reply = self._post(body, request.id)
        try:
            choice = reply["choices"][0]
            text = choice["message"].get("content") or ""
            reason = "length" if choice.get("finish_reason") == "length" else "stop"
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ModelError(f"{self.url}: request {request.id!r}: reply has no choices[0].message: "
                             f"{json.dumps(reply)[:200]}") from None
        usage = reply.get("usage") or {}
        n = usage.get("completion_tokens")
        return Completion(request.id, text, int(n) if n is not None else len(text.split()), reason,
                          prompt=json.dumps(body["messages"], ensure_ascii=False),
                          extras={"prompt_tokens": usage.get("prompt_tokens")})

    def _post(self, body: dict[str, Any], rid: str) -> dict[str, Any]:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last = ""
        for attempt in range(self.max_retries + 1):
            retry_after = 0.0
            try:
                req = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    return json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as e:
                detail = e.read()[:300].decode("utf-8", "replace")
                if e.code not in RETRY_STATUS and e.code < 500:
                    raise ModelError(f"{self.url}: request {rid!r}: HTTP {e.code}: {detail}") from None
                last = f"HTTP {e.code}: {detail}"
                retry_after = _seconds(e.headers.get("Retry-After") if e.headers else None)
            except (urllib.error.URLError, TimeoutError, ConnectionError, json.JSONDecodeError) as e:
                last = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
            if attempt < self.max_retries:
                delay = min(60.0, self.backoff_s * 2**attempt) * (0.5 + random.random())
                time.sleep(max(delay, min(retry_after, 300.0)))
        raise ModelError(f"{self.url}: request {rid!r} failed after {self.max_retries + 1} attempts: {last}")


def _seconds(value: str | None) -> float:
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0  # an HTTP date: ignore it and use our own backoff
