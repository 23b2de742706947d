"""The device check: the pipeline, the HF engine and the trainer on CUDA in bf16, in one command.

    python benchmarks/gpu_check.py prep     # here, with PyPI: fills .gpu_check/ (about 35 MiB)
    scripts/gpu_check.sh                    # on the CUDA machine (no network), .gpu_check carried

``prep`` puts in ``.gpu_check/`` (git-ignored) what a CUDA machine without network lacks:
wheels (cp312, manylinux x86_64 or pure Python) for every dependency of ``pyproject.toml`` that
the device image (:data:`IMAGE`) does not hold, with their own dependencies, at the versions of
``requirements/lock.txt`` where it pins them; two real architectures' configs and tokenizer files,
no weights (Qwen2.5-0.5B's from the prepared Qwen2.5-Coder-0.5B cache, Llama-2-7B's shape with
SmolLM2's tokenizer, its vocabulary resized to fit); the similarity model's folder without its
weights; the first rows of the data files the check reads.

``check`` (what ``scripts/gpu_check.sh`` runs) first checks what any machine can: the wheel set is
complete for the declared dependencies and no wheel asks for another version of a package the
image pins (:func:`wheel_problems`), the experiment config and both model configs load, and both
shapes build and run a forward pass at tiny scale. Without CUDA it says so, writes those checks,
and exits 0 (1 if one of them failed). With CUDA it installs the wheels into a scratch folder and,
within about 8 minutes (``benchmarks/gpu_measure.py``): runs ``benchmarks/gpu_check.yaml`` end to
end on a random-weight Qwen2.5-0.5B shape and checks that every stage that loads a model ran on
CUDA in bf16 (the manifest's ``compute`` records); times the HF engine against one-prompt-at-a-
time and static-batch ``model.generate`` for both shapes; times LoRA training, ours against TRL's
defaults, tokens/s and peak memory, for both shapes. Figures go to one JSON
(``$OUT/gpu_check.json``, else ``.gpu_check/out/``) and are printed.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from gpu_common import CONFIG, SHAPES, norm, tiny_shape, wheel_index, wheel_requires, wheel_version

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DIR = REPO / ".gpu_check"
SCRATCH = Path("/tmp/sdft-gpu-check")

# The device image's Python packages (/work/.library/device/KINDS.md, read there on 2026-11-17),
# and the versions known of some (a session's pip list there, 2026-11).
IMAGE = frozenset("""absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs
botorch build certifi charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings
cuda-core cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet
filelock flatbuffers flax fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx
huggingface-hub humanize hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin
jaxlib jaxtyping jinja2 joblib kiwisolver lazy-loader lightning lightning-utilities linear-operator lineax
llvmlite lxml markdown markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack
multidict multipledispatch mypy-extensions nanobind narwhals networkx ninja numba numba-cuda numpy numpyro
nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft
nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13 nvidia-ml-py
nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript
opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging pandas pathspec
patsy peft pillow pip pluggy portalocker prometheus-client propcache protobuf psutil pyarrow pybind11
py-cpuinfo pygments pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock
pytest-timeout pytest-xdist python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu
safetensors scikit-build-core scikit-image scikit-learn scipy seaborn sentencepiece sentence-transformers
setuptools shellingham simplejson six sortedcontainers statsmodels sympy tabulate tensorboard
tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz torch torchaudio
torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers treescope triton typer
typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl
zipp""".split())
IMAGE_VERSIONS = {"torch": "2.11.0", "transformers": "5.17.0", "accelerate": "1.15.0", "huggingface-hub": "1.33.0",
                  "numpy": "2.5.2", "safetensors": "0.8.0", "sentence-transformers": "6.0.1",
                  "tokenizers": "0.23.2"}
# Needed beside pyproject.toml's dependencies: lm-eval's IFEval checkers (its `ifeval` extra).
EXTRA_ROOTS = ("langdetect", "immutabledict", "nltk")
# The markers of the device's interpreter, for the wheels' conditional requirements.
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")

# Llama-2-7B's architecture (its public config.json); vocab_size follows the carried tokenizer.
LLAMA_7B = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
            "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
            "num_key_value_heads": 32, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
            "hidden_act": "silu", "rope_theta": 10000.0, "tie_word_embeddings": False, "torch_dtype": "bfloat16"}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "generation_config.json",
                   "special_tokens_map.json")
# The data the check reads (task files of the tiny config's benchmarks), first DATA_ROWS rows each.
DATA_FILES = ("gsm8k/gsm8k_train.json", "gsm8k/gsm8k_test.json", "advbench/harmful_behaviors.csv",
              "advbench/gcg_suffix.txt", "arc/ARC-Easy-Train.jsonl", "arc/ARC-Easy-Dev.jsonl",
              "arc/ARC-Easy-Test.jsonl")
DATA_ROWS = 96


def roots(pyproject: Path = REPO / "pyproject.toml") -> list:
    import tomllib
    from packaging.requirements import Requirement

    deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    return [Requirement(d) for d in deps] + [Requirement(n) for n in EXTRA_ROOTS]


def wheel_problems(folder: Path, wanted: list | None = None) -> list[str]:
    """What stops ``folder``'s wheels from installing ``wanted`` (default: pyproject.toml's
    dependencies and :data:`EXTRA_ROOTS`) on the device image: a requirement outside the image
    without a wheel, a wheel of a version its dependant excludes, a requirement that excludes
    the image's known version of a package, a wheel that is not for CPython 3.12 on x86-64 Linux."""
    wheels, problems, seen = wheel_index(folder), [], set()
    todo = [(r, "pyproject.toml") for r in (roots() if wanted is None else wanted)]
    for w in wheels.values():
        tags = w.name[:-4].split("-")[-3:]
        if not (tags[2] == "any" or (tags[0] == "cp312" and "x86_64" in tags[2] and "linux" in tags[2])):
            problems.append(f"{w.name}: not a wheel for CPython 3.12 on x86-64 Linux")
    while todo:
        req, by = todo.pop(0)
        name = norm(req.name)
        if name in IMAGE:
            known = IMAGE_VERSIONS.get(name)
            if known and not req.specifier.contains(known, prereleases=True):
                problems.append(f"{by} needs {req}, the image has {name} {known}")
            continue
        if name not in wheels:
            problems.append(f"{by} needs {req}: no wheel in {folder}")
            continue
        if not req.specifier.contains(wheel_version(wheels[name]), prereleases=True):
            problems.append(f"{by} needs {req}, the wheel is {wheels[name].name}")
        if (name, *sorted(req.extras)) not in seen:
            seen.add((name, *sorted(req.extras)))
            todo += [(r, wheels[name].name) for r in wheel_requires(wheels[name], req.extras)]
    return problems


# ------------------------------------------------------------------------------------------ prep

def _lock() -> dict[str, str]:
    text = (REPO / "requirements" / "lock.txt").read_text(encoding="utf-8")
    return {norm(m[1]): m[2] for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", text, re.M)}


def _fetch(req, lock: dict[str, str], dest: Path) -> None:
    """One wheel for ``req``: the lock's version where it fits, a binary from PyPI, else built
    from the source distribution (pure-Python projects that publish no wheel)."""
    pin = lock.get(norm(req.name))
    spec = f"{req.name}=={pin}" if pin and req.specifier.contains(pin, prereleases=True) else \
        f"{req.name}{req.specifier}"
    pip = [sys.executable, "-m", "pip"]
    binary = [*pip, "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
              "--implementation", "cp", *[f"--platform={p}" for p in PLATFORMS], "-d", str(dest), spec]
    if subprocess.run(binary).returncode != 0:
        print(f"  {spec}: no wheel on PyPI, building one from the source distribution", flush=True)
        subprocess.run([*pip, "wheel", "-q", "--no-deps", "-w", str(dest), spec], check=True)


def prep(out: Path, cache: Path | None = None, data: Path | None = None) -> dict:
    """Fill ``out`` (see the module docstring); returns what was put there."""
    from sdft import models
    from sdft.analyze.similarity import embedding_model_path
    from sdft.data.tasks import data_dir

    wheels, lock = out / "wheels", _lock()
    wheels.mkdir(parents=True, exist_ok=True)
    for _ in range(10):  # each round fetches what the last round's wheels need
        missing = [p for p in wheel_problems(wheels) if ": no wheel in " in p]
        if not missing:
            break
        from packaging.requirements import Requirement

        for line in missing:
            req = Requirement(line.split(" needs ", 1)[1].split(": no wheel", 1)[0])
            if norm(req.name) not in wheel_index(wheels):
                print(f"wheel: {req}", flush=True)
                _fetch(req, lock, wheels)
    cache = cache or models.cache_dir() / "models"
    qwen = next(iter(sorted(cache.glob("qwen2.5-coder-0.5b-*"))), None)
    smol = next(iter(sorted(cache.glob("smollm2-135m-*"))), None)
    if qwen is None or smol is None:
        raise SystemExit(f"{cache}: no prepared qwen2.5-coder-0.5b-* / smollm2-135m-* folder "
                         "(load each alias once: sdft generate --model ALIAS ...)")
    for name, src in (("qwen2.5-0.5b", qwen), ("llama-7b", smol)):
        dest = out / "models" / name
        dest.mkdir(parents=True, exist_ok=True)
        for f in TOKENIZER_FILES:
            if (src / f).exists():
                shutil.copy2(src / f, dest / f)
        if name == "qwen2.5-0.5b":
            shutil.copy2(src / "config.json", dest / "config.json")
        else:
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(src)
            cfg = {**LLAMA_7B, "vocab_size": len(tok), "bos_token_id": tok.bos_token_id,
                   "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id}
            (dest / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    minilm = out / "minilm"
    shutil.rmtree(minilm, ignore_errors=True)
    shutil.copytree(embedding_model_path(), minilm, ignore=shutil.ignore_patterns("*.safetensors", "*.bin",
                                                                                  "onnx", "openvino"))
    src = data or data_dir()
    for rel in DATA_FILES:
        _head(src / rel, out / "data" / rel, DATA_ROWS)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file() and "out" not in p.relative_to(out).parts)
    info = {"wheels": sorted(p.name for p in wheels.glob("*.whl")), "mib": round(size / 2**20, 1),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "problems": wheel_problems(wheels)}
    (out / "prep.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def _head(src: Path, dest: Path, n: int) -> None:
    """The first ``n`` records of a data file, in its own format."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.suffix == ".json":
        dest.write_text(json.dumps(json.loads(src.read_text(encoding="utf-8"))[:n], ensure_ascii=False))
    elif src.suffix in (".jsonl", ".csv"):
        lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
        dest.write_text("".join(lines[: n + (src.suffix == ".csv")]), encoding="utf-8")
    else:
        shutil.copy2(src, dest)


# ----------------------------------------------------------------------------------------- check

def cpu_checks(folder: Path) -> dict:
    """What any machine can check: wheels, configs, tokenizers, shapes; ``ok`` False if one failed."""
    from transformers import AutoTokenizer

    from sdft.experiment import load_experiment

    out: dict = {"problems": []}
    if not (folder / "wheels").is_dir():
        out["problems"].append(f"{folder / 'wheels'}: missing (run: python benchmarks/gpu_check.py prep)")
    else:
        out["wheels"] = len(list((folder / "wheels").glob("*.whl")))
        out["problems"] += wheel_problems(folder / "wheels")
    load_experiment(CONFIG)  # an unknown key or a bad value is an error naming it
    out["shapes"] = {}
    for name in SHAPES:
        d = folder / "models" / name
        if not (d / "config.json").exists():
            out["problems"].append(f"{d / 'config.json'}: missing (run prep)")
            continue
        tok = AutoTokenizer.from_pretrained(d)
        out["shapes"][name] = {**tiny_shape(d), "tokenizer_vocab": len(tok)}
        if len(tok) > json.loads((d / "config.json").read_text())["vocab_size"]:
            out["problems"].append(f"{d}: the tokenizer has more tokens than the config's vocab_size")
    out["ok"] = not out["problems"]
    return out


def main(argv: list[str] | None = None) -> int:
    import os

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=("prep", "check"))
    p.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the prepared folder (default .gpu_check)")
    p.add_argument("--out", type=Path, default=None, help="where the JSON goes (default $OUT, else DIR/out)")
    p.add_argument("--budget-s", type=float, default=480, help="the CUDA part's time budget (default 480)")
    p.add_argument("--force-cpu", action="store_true", help="take the no-CUDA path even where CUDA is (tests)")
    p.add_argument("--simulate", action="store_true",
                   help="without CUDA, run the GPU part on the CPU at tiny scale: tests this script, measures nothing")
    a = p.parse_args(argv)
    if a.command == "prep":
        info = prep(a.dir)
        print(json.dumps({k: v for k, v in info.items() if k != "wheels"}, indent=2))
        print(f"{len(info['wheels'])} wheels; carry {a.dir.name} (git-ignored) to the device machine")
        return 1 if info["problems"] else 0
    out = a.out or (Path(os.environ["OUT"]) if os.environ.get("OUT") else a.dir / "out")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    import torch

    cuda = torch.cuda.is_available() and not a.force_cpu
    res = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cuda": cuda, "checks": cpu_checks(a.dir)}
    ok = res["checks"]["ok"]
    if not cuda and not a.simulate:
        res["note"] = "no CUDA device here: wheels, configs and shapes checked; the GPU measurements are not run"
    elif ok:
        import gpu_measure  # beside this file

        if not cuda:
            res["note"] = "simulated on the CPU at tiny scale: the script's logic, no measurement"
        res |= gpu_measure.run_all(a.dir, SCRATCH if cuda else SCRATCH.with_name(SCRATCH.name + "-sim"),
                                   a.budget_s - (time.perf_counter() - t0), "cuda" if cuda else "cpu")
        ok = res.get("ok", False)
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    (out / "gpu_check.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
    print(json.dumps(res, indent=2, default=str))
    for line in res["checks"]["problems"]:
        print(f"problem: {line}", file=sys.stderr)
    print(("CUDA: " if cuda else "No CUDA: ") + ("all checks passed" if ok else "a check failed")
          + f"; figures in {out / 'gpu_check.json'}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
