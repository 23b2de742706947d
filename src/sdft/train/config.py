"""The fine-tuning stage's one schema (:class:`TrainConfig`) and the per-task epoch presets.

Defaults are the SDFT paper's presets (Yang et al., 2024, ``scripts/``): LoRA r=8, alpha 16 on
``q_proj,v_proj``, learning rate 1e-4, cosine schedule, per-device batch 2 x gradient
accumulation 4. ``epochs`` left unset takes the task's preset, its entry's in
:data:`sdft.data.tasks.TASKS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sdft.errors import ConfigError
from sdft.models import DEFAULT_MODEL, TRAIN_DTYPES

# sft: supervised on the responses (vanilla, and rewrite self-distillation on distilled data);
# dft: TRL's dynamic fine-tuning loss; kl: SFT + beta KL to the seed; replay: SFT on the task
# rows mixed with the seed's own answers to general prompts; onpolicy: TRL's SDFTTrainer.
METHODS = ("sft", "dft", "kl", "replay", "onpolicy")
# Schedules every transformers version has: read without importing it (and torch); any other
# name is checked against transformers' own SchedulerType.
_USUAL_SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")


@dataclass
class TrainConfig:
    """Fine-tune a chat model on a task set (vanilla) or a distilled set (SDFT).

    What to train
    model: model alias, GGUF file or HF directory (see `sdft models`)
    data: task spec (gsm8k, gsm8k:train, a .json/.jsonl file) or a distilled.jsonl from `sdft distill`
    data_dir: data folder (default: $SDFT_DATA_DIR or ../shared/data)
    out: output directory for the adapter/checkpoint, logs and plots
    limit: train on the first N examples only (0 = all)
    method: sft (supervised on the responses), dft (TRL's loss_type dft: each token's loss weighted
        by its probability), kl (SFT + kl_beta KL to the seed), replay (SFT with the seed's own
        answers to general prompts mixed in) or onpolicy (TRL's on-policy self-distillation)

    Adapter
    full: full fine-tuning instead of LoRA
    lora_r: LoRA rank
    lora_alpha: LoRA alpha
    lora_dropout: LoRA dropout (on a CPU its masks come from sdft.train.dropout, the same distribution)
    lora_targets: comma-separated module names LoRA wraps

    Optimisation
    epochs: passes over the data (unset: the task's preset, see sdft.data.tasks)
    max_steps: stop after this many optimizer steps (0 = no limit; overrides epochs)
    lr: peak learning rate
    scheduler: learning-rate schedule (transformers name: cosine, linear, constant, ...)
    warmup_ratio: fraction of steps spent warming up
    batch_size: examples per device per micro-batch
    grad_accum: micro-batches per optimizer step
    max_length: longest prompt+response in tokens; longer responses are cut (counted), longer prompts dropped
    seed: seed for shuffling and adapter initialisation

    Speed
    dtype: auto (bf16 on CUDA and on CPUs with native bf16, else float32), float32, bfloat16
        (LoRA: frozen base in it, adapter and optimizer in float32; full: float32 weights, bf16 autocast)
    group_by_length: batch examples of similar length together (less padding)
    gradient_checkpointing: recompute activations in backward (saves memory, costs about a third more time)
    padding_free: concatenate each micro-batch into one row without padding
    torch_compile: compile forward and backward with torch.compile (inductor), sequence lengths
        dynamic from the first step. On 2 CPU cores the first step compiles for 5-6 minutes and
        later steps run ~1.15x faster (Qwen-0.5B, SmolLM2), so it pays after ~150-400 steps

    Output and resume
    logging_steps: log every N optimizer steps
    save_steps: checkpoint every N optimizer steps (for resume after a kill)
    snapshots: also save the adapter at this many evenly spaced steps (DIR/snapshots/step-N),
        to measure forgetting along training
    merge: also write DIR/merged, the base model with the adapter merged in
    overwrite: start over even if DIR holds a finished or partial run
    report_to: transformers reporting integrations, comma-separated
        (none, tensorboard: events in DIR/tensorboard, wandb)

    Hub
    push_to_hub: hub repo id to push the adapter (or full checkpoint) to, with its model card
    push_merged: hub repo id to push DIR/merged to (implies merge)
    hub_private: create new hub repos private

    KL to the seed (method=kl; LoRA only: the seed is the model with its adapter disabled)
    kl_beta: weight of KL(model || seed) per response token beside the SFT loss

    Self-replay (method=replay)
    replay_data: general prompts the seed answers (a set no benchmark reads and not the task)
    replay_share: fraction of the mixed training set that is replay rows
    replay_answers: a JSONL of the seed's answers already generated (``id``, ``predict``; the
        pipeline's cached stage); unset: generated into OUT/replay_answers.jsonl
    replay_max_new_tokens: longest seed answer to a replay prompt

    On-policy (method=onpolicy; TRL's SDFTTrainer, Shenfeld et al. 2026)
    num_generations: samples per prompt
    max_completion_length: longest sampled completion in tokens
    temperature: sampling temperature for on-policy samples
    teacher: which weights condition on the demonstration (base: the seed, TRL's and the
        paper's default; live: the current student; ema: an average of it)
    distillation_mode: TRL SDFT objective (topk_logits, TRL's default; full_logits; sampled_token,
        the per-token estimate)
    distillation_alpha: divergence mix: 0 forward KL(teacher || student), 1 reverse KL, between
        them a generalised JSD; unset: TRL's 0.5 (1.0 for sampled_token, the only one it allows).
        Shenfeld et al. report per-token KL; TRL's default is JSD 0.5 over the top 100 tokens
    distillation_topk: tokens in the top-k support (distillation_mode topk_logits; TRL's 100)
    teacher_template: the distillation template the teacher's prompt is built from (using, refer,
        math or a template file; unset: the task's, as distillation; `sdft run` passes distill.template)
    The teacher's prompt (instruction + demonstration) is never cut: a row whose teacher prompt
    exceeds max_length is dropped and counted (TRL would cut it from the left, losing the
    system text and the instruction)
    """

    model: str = DEFAULT_MODEL
    data: str = ""
    data_dir: str | None = None
    out: str = ""
    limit: int = 0
    method: str = "sft"
    full: bool = False
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])
    epochs: float | None = None
    max_steps: int = 0
    lr: float = 1e-4
    scheduler: str = "cosine"
    warmup_ratio: float = 0.0
    batch_size: int = 2
    grad_accum: int = 4
    max_length: int = 1024
    seed: int = 42
    dtype: str = "auto"
    group_by_length: bool = True
    gradient_checkpointing: bool = False
    padding_free: bool = True
    torch_compile: bool = False
    logging_steps: int = 1
    save_steps: int = 50
    snapshots: int = 0
    merge: bool = False
    overwrite: bool = False
    report_to: str = "none"
    push_to_hub: str | None = None
    push_merged: str | None = None
    hub_private: bool = True
    num_generations: int = 2
    max_completion_length: int = 256
    temperature: float = 1.0
    teacher: str = "base"
    distillation_mode: str = "topk_logits"
    distillation_alpha: float | None = None
    distillation_topk: int = 100
    teacher_template: str | None = None
    kl_beta: float = 0.1
    replay_data: str = "dolly"
    replay_share: float = 0.2
    replay_answers: str | None = None
    replay_max_new_tokens: int = 256

    def validate(self) -> None:
        if not self.data:
            raise ConfigError("train: `data` is required (a task spec or a distilled.jsonl)")
        if not self.out:
            raise ConfigError("train: `out` is required (the output directory)")
        if self.method not in METHODS:
            raise ConfigError(f"train: `method` must be one of {', '.join(METHODS)}, got {self.method!r}")
        for name in ("batch_size", "grad_accum", "max_length", "logging_steps", "save_steps", "lora_r"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train: `{name}` must be >= 1, got {getattr(self, name)}")
        for name in ("limit", "max_steps"):  # (0 = no limit; a negative one would slice "all but N")
            if getattr(self, name) < 0:
                raise ConfigError(f"train: `{name}` must be >= 0 (0 = no limit), got {getattr(self, name)}")
        if self.epochs is not None and self.epochs <= 0 and not self.max_steps:
            raise ConfigError(f"train: `epochs` must be > 0 (or set max_steps), got {self.epochs}: "
                              "it would train 0 steps")
        if self.lr <= 0:
            raise ConfigError(f"train: `lr` must be > 0, got {self.lr}")
        if self.scheduler not in _USUAL_SCHEDULERS:
            from transformers.trainer_utils import SchedulerType

            known = [s.value for s in SchedulerType]
            if self.scheduler not in known:
                raise ConfigError(f"train: `scheduler` must be one of {', '.join(known)} (transformers' "
                                  f"SchedulerType), got {self.scheduler!r}")
        if self.dtype not in TRAIN_DTYPES:
            raise ConfigError(f"train: `dtype` must be one of {', '.join(TRAIN_DTYPES)}, got {self.dtype!r} "
                              "(float16 would need loss scaling)")
        if self.method == "kl" and self.full:
            raise ConfigError("train: method kl takes the seed's logits from the model with its LoRA adapter "
                              "disabled; a full fine-tune has no adapter (and no reference copy is kept): "
                              "drop `full` or choose another method")
        if self.kl_beta < 0:
            raise ConfigError(f"train: `kl_beta` must be >= 0, got {self.kl_beta}")
        if not 0 < self.replay_share < 1:
            raise ConfigError(f"train: `replay_share` must be in (0, 1), got {self.replay_share}")
        if self.distillation_alpha is not None and not 0 <= self.distillation_alpha <= 1:
            raise ConfigError(f"train: `distillation_alpha` must be in [0, 1], got {self.distillation_alpha}")
        if self.distillation_mode == "sampled_token" and self.distillation_alpha not in (None, 1.0):
            raise ConfigError("train: distillation_mode sampled_token allows only distillation_alpha 1 "
                              "(reverse KL, TRL's rule)")
        if not self.full and not self.lora_targets:
            raise ConfigError("train: `lora_targets` is empty; name modules such as q_proj,v_proj or use --full")

    def validate_targets(self, model) -> None:
        """Each of ``lora_targets`` names a module of the loaded ``model`` (PEFT's rule: the module's
        name or a dotted suffix of it). PEFT fails with a traceback only when none matches, and
        beside one right name a typo would silently wrap fewer modules than asked."""
        if self.full:
            return
        import torch

        names = [n for n, _ in model.named_modules()]
        missing = [t for t in self.lora_targets if not any(n == t or n.endswith("." + t) for n in names)]
        if missing:
            linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
            raise ConfigError(f"train: `lora_targets`: {', '.join(missing)} matches no module of {self.model}; "
                              f"its linear modules: {', '.join(linear)}")

    def validate_targets_unloaded(self) -> None:
        """:meth:`validate_targets` on the model built from its config on the meta device (no
        weights read: `sdft run` checks before its first stage, not when the first fine-tune
        starts). Where that cannot be built without more (a GGUF not yet converted, a hub
        id, remote code), the check is left to training, right after loading."""
        if self.full:
            return
        try:
            import torch
            from transformers import AutoConfig, AutoModelForCausalLM

            from sdft import models

            src = models.resolve(self.model)
            folder = models.converted_dir(src) if src.gguf else Path(src.path)
            if not (folder / "config.json").is_file():  # (a hub id's config may need the network)
                return
            config = AutoConfig.from_pretrained(folder)
            with torch.device("meta"):
                model = AutoModelForCausalLM.from_config(config)
        except Exception:  # noqa: BLE001 - any failure here is training's to report, with its context
            return
        self.validate_targets(model)

    def resolved_epochs(self, task: str | None) -> float:
        if self.epochs is not None:
            return self.epochs
        from sdft.data.tasks import DEFAULT_EPOCHS, task_entry  # the task table's readers: not at import

        entry = task_entry(task)
        return entry.epochs if entry else DEFAULT_EPOCHS
