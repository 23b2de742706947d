"""Training rows: the prompt convention evaluation uses, loss on the response only, bad data."""

from __future__ import annotations

import json

import pytest

from sdft.config import ConfigError, from_dict
from sdft.data.records import DataError, Example
from sdft.train import TrainConfig
from sdft.train import data as tdata


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    from sdft import models

    return models.load_tokenizer(tiny_model_dir, padding_side="right")


def _ex(i, instruction="What is 2 plus 3?", response="2 plus 3 is 5. The answer is 5.", **kw):
    return Example(id=f"ex-{i}", instruction=instruction, response=response, **kw)


def test_labels_decode_to_the_response_and_prompt_is_the_generation_prompt(tok):
    from sdft.models import render_chat

    ex = _ex(0, input="Show the sum.", history=[("Hi", "Hello!")])
    row = tdata.tokenize(tok, [ex], max_length=512).rows[0]
    prompt_len = row["labels"].count(-100)
    # The prompt half is token-for-token what `sdft generate` feeds the model.
    expected_prompt = tok(render_chat(tok, ex.messages()), add_special_tokens=False)["input_ids"]
    assert row["input_ids"][:prompt_len] == expected_prompt
    assert all(lbl == -100 for lbl in row["labels"][:prompt_len])
    trained = [t for t in row["labels"] if t != -100]
    assert tok.decode(trained) == ex.response + "<|im_end|>"
    # The default system prompt and the earlier turn are context, never targets.
    assert "SmolLM" in tok.decode(row["input_ids"][:prompt_len])
    assert "Hello!" not in tok.decode(trained)


# Gemma-like: the assistant's turn is "model" and ends in a marker that is not the tokenizer's
# EOS (<|endoftext|>, a real special token of SmolLM2's vocabulary; its EOS is <|im_end|>).
GEMMA_LIKE = ("{% for m in messages %}<|im_start|>{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n"
              "{{ m['content'] }}<|endoftext|>\n{% endfor %}"
              "{% if add_generation_prompt %}<|im_start|>model\n{% endif %}")


@pytest.fixture
def fresh_tok(tiny_model_dir):
    from sdft import models

    return models.load_tokenizer(tiny_model_dir, padding_side="right")  # its chat template may be replaced


def test_labels_end_in_the_templates_end_of_turn_marker_not_the_eos(fresh_tok):
    from sdft.models import render_chat

    tok = fresh_tok
    tok.chat_template = GEMMA_LIKE
    ex = _ex(0)
    row = tdata.tokenize(tok, [ex], max_length=512).rows[0]
    prompt_len = row["labels"].count(-100)
    assert row["input_ids"][:prompt_len] == tok(render_chat(tok, ex.messages()), add_special_tokens=False)["input_ids"]
    trained = row["labels"][prompt_len:]
    assert tok.decode(trained) == ex.response + "<|endoftext|>"  # no newline after the marker: never generated
    assert trained[-1] == tok.convert_tokens_to_ids("<|endoftext|>") != tok.eos_token_id
    assert tok.eos_token_id not in trained


def test_a_template_whose_labels_cannot_follow_the_prompt_is_an_error_naming_the_record(fresh_tok):
    from sdft.errors import ModelError

    tok = fresh_tok
    # The generation prompt opens an "assistant" turn but the answered turn is written as "model".
    tok.chat_template = GEMMA_LIKE.replace("<|im_start|>model\n{% endif %}", "<|im_start|>assistant\n{% endif %}")
    with pytest.raises(ModelError, match=r"ex-3.*renders the prompt differently.*'assistant\\n' vs 'model\\n"):
        tdata.tokenize(tok, [_ex(3)], max_length=512)
    # A template with no end-of-turn marker: the model could never learn to stop.
    tok.chat_template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                         "{% if add_generation_prompt %}assistant:{% endif %}")
    with pytest.raises(ModelError, match=r"ex-4.*no end-of-turn marker"):
        tdata.tokenize(tok, [_ex(4)], max_length=512)


def test_empty_response_is_an_error_naming_the_record(tok):
    with pytest.raises(DataError, match=r"ex-7.*response"):
        tdata.tokenize(tok, [_ex(1), _ex(7, response="  ")], max_length=512, where="f.jsonl")


def test_long_response_truncated_and_long_prompt_dropped_are_counted(tok):
    long_resp = _ex(1, response="word " * 300)
    long_prompt = _ex(2, instruction="question " * 300)
    prep = tdata.tokenize(tok, [_ex(0), long_resp, long_prompt], max_length=100)
    assert prep.n_examples == 3 and prep.n_truncated == 1 and prep.dropped_ids == ["ex-2"]
    assert [len(r["input_ids"]) <= 100 for r in prep.rows] == [True, True]
    assert len(prep.rows[1]["input_ids"]) == 100
    assert prep.rows[1]["labels"][-1] != tok.eos_token_id  # the cut response has no EOS
    with pytest.raises(DataError, match="max_length"):
        tdata.tokenize(tok, [long_prompt], max_length=100)


def test_teacher_template_comes_from_the_distillation_template():
    math = tdata.teacher_template("gsm8k")
    using = tdata.teacher_template("alpaca")
    assert "math question" in math and "math question" not in using and "as a guide" in using
    text = using.format(prompt="Name a colour.", privileged_context="Blue {not a field}.")
    assert text.index("Name a colour.") < text.index("Blue {not a field}.")


def test_onpolicy_rows_keep_messages_and_the_demonstration(tok):
    prep = tdata.onpolicy_rows(tok, [_ex(0, system="Be brief.")], max_length=512)
    row = prep.rows[0]
    assert row["prompt"] == [{"role": "system", "content": "Be brief."},
                             {"role": "user", "content": "What is 2 plus 3?"}]
    assert row["privileged_context"] == "2 plus 3 is 5. The answer is 5."


def test_training_files_load_as_plain_data(tmp_path):
    # A plain alpaca file that names its task (what the pipeline writes) and a distilled.jsonl,
    # whose `response` is the selected answer, both load through the one data loader.
    plain = tmp_path / "train.jsonl"
    plain.write_text(json.dumps({"id": "g/1", "instruction": "a", "output": "b", "task": "gsm8k"}) + "\n")
    distilled = tmp_path / "distilled.jsonl"
    distilled.write_text(json.dumps({"id": "d/1", "task": "dolly", "instruction": "q", "input": "",
                                     "response": "rewrite", "original": "orig", "kept": True}) + "\n")
    (ex,) = tdata.load_examples(str(plain))
    assert (ex.id, ex.response, ex.task) == ("g/1", "b", "gsm8k") and "task" not in ex.meta
    (ex,) = tdata.load_examples(str(distilled))
    assert (ex.id, ex.response, ex.task, ex.meta["original"]) == ("d/1", "rewrite", "dolly", "orig")
    assert tdata.task_of(tdata.load_examples(str(plain))) == "gsm8k"


def test_config_presets_and_errors():
    cfg = TrainConfig(data="gsm8k", out="x")
    assert (cfg.lora_r, cfg.lora_alpha, cfg.lora_targets, cfg.lr, cfg.scheduler,
            cfg.batch_size, cfg.grad_accum) == (8, 16, ["q_proj", "v_proj"], 1e-4, "cosine", 2, 4)
    tasks = ("gsm8k", "openfunction", "alpaca", "dolly", "lima", "codealpaca", "magicoder", "my_file", None)
    assert [cfg.resolved_epochs(t) for t in tasks] == [5, 5, 2, 2, 2, 2, 2, 2, 2]
    assert TrainConfig(epochs=1.5).resolved_epochs("gsm8k") == 1.5
    with pytest.raises(ConfigError, match="method"):
        TrainConfig(data="d", out="o", method="ppo").validate()
    # models.DTYPES less float16 (it would need loss scaling): one list, checked before loading
    TrainConfig(data="d", out="o", dtype="bfloat16").validate()
    with pytest.raises(ConfigError, match="float16 would need loss scaling"):
        TrainConfig(data="d", out="o", dtype="float16").validate()
    with pytest.raises(ConfigError, match="lora_rank"):
        from_dict(TrainConfig, {"lora_rank": 4}, "train.yaml")
    assert from_dict(TrainConfig, {"lora_targets": "q_proj,k_proj"}).lora_targets == ["q_proj", "k_proj"]


def test_cli_reports_bad_input_in_one_line(tmp_path, capsys):
    from sdft.cli import main

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"instruction": "q", "output": ""}) + "\n")
    assert main(["train", "--data", str(tmp_path / "missing.json"), "--out", str(tmp_path / "o")]) == 2
    assert "missing.json" in capsys.readouterr().err
    assert main(["train", "--data", str(bad), "--out", str(tmp_path / "o1")]) == 2
    err = capsys.readouterr().err.strip()
    assert "bad.jsonl" in err and "output" in err and len(err.splitlines()) == 1, err
    assert main(["train", "--data", "x", "--out", str(tmp_path / "o2"), "--method", "rl"]) == 2
    assert "method" in capsys.readouterr().err
