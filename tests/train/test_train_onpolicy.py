"""On-policy self-distillation: the teacher's prompt (the configured distillation template, else
the task's), the rows and their length rule, and TRL's SDFTTrainer on the tiny random model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdft.data.records import Example
from sdft.train import TrainConfig, onpolicy, run_train

DATA = str(Path(__file__).resolve().parents[1] / "fixtures" / "train" / "toy_math.jsonl")
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    from sdft import models

    return models.load_tokenizer(tiny_model_dir, padding_side="right")


def _cfg(model, out, **kw) -> TrainConfig:
    base = dict(model=model, data=DATA, out=str(out), method="onpolicy", batch_size=2, grad_accum=1,
                max_length=256, save_steps=100, scheduler="constant", dtype="float32", max_steps=2,
                num_generations=2, max_completion_length=6)
    return TrainConfig(**{**base, **kw})


def test_teacher_template_comes_from_the_distillation_template():
    math = onpolicy.teacher_template("gsm8k")
    using = onpolicy.teacher_template("alpaca")
    assert "math question" in math and "math question" not in using and "as a guide" in using
    text = using.format(prompt="Name a colour.", privileged_context="Blue {not a field}.")
    assert text.index("Name a colour.") < text.index("Blue {not a field}.")


def test_onpolicy_rows_keep_messages_and_the_demonstration(tok):
    ex = Example(id="ex-0", instruction="What is 2 plus 3?", response="2 plus 3 is 5. The answer is 5.",
                 system="Be brief.")
    prep = onpolicy.onpolicy_rows(tok, [ex], max_length=512)
    row = prep.rows[0]
    assert row["prompt"] == [{"role": "system", "content": "Be brief."},
                             {"role": "user", "content": "What is 2 plus 3?"}]
    assert row["privileged_context"] == "2 plus 3 is 5. The answer is 5."


def test_the_trainer_gives_the_teacher_the_configured_template(tiny_model_dir, tmp_path, monkeypatch):
    """teacher_template reaches TRL's teacher prompt (it used to be the task's template whatever
    was configured); unset, the task's own (toy_math's rows name no task: using)."""
    from trl.experimental import sdft as trl_sdft

    seen = []

    class Stop(Exception):
        pass

    def record(*a, args, **kw):
        seen.append(args.teacher_prompt_template)
        raise Stop

    monkeypatch.setattr(trl_sdft, "SDFTTrainer", record)
    for i, template in enumerate(["refer", None]):
        with pytest.raises(Stop):
            run_train(_cfg(tiny_model_dir, tmp_path / str(i), teacher_template=template))
    assert seen == [onpolicy.teacher_template(None, "refer"), onpolicy.teacher_template(None)]
    assert seen[0] != seen[1]


def test_onpolicy_trains_with_its_knobs_and_counts_generation(tiny_model_dir, tmp_path):
    out = tmp_path / "onpolicy"
    s = run_train(_cfg(tiny_model_dir, out, max_steps=8, lr=0.1, limit=8, distillation_mode="full_logits",
                       distillation_alpha=0.0, max_length=128, lora_alpha=64, lora_targets=ALL_LINEAR))
    cfg = json.loads((out / "train_config.json").read_text())["config"]
    assert cfg["distillation_alpha"] == 0.0 and cfg["distillation_mode"] == "full_logits"
    losses = [json.loads(line)["loss"] for line in (out / "train_log.jsonl").read_text().splitlines()]
    # No falling-loss check here: the teacher is the seed itself, and a random model barely reads
    # the demonstration, so the divergence starts near 0 (about 1e-5) and has nowhere to fall.
    assert len(losses) == 8 and all(0 <= x < 1 for x in losses)
    # sampling decodes token by token: many more trunk forwards than backward passes
    assert s["cost"]["forward_passes"] > 2 * s["cost"]["backward_passes"] > 0


def test_onpolicy_drops_rows_whose_teacher_prompt_would_be_cut(tiny_model_dir):
    from transformers import AutoTokenizer


    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    short = Example(id="short", instruction="What is 2 plus 2?", response="4")
    long = Example(id="long", instruction="What is 2 plus 2?", response="four " * 200)
    p = onpolicy.onpolicy_rows(tok, [short, long], 128, teacher=onpolicy.teacher_template("gsm8k"))
    assert p.dropped_ids == ["long"] and len(p.rows) == 1
    # the kept row's teacher prompt fits whole: nothing for TRL to cut
    msgs = onpolicy.teacher_messages(short.messages(), short.response, onpolicy.teacher_template("gsm8k"))
    from sdft.models import render_chat

    assert len(tok(render_chat(tok, msgs), add_special_tokens=False)["input_ids"]) < 128
