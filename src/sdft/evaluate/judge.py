"""Pairwise judges for helpfulness: ``compare(instruction, output_a, output_b) -> "a"|"b"|"tie"``.

Three implementations of the one small :class:`Judge` protocol:

* :class:`OpenAIJudge` — any OpenAI-compatible ``/chat/completions`` endpoint (OpenAI, vLLM,
  llama.cpp server, ...): temperature 0, retries with exponential backoff, the key read from an
  environment variable whose *name* is configured (the key itself never enters a config file).
  Uses only the standard library, so no client package is needed.
* :class:`LogprobJudge` — a local model loaded with :func:`sdft.models.load`: the assistant turn
  is prefilled with ``Output (`` and the verdict is whichever of ``a``/``b`` the model gives
  more probability. It always answers, but a 135M model is a *weak* judge (close to position
  and length preference); its numbers are a smoke test, not a helpfulness measurement.
* :class:`GeneratorJudge` — any :class:`~sdft.generation.base.Generator` (tests use the fake one);
  the verdict is parsed from the generated text.

The prompt is the Jinja file ``sdft/prompts/judge_pairwise.txt`` (variables ``instruction``,
``output_1``, ``output_2``); pass ``prompt_path`` to use another. Position bias is not handled
here: callers judge each pair in both orders (see :mod:`sdft.evaluate.alpaca_eval`).
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from sdft.config import ConfigError

PROMPT_PATH = Path(__file__).resolve().parents[1] / "prompts" / "judge_pairwise.txt"
VERDICTS = ("a", "b", "tie")
_VERDICT_RE = re.compile(r"\boutput\s*\(?\s*([ab])\b", re.IGNORECASE)


class Judge(Protocol):
    name: str

    def compare(self, instruction: str, output_a: str, output_b: str) -> str:
        """``"a"`` if ``output_a`` is better, ``"b"`` if ``output_b`` is, ``"tie"`` if undecided."""
        ...


@lru_cache(maxsize=8)
def _template(path: str):
    import jinja2

    text = Path(path).read_text(encoding="utf-8")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False,
                             autoescape=False)
    return env.from_string(text)


def render_prompt(instruction: str, output_1: str, output_2: str,
                  prompt_path: str | Path | None = None) -> str:
    path = Path(prompt_path or PROMPT_PATH)
    if not path.is_file():
        raise ConfigError(f"judge prompt file not found: {path}")
    return _template(str(path)).render(instruction=instruction, output_1=output_1, output_2=output_2)


def parse_verdict(text: str) -> str:
    """``"a"``/``"b"`` from a judge's reply; ``"tie"`` when it names both, neither, or is empty.

    Accepts ``Output (a)``, ``output a``, or a bare ``a``/``b`` (models often drop the phrase)."""
    found = {m.lower() for m in _VERDICT_RE.findall(text)}
    if len(found) == 1:
        return found.pop()
    bare = text.strip().strip(".\"'()[] ").lower()
    if not found and bare in ("a", "b"):
        return bare
    return "tie"


class OpenAIJudge:
    """A judge behind an OpenAI-compatible chat-completions endpoint."""

    def __init__(self, base_url: str = "https://api.openai.com/v1", model: str = "gpt-4o-mini",
                 api_key_env: str = "OPENAI_API_KEY", prompt_path: str | Path | None = None,
                 max_retries: int = 5, backoff_s: float = 1.0, timeout_s: float = 120.0,
                 concurrency: int = 4, max_tokens: int = 16):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.prompt_path = prompt_path
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.concurrency = concurrency
        self.max_tokens = max_tokens
        self.name = f"openai:{model}@{self.base_url}"
        local = re.match(r"https?://(localhost|127\.|\[::1\])", self.base_url) is not None
        # A local server usually wants no key; a remote one without a key would fail 805x2 times.
        if not os.environ.get(api_key_env) and not local:
            raise ConfigError(f"judge endpoint {self.base_url} needs an API key in the environment "
                              f"variable {api_key_env} (set judge_api_key_env to use another name)")

    def _post(self, payload: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(f"{self.base_url}/chat/completions", method="POST",
                                     data=json.dumps(payload).encode(), headers=headers)
        last = ""
        for attempt in range(self.max_retries + 1):
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    return json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as e:
                last = f"HTTP {e.code}: {e.read()[:200].decode('utf-8', 'replace')}"
                if e.code not in (408, 409, 429) and e.code < 500:
                    break  # a bad request or a bad key does not get better by retrying
            except (urllib.error.URLError, TimeoutError, ConnectionError, json.JSONDecodeError) as e:
                last = f"{type(e).__name__}: {e}"
            if attempt < self.max_retries:
                time.sleep(self.backoff_s * 2 ** attempt)
        raise ConfigError(f"judge endpoint {self.base_url}/chat/completions failed "
                          f"after {self.max_retries + 1} tries: {last}")

    def reply(self, prompt: str) -> str:
        out = self._post({"model": self.model, "temperature": 0, "max_tokens": self.max_tokens,
                          "messages": [{"role": "user", "content": prompt}]})
        try:
            return out["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise ConfigError(f"judge endpoint {self.base_url} returned no choices[0].message.content: "
                              f"{json.dumps(out)[:200]}") from None

    def compare(self, instruction: str, output_a: str, output_b: str) -> str:
        return parse_verdict(self.reply(render_prompt(instruction, output_a, output_b, self.prompt_path)))


class GeneratorJudge:
    """A judge that asks any Generator (greedy, a few tokens) and parses the verdict."""

    concurrency = 1

    def __init__(self, generator, name: str = "generator", prompt_path: str | Path | None = None,
                 max_new_tokens: int = 16):
        self.generator = generator
        self.name = name
        self.prompt_path = prompt_path
        self.max_new_tokens = max_new_tokens

    def compare(self, instruction: str, output_a: str, output_b: str) -> str:
        from sdft.generation.base import Request, SamplingParams

        prompt = render_prompt(instruction, output_a, output_b, self.prompt_path)
        comps = list(self.generator.generate([Request("judge", [{"role": "user", "content": prompt}])],
                                             SamplingParams(max_new_tokens=self.max_new_tokens)))
        return parse_verdict(comps[0].text if comps else "")


class LogprobJudge:
    """A local model judges by the next-token probability of ``a`` vs ``b`` after ``Output (``."""

    concurrency = 1

    def __init__(self, spec: str | None = None, prompt_path: str | Path | None = None,
                 max_prompt_tokens: int = 4096, model=None, tokenizer=None):
        if model is None:
            from sdft import models

            model, tokenizer = models.load(spec)
        self.model, self.tok = model, tokenizer
        self.prompt_path = prompt_path
        self.max_prompt_tokens = max_prompt_tokens
        self.name = f"local:{spec or 'model'}"
        self._ids = [self._single_token(c) for c in ("a", "b")]

    def _single_token(self, text: str) -> int:
        ids = self.tok.encode(text, add_special_tokens=False)
        if len(ids) != 1:
            raise ConfigError(f"local judge: {text!r} is not one token for this tokenizer ({ids})")
        return ids[0]

    def compare(self, instruction: str, output_a: str, output_b: str) -> str:
        import torch

        from sdft.models import render_chat

        prompt = render_prompt(instruction, output_a, output_b, self.prompt_path)
        text = render_chat(self.tok, [{"role": "user", "content": prompt}], prefill="Output (")
        ids = self.tok(text, add_special_tokens=False, return_tensors="pt").input_ids
        # Keep the end (the verdict question) when two long outputs overflow the context.
        ids = ids[:, -self.max_prompt_tokens:].to(self.model.device)
        with torch.no_grad():
            logits = self.model(input_ids=ids).logits[0, -1]
        la, lb = (float(logits[i]) for i in self._ids)
        return "a" if la > lb else "b" if lb > la else "tie"


def make_judge(kind: str | None = None, base_url: str | None = None, model: str | None = None,
               api_key_env: str | None = None, prompt_path: str | Path | None = None) -> Judge:
    """``kind``: ``"openai"`` (needs ``model``; ``base_url`` defaults to OpenAI's), ``"local"``
    (the packaged default model), or a model spec (alias, dir, .gguf) for a local logprob judge."""
    kind = kind or "local"
    if kind == "openai":
        if not model:
            raise ConfigError("judge 'openai' needs judge_model (the endpoint's model name)")
        return OpenAIJudge(base_url=base_url or "https://api.openai.com/v1", model=model,
                           api_key_env=api_key_env or "OPENAI_API_KEY", prompt_path=prompt_path)
    spec = None if kind == "local" else kind
    judge = LogprobJudge(spec, prompt_path=prompt_path)
    if spec is None:
        from sdft.models import DEFAULT_MODEL

        judge.name = f"local:{DEFAULT_MODEL}"
    return judge
