"""What the device check (``gpu_check.py``) and its CUDA part (``gpu_measure.py``) share: the
check's experiment config, the two model shapes and how to shrink them, and how to read the
carried wheel set. Both import it; neither imports the other's internals.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

CONFIG = Path(__file__).resolve().parent / "gpu_check.yaml"

TARGET = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
          "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
          "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}

SHAPES = {"qwen2.5-0.5b": "Qwen2.5-0.5B (config of the prepared Qwen2.5-Coder-0.5B, same shape)",
          "llama-7b": "Llama-2-7B shape, SmolLM2 tokenizer (vocabulary 49152 instead of 32000)"}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_index(folder: Path) -> dict[str, Path]:
    """{normalized project name: wheel file} of the wheels in ``folder``."""
    return {norm(p.name.split("-")[0]): p for p in sorted(Path(folder).glob("*.whl"))}


def wheel_version(path: Path) -> str:
    return path.name.split("-")[1]


def wheel_requires(path: Path, extras: frozenset[str] | set[str] = frozenset()) -> list:
    """The wheel's requirements on the device's Python (its METADATA's Requires-Dist), with
    those of ``extras``."""
    from packaging.requirements import Requirement

    with zipfile.ZipFile(path) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        lines = z.read(meta).decode("utf-8", "replace").splitlines()
    reqs = [Requirement(x.split(":", 1)[1].strip()) for x in lines if x.startswith("Requires-Dist:")]
    return [r for r in reqs if r.marker is None or any(r.marker.evaluate({**TARGET, "extra": e})
                                                       for e in ("", *extras))]



def shrink(cfg) -> None:
    """``cfg`` (a transformers config) at tiny scale, in place: 2 layers, hidden 64, vocabulary kept."""
    cfg.update({"num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
                "num_key_value_heads": 2, "head_dim": 16})
    if getattr(cfg, "layer_types", None):
        cfg.layer_types = cfg.layer_types[:2]


def tiny_shape(config_dir: Path):
    """The architecture of ``config_dir`` at tiny scale (:func:`shrink`), random weights,
    float32 on the CPU: the config loads and the model class builds and runs."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = AutoConfig.from_pretrained(config_dir)
    shrink(cfg)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    with torch.inference_mode():
        logits = model(torch.tensor([[1, 2, 3]])).logits
    return {"model_type": cfg.model_type, "vocab": cfg.vocab_size, "logits": list(logits.shape),
            "finite": bool(torch.isfinite(logits).all())}
