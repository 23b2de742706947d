"""On-policy self-distillation (``method=onpolicy``): TRL's experimental ``SDFTTrainer``
(Shenfeld et al. 2026), its rows and its teacher's prompt.

A row keeps the conversation as messages plus the reference response as TRL's
``privileged_context``; the teacher sees the last user turn rewritten by a distillation template
(:func:`teacher_template`: the configured one, else the task's, as :mod:`sdft.distill` uses).
Rows whose student or teacher prompt would not fit ``max_length`` are dropped and counted, so
TRL never cuts a prompt.
"""

from __future__ import annotations

from sdft.data.chat import Prepared, check_answers
from sdft.data.records import Example
from sdft.errors import DataError
from sdft.train.config import TrainConfig

# Fallback teacher prompt when the distillation templates cannot be loaded (same shape).
FALLBACK_TEACHER = "{prompt}\n\n{privileged_context}"
_P, _R = "\x00PROMPT\x00", "\x00REFERENCE\x00"


def teacher_template(task: str | None, template: str | None = None) -> str:
    """TRL's ``teacher_prompt_template`` for on-policy SDFT, built from the distillation template
    ``template`` (else the one the task uses: ``using``/``refer``/``math``, see
    :mod:`sdft.distill.templates`).

    TRL replaces only the last user turn and keeps the student's system message, so the
    template's system text is folded into the teacher's user turn; its assistant prefill is
    not used (TRL's teacher sees the student's completion, never a prefill).
    """
    try:
        from sdft.distill.templates import load_template, template_for
    except ImportError:
        return FALLBACK_TEACHER
    tpl = load_template(template_for(task, template))
    user = tpl.render_user(Example(id="teacher", instruction=_P, response=_R))
    text = f"{tpl.system}\n\n{user}" if tpl.system else user
    # str.format runs over the result: escape the template's own braces, keep ours.
    text = text.replace("{", "{{").replace("}", "}}")
    if _P not in text or _R not in text:
        raise DataError(f"template {tpl.name}: it must show both the instruction and the reference")
    return text.replace(_P, "{prompt}").replace(_R, "{privileged_context}")


def template_override(task: str | None, template: str | None) -> str | None:
    """``template`` where it gives the teacher another prompt than the task's own template (the
    trainer's default), else None: a config naming the task's own template trains as one naming
    none, under the same stage key."""
    from sdft.distill.templates import template_for

    return template if template_for(task, template) != template_for(task, None) else None


def teacher_messages(messages: list[dict], reference: str, teacher: str) -> list[dict]:
    """The teacher's conversation as TRL's SDFTTrainer builds it: the student's earlier messages,
    then the last user turn rewritten by ``teacher`` (a :func:`teacher_template`)."""
    return [*messages[:-1], {"role": "user", "content": teacher.format(prompt=messages[-1]["content"],
                                                                        privileged_context=reference)}]


def onpolicy_rows(tok, examples: list[Example], max_length: int, where: str = "data",
                  teacher: str = FALLBACK_TEACHER) -> Prepared:
    """Rows for TRL's SDFTTrainer: the conversation and the demonstration it may condition on.

    A row is dropped (and counted) when the student's prompt or the teacher's prompt (the
    ``teacher`` template around the instruction and the demonstration) reaches ``max_length``
    tokens: the trainer then runs without a prompt limit, so no prompt is ever cut."""
    from sdft.models import render_chat

    check_answers(examples, where)
    out = Prepared(rows=[], n_examples=len(examples))
    for e in examples:
        n_prompt = len(tok(render_chat(tok, e.messages()), add_special_tokens=False)["input_ids"])
        n_teacher = len(tok(render_chat(tok, teacher_messages(e.messages(), e.response, teacher)),
                            add_special_tokens=False)["input_ids"])
        if max(n_prompt, n_teacher) >= max_length:
            out.dropped_ids.append(e.id)
            continue
        out.rows.append({"prompt": e.messages(), "privileged_context": e.response})
    if not out.rows:
        raise DataError(f"{where}: every prompt is at least max_length={max_length} tokens; raise --max-length")
    return out


def onpolicy_trainer(cfg: TrainConfig, model, tok, prepared: Prepared, common: dict, callbacks: list, teacher: str,
                     peft_config):
    """TRL's SDFTTrainer with ``common`` TrainingArguments; ``teacher``: a :func:`teacher_template`."""
    from datasets import Dataset
    from trl.experimental.sdft import SDFTConfig, SDFTTrainer

    args = SDFTConfig(
        **common,
        # TRL cuts every prompt longer than this from the left, the teacher's too (its system text
        # and instruction would go first); onpolicy_rows drops such rows, so nothing is cut.
        max_prompt_length=None,
        max_completion_length=cfg.max_completion_length,
        num_generations=cfg.num_generations,
        temperature=cfg.temperature,
        teacher_model_kind=cfg.teacher,
        distillation_mode=cfg.distillation_mode,
        distillation_alpha=distillation_alpha(cfg),
        distillation_topk=cfg.distillation_topk,
        teacher_prompt_template=teacher,
        include_num_input_tokens_seen="no",
    )
    ds = Dataset.from_list(prepared.rows)
    return SDFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok,
                       peft_config=peft_config, callbacks=callbacks)


def distillation_alpha(cfg: TrainConfig) -> float:
    """TRL's default divergence unless set: JSD 0.5, or reverse KL for sampled_token (its only one)."""
    if cfg.distillation_alpha is not None:
        return cfg.distillation_alpha
    return 1.0 if cfg.distillation_mode == "sampled_token" else 0.5
