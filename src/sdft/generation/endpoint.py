"""One OpenAI-compatible API endpoint: where it is, the model it serves, the variable holding
its key, and how many requests to keep in flight. (Not the report's endpoints, which are the
outcome measures a comparison reads.)

Generation with ``backend: openai`` and both judges (alpaca_eval's pairwise judge and the
refusal judge) reach a server through an :class:`ApiEndpoint`, and the defaults below are written
only here. The configs keep their flat fields, the keys every shipped config, flag and stage key
uses: ``generation: {base_url, api_key_env, concurrency}`` (the model is the stage's own) and
``judge_base_url``, ``judge_model``, ``judge_api_key_env``, ``judge_concurrency`` beside a judge;
:meth:`sdft.generation.base.GenerationConfig.endpoint` and :func:`judge_endpoint` turn them into
one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_CONCURRENCY = 64
# Where a judge goes when neither its config nor $OPENAI_BASE_URL names a server. Generation
# has no such fallback: its server is one the user started.
OPENAI_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class ApiEndpoint:
    """url: server address, with or without the trailing /v1 (unset: $OPENAI_BASE_URL)
    model: the name the server serves
    key_env: name of the environment variable holding the API key
    concurrency: requests in flight (a batching server is fast only when kept busy)
    """

    url: str | None = None
    model: str | None = None
    key_env: str = DEFAULT_KEY_ENV
    concurrency: int = DEFAULT_CONCURRENCY

    def api_key(self) -> str:
        """The key from ``key_env``; a placeholder where it is unset, which servers started
        without ``--api-key`` accept."""
        return os.environ.get(self.key_env or "") or "EMPTY"


def judge_endpoint(opts) -> ApiEndpoint:
    """The endpoint a judge's options name (their ``judge_base_url``, ``judge_model``,
    ``judge_api_key_env``, ``judge_concurrency``); the URL falls back to $OPENAI_BASE_URL, then
    OpenAI's own."""
    url = opts.judge_base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL
    return ApiEndpoint(url, opts.judge_model, opts.judge_api_key_env, opts.judge_concurrency)
