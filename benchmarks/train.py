"""Training throughput: `sdft train` in float32 and in bf16 vs TRL's SFTTrainer with its defaults.

Same model, same data (the first N GSM8K training examples), same LoRA (r=8 on q_proj,v_proj),
same batch (2 x grad-accum 4), same number of optimizer steps, all in one process. What
differs is what `sdft train` sets on top of TRL: no gradient checkpointing (TRL's default turns
it on), length-grouped batches, padding-free rows, a compact LM head, and, with ``dtype=auto`` on
a CPU with native bf16 (or CUDA), a bf16 frozen base under a float32 adapter. sdft's recipe also
has LoRA dropout 0.05 (drawn by ``sdft.train.dropout``), which PEFT's default (0) leaves out, so
TRL's side does that work less. TRL's side loads the model in float32,
as ``from_pretrained`` does with a float32 checkpoint and no dtype.

Throughput = real (non-padding) tokens / second, measured from the end of the first optimizer
step to the end of the last one, so model loading and first-step warm-up do not count.

    python benchmarks/train.py --n 200 --steps 4
    python benchmarks/train.py --model qwen2.5-coder-0.5b --data "openfunction:train" --n 64 --steps 3 \
        --lora-targets q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj --arms auto,auto_full_head
    (add --profile for each op's share of a step)
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
import warnings


def _timer():
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.marks = []  # (wall time, tokens seen) at the end of each optimizer step

        def on_train_begin(self, args, state, control, **kw):
            self.begin = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            self.marks.append((time.perf_counter(), state.num_input_tokens_seen))

        def rate(self):
            (t0, n0), (t1, n1) = self.marks[0], self.marks[-1]
            return (n1 - n0) / (t1 - t0), (t1 - t0) / (len(self.marks) - 1)

        def first_step_s(self):  # warm-up included (torch.compile's compiling)
            return self.marks[0][0] - self.begin

    return StepTimer()


def _profiler(top: int = 12):
    """A TrainerCallback that profiles the steps after the first (torch.profiler, CPU) and keeps
    each op's share of the self CPU time: where a step's time goes."""
    import torch
    from transformers import TrainerCallback

    class StepProfiler(TrainerCallback):
        shares: dict = {}

        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 1:
                self.prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
                self.prof.start()
            elif state.global_step == state.max_steps:
                self.prof.stop()
                ops = sorted(self.prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
                total = sum(e.self_cpu_time_total for e in ops) or 1
                self.shares = {e.key: round(100 * e.self_cpu_time_total / total, 1) for e in ops[:top]}

    return StepProfiler()


def ours(model: str, data: str, n: int, steps: int, out: str, dtype: str, targets: list[str],
         compact_head: bool = True, cheap_dropout: bool = True, profile: bool = False, **overrides) -> dict:
    import contextlib
    from unittest import mock

    from sdft.train import TrainConfig, run_train

    timer = _timer()
    cfg = TrainConfig(model=model, data=data, out=out, limit=n, max_steps=steps, save_steps=10_000,
                      logging_steps=1, dtype=dtype, lora_targets=targets, **overrides)
    # compact_head=False: TRL's own CPU path, every position (prompt tokens too) through the LM head
    head = contextlib.nullcontext() if compact_head else mock.patch(
        "sdft.train.trainer._compact_lm_head", contextlib.nullcontext)
    # cheap_dropout=False: PEFT's own nn.Dropout, one Mersenne Twister draw per mask element
    dropout = contextlib.nullcontext() if cheap_dropout else mock.patch(
        "sdft.train.dropout.cheapen_lora_dropout", lambda model: 0)
    prof = _profiler() if profile else None
    with head, dropout:
        s = run_train(cfg, callbacks=[timer, *([prof] if prof else [])])
    tok_s, step_s = timer.rate()
    with open(f"{out}/train_log.jsonl") as f:  # same batches on every side: the losses should agree
        losses = [r["loss"] for r in map(json.loads, f) if "loss" in r]
    res = {"tokens_per_s": round(tok_s, 1), "s_per_step": round(step_s, 2),
           "first_step_s": round(timer.first_step_s(), 1), "summary_tokens": s["train_tokens"],
           "dtype": s["dtype"], "losses": losses}
    if prof:  # the profiler's own overhead makes these steps slower: shares, not rates
        res["self_cpu_percent_by_op"] = prof.shares
    return res


def trl_default(model: str, data: str, n: int, steps: int, out: str, targets: list[str]) -> dict:
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from sdft import models
    from sdft.data.tasks import load_data

    examples = load_data(data)[:n]
    m, tok = models.load(model, padding_side="right", dtype="float32")
    # TRL's conversational prompt-completion format: its own chat templating and completion mask.
    ds = Dataset.from_list([{"prompt": e.messages(), "completion": [{"role": "assistant", "content": e.response}]}
                            for e in examples])
    # TRL's configs default gradient_checkpointing (True) under the name transformers 5.24
    # deprecates: TRL's default, not a call of ours, and what this measurement is about.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`gradient_checkpointing` is deprecated", FutureWarning)
        args = SFTConfig(output_dir=out, per_device_train_batch_size=2, gradient_accumulation_steps=4,
                         learning_rate=1e-4, lr_scheduler_type="cosine", max_steps=steps, save_strategy="no",
                         report_to="none", use_cpu=True, logging_steps=1,
                         include_num_input_tokens_seen="non_padding")  # measurement only
    timer = _timer()
    trainer = SFTTrainer(model=m, args=args, train_dataset=ds, processing_class=tok, callbacks=[timer],
                         peft_config=LoraConfig(r=8, lora_alpha=16, target_modules=targets,
                                                task_type="CAUSAL_LM"))
    trainer.train()
    tok_s, step_s = timer.rate()
    return {"tokens_per_s": round(tok_s, 1), "s_per_step": round(step_s, 2),
            "gradient_checkpointing": args.gradient_checkpointing}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--data", default="gsm8k:train")
    p.add_argument("--n", type=int, default=200, help="training examples")
    p.add_argument("--steps", type=int, default=4, help="optimizer steps per side (>= 2)")
    p.add_argument("--lora-targets", default="q_proj,v_proj",
                   help="comma-separated modules (the forgetting experiments: q_proj,k_proj,v_proj,o_proj,"
                        "gate_proj,up_proj,down_proj)")
    p.add_argument("--arms", default="trl,float32,auto",
                   help="which sides to run, of trl, float32, auto, and auto_full_head, float32_full_head "
                        "(with TRL's CPU LM head, which also scores the prompt positions), auto_peft_dropout "
                        "(with PEFT's own LoRA dropout), auto_padded (padded batches, not padding-free rows), "
                        "auto_compile (torch_compile: the first step, which compiles, is left out of the rate "
                        "as each side's first step is)")
    p.add_argument("--profile", action="store_true",
                   help="also run the auto side once more under torch.profiler and report each op's share of a step")
    p.add_argument("--json", help="also write the result here")
    a = p.parse_args()
    targets, arms = a.lora_targets.split(","), a.arms.split(",")
    runs = {"trl": lambda out: trl_default(a.model, a.data, a.n, a.steps, out, targets),
            "float32": lambda out: ours(a.model, a.data, a.n, a.steps, out, "float32", targets),
            "auto": lambda out: ours(a.model, a.data, a.n, a.steps, out, "auto", targets),
            "auto_full_head": lambda out: ours(a.model, a.data, a.n, a.steps, out, "auto", targets, False),
            "float32_full_head": lambda out: ours(a.model, a.data, a.n, a.steps, out, "float32", targets, False),
            "auto_peft_dropout": lambda out: ours(a.model, a.data, a.n, a.steps, out, "auto", targets,
                                                  cheap_dropout=False),
            "auto_padded": lambda out: ours(a.model, a.data, a.n, a.steps, out, "auto", targets, padding_free=False),
            "auto_compile": lambda out: ours(a.model, a.data, a.n, a.steps, out, "auto", targets, torch_compile=True)}
    if unknown := [x for x in arms if x not in runs]:
        p.error(f"--arms: unknown {', '.join(unknown)} (known: {', '.join(runs)})")
    names = {"trl": "trl_default", "float32": "sdft_train_float32", "auto": "sdft_train_auto",
             "auto_full_head": "sdft_train_auto_full_head", "float32_full_head": "sdft_train_float32_full_head",
             "auto_peft_dropout": "sdft_train_auto_peft_dropout", "auto_padded": "sdft_train_auto_padded",
             "auto_compile": "sdft_train_auto_compile",
             "profile": "sdft_train_auto_profiled"}
    with tempfile.TemporaryDirectory() as tmp:
        got = {arm: runs[arm](f"{tmp}/{arm}") for arm in arms}
        if a.profile:
            got["profile"] = ours(a.model, a.data, a.n, a.steps, f"{tmp}/profile", "auto", targets, profile=True)
    res = {"model": a.model, "data": a.data, "n": a.n, "steps": a.steps, "lora_targets": targets,
           **{names[arm]: r for arm, r in got.items()}}
    for x, y in (("auto", "trl"), ("auto", "float32"), ("float32", "trl"), ("auto", "auto_full_head"),
                 ("auto", "float32_full_head"), ("float32", "float32_full_head"), ("auto", "auto_peft_dropout"),
                 ("auto", "auto_padded"), ("auto_compile", "auto"), ("auto_compile", "trl"),
                 ("auto_compile", "float32")):
        if x in got and y in got:
            res[f"{x}_vs_{y}"] = round(got[x]["tokens_per_s"] / got[y]["tokens_per_s"], 2)
    res["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(res, indent=2))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
