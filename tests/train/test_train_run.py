"""Training on the tiny random model: the loss drops, adapters reload exactly, runs resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdft.train import TrainConfig, run_train

DATA = str(Path(__file__).resolve().parents[1] / "fixtures" / "train" / "toy_math.jsonl")
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PROBE = "What is 7 plus 8?"


def _cfg(model, out, **kw) -> TrainConfig:
    base = dict(model=model, data=DATA, out=str(out), batch_size=4, grad_accum=1, max_length=128,
                save_steps=100, scheduler="constant")
    return TrainConfig(**{**base, **kw})


def _log(out) -> list[dict]:
    return [json.loads(line) for line in (Path(out) / "train_log.jsonl").read_text().splitlines()]


def _probe_logits(model, tok):
    import torch

    from sdft.models import render_chat

    ids = tok(render_chat(tok, [{"role": "user", "content": PROBE}]), add_special_tokens=False,
              return_tensors="pt")["input_ids"].to(model.device)
    with torch.no_grad():
        return model(input_ids=ids).logits[0].float().cpu()


class _Capture:
    """A TrainerCallback that keeps the trained model's logits on the probe prompt."""

    def __new__(cls):
        from transformers import TrainerCallback

        class Capture(TrainerCallback):
            logits = None

            def on_train_end(self, args, state, control, model=None, processing_class=None, **kw):
                model.eval()
                Capture.logits = _probe_logits(model, processing_class)

        return Capture()


class _KillAt:
    def __new__(cls, step):
        from transformers import TrainerCallback

        class Kill(TrainerCallback):  # after the step's log line is written, before its checkpoint
            def on_log(self, args, state, control, **kw):
                if state.global_step == step:
                    raise KeyboardInterrupt("simulated kill")

        return Kill()


@pytest.mark.slow
def test_full_finetune_loss_drops_by_a_clear_margin(tiny_model_dir, tmp_path):
    s = run_train(_cfg(tiny_model_dir, tmp_path / "full", full=True, lr=1e-2, max_steps=20, dtype="float32"))
    losses = [r["loss"] for r in _log(tmp_path / "full")]
    assert [r["step"] for r in _log(tmp_path / "full")] == list(range(1, 21))
    assert sum(losses[:3]) / 3 - sum(losses[-3:]) / 3 > 3.0, losses
    assert s["steps"] == 20 and s["final_loss"] == pytest.approx(losses[-1])
    assert s["train_tokens"] == _log(tmp_path / "full")[-1]["tokens_seen"] > 0
    assert (tmp_path / "full" / "model.safetensors").exists()
    assert (tmp_path / "full" / "loss.png").stat().st_size > 5000
    cfg = json.loads((tmp_path / "full" / "train_config.json").read_text())
    assert cfg["config"]["full"] is True and "torch" in cfg["provenance"]["versions"]


@pytest.mark.parametrize("full", [False, True])
def test_bf16_training_learns_like_float32(tiny_model_dir, tmp_path, full):
    curves = {}
    for dtype in ("float32", "bfloat16"):
        s = run_train(_cfg(tiny_model_dir, tmp_path / dtype, full=full, lr=1e-2 if full else 0.3,
                           lora_alpha=64, lora_targets=ALL_LINEAR, max_steps=12, dtype=dtype))
        curves[dtype] = [r["loss"] for r in _log(tmp_path / dtype)]
        # What ran: LoRA keeps a bf16 base with a float32 adapter, full keeps float32 master weights.
        assert s["dtype"] == dtype
        assert s["weights_dtype"] == ("float32" if full or dtype == "float32" else "bfloat16")
        assert s["autocast"] is (full and dtype == "bfloat16")
        assert s["cheap_dropout_layers"] == (0 if full else 2 * len(ALL_LINEAR))  # 2 layers, all LoRA
    for losses in curves.values():  # the frozen tied head of the hidden-16 model limits what LoRA can do
        assert sum(losses[:3]) / 3 - sum(losses[-3:]) / 3 > (1.0 if full else 0.05), losses
    gap = max(abs(a - b) for a, b in zip(curves["float32"], curves["bfloat16"]))
    assert gap < (0.3 if full else 0.05), curves


def test_lora_adapter_and_merged_model_reproduce_the_trained_logits(tiny_model_dir, tmp_path, monkeypatch):
    from sdft import models

    out = tmp_path / "lora"
    cap = _Capture()
    # float32: reloading reproduces the logits exactly only where rounding is that fine.
    s = run_train(_cfg(tiny_model_dir, out, lr=5e-2, lora_r=16, lora_targets=ALL_LINEAR, max_steps=4,
                       merge=True, dtype="float32"), callbacks=[cap])
    assert s["adapter"] == "lora" and s["n_examples"] == 24 and s["n_truncated"] == s["n_dropped"] == 0
    trained = type(cap).logits
    base = _probe_logits(*models.load(tiny_model_dir, device="cpu", dtype="float32"))
    reloaded = _probe_logits(*models.load(tiny_model_dir, adapter=str(out), device="cpu", dtype="float32"))
    merged = _probe_logits(*models.load(str(out / "merged"), device="cpu", dtype="float32"))
    assert (trained - base).abs().max() > 1e-3  # the adapter changed something
    assert (reloaded - trained).abs().max() < 1e-5
    assert (merged - trained).abs().max() < 1e-4
    # A finished run folder is returned as-is, not trained again.
    assert run_train(_cfg(tiny_model_dir, out, lr=5e-2, max_steps=4))["skipped"] is True
    # push_merged added afterwards: the finished folder is merged then (not retrained) and pushed.
    import shutil

    import huggingface_hub

    pushed = []

    class Api:
        def create_repo(self, repo_id, **kw):
            pass

        def upload_folder(self, *, repo_id, folder_path, **kw):
            pushed.append((repo_id, sorted(p.name for p in Path(folder_path).iterdir())))
            return "url"

    shutil.rmtree(out / "merged")
    monkeypatch.setattr(huggingface_hub, "HfApi", Api)
    s = run_train(_cfg(tiny_model_dir, out, lr=5e-2, lora_r=16, lora_targets=ALL_LINEAR, max_steps=4,
                       dtype="float32", push_merged="me/tiny-merged"))
    assert s["skipped"] is True and s["pushed"] == {"merged": "url"}
    assert pushed[0][0] == "me/tiny-merged" and "config.json" in pushed[0][1] and "README.md" in pushed[0][1]
    late = _probe_logits(*models.load(str(out / "merged"), device="cpu", dtype="float32"))
    assert (late - trained).abs().max() < 1e-4


def test_resume_after_a_kill_continues_the_same_run(tiny_model_dir, tmp_path):
    # 24 examples, 4 a step: the kill lands in the second epoch, whose shuffle must not depend
    # on the random draws the killed first sitting made.
    kw = dict(lr=5e-2, lora_targets=ALL_LINEAR, max_steps=9, save_steps=2, seed=3)
    ref = run_train(_cfg(tiny_model_dir, tmp_path / "ref", **kw))
    out = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        run_train(_cfg(tiny_model_dir, out, **kw), callbacks=[_KillAt(9)])
    assert [r["step"] for r in _log(out)] == list(range(1, 10))
    killed_cpu = json.loads((out / "checkpoints" / "checkpoint-8" / "sdft_cost.json").read_text())["cpu_s"]
    s = run_train(_cfg(tiny_model_dir, out, **kw))
    assert s["resumed_from"].endswith("checkpoint-8")
    assert [r["step"] for r in _log(out)] == list(range(1, 10))  # step 9 once, from the resumed run
    ref_losses = [r["loss"] for r in _log(tmp_path / "ref")]
    assert [r["loss"] for r in _log(out)] == pytest.approx(ref_losses, rel=1e-5)
    assert s["final_loss"] == pytest.approx(ref["final_loss"], rel=1e-5)
    # the killed sitting's time counts: the total covers the whole log, the throughput this sitting
    assert s["wall_s"] == pytest.approx(_log(out)[7]["wall_s"] + s["wall_s_this_sitting"], abs=0.02)
    # and so does its cost: the checkpoint carried the counts of steps 1-8 (it recorded step 9's only)
    counts = ("forward_passes", "backward_passes", "tokens_forwarded", "tokens_per_step")
    assert [s["cost"][k] for k in counts] == [ref["cost"][k] for k in counts]
    assert s["cost"]["steps_counted"] == ref["cost"]["steps_counted"] == 9
    assert s["cost"]["wall_s"] > s["wall_s_this_sitting"]
    assert 0 < killed_cpu < s["cost"]["cpu_s"]  # CPU time, carried the same way


def test_a_checkpoint_cut_off_mid_save_is_dropped_and_the_one_before_resumes(tiny_model_dir, tmp_path):
    """transformers writes trainer_state.json last; without it the checkpoint cannot be resumed from,
    and taking it (the newest) failed every re-run with a traceback."""
    kw = dict(lr=5e-2, lora_targets=ALL_LINEAR, max_steps=9, save_steps=2, seed=3)
    ref = run_train(_cfg(tiny_model_dir, tmp_path / "ref", **kw))
    out = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        run_train(_cfg(tiny_model_dir, out, **kw), callbacks=[_KillAt(9)])
    cut = out / "checkpoints" / "checkpoint-8"
    (cut / "trainer_state.json").unlink()  # killed before its last file
    (out / "checkpoints" / "checkpoint-6" / "sdft_cost.json").write_text('{"forward_pa')  # cut off mid-write
    s = run_train(_cfg(tiny_model_dir, out, **kw))
    assert s["resumed_from"].endswith("checkpoint-6")  # (checkpoint-8 is then saved anew, whole)
    # the cost of steps 1-6 is unknown (as where code older than the cost file left no file): the
    # summary says its counts cover steps 7-9 only
    assert s["cost"]["steps_counted"] == 3 and s["cost"]["backward_passes"] == ref["cost"]["backward_passes"] // 3
    assert [r["step"] for r in _log(out)] == list(range(1, 10))
    assert [r["loss"] for r in _log(out)] == pytest.approx([r["loss"] for r in _log(tmp_path / "ref")], rel=1e-5)
    assert s["final_loss"] == pytest.approx(ref["final_loss"], rel=1e-5)


def test_overwrite_with_a_typo_keeps_the_finished_fine_tune(tiny_model_dir, tmp_path):
    """--overwrite cleared the folder first, so a bad --data or --lora-targets lost the old result."""
    from sdft.errors import SdftError

    out = tmp_path / "ft"
    kw = dict(lr=1e-2, full=False, max_steps=1)
    run_train(_cfg(tiny_model_dir, out, **kw))
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert "adapter_model.safetensors" in before and "train_summary.json" in before
    for bad in ({"data": str(tmp_path / "nope.jsonl")}, {"lora_targets": ["no_such_proj"]}):
        with pytest.raises(SdftError):
            run_train(_cfg(tiny_model_dir, out, overwrite=True, **{**kw, **bad}))
        assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    (out / "identity.json").write_text('{"same_weights": false}')  # a check of the weights about to go
    again = run_train(_cfg(tiny_model_dir, out, overwrite=True, **{**kw, "max_steps": 2}))
    assert not again.get("skipped") and again["steps"] == 2 and len(_log(out)) == 2
    assert not (out / "identity.json").exists()


def test_padding_free_batches_give_the_padded_losses(tiny_model_dir, tmp_path, monkeypatch):
    from transformers import LlamaModel

    rows: dict[str, list[int]] = {"pad": [], "free": []}  # the rows of each forward's input_ids
    forward, run = LlamaModel.forward, ["pad"]

    def spy(self, *args, **kwargs):
        rows[run[0]].append(kwargs["input_ids"].shape[0])
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(LlamaModel, "forward", spy)
    kw = dict(lr=1e-2, full=True, max_steps=2, group_by_length=False)
    run_train(_cfg(tiny_model_dir, tmp_path / "pad", padding_free=False, **kw))
    run[0] = "free"
    run_train(_cfg(tiny_model_dir, tmp_path / "free", padding_free=True, **kw))
    # padding-free really ran: each micro-batch of 4 went in as one concatenated row
    assert rows["pad"] and set(rows["pad"]) == {4} and rows["free"] and set(rows["free"]) == {1}
    padded, free = _log(tmp_path / "pad"), _log(tmp_path / "free")
    assert [r["loss"] for r in free] == pytest.approx([r["loss"] for r in padded], rel=1e-5)
    assert [r["tokens_seen"] for r in free] == [r["tokens_seen"] for r in padded]


def test_one_row_micro_batches_train_padded_and_trl_does_not_warn(tiny_model_dir, tmp_path, caplog):
    """A micro-batch of one row has no padding to remove: padding-free is dropped there (the demo
    trains with batch 1), so TRL's "batch size of 1 ... padding-free" warning does not print."""
    run_train(_cfg(tiny_model_dir, tmp_path / "one", batch_size=1, padding_free=True, lr=1e-2,
                   max_steps=1, group_by_length=False))
    assert not [r for r in caplog.records if "padding-free" in r.getMessage()]
    assert [r["step"] for r in _log(tmp_path / "one")] == [1]


@pytest.mark.slow
def test_compiled_training_gives_the_eager_losses_and_compiles_once(tiny_model_dir, tmp_path):
    """torch.compile (inductor on this CPU) with padding-free rows of a new length every step:
    the same losses as eager, and the graphs compiled for the first step serve the later ones
    (compiling for the first shape only would compile everything again at the second)."""
    import torch._dynamo
    from torch._dynamo.utils import counters
    from transformers import TrainerCallback

    class Graphs(TrainerCallback):
        def __init__(self):
            self.seen: list[int] = []

        def on_step_end(self, args, state, control, **kw):
            self.seen.append(counters["stats"]["unique_graphs"])

    kw = dict(lr=1e-2, max_steps=3, group_by_length=False, lora_targets=ALL_LINEAR)
    eager = run_train(_cfg(tiny_model_dir, tmp_path / "eager", **kw))
    torch._dynamo.reset()
    counters.clear()
    graphs = Graphs()
    compiled = run_train(_cfg(tiny_model_dir, tmp_path / "compiled", torch_compile=True, **kw), callbacks=[graphs])
    assert compiled["torch_compile"] and not eager["torch_compile"]
    log = _log(tmp_path / "compiled")
    assert [r["loss"] for r in log] == pytest.approx([r["loss"] for r in _log(tmp_path / "eager")], rel=1e-3)
    seen = [r["tokens_seen"] for r in log]
    assert len({b - a for a, b in zip([0, *seen], seen)}) == 3  # three row lengths went through
    assert graphs.seen[0] > 0 and graphs.seen == [graphs.seen[0]] * 3, graphs.seen


def test_lm_head_scores_only_labelled_positions_and_the_loss_is_unchanged(tiny_model_dir, tmp_path, monkeypatch):
    import contextlib

    import torch
    from trl.trainer import utils as trl_utils

    from sdft.train import trainer

    rows = []
    real = trl_utils._ChunkedLogProbFunction

    class Spy:
        @staticmethod
        def apply(hidden, *rest):
            rows.append(hidden.shape[0])
            return real.apply(hidden, *rest)

    monkeypatch.setattr(trl_utils, "_ChunkedLogProbFunction", Spy)
    kw = dict(lr=1e-2, full=True, max_steps=2, group_by_length=False, dtype="float32")
    run_train(_cfg(tiny_model_dir, tmp_path / "compact", **kw))
    compact, rows[:] = list(rows), []
    with monkeypatch.context() as m:  # TRL's own CPU path: every position through the head
        m.setattr(trainer, "_compact_lm_head", contextlib.nullcontext)
        run_train(_cfg(tiny_model_dir, tmp_path / "full_head", **kw))
    # the same batches: fewer positions through the head (the prompts'), the same losses
    assert len(compact) == len(rows) == 2 and all(c < n for c, n in zip(compact, rows))
    assert [r["loss"] for r in _log(tmp_path / "compact")] == pytest.approx(
        [r["loss"] for r in _log(tmp_path / "full_head")], rel=1e-5)
    assert trl_utils._use_triton(torch.device("cpu")) is False  # restored after training


def test_onpolicy_sdft_trains_an_adapter_with_the_same_outputs(tiny_model_dir, tmp_path):
    out = tmp_path / "onpolicy"
    s = run_train(_cfg(tiny_model_dir, out, method="onpolicy", batch_size=2, max_steps=2, lr=5e-2,
                       num_generations=2, max_completion_length=8, limit=8))
    assert s["method"] == "onpolicy" and s["steps"] == 2
    assert (out / "adapter_model.safetensors").exists() and (out / "loss.png").exists()
    log = _log(out)
    assert [r["step"] for r in log] == [1, 2] and all(r["loss"] == r["loss"] for r in log)  # not NaN


def test_report_to_tensorboard_writes_the_logged_losses_offline(tiny_model_dir, tmp_path):
    from sdft.trackers import log_scalars, read_scalars

    out = tmp_path / "tb"
    s = run_train(_cfg(tiny_model_dir, out, lr=5e-2, max_steps=3, report_to="tensorboard"))
    events = read_scalars(out / "tensorboard")
    assert [step for step, _ in events["train/loss"]] == [1, 2, 3]
    assert [v for _, v in events["train/loss"]] == pytest.approx([r["loss"] for r in _log(out)], rel=1e-5)
    assert [v for _, v in events["train/learning_rate"]] == pytest.approx([r["lr"] for r in _log(out)])
    # the stage metrics sdft run adds land beside them and read back as written
    log_scalars(out / "tensorboard", {"eval/gsm8k": 0.25, "note": "text is skipped"}, step=s["steps"])
    assert read_scalars(out / "tensorboard")["eval/gsm8k"] == [(3, 0.25)]
    assert "note" not in read_scalars(out / "tensorboard")
    card = (out / "README.md").read_text()
    assert "Not evaluated yet" in card and "| method | sft |" in card
    assert not list(out.glob("checkpoints/runs"))  # not transformers' default time-stamped folder


@pytest.mark.slow
def test_alias_adapter_names_the_public_base_and_still_loads_here(smollm2_dir, tmp_path, monkeypatch):
    from sdft import models

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # loading it here must not need the hub
    out = tmp_path / "smol"
    run_train(_cfg("smollm2-135m", out, max_steps=1, limit=4))
    cfg = json.loads((out / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"  # not the GGUF cache path
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in (out / "README.md").read_text()
    model, _ = models.load("smollm2-135m", adapter=str(out), device="cpu", dtype="float32")
    assert type(model).__name__.startswith("Peft")


@pytest.mark.parametrize("on", [True, False])
def test_gradient_checkpointing_reaches_trl_by_the_name_transformers_takes(tmp_path, on):
    """transformers 5.24 renamed the argument (the suite fails on the old name's FutureWarning),
    the GPU image has 5.17: whichever name is passed, TRL's own default (on) must not win."""
    from trl import SFTConfig

    from sdft.train.trainer import _common_args

    cfg = _cfg("unused", tmp_path / "o", gradient_checkpointing=on)
    args = SFTConfig(**_common_args(cfg, tmp_path / "ckpt", 1.0, on_cuda=False, autocast=False))
    assert args.gradient_checkpointing is on
