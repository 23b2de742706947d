"""Pairwise judges for helpfulness: ``verdicts(pairs)`` yields ``(index, "a" | "b" | "tie")``.

Two implementations of the one small :class:`Judge` protocol:

* :class:`GeneratorJudge` — any :class:`~sdft.generation.base.Generator`, asked greedily for a
  few tokens; the verdict is parsed from the text. Over the ``openai`` backend it is the endpoint
  judge (OpenAI, vLLM, llama.cpp server, ...) with that backend's retries, ``Retry-After``
  handling and concurrency (every pair is sent in one batch, so a batching server stays busy);
  the key is read from an environment variable whose *name* is configured, so the key itself
  never enters a config file.
* :class:`LogprobJudge` — a local model loaded with :func:`sdft.models.load`: the assistant turn
  is prefilled with ``Output (`` and the verdict is whichever of ``a``/``b`` the model gives
  more probability. It always answers, which a small model asked to *write* a verdict often
  does not, but a 135M model is a *weak* judge (close to position and length preference); its
  numbers are a smoke test, not a helpfulness measurement, and say so in ``warning``.

The prompt is the Jinja file ``sdft/prompts/judge_pairwise.txt`` (variables ``instruction``,
``output_1``, ``output_2``); ``judge_prompt`` names another. Position bias is not handled here:
callers judge each pair in both orders (see :mod:`sdft.evaluate.alpaca_eval`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Protocol, Sequence

from sdft.config import ConfigError
from sdft.generation.endpoint import DEFAULT_CONCURRENCY, DEFAULT_KEY_ENV, ApiEndpoint, judge_endpoint

PROMPT_FILE = "judge_pairwise.txt"  # packaged, read through sdft.prompts
_VERDICT_RE = re.compile(r"\boutput\s*\(?\s*([ab])\b", re.IGNORECASE)
WEAK_JUDGE_WARNING = ("the judge is a small local model: its verdicts are close to chance and "
                      "biased by position and length; use an OpenAI-compatible judge "
                      "(judge=openai) or the official alpaca_eval tool for a real measurement")

Pair = tuple[str, str, str]  # (instruction, output_a, output_b)


@dataclass(frozen=True)
class JudgeOptions:
    """Options of alpaca_eval; EvalConfig's fields of the same names set the first four.

    judge: openai (an OpenAI-compatible endpoint), local (the packaged default model, weak),
        or a model spec (a local log-prob judge)
    judge_base_url: endpoint of judge openai, e.g. http://localhost:8000/v1 (default: $OPENAI_BASE_URL, else OpenAI's)
    judge_model: model name the endpoint serves (judge openai needs it)
    judge_api_key_env: environment variable holding the endpoint's API key
    judge_prompt: Jinja prompt file (default: sdft/prompts/judge_pairwise.txt)
    judge_concurrency: endpoint requests in flight
    """

    judge: str = "local"
    judge_base_url: str | None = None
    judge_model: str | None = None
    judge_api_key_env: str = DEFAULT_KEY_ENV
    judge_prompt: str | None = None
    judge_concurrency: int = DEFAULT_CONCURRENCY


class Judge(Protocol):
    name: str  # recorded with every verdict: a file is only resumed by the judge that began it
    warning: str  # why its numbers are no measurement; empty when they are

    def verdicts(self, pairs: Sequence[Pair]) -> Iterator[tuple[int, str]]:
        """``(i, v)`` for each pair, in any order: ``v`` is ``"a"`` if ``output_a`` is better,
        ``"b"`` if ``output_b`` is, ``"tie"`` if undecided."""
        ...


@lru_cache(maxsize=8)
def _template(text: str):
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False,
                             autoescape=False)
    return env.from_string(text)


def prompt_template(packaged: str, prompt_path: str | Path | None = None):
    """A judge's Jinja prompt: the packaged file ``packaged``, or a user's file ``prompt_path``."""
    if prompt_path is None:
        from sdft import prompts

        text = prompts.read(packaged)
    else:
        path = Path(prompt_path)
        if not path.is_file():
            raise ConfigError(f"judge prompt file not found: {path}")
        text = path.read_text(encoding="utf-8")
    return _template(text)


def render_prompt(instruction: str, output_1: str, output_2: str,
                  prompt_path: str | Path | None = None) -> str:
    """The judge prompt: the packaged one, or a user's Jinja file."""
    return prompt_template(PROMPT_FILE, prompt_path).render(instruction=instruction, output_1=output_1,
                                                            output_2=output_2)


def first_token_ids(tok, options: Sequence[str], who: str = "local judge") -> list[int]:
    """The first token of each option; they must differ, since that token stands for the option."""
    ids = [tok.encode(o, add_special_tokens=False)[:1] for o in options]
    if any(not i for i in ids) or len({i[0] for i in ids}) != len(ids):
        raise ConfigError(f"{who}: the options {list(options)} do not start with distinct tokens "
                          f"for this tokenizer ({ids})")
    return [i[0] for i in ids]


def next_token_logprobs(model, tok, prompt: str, prefill: str, token_ids: Sequence[int],
                        max_prompt_tokens: int = 4096) -> list[float]:
    """Log-probabilities of ``token_ids`` as the next token after the chat-rendered ``prompt``
    and the assistant's ``prefill``: one forward pass."""
    import torch

    from sdft.models import render_chat

    text = render_chat(tok, [{"role": "user", "content": prompt}], prefill=prefill)
    ids = tok(text, add_special_tokens=False, return_tensors="pt").input_ids
    # Keep the end (the verdict question) when long outputs overflow the context.
    ids = ids[:, -max_prompt_tokens:].to(model.device)
    with torch.no_grad():
        logprobs = torch.log_softmax(model(input_ids=ids).logits[0, -1].float(), dim=-1)
    return [float(logprobs[i]) for i in token_ids]


def endpoint_generator(endpoint: ApiEndpoint, who: str):
    """The openai-backend generator a judge asks (:func:`sdft.generation.endpoint.judge_endpoint`
    of its options), and its ``name`` (``openai:<model>@<url>``)."""
    if not endpoint.model:
        raise ConfigError(f"{who} 'openai' needs judge_model (the endpoint's model name)")
    from sdft.generation.openai_compat import OpenAIGenerator

    gen = OpenAIGenerator(endpoint)
    return gen, f"openai:{endpoint.model}@{gen.base_url}"


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


class GeneratorJudge:
    """A judge that asks any Generator (greedy, a few tokens) and parses the verdict."""

    warning = ""

    def __init__(self, generator, name: str = "generator", prompt_path: str | Path | None = None,
                 max_new_tokens: int = 16):
        self.generator = generator
        self.name = name
        self.prompt_path = prompt_path
        self.max_new_tokens = max_new_tokens

    def verdicts(self, pairs: Sequence[Pair]) -> Iterator[tuple[int, str]]:
        from sdft.generation.base import Request, SamplingParams

        requests = [Request(str(i), [{"role": "user", "content": render_prompt(*p, self.prompt_path)}])
                    for i, p in enumerate(pairs)]
        for c in self.generator.generate(requests, SamplingParams(max_new_tokens=self.max_new_tokens)):
            yield int(c.id), parse_verdict(c.text)


class LogprobJudge:
    """A local model judges by the next-token probability of ``a`` vs ``b`` after ``Output (``."""

    warning = WEAK_JUDGE_WARNING

    def __init__(self, spec: str | None = None, prompt_path: str | Path | None = None,
                 max_prompt_tokens: int = 4096, model=None, tokenizer=None, name: str | None = None):
        if model is None:
            from sdft import models

            model, tokenizer = models.load(spec)
        self.model, self.tok = model, tokenizer
        self.prompt_path = prompt_path
        self.max_prompt_tokens = max_prompt_tokens
        self.name = name or f"local:{spec or 'model'}"
        self._ids = [self._single_token(c) for c in ("a", "b")]

    def _single_token(self, text: str) -> int:
        ids = self.tok.encode(text, add_special_tokens=False)
        if len(ids) != 1:
            raise ConfigError(f"local judge: {text!r} is not one token for this tokenizer ({ids})")
        return ids[0]

    def compare(self, instruction: str, output_a: str, output_b: str) -> str:
        prompt = render_prompt(instruction, output_a, output_b, self.prompt_path)
        la, lb = next_token_logprobs(self.model, self.tok, prompt, "Output (", self._ids, self.max_prompt_tokens)
        return "a" if la > lb else "b" if lb > la else "tie"

    def verdicts(self, pairs: Sequence[Pair]) -> Iterator[tuple[int, str]]:
        for i, p in enumerate(pairs):
            yield i, self.compare(*p)


def make_judge(opts: JudgeOptions) -> Judge:
    """The judge ``opts`` name: ``openai`` is a :class:`GeneratorJudge` over the openai backend,
    ``local`` or a model spec (alias, dir, .gguf) a :class:`LogprobJudge`."""
    if opts.judge != "openai":
        from sdft.models import DEFAULT_MODEL

        spec = None if opts.judge == "local" else opts.judge
        return LogprobJudge(spec, prompt_path=opts.judge_prompt, name=f"local:{spec or DEFAULT_MODEL}")
    gen, name = endpoint_generator(judge_endpoint(opts), who="judge")
    return GeneratorJudge(gen, name=name, prompt_path=opts.judge_prompt)
