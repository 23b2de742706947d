"""The one prompt loader: packaged files by name, and an unknown name is an error listing its kin."""

from __future__ import annotations

import pytest

from sdft import prompts
from sdft.distill.templates import TEMPLATES
from sdft.errors import ConfigError


def test_every_distillation_template_and_the_judge_prompt_are_packaged():
    assert set(TEMPLATES.values()) | {"judge_pairwise.txt"} <= set(prompts.names())
    assert "__init__.py" not in prompts.names()
    assert prompts.names("eval_math_") == ["eval_math_cot.yaml", "eval_math_paper.yaml"]
    assert "Below are a math question and its reference answer." in prompts.read("distill_math.yaml")


def test_unknown_prompt_names_the_files_of_its_family():
    with pytest.raises(ConfigError, match=r"'eval_nope.yaml'.*known: eval_advbench_alpaca.yaml, ") as e:
        prompts.read("eval_nope.yaml")
    known = str(e.value).split("known: ", 1)[1].split(", ")
    assert known and all(name.startswith("eval_") for name in known)  # only its family, no distill_*
    with pytest.raises(ConfigError):
        prompts.read("__init__.py")  # code beside the data is not a prompt
