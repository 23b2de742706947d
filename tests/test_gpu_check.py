"""benchmarks/gpu_check.py: the device check's wheel logic, its manifest check and its no-CUDA path
(fake wheels, no network; the CUDA part itself runs only on a GPU machine)."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def gc(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import gpu_check

    return gpu_check


def wheel(folder: Path, name: str, version: str, requires: tuple[str, ...] = (), tag: str = "py3-none-any") -> Path:
    """A wheel file holding only its METADATA: what the checks read."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-{tag}.whl"
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    meta += [f"Requires-Dist: {r}" for r in requires]
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{name}-{version}.dist-info/METADATA", "\n".join(meta) + "\n")
    return path


def test_wheel_problems_name_each_gap(gc, tmp_path):
    w = tmp_path / "wheels"
    wheel(w, "trl", "1.16.0", ("datasets>=4.7", "transformers>=4.56", 'pytest; extra == "test"'))
    wheel(w, "datasets", "4.0.0", ("dill<0.4.2", "pyarrow>=21"))
    wheel(w, "typepy", "1.3.5", ('pytz>=2018.9; extra == "datetime"', 'colorama; python_version < "3.8"'))
    wheel(w, "zstandard", "0.25.0", tag="cp311-cp311-manylinux_2_17_x86_64")
    wanted = [Requirement("trl>=1.6"), Requirement("typepy[datetime]"), Requirement("transformers>=5.20")]
    problems = gc.wheel_problems(w, wanted)
    assert "trl-1.16.0-py3-none-any.whl needs datasets>=4.7, the wheel is datasets-4.0.0-py3-none-any.whl" in problems
    assert any(p.startswith("datasets-4.0.0-py3-none-any.whl needs dill<0.4.2: no wheel") for p in problems)
    assert any(p.startswith('typepy-1.3.5-py3-none-any.whl needs pytz>=2018.9; extra == "datetime": no wheel')
               for p in problems)  # the extra asked for brings its own needs
    assert "pyproject.toml needs transformers>=5.20, the image has transformers 5.17.0" in problems
    assert any(p.startswith("zstandard-0.25.0-cp311") and "not a wheel for CPython 3.12" in p for p in problems)
    # and nothing else: the image's own packages (pyarrow, transformers>=4.56), extras not asked
    # for (pytest) and other Pythons' markers (colorama) need no wheel
    assert len(problems) == 5
    wheel(w, "datasets", "5.2.0", ("dill<0.4.2",))
    (w / "datasets-4.0.0-py3-none-any.whl").unlink()
    wheel(w, "dill", "0.4.1")
    wheel(w, "pytz", "2025.2")
    (w / "zstandard-0.25.0-cp311-cp311-manylinux_2_17_x86_64.whl").unlink()
    assert gc.wheel_problems(w, wanted[:2]) == []


def test_our_floors_fit_the_device_image(gc, tmp_path):
    """transformers 5.17 there, 5.24 in our lock: pyproject's floors must admit the image's versions."""
    assert not [p for p in gc.wheel_problems(tmp_path) if "the image has" in p]
    names = {gc.norm(r.name) for r in gc.roots()}
    assert {"trl", "datasets", "lm-eval", "gguf", "rouge-score"} <= names - gc.IMAGE  # what must travel
    assert {"torch", "transformers", "peft", "accelerate"} <= names & gc.IMAGE


def test_head_keeps_the_first_records_in_each_format(gc, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.json").write_text(json.dumps([{"i": i} for i in range(5)]))
    (src / "b.jsonl").write_text("".join(json.dumps({"i": i}) + "\n" for i in range(5)))
    (src / "c.csv").write_text("goal,target\n" + "".join(f"g{i},t{i}\n" for i in range(5)))
    for name in ("a.json", "b.jsonl", "c.csv"):
        gc._head(src / name, tmp_path / "out" / name, 2)
    assert json.loads((tmp_path / "out" / "a.json").read_text()) == [{"i": 0}, {"i": 1}]
    assert (tmp_path / "out" / "b.jsonl").read_text().splitlines() == ['{"i": 0}', '{"i": 1}']
    assert (tmp_path / "out" / "c.csv").read_text() == "goal,target\ng0,t0\ng1,t1\n"


def _prepared(gc, folder: Path, tokenizer_dir: str) -> None:
    """A prepared folder as prep leaves it, with fake wheels and SmolLM2's tokenizer for both shapes."""
    for r in gc.roots():
        if gc.norm(r.name) not in gc.IMAGE:
            wheel(folder / "wheels", r.name.replace("-", "_"), "99.0")
    qwen = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 896,
            "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
            "num_key_value_heads": 2, "vocab_size": 49152, "max_position_embeddings": 32768}
    for name, cfg in (("qwen2.5-0.5b", qwen), ("llama-7b", {**gc.LLAMA_7B, "vocab_size": 49152})):
        d = folder / "models" / name
        d.mkdir(parents=True)
        for f in gc.TOKENIZER_FILES:
            if (Path(tokenizer_dir) / f).exists():
                shutil.copy2(Path(tokenizer_dir) / f, d / f)
        (d / "config.json").write_text(json.dumps(cfg))


def test_without_cuda_it_checks_what_it_can_and_exits_0(gc, tmp_path, smollm2_dir, capsys):
    folder, out = tmp_path / "prepared", tmp_path / "out"
    _prepared(gc, folder, smollm2_dir)
    assert gc.main(["check", "--dir", str(folder), "--out", str(out), "--force-cpu"]) == 0
    res = json.loads((out / "gpu_check.json").read_text())
    assert res["cuda"] is False and "no CUDA" in res["note"] and "pipeline" not in res
    checks = res["checks"]
    travelling = {gc.norm(r.name) for r in gc.roots()} - gc.IMAGE  # one fake wheel each, from _prepared
    assert checks["ok"] and checks["problems"] == [] and checks["wheels"] == len(travelling) >= 8
    for name, model_type in (("qwen2.5-0.5b", "qwen2"), ("llama-7b", "llama")):
        shape = checks["shapes"][name]
        assert shape["model_type"] == model_type and shape["logits"] == [1, 3, 49152] and shape["finite"]
    assert "No CUDA: all checks passed" in capsys.readouterr().out
    # a wheel short: the check fails and names it
    next((folder / "wheels").glob("trl-*.whl")).unlink()
    assert gc.main(["check", "--dir", str(folder), "--out", str(out), "--force-cpu"]) == 1
    problems = json.loads((out / "gpu_check.json").read_text())["checks"]["problems"]
    assert problems == [f"pyproject.toml needs trl>=1.6: no wheel in {folder / 'wheels'}"]
    assert "problem: pyproject.toml needs trl>=1.6" in capsys.readouterr().err


def test_unprepared_folder_is_a_failure_that_says_run_prep(gc, tmp_path):
    assert gc.main(["check", "--dir", str(tmp_path / "none"), "--out", str(tmp_path / "o"), "--force-cpu"]) == 1
    problems = json.loads((tmp_path / "o" / "gpu_check.json").read_text())["checks"]["problems"]
    assert any("gpu_check.py prep" in p for p in problems) and len(problems) == 3  # wheels, two configs


def test_manifest_check_wants_every_model_stage_on_cuda_in_bf16(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from gpu_measure import check_manifest

    gpu = [{"what": "m", "device": "cuda:0", "dtype": "bfloat16"}]
    stages = {"eval/seed": gpu, "distill/default": gpu, "data/sdft": [], "train/sdft": gpu, "eval/sdft": gpu,
              "analyze": [{"what": "minilm", "device": "cuda:0", "dtype": "float32"}], "report": []}
    manifest = {"stages": {k: {"status": "done", "compute": v} for k, v in stages.items()}}
    assert check_manifest(manifest) == []
    manifest["stages"]["train/sdft"]["compute"] = [{"what": "m", "device": "cpu", "dtype": "float32"}]
    manifest["stages"]["eval/sdft"]["compute"] = []
    manifest["stages"]["analyze"]["compute"][0]["device"] = "cpu"
    del manifest["stages"]["report"]
    assert check_manifest(manifest) == ["no report stage in the manifest", "train/sdft: m ran on cpu",
                                        "train/sdft: m ran in float32", "eval/sdft: loaded no model",
                                        "analyze: minilm ran on cpu"]
    assert check_manifest({"stages": {"eval/seed": {"status": "running"}}})[-2:] == [
        "eval/seed: status running", "eval/seed: no compute record"]


def test_the_check_config_loads(gc):
    from sdft.experiment import load_experiment

    cfg = load_experiment(gc.CONFIG, {"model": "/tmp/shape"})
    assert cfg.model == "/tmp/shape" and cfg.methods == ["vanilla", "sdft"]
    assert {"gsm8k", "advbench", "arc_easy"} == set(cfg.eval.benchmarks)


@pytest.mark.slow
def test_simulated_gpu_part_runs_every_measurement_on_the_cpu(gc, tmp_path, smollm2_dir, data_dir, monkeypatch):
    """The CUDA part's code, on the CPU at tiny scale (--simulate): the pipeline through the check
    config with its manifest checked, the three ways of generating, both training sides."""
    folder = tmp_path / "prepared"
    _prepared(gc, folder, smollm2_dir)
    (folder / "data").symlink_to(data_dir)
    monkeypatch.setattr(gc, "SCRATCH", tmp_path / "scratch")
    monkeypatch.setenv("SDFT_DATA_DIR", str(folder / "data"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert gc.main(["check", "--dir", str(folder), "--out", str(tmp_path / "out"), "--force-cpu", "--simulate"]) == 0
    res = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    assert res["ok"] and res["pipeline"]["ok"] and res["pipeline"]["problems"] == []
    assert set(res["pipeline"]["stages"]) >= {"distill/default", "train/sdft", "eval/sdft", "analyze", "report"}
    for name in gc.SHAPES:
        gen, train = res["generation"][name], res["training"][name]
        # every way generated for its prompts, within the token limit, and was compared
        assert 0 < gen["engine"]["tokens"] <= gen["prompts"] * gen["new_tokens"]
        assert 0 < gen["static_batch"]["tokens"] <= gen["prompts"] * gen["new_tokens"]
        assert 0 < gen["one_at_a_time"]["tokens"] <= gen["one_at_a_time_prompts"] * gen["new_tokens"]
        assert gen["engine_vs_one_at_a_time"] > 0 and gen["engine_vs_static_batch"] > 0
        assert train["sdft"]["tokens_per_s"] > 0 and train["trl_default"]["gradient_checkpointing"] is True
