"""A deterministic generator for tests: no model, answers from a function or a table."""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

from sdft.generation.base import Completion, Request, SamplingParams


class FakeGenerator:
    """``respond(request) -> str`` decides each answer (default: echo the last user turn).

    Stop strings and ``max_new_tokens`` (counted in whitespace-separated words) are applied
    the way a real backend applies them, so callers' handling of both can be tested.
    """

    def __init__(self, respond: Callable[[Request], str] | dict[str, str] | None = None):
        if isinstance(respond, dict):
            table = respond
            respond = lambda r: table.get(r.id, "")  # noqa: E731
        self.respond = respond or (lambda r: r.messages[-1]["content"])
        self.calls: list[list[Request]] = []

    def generate(self, requests: Sequence[Request], sampling: SamplingParams) -> Iterator[Completion]:
        self.calls.append(list(requests))
        for r in requests:
            text = self.respond(r)
            finish = "stop"
            for s in sampling.stop:
                if s and s in text:
                    text = text[: text.index(s)]
            words = text.split(" ")
            if len(words) > sampling.max_new_tokens:
                text, finish = " ".join(words[: sampling.max_new_tokens]), "length"
            prompt = "".join(f"<{m['role']}>{m['content']}" for m in r.messages) + r.prefill
            yield Completion(r.id, text, num_tokens=len(text.split()), finish_reason=finish, prompt=prompt)
