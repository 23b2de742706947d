"""Token rows of a conversation: the prompt convention evaluation uses, loss on the response
only, bad data."""

from __future__ import annotations

import pytest

from sdft.data.chat import tokenize
from sdft.data.records import DataError, Example


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    from sdft import models

    return models.load_tokenizer(tiny_model_dir, padding_side="right")


def _ex(i, instruction="What is 2 plus 3?", response="2 plus 3 is 5. The answer is 5.", **kw):
    return Example(id=f"ex-{i}", instruction=instruction, response=response, **kw)


def test_labels_decode_to_the_response_and_prompt_is_the_generation_prompt(tok):
    from sdft.models import render_chat

    ex = _ex(0, input="Show the sum.", history=[("Hi", "Hello!")])
    row = tokenize(tok, [ex], max_length=512).rows[0]
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
    row = tokenize(tok, [ex], max_length=512).rows[0]
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
        tokenize(tok, [_ex(3)], max_length=512)
    # A template with no end-of-turn marker: the model could never learn to stop.
    tok.chat_template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                         "{% if add_generation_prompt %}assistant:{% endif %}")
    with pytest.raises(ModelError, match=r"ex-4.*no end-of-turn marker"):
        tokenize(tok, [_ex(4)], max_length=512)


def test_empty_response_is_an_error_naming_the_record(tok):
    with pytest.raises(DataError, match=r"ex-7.*response"):
        tokenize(tok, [_ex(1), _ex(7, response="  ")], max_length=512, where="f.jsonl")


def test_long_response_truncated_and_long_prompt_dropped_are_counted(tok):
    long_resp = _ex(1, response="word " * 300)
    long_prompt = _ex(2, instruction="question " * 300)
    prep = tokenize(tok, [_ex(0), long_resp, long_prompt], max_length=100)
    assert prep.n_examples == 3 and prep.n_truncated == 1 and prep.dropped_ids == ["ex-2"]
    assert [len(r["input_ids"]) <= 100 for r in prep.rows] == [True, True]
    assert len(prep.rows[1]["input_ids"]) == 100
    assert prep.rows[1]["labels"][-1] != tok.eos_token_id  # the cut response has no EOS
    with pytest.raises(DataError, match="max_length"):
        tokenize(tok, [long_prompt], max_length=100)
