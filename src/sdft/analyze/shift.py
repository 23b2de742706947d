"""Parameter shift: how far fine-tuning moved the weights from the seed model.

- LoRA adapter folder (``adapter_config.json`` + ``adapter_model.safetensors``): per adapted
  module the Frobenius norm of the update PEFT adds to the weight, ``s · B·A`` with
  ``s = alpha / r`` (``alpha / sqrt(r)`` under ``use_rslora``), honouring ``rank_pattern`` and
  ``alpha_pattern``; ``total`` is the sum over modules. The norm is computed exactly from the
  small r×r Gram matrices, so the full-size update is never built.
- Full checkpoint folder (``config.json`` + ``*.safetensors``): per tensor ‖W − W₀‖_F against
  the seed weights (``sdft.models.materialize(resolve(seed))``); ``total`` is again the sum,
  ``l2`` the norm of the whole flattened difference.

Limits: DoRA magnitude vectors and ``modules_to_save`` copies inside an adapter are not
counted (they would need the seed weights); they are listed under ``skipped``. Only the
default adapter of a folder is read.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from sdft.errors import ConfigError

_LORA_KEY = re.compile(r"^(?P<module>.+)\.lora_(?P<side>A|B|embedding_A|embedding_B)(?:\.[^.]+)?\.weight$")
_LORA_KEY_PARAM = re.compile(r"^(?P<module>.+)\.lora_(?P<side>embedding_A|embedding_B)(?:\.[^.]+)?$")


def parameter_shift(model_dir: str | Path, seed: str | None = None) -> dict[str, Any]:
    """Shift of a fine-tuned folder vs the seed: {"kind", "total", "per_module", ...}.

    ``seed`` (a model spec) is needed only for full checkpoints.
    """
    d = Path(model_dir)
    if (d / "adapter_config.json").exists():
        return lora_shift(d)
    if (d / "config.json").exists() and list(d.glob("*.safetensors")):
        if not seed:
            raise ConfigError(f"{d}: a full checkpoint needs the seed model to compare with (--seed-model)")
        from sdft import models

        return full_shift(d, models.materialize(models.resolve(seed)))
    raise ConfigError(f"{d}: neither a LoRA adapter (adapter_config.json) nor a safetensors checkpoint")


def _match(patterns: dict[str, Any], name: str) -> Any:
    # PEFT matches a pattern against the module name or any dotted suffix of it.
    for pat, value in patterns.items():
        if name == pat or re.fullmatch(rf"(?:.*\.)?(?:{pat})", name):
            return value
    return None


def lora_scale(cfg: dict[str, Any], module: str) -> float:
    """The factor PEFT multiplies B·A by for ``module`` (a base-model module name)."""
    r = _match(cfg.get("rank_pattern") or {}, module) or cfg.get("r", 8)
    alpha = _match(cfg.get("alpha_pattern") or {}, module) or cfg.get("lora_alpha", 8)
    return alpha / math.sqrt(r) if cfg.get("use_rslora") else alpha / r


def lora_shift(adapter_dir: str | Path) -> dict[str, Any]:
    import torch
    from safetensors import safe_open

    d = Path(adapter_dir)
    try:
        cfg = json.loads((d / "adapter_config.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ConfigError(f"{d / 'adapter_config.json'}: invalid JSON ({e.msg})") from None
    if cfg.get("peft_type", "LORA") != "LORA":
        raise ConfigError(f"{d / 'adapter_config.json'}: peft_type {cfg.get('peft_type')!r} is not LORA")
    weights = d / "adapter_model.safetensors"
    if not weights.exists():
        raise ConfigError(f"{weights}: adapter weights missing (only safetensors adapters are read)")
    pairs: dict[str, dict[str, Any]] = {}
    skipped: list[str] = []
    with safe_open(str(weights), framework="pt") as f:
        for key in f.keys():
            m = _LORA_KEY.match(key) or _LORA_KEY_PARAM.match(key)
            if not m:
                skipped.append(key)
                continue
            side = "A" if m["side"] in ("A", "embedding_A") else "B"
            pairs.setdefault(m["module"], {})[side] = f.get_tensor(key)
    per_module: dict[str, float] = {}
    for module, ab in sorted(pairs.items()):
        if set(ab) != {"A", "B"}:
            raise ConfigError(f"{weights}: module {module!r} has lora_{''.join(ab)} but not both A and B")
        # Conv layers store 4-D factors; flattening keeps B·A's norm. Embedding LoRA stores
        # A as (r, vocab) and B as (dim, r): the update is (B·A)ᵀ, with the same norm.
        a, b = ab["A"].double().flatten(1), ab["B"].double().flatten(1)
        # ‖B·A‖_F² = tr((BᵀB)(AAᵀ)): r×r matrices instead of the full out×in update.
        sq = torch.trace((b.T @ b) @ (a @ a.T)).clamp_min(0).item()
        name = module.removeprefix("base_model.model.")
        per_module[name] = lora_scale(cfg, name) * math.sqrt(sq)
    out = {"kind": "lora", "total": float(sum(per_module.values())), "per_module": per_module,
           "n_modules": len(per_module), "r": cfg.get("r"), "lora_alpha": cfg.get("lora_alpha"),
           "use_rslora": bool(cfg.get("use_rslora"))}
    if skipped:
        out["skipped"] = skipped
    if cfg.get("use_dora"):
        out["note"] = "DoRA magnitude vectors are not counted in this shift"
    return out


def _safetensor_index(d: Path) -> dict[str, Path]:
    from safetensors import safe_open

    index: dict[str, Path] = {}
    for p in sorted(d.glob("*.safetensors")):
        with safe_open(str(p), framework="pt") as f:
            for k in f.keys():
                index[k] = p
    return index


def full_shift(model_dir: str | Path, seed_dir: str | Path) -> dict[str, Any]:
    import torch
    from safetensors import safe_open

    d, s = Path(model_dir), Path(seed_dir)
    tuned, seed = _safetensor_index(d), _safetensor_index(s)
    if not seed:
        raise ConfigError(f"{s}: no safetensors weights to compare the checkpoint {d} with")
    per_module: dict[str, float] = {}
    skipped = sorted(set(tuned) - set(seed))
    handles: dict[Path, Any] = {}
    try:
        for key in sorted(set(tuned) & set(seed)):
            for p in (tuned[key], seed[key]):
                if p not in handles:
                    handles[p] = safe_open(str(p), framework="pt").__enter__()
            w, w0 = handles[tuned[key]].get_tensor(key), handles[seed[key]].get_tensor(key)
            if w.shape != w0.shape:
                raise ConfigError(f"{d}: tensor {key!r} has shape {tuple(w.shape)}, "
                                  f"seed {s} has {tuple(w0.shape)}: not the same architecture")
            diff = w.float() - w0.float()
            per_module[key] = float(torch.linalg.vector_norm(diff, dtype=torch.float64))
    finally:
        for h in handles.values():
            h.__exit__(None, None, None)
    out = {"kind": "full", "total": float(sum(per_module.values())),
           "l2": math.sqrt(sum(v * v for v in per_module.values())), "per_module": per_module,
           "n_modules": len(per_module), "seed_dir": str(s)}
    if skipped:
        out["skipped"] = skipped
    return out
