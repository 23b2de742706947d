"""Hub paths without the hub: the calls pushes make (a recording HfApi), the model card, hub
adapters offline, and the base model an adapter records."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sdft import hub, models


class FakeApi:
    """Stands in for huggingface_hub.HfApi: records create_repo and what upload_folder would send."""

    calls: list[tuple[str, dict]] = []

    def create_repo(self, repo_id, **kw):
        FakeApi.calls.append(("create_repo", {"repo_id": repo_id, **kw}))

    def upload_folder(self, *, repo_id, folder_path, commit_message, ignore_patterns=None, repo_type=None):
        from huggingface_hub.utils import filter_repo_objects

        root = Path(folder_path)
        files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        sent = sorted(filter_repo_objects(files, ignore_patterns=ignore_patterns))
        readme = (root / "README.md").read_text() if "README.md" in sent else None
        FakeApi.calls.append(("upload_folder", {"repo_id": repo_id, "repo_type": repo_type, "files": sent,
                                                "commit_message": commit_message, "readme": readme}))
        return type("Commit", (), {"commit_url": f"https://huggingface.co/{repo_id}/commit/abc"})()


@pytest.fixture
def fake_api(monkeypatch):
    import huggingface_hub

    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    return FakeApi


def _train_folder(tmp_path: Path, model="smollm2-135m", full=False) -> Path:
    d = tmp_path / "train"
    for sub in ("checkpoints/checkpoint-2", "snapshots/step-1", "merged"):
        (d / sub).mkdir(parents=True)
    (d / "checkpoints" / "checkpoint-2" / "optimizer.pt").write_text("x")
    (d / "snapshots" / "step-1" / "adapter_config.json").write_text("{}")
    (d / "merged" / "config.json").write_text("{}")
    (d / "merged" / "model.safetensors").write_text("w")
    (d / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/root/.cache/sdft/models/x"}))
    (d / "adapter_model.safetensors").write_text("w")
    (d / ".done").write_text("key\n")
    cfg = {"model": model, "data": "runs/x/data/sdft-1/train.jsonl", "full": full, "lora_r": 8, "lora_alpha": 16,
           "lora_dropout": 0.05, "lora_targets": ["q_proj", "v_proj"], "lr": 1e-4, "scheduler": "cosine",
           "batch_size": 2, "grad_accum": 4, "max_length": 1024, "method": "sft"}
    (d / "train_config.json").write_text(json.dumps({"config": cfg, "task": "gsm8k", "provenance": {
        "git": "abc123", "versions": {"transformers": "5.24.0"}}}))
    (d / "train_summary.json").write_text(json.dumps({"n_examples": 48, "epochs": 2.0, "steps": 12,
                                                      "final_loss": 0.71, "method_label": "sft"}))
    return d


RESULTS = {"benchmarks": {"gsm8k": {"metric": "accuracy", "score": 0.265, "ci95": [0.205, 0.33], "n": 200},
                          "advbench": {"metric": "refusal", "score": 0.7, "ci95": [0.635, 0.765], "n": 200}}}


def test_publish_training_pushes_adapter_and_merged_with_cards(tmp_path, fake_api):
    d = _train_folder(tmp_path)
    urls = hub.publish_training(d, "me/smol-sdft", "me/smol-sdft-merged", private=True, results=RESULTS,
                                method="sdft", title="sdft on gsm8k")
    assert urls == {"adapter": "https://huggingface.co/me/smol-sdft/commit/abc",
                    "merged": "https://huggingface.co/me/smol-sdft-merged/commit/abc"}
    (c1, a), (c2, up), (c3, m), (c4, up_m) = [(n, kw) for n, kw in fake_api.calls]
    assert (c1, c2, c3, c4) == ("create_repo", "upload_folder", "create_repo", "upload_folder")
    assert a == {"repo_id": "me/smol-sdft", "repo_type": "model", "private": True, "exist_ok": True}
    assert m["repo_id"] == "me/smol-sdft-merged" and m["private"] is True
    assert up["files"] == ["README.md", "adapter_config.json", "adapter_model.safetensors", "train_config.json",
                           "train_summary.json"]  # no checkpoints, snapshots, merged copy or marker
    assert up["commit_message"] == "sdft: sdft fine-tune of smollm2-135m"
    assert up_m["files"] == ["README.md", "config.json", "model.safetensors"]
    card = up["readme"]
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card and "library_name: peft" in card
    assert "| method | sdft |" in card and "runs/x/data/sdft-1/train.jsonl" in card and "48 examples" in card
    assert "| gsm8k | accuracy | 26.5 | [20.5, 33.0] | 200 |" in card
    assert "| advbench | refusal | 70.0 | [63.5, 76.5] | 200 |" in card
    assert "AutoPeftModelForCausalLM" in card
    assert "library_name: transformers" in up_m["readme"] and "merged model" in up_m["readme"]


def test_public_repo_and_unevaluated_card(tmp_path, fake_api):
    d = _train_folder(tmp_path, model="./local/model")
    hub.publish_training(d, "me/public", private=False)
    assert fake_api.calls[0][1]["private"] is False
    card = fake_api.calls[1][1]["readme"]
    assert "base_model:" not in card and "no public hub id known" in card and "Not evaluated yet" in card


def test_push_failure_is_a_clear_error(tmp_path, monkeypatch):
    import huggingface_hub

    class Offline:
        def create_repo(self, *a, **k):
            raise ConnectionError("Failed to resolve 'huggingface.co'")

    monkeypatch.setattr(huggingface_hub, "HfApi", Offline)
    with pytest.raises(hub.HubError, match=r"push to model repo me/x failed \(offline.*Failed to resolve"):
        hub.push_folder(tmp_path, "me/x", commit_message="m")
    d = _train_folder(tmp_path)
    (d / "merged" / "config.json").unlink()
    with pytest.raises(hub.HubError, match="no merged model"):
        hub.publish_training(d, None, "me/m")


def test_hub_ids_and_recorded_base_model(tmp_path):
    assert models.hub_id("smollm2-135m") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert models.hub_id(None) == "HuggingFaceTB/SmolLM2-135M-Instruct"  # the default model
    assert models.hub_id("qwen2.5-coder-0.5b") == "Qwen/Qwen2.5-Coder-0.5B-Instruct"
    assert models.hub_id("meta-llama/Llama-2-7b-chat-hf") == "meta-llama/Llama-2-7b-chat-hf"
    assert models.hub_id(str(tmp_path)) is None and models.hub_id("m.gguf") is None
    d = _train_folder(tmp_path)
    models.record_base_model(d, "qwen2.5-coder-0.5b")
    cfg = json.loads((d / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == "Qwen/Qwen2.5-Coder-0.5B-Instruct"
    models.record_base_model(d, str(tmp_path))  # a local model: left as it was
    assert json.loads((d / "adapter_config.json").read_text()) == cfg


def test_hub_adapter_is_downloaded_or_a_clear_error_offline(tmp_path, monkeypatch):
    import huggingface_hub

    local = tmp_path / "adapter"
    local.mkdir()
    assert models.resolve_adapter(str(local)) == str(local)
    assert models.resolve_adapter(None) is None
    got = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda repo, revision=None: got.append((repo, revision)) or str(local))
    assert models.resolve_adapter("me/adapter@v2") == str(local) and got == [("me/adapter", "v2")]

    def offline(repo, revision=None):
        raise huggingface_hub.errors.LocalEntryNotFoundError("Cannot find the requested files in the local cache")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(models.ModelError, match=r"adapter me/adapter: no such local folder, and the Hugging Face "
                                                r"hub did not give it \(offline.*hf download me/adapter"):
        models.resolve_adapter("me/adapter")
    with pytest.raises(models.ModelError, match="no such folder"):
        models.resolve_adapter("./runs/a/b/missing")


def test_merge_saved_loads_on_the_training_device_not_the_cpu(tmp_path, monkeypatch):
    """On a GPU machine the merge runs where training ran, so ``dtype: auto`` resolves against the
    GPU (bf16) instead of the host CPU's bf16 instructions (float32 on a CPU without them)."""
    asked = {}

    class Stop(Exception):
        pass

    def load(spec, **kw):
        asked.update(kw, spec=spec)
        raise Stop

    monkeypatch.setattr(models, "load", load)
    monkeypatch.setattr(models, "default_device", lambda: "cuda")
    with pytest.raises(Stop):
        hub.merge_saved("base-model", tmp_path, "auto")
    assert asked["device"] == "cuda" and asked["dtype"] == "auto" and asked["adapter"] == str(tmp_path)


def test_a_merged_push_merges_a_folder_trained_without_merge_first(tmp_path, fake_api, monkeypatch):
    d = _train_folder(tmp_path)
    shutil.rmtree(d / "merged")  # trained before push_merged was set
    merged = []

    def merge(spec, out, dtype="auto"):
        merged.append((spec, Path(out), dtype))
        (Path(out) / "merged").mkdir()
        (Path(out) / "merged" / "config.json").write_text("{}")

    monkeypatch.setattr(hub, "merge_saved", merge)
    urls = hub.push_training(d, "smollm2-135m", "bfloat16", None, "me/smol-merged")
    assert merged == [("smollm2-135m", d, "bfloat16")] and set(urls) == {"merged"}
    hub.push_training(d, "smollm2-135m", "bfloat16", None, "me/smol-merged")  # merged already: not again
    assert len(merged) == 1
