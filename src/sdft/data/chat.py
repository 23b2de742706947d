"""A conversation as token rows, with the prompt convention evaluation uses: what training
learns from and what the NLL gap (:mod:`sdft.distill.gap`) scores.

A row is ``input_ids`` = prompt tokens + completion tokens and ``labels`` = -100 over the
prompt, so the loss covers the assistant turn only. The prompt is exactly what ``sdft
generate`` feeds the model (:func:`sdft.models.render_chat` of ``example.messages()``: chat
template, model default system prompt, generation prompt). The completion is what the same
chat template writes after that prompt when the response is added as the assistant's turn: the
response and the template's own end-of-turn marker (``<|im_end|>`` for SmolLM2 and Qwen,
``<end_of_turn>`` for Gemma, ``<|end|>`` for Phi-3: not always the tokenizer's EOS), with the
whitespace the template puts between turns trimmed (generation stops at the marker, so the
model never emits it). Both halves are tokenized separately with ``add_special_tokens=False``:
the prompt tokens are then identical to the ones the model sees at generation time, at the
cost of a token boundary that a joint tokenization might have merged (harmless here: templates
end the prompt on a newline or a marker).

A template whose render of the conversation does not start with its render of the prompt
(some rewrite earlier turns once an answer follows), or that writes nothing after the
response, cannot give labels that match generation: that is a ModelError naming the record.

Bad data: an empty response is an error naming the record. A response that does not fit in
``max_length`` is cut (the end-of-turn marker goes with it) and counted as truncated; a prompt
that leaves no room for a single response token is dropped and counted. Both counts go to
train_summary.json.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from sdft.data.records import Example
from sdft.errors import DataError, ModelError

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    rows: list[dict]
    n_examples: int = 0
    n_truncated: int = 0
    dropped_ids: list[str] = field(default_factory=list)

    @property
    def n_tokens(self) -> int:
        return sum(len(r["input_ids"]) for r in self.rows)


def check_answers(examples: list[Example], where: str = "data") -> None:
    """A training example needs an answer: name the first record without one."""
    for e in examples:
        if not (e.response or "").strip():
            raise DataError(f"{where}: record {e.id!r}: its answer (the `output` / `response` field) is empty")


def _completion_text(tok, example: Example, prompt: str, where: str = "data") -> str:
    """What the chat template writes after ``prompt`` for ``example``'s response: the response
    and the template's end-of-turn marker, without trailing whitespace."""
    messages = [*example.messages(), {"role": "assistant", "content": example.response}]
    full = tok.apply_chat_template(messages, tokenize=False)
    if not full.startswith(prompt):
        at = len(os.path.commonprefix([prompt, full]))
        raise ModelError(f"{where}: record {example.id!r}: the chat template renders the prompt differently once "
                         f"the answer is added (from character {at}: {prompt[at:at + 40]!r} vs "
                         f"{full[at:at + 40]!r}), so training labels cannot follow the generation prompt")
    completion = full[len(prompt):].rstrip()
    if completion.endswith(example.response.strip()):
        raise ModelError(f"{where}: record {example.id!r}: the chat template writes no end-of-turn marker after "
                         "the answer, so a model trained on it would not learn to stop")
    return completion


def tokenize(tok, examples: list[Example], max_length: int, where: str = "data") -> Prepared:
    """Rows of ``input_ids``/``labels`` (see the module docstring for the rules)."""
    from sdft.models import render_chat

    check_answers(examples, where)
    out = Prepared(rows=[], n_examples=len(examples))
    prompts = [render_chat(tok, e.messages()) for e in examples]
    completions = [_completion_text(tok, e, p, where) for e, p in zip(examples, prompts)]
    p_ids = tok(prompts, add_special_tokens=False)["input_ids"]
    c_ids = tok(completions, add_special_tokens=False)["input_ids"]
    for e, p, c in zip(examples, p_ids, c_ids):
        room = max_length - len(p)
        if room < 1:
            out.dropped_ids.append(e.id)
            continue
        if len(c) > room:
            c = c[:room]
            out.n_truncated += 1
        out.rows.append({"id": e.id, "input_ids": list(p) + list(c), "labels": [-100] * len(p) + list(c)})
    if out.dropped_ids:
        log.warning("%s: dropped %d example(s) whose prompt fills max_length=%d: %s%s", where,
                    len(out.dropped_ids), max_length, ", ".join(out.dropped_ids[:5]),
                    " ..." if len(out.dropped_ids) > 5 else "")
    if not out.rows:
        raise DataError(f"{where}: every prompt is at least max_length={max_length} tokens; raise --max-length")
    return out
