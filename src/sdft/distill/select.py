"""Selection: keep a rewrite only when it is faithful, otherwise fall back to the original.

The rules are the SDFT authors' (``gen_distilled_data.py``): a rewrite that parrots the
distillation template is dropped, and for tasks with a checkable answer the rewrite must give
the reference's answer. We add two rules the authors' pipeline got implicitly or not at all:
empty rewrites and rewrites cut off at the token limit are dropped too.

Task checks are plain functions ``check(rewrite, reference) -> bool`` in :data:`CHECKS`;
each task's entry (:data:`sdft.data.tasks.TASKS`) names one and a config field can override it.

Limits: the code check only looks for a fenced block (the paper's MagiCoder check also
required openers like "Here is"); it does not run the code.
"""

from __future__ import annotations

from typing import Callable

from sdft.answers import call_matches, has_code_block, math_answers_equal
from sdft.data.tasks import DEFAULT_CHECK, task_entry
from sdft.errors import ConfigError

# Lower-cased phrases that show the model talking about the prompt instead of answering it.
ECHO_PHRASES: tuple[str, ...] = (
    "reference answer",
    "your response",
    "my response",
    "your own response",
    "now it's your turn",
)
ECHO_PREFIXES: tuple[str, ...] = ("Your turn",)  # case-sensitive, as in the paper

CHECKS: dict[str, Callable[[str, str], bool]] = {
    "math": math_answers_equal,          # final integers equal (paper's last-integer rule)
    "function_call": call_matches,       # a call equal to the reference call (AST)
    "code": lambda rewrite, reference: has_code_block(rewrite),
    "none": lambda rewrite, reference: True,
}


def check_for(task: str | None, override: str | None = None) -> str:
    entry = task_entry(task)
    name = override or (entry.check if entry else DEFAULT_CHECK)
    if name not in CHECKS:
        raise ConfigError(f"check: unknown check {name!r}; choose from {', '.join(CHECKS)}")
    return name


def echoes_template(rewrite: str) -> bool:
    low = rewrite.lower()
    return any(p in low for p in ECHO_PHRASES) or rewrite.startswith(ECHO_PREFIXES)


def rejection_reason(rewrite: str | None, finish_reason: str | None, reference: str, check: str) -> str:
    """The reason a rewrite is rejected (``empty``, ``truncated``, ``echo``, ``check_failed``, tested
    in that order), or ``"ok"``. ``rewrite`` is already stripped."""
    if not rewrite:
        return "empty"
    if finish_reason == "length":
        return "truncated"
    if echoes_template(rewrite):
        return "echo"
    if not CHECKS[check](rewrite, reference):
        return "check_failed"
    return "ok"
