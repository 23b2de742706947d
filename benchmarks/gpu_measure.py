"""The CUDA part of the device check (``benchmarks/gpu_check.py``; run there, never in tests).

Three parts, in order of importance, each skipped (and said so) when the time budget is spent:

1. ``pipeline``: ``sdft run benchmarks/gpu_check.yaml`` on a random-weight Qwen2.5-0.5B shape
   saved to the scratch folder; every stage that loads a model must have recorded CUDA and bf16
   (the manifest's ``compute``; the similarity encoder is float32 by design).
2. ``generation``: per shape, the same greedy prompts (GSM8K test questions) through our HF
   engine, through ``model.generate`` one prompt at a time, and through ``model.generate`` on
   one left-padded static batch; tokens counted up to and including EOS, bf16 everywhere.
3. ``training``: per shape, LoRA (r=8, q_proj/v_proj, batch 2 x grad-accum 4) tokens/s and peak
   GPU memory of ``sdft train``'s recipe and of TRL's ``SFTTrainer`` with its defaults (bf16
   weights as a hub checkpoint loads, gradient checkpointing on), the rate from the end of the
   first optimizer step to the end of the last (``benchmarks/train.py``'s timer).

Random weights rarely emit EOS, so generations run to the token limit: the figures are rates,
not answers. Models are built from the carried configs directly on the GPU; only the pipeline's
model is written to disk, since ``sdft run`` loads from a folder in a subprocess.

``run_all(..., device="cpu")`` (``gpu_check.py check --simulate``) runs the same code on the CPU
with the shapes at tiny scale (:func:`gpu_common.tiny_shape`'s sizes) and fewer prompts and steps:
a test of this script's logic where no GPU is, not a measurement.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import gpu_common

PROMPTS, NEW_TOKENS, ONE_AT_A_TIME = 64, 128, 4
TRAIN_N, TRAIN_STEPS = 48, 6
# Where the parts run: CUDA at full size, or (simulate) the CPU at tiny scale. Set by run_all.
DEVICE, TINY = "cuda", False


def versions() -> dict:
    from importlib import metadata

    import torch

    out = {"python": sys.version.split()[0], "cuda": torch.version.cuda,
           "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    for name in ("torch", "transformers", "peft", "accelerate", "trl", "datasets", "lm_eval", "sentence-transformers",
                 "pyarrow", "fsspec"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def conflicts(wheels: Path) -> list[str]:
    """Carried wheels' requirements that the installed packages (the image's) do not meet."""
    from importlib import metadata

    out = []
    for w in gpu_common.wheel_index(wheels).values():
        for r in gpu_common.wheel_requires(w):
            try:
                have = metadata.version(r.name)
            except metadata.PackageNotFoundError:
                out.append(f"{w.name} needs {r}: not installed")
                continue
            if not r.specifier.contains(have, prereleases=True):
                out.append(f"{w.name} needs {r}, installed {have}")
    return out


def build(shape_dir: Path, device: str | None = None):
    """(random-weight model in bf16 on ``device``, tokenizer) from a carried config folder."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from sdft import models

    device = device or DEVICE
    torch.manual_seed(0)
    cfg = AutoConfig.from_pretrained(shape_dir)
    if TINY:
        gpu_common.shrink(cfg)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    model.eval()
    model.sdft_dtype = "bfloat16"
    tok = models.setup_tokenizer(AutoTokenizer.from_pretrained(shape_dir))
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tok.pad_token_id
    return model, tok


def free() -> None:
    import torch

    gc.collect()
    if DEVICE == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def sync() -> None:
    import torch

    if DEVICE == "cuda":
        torch.cuda.synchronize()


def peak_mib() -> int | None:
    """Peak GPU memory allocated since the last :func:`free` (None on the CPU)."""
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**20) if DEVICE == "cuda" else None


# ---------------------------------------------------------------------------------- 1. pipeline

def pipeline(folder: Path, scratch: Path, timeout_s: float) -> dict:
    model_dir = scratch / "models" / "qwen2.5-0.5b"
    if not (model_dir / "model.safetensors").exists():
        model, tok = build(folder / "models" / "qwen2.5-0.5b")
        model.save_pretrained(model_dir)
        tok.save_pretrained(model_dir)
        del model
        free()
    run = scratch / "run"
    shutil.rmtree(run, ignore_errors=True)
    cmd = [sys.executable, "-m", "sdft.cli", "run", str(gpu_common.CONFIG), f"model={model_dir}", "--out", str(run),
           "--data-dir", str(folder / "data")]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        rc, tail = proc.returncode, (proc.stdout + proc.stderr)[-3000:]
    except subprocess.TimeoutExpired as e:
        rc, tail = "timeout", str(e.stdout or "")[-3000:]
    res = {"rc": rc, "wall_s": round(time.perf_counter() - t0, 1)}
    manifest = run / "manifest.json"
    if not manifest.exists():
        return {**res, "ok": False, "log_tail": tail}
    m = json.loads(manifest.read_text())
    res["stages"] = {k: {"wall_s": v.get("wall_s"), "compute": v.get("compute")} for k, v in m["stages"].items()}
    res["problems"] = check_manifest(m, DEVICE, "bfloat16" if DEVICE == "cuda" else None)
    res["ok"] = rc == 0 and not res["problems"]
    if not res["ok"]:
        res["log_tail"] = tail
    return res


MODEL_STAGES = ("distill/", "train/", "eval/")


def check_manifest(manifest: dict, device: str = "cuda", dtype: str | None = "bfloat16") -> list[str]:
    """Each stage done; each distill/train/eval stage loaded a model, every one on ``device`` in
    ``dtype`` (None: any); the analysis's encoder on ``device``; distill, train, eval, analyze and
    report all present."""
    stages, problems = manifest.get("stages") or {}, []
    for kind in (*MODEL_STAGES, "analyze", "report"):
        if not any(k.startswith(kind) or k == kind for k in stages):
            problems.append(f"no {kind.rstrip('/')} stage in the manifest")
    for name, st in stages.items():
        if st.get("status") != "done":
            problems.append(f"{name}: status {st.get('status')}")
        used = st.get("compute")
        if used is None:
            problems.append(f"{name}: no compute record")
            continue
        if name.startswith(MODEL_STAGES) and not used:
            problems.append(f"{name}: loaded no model")
        for u in used:
            if not str(u.get("device", "")).startswith(device):
                problems.append(f"{name}: {u.get('what')} ran on {u.get('device')}")
            if name.startswith(MODEL_STAGES) and dtype and u.get("dtype") != dtype:
                problems.append(f"{name}: {u.get('what')} ran in {u.get('dtype')}")
    return problems


# -------------------------------------------------------------------------------- 2. generation

def generation(shape_dir: Path, data: Path) -> dict:
    import torch

    from sdft import models
    from sdft.data.tasks import load_task
    from sdft.generation.base import Request, SamplingParams
    from sdft.generation.hf import HFGenerator

    model, tok = build(shape_dir)
    reqs = [Request(ex.id, ex.messages()) for ex in load_task("gsm8k", "test", data)[:PROMPTS]]
    texts = [models.render_chat(tok, r.messages) for r in reqs]
    gen = HFGenerator(model, tok, max_batch_size=PROMPTS)
    eos = set(gen.eos_ids)

    def useful(row: list[int]) -> int:
        return next((i + 1 for i, t in enumerate(row) if t in eos), len(row))

    def timed(fn) -> tuple[int, float]:
        sync()
        t0 = time.perf_counter()
        n = fn()
        sync()
        return n, time.perf_counter() - t0

    def engine() -> int:
        return sum(c.num_tokens for c in gen.generate(reqs, SamplingParams(max_new_tokens=NEW_TOKENS)))

    def one_at_a_time() -> int:
        n = 0
        for t in texts[:ONE_AT_A_TIME]:
            enc = tok(t, return_tensors="pt", add_special_tokens=False).to(DEVICE)
            out = model.generate(**enc, max_new_tokens=NEW_TOKENS, do_sample=False)
            n += useful(out[0, enc.input_ids.shape[1]:].tolist())
        return n

    def static_batch() -> int:
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(DEVICE)
        out = model.generate(**enc, max_new_tokens=NEW_TOKENS, do_sample=False)
        return sum(useful(row) for row in out[:, enc.input_ids.shape[1]:].tolist())

    res = {"prompts": PROMPTS, "new_tokens": NEW_TOKENS, "one_at_a_time_prompts": ONE_AT_A_TIME,
           "params_b": round(sum(p.numel() for p in model.parameters()) / 1e9, 3)}
    with torch.inference_mode():
        list(gen.generate(reqs[:2], SamplingParams(max_new_tokens=4)))  # warm-up: kernels, allocator
        enc = tok(texts[:1], return_tensors="pt", add_special_tokens=False).to(DEVICE)
        model.generate(**enc, max_new_tokens=4, do_sample=False)
        for name, fn in (("engine", engine), ("one_at_a_time", one_at_a_time), ("static_batch", static_batch)):
            free()
            n, wall = timed(fn)
            res[name] = {"tokens": n, "wall_s": round(wall, 2), "tok_s": round(n / wall, 1), "peak_gpu_mib": peak_mib()}
    for base in ("one_at_a_time", "static_batch"):
        res[f"engine_vs_{base}"] = round(res["engine"]["tok_s"] / res[base]["tok_s"], 2)
    return res  # the model goes with this frame; run_all frees the cache after each part


# ---------------------------------------------------------------------------------- 3. training

def training(shape_dir: Path, scratch: Path) -> dict:
    """Ours (``benchmarks/train.py``'s ``ours``, the model built instead of read from disk) vs TRL."""
    from unittest import mock

    import torch

    import train as train_bench  # benchmarks/train.py
    from sdft import models

    def load(spec, **kw):  # what run_train's models.load returns, from the config, on the GPU
        dtype = models.resolve_dtype(kw.get("dtype"), DEVICE)
        model, tok = build(shape_dir)
        model.to(getattr(torch, dtype))
        model.sdft_dtype = dtype
        tok.padding_side = kw.get("padding_side", "left")
        from sdft.runs import note_compute

        note_compute(str(shape_dir), str(model.device), dtype)
        return model, tok

    out, targets = {}, ["q_proj", "v_proj"]
    free()
    with mock.patch.object(models, "load", load):
        r = train_bench.ours(str(shape_dir), "gsm8k:train", TRAIN_N, TRAIN_STEPS, str(scratch / "train-ours"),
                             "auto", targets, overwrite=True)
    out["sdft"] = {k: r[k] for k in ("tokens_per_s", "s_per_step", "first_step_s", "dtype")} | {
        "peak_gpu_mib": peak_mib()}
    free()
    out["trl_default"] = trl_default(shape_dir, scratch / "train-trl", targets)
    out["sdft_vs_trl"] = round(out["sdft"]["tokens_per_s"] / out["trl_default"]["tokens_per_s"], 2)
    free()
    return out


def trl_default(shape_dir: Path, out: Path, targets: list[str]) -> dict:
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    import train as train_bench
    from sdft.data.tasks import load_data

    examples = load_data("gsm8k:train")[:TRAIN_N]
    model, tok = build(shape_dir)
    model.train()
    tok.padding_side = "right"
    ds = Dataset.from_list([{"prompt": e.messages(), "completion": [{"role": "assistant", "content": e.response}]}
                            for e in examples])
    # TRL's configs default gradient_checkpointing (True) under the name transformers 5.24
    # deprecates: TRL's default, not a call of ours, and what this measurement is about.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`gradient_checkpointing` is deprecated", FutureWarning)
        args = SFTConfig(output_dir=str(out), per_device_train_batch_size=2, gradient_accumulation_steps=4,
                         learning_rate=1e-4, lr_scheduler_type="cosine", max_steps=TRAIN_STEPS, save_strategy="no",
                         report_to="none", logging_steps=1, include_num_input_tokens_seen="non_padding",
                         use_cpu=DEVICE != "cuda")  # the simulation only
    timer = train_bench._timer()
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok, callbacks=[timer],
                         peft_config=LoraConfig(r=8, lora_alpha=16, target_modules=targets, task_type="CAUSAL_LM"))
    trainer.train()
    tok_s, step_s = timer.rate()
    res = {"tokens_per_s": round(tok_s, 1), "s_per_step": round(step_s, 2),
           "first_step_s": round(timer.first_step_s(), 1), "gradient_checkpointing": args.gradient_checkpointing,
           "bf16": args.bf16, "peak_gpu_mib": peak_mib()}
    del trainer, model
    return res


# --------------------------------------------------------------------------------------- driver

def run_all(folder: Path, scratch: Path, budget_s: float, device: str = "cuda") -> dict:
    """Every part within ``budget_s`` seconds; a part that raises is recorded and the rest go on.
    ``device="cpu"``: the simulation (module docstring)."""
    import traceback

    global DEVICE, TINY, PROMPTS, NEW_TOKENS, ONE_AT_A_TIME, TRAIN_N, TRAIN_STEPS
    DEVICE, TINY = device, device != "cuda"
    if TINY:
        PROMPTS, NEW_TOKENS, ONE_AT_A_TIME, TRAIN_N, TRAIN_STEPS = 8, 16, 2, 12, 3

    os.environ.setdefault("SDFT_DATA_DIR", str(folder / "data"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    scratch.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    left = lambda: budget_s - (time.perf_counter() - t0)  # noqa: E731
    res: dict = {"versions": versions(), "conflicts": conflicts(folder / "wheels"), "generation": {}, "training": {}}

    def attempt(where: dict, key: str, need_s: float, fn) -> None:
        if left() < need_s:
            where[key] = {"skipped": f"{left():.0f} s left of the budget, {need_s:.0f} s wanted"}
            return
        t = time.perf_counter()
        try:
            where[key] = fn()
        except Exception as e:  # noqa: BLE001 - one broken part must not hide the others' figures
            where[key] = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()[-2000:]}
        where[key]["part_s"] = round(time.perf_counter() - t, 1)
        free()
        print(f"[gpu_check] {key}: {json.dumps(where[key], default=str)[:400]}", flush=True)

    attempt(res, "pipeline", 60, lambda: pipeline(folder, scratch, max(60.0, left() - 200)))
    for name in gpu_common.SHAPES:
        attempt(res["generation"], name, 30, lambda n=name: generation(folder / "models" / n, folder / "data"))
    for name in gpu_common.SHAPES:
        attempt(res["training"], name, 30, lambda n=name: training(folder / "models" / n, scratch))
    parts = [res["pipeline"], *res["generation"].values(), *res["training"].values()]
    res["ok"] = res["pipeline"].get("ok", False) and not any("error" in p or "skipped" in p for p in parts)
    return res
