"""The one record type every stage passes around.

An :class:`Example` is a conversation that ends in a user turn (``system``, earlier
``history`` turns, then ``instruction`` with its optional ``input``) plus the reference
``response`` the dataset gives for it. Loaders of every format produce it; distillation
rewrites ``response``; training and evaluation render ``messages()`` through the model's
chat template. Benchmarks that need more (choices, tests, a gold label) keep it in ``meta``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sdft.errors import DataError as DataError  # re-exported: the old import path keeps working


@dataclass
class Example:
    id: str
    instruction: str
    response: str = ""
    input: str = ""
    system: str | None = None
    history: list[tuple[str, str]] = field(default_factory=list)
    task: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def user_text(self) -> str:
        """The last user turn: the instruction, then the input after a blank line (Alpaca style)."""
        if self.input:
            return f"{self.instruction}\n\n{self.input}"
        return self.instruction

    def messages(self, system: str | None = None) -> list[dict[str, str]]:
        """Chat messages up to and including the last user turn.

        ``system`` overrides the record's own system message; when both are None the model's
        chat template decides (SmolLM2 and Qwen insert their default system prompt).
        """
        out: list[dict[str, str]] = []
        sys_msg = system if system is not None else self.system
        if sys_msg:
            out.append({"role": "system", "content": sys_msg})
        for user, assistant in self.history:
            out.append({"role": "user", "content": user})
            out.append({"role": "assistant", "content": assistant})
        out.append({"role": "user", "content": self.user_text()})
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["history"] = [list(turn) for turn in self.history]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Example:
        d = dict(d)
        d["history"] = [tuple(turn) for turn in d.get("history") or []]
        return cls(**d)
