"""Weight interpolation (WiSE-FT, Wortsman et al. 2022) of a LoRA fine-tune with its seed.

The interpolated model is ``W + alpha * (B A) * scale``: the seed's weights plus the trained
update scaled by ``alpha``. :func:`scaled_adapter` writes it as an ordinary PEFT adapter folder
whose ``lora_B`` matrices are multiplied by ``alpha``, so every backend and benchmark (generation,
merged or not, and lm-eval's log-likelihoods) evaluates it like any fine-tune. At ``alpha = 0``
the update is exactly zero (the seed's outputs, token for token); at ``alpha = 1`` the tensors
are the fine-tune's, bit for bit.

A full fine-tune has no separate update to scale; interpolating one would need the seed's
weights beside it and is refused with a clear error.

    from sdft.train.interpolate import scaled_adapter
    scaled_adapter("runs/g/train/vanilla-1a2b3c4d", 0.5, "runs/g-a0.5")   # then: sdft eval --adapter runs/g-a0.5

In an experiment, ``sweeps.interpolation: [0.25, 0.5, 0.75]`` does this for every main fine-tune.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sdft.errors import ConfigError

WEIGHTS = "adapter_model.safetensors"


def scaled_adapter(adapter: str | Path, alpha: float, dest: str | Path) -> Path:
    """Write ``adapter`` with its update scaled by ``alpha`` into ``dest``; returns ``dest``."""
    from safetensors.torch import load_file, save_file

    adapter, dest = Path(adapter), Path(dest)
    if not 0 <= alpha <= 1:
        raise ConfigError(f"weight interpolation: alpha must be in [0, 1], got {alpha}")
    if not (adapter / "adapter_config.json").exists():
        raise ConfigError(f"{adapter}: weight interpolation scales a LoRA adapter's update; this folder holds "
                          "no adapter_config.json (a full fine-tune would need the seed weights beside it)")
    tensors = load_file(str(adapter / WEIGHTS))
    scaled = [k for k in tensors if ".lora_B." in k or ".lora_embedding_B" in k]
    if not scaled:
        raise ConfigError(f"{adapter / WEIGHTS}: no lora_B tensors to scale")
    trainable_other = [k for k in tensors if "lora_" not in k]
    if trainable_other:  # modules_to_save would need their own interpolation with the seed's copy
        raise ConfigError(f"{adapter}: the adapter also saves full modules ({trainable_other[0]}, ...); "
                          "only a pure LoRA update can be interpolated")
    out = {k: (v * alpha if k in scaled else v) for k, v in tensors.items()}
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for f in adapter.iterdir():  # config, tokenizer files; not the trainer's checkpoints
        if f.is_file() and f.name != WEIGHTS and not f.name.endswith((".png", ".jsonl")):
            shutil.copy2(f, tmp / f.name)
    save_file(out, str(tmp / WEIGHTS), metadata={"format": "pt"})
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest
