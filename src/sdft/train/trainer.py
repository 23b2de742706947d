"""Fine-tune with TRL + PEFT: vanilla SFT and SDFT are the same trainer on different data.

:func:`run_train` loads the examples (a task set, or the selected responses of a
``distilled.jsonl``), tokenizes them with the evaluation prompt convention
(:mod:`sdft.data.chat`), and runs TRL's ``SFTTrainer`` (``method=sft``) or TRL's experimental
on-policy ``SDFTTrainer`` (``method=onpolicy``, Shenfeld et al. 2026, :mod:`sdft.train.onpolicy`)
with a LoRA adapter or all weights. Output layout of ``out``::

    adapter_config.json, adapter_model.safetensors   (or config.json + model.safetensors, --full)
    tokenizer files, train_log.jsonl, loss.png, train_config.json, train_summary.json
    README.md      model card: base model's hub id, method, data, settings (sdft run adds the scores)
    checkpoints/   Trainer checkpoints; a re-run with the same ``out`` resumes from the last one
    merged/        with --merge: the base model with the adapter folded in
    tensorboard/   with report_to tensorboard: the event files

The adapter's ``adapter_config.json`` names the base model by its public hub id where one is
known (:func:`sdft.models.record_base_model`). ``push_to_hub`` / ``push_merged`` push the folder
/ merged copy (:mod:`sdft.hub`), also for a run that had already finished.

A finished ``out`` (train_summary.json present) is returned as-is unless ``overwrite``.
Multi-GPU and multi-process runs go through ``accelerate launch`` (configs/accelerate/).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import resource
import shutil
import time
from pathlib import Path

from sdft import hub
from sdft.data import chat
from sdft.runs import provenance, write_json
from sdft.trackers import split_report_to
from sdft.train import data as tdata
from sdft.train import onpolicy
from sdft.train.config import TrainConfig
from sdft.train.logs import CostCheckpoints, TrainLogCallback, plot_loss, snapshot_callback, trim_log
from sdft.train.replay import REPLAY_PREFIX, with_replay

log = logging.getLogger(__name__)

OUTPUT_FILES = ("adapter_config.json", "adapter_model.safetensors", "model.safetensors", "config.json",
                "train_log.jsonl", "loss.png", "train_config.json", "train_summary.json", "README.md",
                "identity.json")  # scripts/kl_identity.py's check describes the weights it checked


def _common_args(cfg: TrainConfig, ckpt_dir: Path, epochs: float, on_cuda: bool, autocast: bool) -> dict:
    """TrainingArguments shared by both trainers (the paper's presets live in TrainConfig)."""
    return dict(
        output_dir=str(ckpt_dir),
        num_train_epochs=epochs,
        max_steps=cfg.max_steps or -1,
        learning_rate=cfg.lr,
        lr_scheduler_type=cfg.scheduler,
        warmup_steps=cfg.warmup_ratio,  # transformers reads a float < 1 as a ratio of total steps
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        seed=cfg.seed,
        logging_steps=cfg.logging_steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=2,
        report_to=split_report_to(cfg.report_to)[0],
        **{_checkpointing_arg(): cfg.gradient_checkpointing},
        torch_compile=cfg.torch_compile,
        use_cpu=not on_cuda,
        bf16=autocast,
        dataloader_num_workers=0,
        disable_tqdm=False,
    )


def _checkpointing_arg() -> str:
    """TrainingArguments' name for activation checkpointing. transformers 5.24 renamed
    ``gradient_checkpointing`` to ``activation_checkpointing`` (the old name goes in v6) and the
    GPU image has 5.17, which knows only the old one. Under 5.24 the new name must always be set:
    TRL's configs default the old one to True, which otherwise warns and takes effect."""
    from dataclasses import fields

    from transformers import TrainingArguments

    new = "activation_checkpointing"
    return new if any(f.name == new for f in fields(TrainingArguments)) else "gradient_checkpointing"


def _precision(cfg: TrainConfig) -> tuple[str, bool]:
    """(dtype the weights load in, whether to autocast to bf16) for ``cfg.dtype`` here.

    LoRA in bf16: the frozen base loads in bf16 and PEFT keeps the adapter (and so AdamW's
    state) in float32; on CUDA autocast runs the adapter's matmuls in bf16 too. Full
    fine-tuning keeps float32 master weights and autocasts, since AdamW on bf16 weights loses
    small updates. Measured on Qwen2.5-Coder-0.5B, LoRA r=8 q,v, 2 CPU cores with AVX512-BF16:
    float32 52 tok/s, float32 + autocast 76, bf16 base + float32 adapter 96 (1.85x), bf16 base
    + autocast 98: the bf16 base is what matters on CPU, and without autocast the adapter
    stays exact."""
    from sdft import models

    device = models.default_device()
    dtype = models.resolve_dtype(cfg.dtype, device)
    if dtype != "bfloat16":  # float16 training would need loss scaling: cards without bf16 train in float32
        return "float32", False
    if cfg.full:
        return "float32", True
    return dtype, device.startswith("cuda")


def _peft_config(cfg: TrainConfig):
    if cfg.full:
        return None
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=list(cfg.lora_targets), task_type="CAUSAL_LM")


def _epoch_seeded(trainer_cls):
    """``trainer_cls`` whose length-grouped shuffle depends only on (seed, epoch).

    transformers' ``LengthGroupedSampler`` draws each epoch's order from the global RNG. A run
    resumed in epoch 2 has not made epoch 1's random draws, so it would see other batches than
    the run it continues; a generator seeded per epoch makes the resumed batches the same."""
    import torch
    from transformers.trainer_pt_utils import LengthGroupedSampler

    class EpochSeededLengthSampler(LengthGroupedSampler):
        def __init__(self, batch_size: int, lengths: list[int], seed: int):
            super().__init__(batch_size, lengths=lengths)
            self.seed = seed
            self.set_epoch(0)

        def set_epoch(self, epoch: int) -> None:  # accelerate calls this at the start of every epoch
            self.generator = torch.Generator().manual_seed(self.seed + epoch)

    class EpochSeededTrainer(trainer_cls):
        def _get_train_sampler(self, train_dataset=None):
            sampler = super()._get_train_sampler(train_dataset)
            if type(sampler) is LengthGroupedSampler:
                return EpochSeededLengthSampler(sampler.batch_size, sampler.lengths, self.args.seed)
            return sampler

    return EpochSeededTrainer


@contextlib.contextmanager
def _compact_lm_head():
    """Let TRL's fused LM head score only the positions that carry a label, on CPU too.

    TRL's ``SFTTrainer`` projects hidden states through the LM head in tiles and, on devices
    without Triton, scores *every* position (prompt tokens included) so that tile shapes stay
    fixed for compilers such as Neuron's; the prompt positions' log-probabilities are then
    masked to zero. In eager CPU training nothing recompiles, and with Qwen's 152k-token
    vocabulary the head (forward, its recomputation in backward, and a float32 gradient matmul)
    is a large share of a step, most of it spent on prompt tokens: OpenFunctions prompts are
    ~90 % of each row. Measured there (Qwen2.5-Coder-0.5B, LoRA on every linear layer, bf16,
    `benchmarks/train.py`): 82.1 vs 54.7 tok/s (1.50x) with the same losses to the last bit."""
    import inspect

    try:
        from trl.trainer import utils as trl_utils
    except ImportError:  # a TRL without the fused head has nothing to compact
        yield
        return
    original = getattr(trl_utils, "_use_triton", None)
    head = getattr(trl_utils, "add_fused_lm_head", None)
    # Only where TRL uses that name for this one decision (TRL 1.16; the kernels keep their own
    # copy), so the patch can never send CPU tensors to a Triton kernel in another TRL.
    if original is None or head is None or "compact = _use_triton(" not in inspect.getsource(head):
        log.info("TRL's fused LM head is not the one sdft knows: every position is scored")
        yield
        return
    trl_utils._use_triton = lambda device: device.type == "cpu" or original(device)
    try:
        yield
    finally:
        trl_utils._use_triton = original


def _dynamic_shapes(compiling: bool):
    """While compiling, every dimension starts dynamic: rows differ in length from the first
    micro-batch on, and torch.compile's default (compile for the first shape, again for the
    second) would compile everything twice."""
    if not compiling:
        return contextlib.nullcontext()
    import torch._dynamo

    return torch._dynamo.config.patch(assume_static_by_default=False)


def _padding_free(cfg) -> bool:
    """Padding-free batching where it can remove padding: a one-row micro-batch has none (TRL
    warns on every run that it gains nothing there), so it trains padded, which is the same."""
    return cfg.padding_free and cfg.batch_size > 1


def _sft_trainer(cfg, model, tok, prepared, common, callbacks):
    """TRL's SFTTrainer for sft / replay (plain loss), dft (TRL's loss_type) and kl (our loss)."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from sdft.train.objectives import kl_trainer

    args = SFTConfig(
        loss_type="dft" if cfg.method == "dft" else "nll",
        **common,
        # Rows are tokenized and truncated by sdft.data.chat; TRL must not cut them again
        # (padding-free also requires max_length=None without packing).
        max_length=None,
        padding_free=_padding_free(cfg),
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
        # Exact either way: padding-free batches carry no padding, padded ones carry a mask.
        include_num_input_tokens_seen="all" if _padding_free(cfg) else "non_padding",
    )
    ds = Dataset.from_list([{"input_ids": r["input_ids"], "labels": r["labels"]} for r in prepared.rows])
    cls = _epoch_seeded(SFTTrainer)
    if cfg.method == "kl":
        cls = kl_trainer(cls, cfg.kl_beta)
    return cls(model=model, args=args, train_dataset=ds, processing_class=tok,
                                     peft_config=_peft_config(cfg), callbacks=callbacks)


def _clear_outputs(out: Path) -> None:
    """--overwrite: the previous fine-tune's files (the seed's replay answers, a cache, stay)."""
    for name in OUTPUT_FILES:
        (out / name).unlink(missing_ok=True)
    for folder in ("checkpoints", "merged", "snapshots", "tensorboard"):
        shutil.rmtree(out / folder, ignore_errors=True)


def _last_checkpoint(ckpt_dir: Path) -> str | None:
    """The newest complete checkpoint. transformers writes ``trainer_state.json`` last, so a
    checkpoint without a readable one was cut off mid-save (a kill, a full disk): resuming from it
    would fail on every re-run. Such folders are removed (they hold nothing a resume can use) and
    the one before is taken."""
    import json

    if not ckpt_dir.is_dir():
        return None
    found = sorted((int(m[1]), p) for p in ckpt_dir.iterdir() if p.is_dir()
                   and (m := re.fullmatch(r"checkpoint-(\d+)", p.name)))
    for _, folder in reversed(found):
        try:
            json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
            return str(folder)
        except (OSError, ValueError):
            log.warning("%s was cut off mid-save (no readable trainer_state.json); removing it and resuming "
                        "from the checkpoint before", folder)
            shutil.rmtree(folder, ignore_errors=True)
    return None


def run_train(cfg: TrainConfig, callbacks: list | None = None, tensorboard_dir: str | Path | None = None) -> dict:
    """Train, save the adapter/checkpoint and the run files into ``cfg.out``; return the summary.

    ``callbacks``: extra ``transformers.TrainerCallback`` objects (progress hooks, tests);
    ``tensorboard_dir``: where report_to tensorboard writes (default ``cfg.out``/tensorboard)."""
    import torch

    from sdft import models
    from sdft.train.dropout import cheapen_lora_dropout

    cfg.validate()
    out = Path(cfg.out)
    summary_path = out / "train_summary.json"
    if not cfg.overwrite and summary_path.exists():
        import json

        log.info("%s is a finished run; pass --overwrite to train again", out)
        summary = {**json.loads(summary_path.read_text()), "skipped": True}
        if cfg.push_to_hub or cfg.push_merged:
            summary["pushed"] = _publish(cfg, out)
        return summary

    examples = tdata.load_examples(cfg.data, cfg.data_dir, cfg.limit)
    task = tdata.task_of(examples)
    epochs = cfg.resolved_epochs(task)
    if cfg.method == "replay":
        out.mkdir(parents=True, exist_ok=True)
        examples = with_replay(cfg, examples, task, out)
    # counted by id, so that a set the pipeline mixed beforehand (method sft) reports its replay rows too
    n_replay = sum(e.id.startswith(REPLAY_PREFIX) for e in examples)
    dtype, autocast = _precision(cfg)
    model, tok = models.load(cfg.model, padding_side="right", dtype=dtype)
    cfg.validate_targets(model)  # a ConfigError naming the model's modules, not PEFT's traceback
    on_cuda = next(model.parameters()).is_cuda
    # Training never reads a KV cache, and a cache object makes transformers skip its packed-
    # sequence masking: padding-free batches would then attend across examples.
    model.config.use_cache = False
    # the teacher's prompt: the configured distillation template, else the task's
    teacher = onpolicy.teacher_template(task, cfg.teacher_template) if cfg.method == "onpolicy" else None
    if cfg.method == "onpolicy":
        prepared = onpolicy.onpolicy_rows(tok, examples, cfg.max_length, where=cfg.data, teacher=teacher)
    else:
        prepared = chat.tokenize(tok, examples, cfg.max_length, where=cfg.data)

    if cfg.overwrite:  # only now: a typo in --data, --model or --lora-targets fails above, the old result kept
        _clear_outputs(out)
    ckpt_dir = out / "checkpoints"
    resume = _last_checkpoint(ckpt_dir)
    resume_step = int(Path(resume).name.split("-")[-1]) if resume else 0
    log_path = out / "train_log.jsonl"
    if resume:
        trim_log(log_path, resume_step)
    else:
        log_path.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "train_config.json", {
        "config": dataclasses.asdict(cfg), "task": task, "epochs": epochs, "resumed_from": resume,
        "provenance": provenance(),
    })

    callback = TrainLogCallback(log_path)
    if cfg.snapshots:
        callbacks = [*(callbacks or []), snapshot_callback(out, cfg.snapshots, cfg.model)]
    if split_report_to(cfg.report_to)[1]:
        from sdft.trackers import tensorboard_callback

        callbacks = [*(callbacks or []), tensorboard_callback(tensorboard_dir or out / "tensorboard")]
    common = _common_args(cfg, ckpt_dir, epochs, on_cuda, autocast)
    cost = CostCheckpoints(resume, resume_step)
    hooks = [callback, cost, *(callbacks or [])]
    if cfg.method == "onpolicy":
        trainer = onpolicy.onpolicy_trainer(cfg, model, tok, prepared, common, hooks, teacher, _peft_config(cfg))
    else:
        trainer = _sft_trainer(cfg, model, tok, prepared, common, hooks)
    swapped = cheapen_lora_dropout(trainer.model)  # CPU-resident LoRA layers only
    if swapped:
        log.info("LoRA dropout: %d layers draw their masks 16 bits an element", swapped)
    from sdft.train.objectives import metered, peak_rss_mb, reset_peak_rss

    if on_cuda:
        torch.cuda.reset_peak_memory_stats()
    rss_reset = reset_peak_rss()
    # what the process held before training (the loaded model, and in `sdft run` whatever earlier
    # stages left allocated): the peak minus this is what training itself added
    rss_start = peak_rss_mb("VmRSS")
    t0, cpu0 = time.perf_counter(), time.process_time()
    fused = cfg.method in ("sft", "dft", "replay")  # the methods whose loss TRL's fused LM head computes
    with _compact_lm_head() if fused else contextlib.nullcontext(), _dynamic_shapes(cfg.torch_compile), \
            metered(trainer.model, enabled=not cfg.torch_compile) as meter:
        cost.meter, cost.t0, cost.cpu0 = meter, t0, cpu0
        result = trainer.train(resume_from_checkpoint=resume)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0  # training only, not the saving below
    if not trainer.is_world_process_zero():
        return {}

    trainer.model.config.use_cache = True  # saved configs are for generation
    trainer.save_model(str(out))
    tok.save_pretrained(str(out))
    models.record_base_model(out, cfg.model)
    if cfg.merge or cfg.push_merged:
        hub.save_merged(trainer.model, tok, out / "merged", cfg.full)
    plot_loss(log_path, out / "loss.png", title=f"{cfg.method} {Path(cfg.model).name} on {cfg.data}")

    tokens = trainer.state.num_input_tokens_seen - getattr(trainer, "_initial_num_input_tokens_seen", 0)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    summary = {
        "method": cfg.method,
        "model": cfg.model,
        "data": cfg.data,
        "task": task,
        "adapter": "full" if cfg.full else "lora",
        "n_examples": prepared.n_examples,
        "n_truncated": prepared.n_truncated,
        "n_dropped": len(prepared.dropped_ids),
        "dropped_ids": prepared.dropped_ids[:50],
        "epochs": round(trainer.state.epoch or 0.0, 3),  # what ran (max_steps may stop early)
        "epochs_planned": epochs,
        "steps": trainer.state.global_step,
        "train_tokens": trainer.state.num_input_tokens_seen,
        "tokens_per_s": round(tokens / wall, 2) if tokens else None,  # this sitting's throughput
        "wall_s": round(callback.wall_before + wall, 2),  # all sittings, when resumed after a kill
        "wall_s_this_sitting": round(wall, 2),
        "final_loss": losses[-1] if losses else result.training_loss,
        "mean_loss": result.training_loss,
        "resumed_from": resume,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "device": "cuda" if on_cuda else "cpu",
        "dtype": models.resolve_dtype(cfg.dtype, "cuda" if on_cuda else "cpu"),
        "weights_dtype": dtype,
        "autocast": autocast,
        "cheap_dropout_layers": swapped,
        "torch_compile": cfg.torch_compile,
        # What the method spent over the sittings counted (every one, unless it resumed from a
        # checkpoint older than the cost file: steps_counted < steps): trunk forwards (training,
        # seed/teacher, decoding steps), those with gradients (each one backward) and the token
        # positions they processed.
        "cost": {**(spent := cost.totals(trainer.state.global_step, wall, cpu)),
                 "tokens_per_step": round(spent["tokens_forwarded"] / max(1, spent["steps_counted"]), 1)
                 if spent["tokens_forwarded"] is not None else None,
                 # GPU: torch's peak allocation; CPU: the process's peak RSS during training (the
                 # loaded weights included), or its lifetime peak where the kernel cannot reset it
                 "peak_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1) if on_cuda
                 else peak_rss_mb(), "peak_memory_kind": "cuda_allocated" if on_cuda
                 else ("rss_during_training" if rss_reset else "rss_lifetime"),
                 "rss_at_start_mb": None if on_cuda else rss_start},
        "n_replay": n_replay,
    }
    if on_cuda:
        summary["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    summary["method_label"] = cfg.method if cfg.method != "sft" else (
        "sdft" if any(isinstance(e.meta.get("kept"), bool) for e in examples) else "sft")
    write_json(summary_path, summary)
    hub.write_model_card(out)
    if cfg.push_to_hub or cfg.push_merged:
        summary["pushed"] = _publish(cfg, out)
    return summary


def _publish(cfg: TrainConfig, out: Path) -> dict[str, str]:
    return hub.push_training(out, cfg.model, cfg.dtype, cfg.push_to_hub, cfg.push_merged, private=cfg.hub_private)
