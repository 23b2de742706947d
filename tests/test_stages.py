"""A run folder's stages: keys that leave out what does not change a result, the .done marker,
the manifest's one-precision-per-experiment check."""

from __future__ import annotations

import json

import pytest
import yaml

from sdft.config import ConfigError
from sdft.experiment import load_experiment
from sdft.stages import DEFAULT_LEFT_OUT, OWN_FIELDS, key_of, keyed, marked_done, marker, others_left_out


def test_keys_leave_out_hub_fields_and_new_fields_at_their_defaults():
    from sdft.train import TrainConfig

    base = TrainConfig(data="d", out="o")
    seen = keyed(base)
    assert "push_to_hub" not in seen and "torch_compile" not in seen and "teacher_template" not in seen
    assert seen["report_to"] == "none" and keyed(TrainConfig(report_to="tensorboard")) == keyed(TrainConfig())
    assert key_of("train", keyed(TrainConfig(push_to_hub="me/x"))) == key_of("train", keyed(TrainConfig()))
    assert key_of("train", keyed(TrainConfig(teacher_template="refer"))) != key_of("train", keyed(TrainConfig()))
    assert len(key_of("x")) == 8 and key_of("x", {"a": 1, "b": 2}) == key_of("x", {"b": 2, "a": 1})


def test_each_method_sees_the_others_own_fields_at_their_defaults():
    assert others_left_out("kl") == {f: DEFAULT_LEFT_OUT[f] for m in ("onpolicy", "replay") for f in OWN_FIELDS[m]}
    assert "kl_beta" in others_left_out("onpolicy") and "teacher_template" not in others_left_out("onpolicy")
    assert set(others_left_out("replay")) == {f for names in OWN_FIELDS.values() for f in names}


def test_a_folder_is_done_only_for_its_own_key(tmp_path):
    (tmp_path / ".done").write_text(marker("abc12345"))
    assert marked_done(tmp_path, "abc12345") and not marked_done(tmp_path, "abc12346")
    assert not marked_done(tmp_path / "missing", "abc12345")


def test_a_run_resumed_where_auto_resolves_otherwise_stops_before_mixing(tmp_path, monkeypatch):
    from sdft import models
    from sdft.evaluate.evaluator import EvalConfig
    from sdft.generation.base import GenerationConfig
    from sdft.stages import Run, Stage, stage_dtype

    p = tmp_path / "d.yaml"
    p.write_text(yaml.safe_dump({"name": "d", "data": "gsm8k", "out": str(tmp_path / "run")}))
    cfg = load_experiment(p)
    monkeypatch.setattr(models, "default_device", lambda: "cpu")
    monkeypatch.setattr(models, "cpu_has_fast_bf16", lambda: True)  # an Intel Xeon with AMX-BF16
    ran = []

    def work(folder):
        return lambda: (folder.mkdir(parents=True, exist_ok=True), ran.append(folder.name))

    run = Run(cfg, str(p))
    a, b = run.dir / "train" / "a", run.dir / "train" / "b"
    run.stage("train/vanilla-s1", a, "k1", work(a), ("train", "auto", None))
    assert run.manifest["stages"]["train/vanilla-s1"]["dtype"] == "bfloat16"
    monkeypatch.setattr(models, "cpu_has_fast_bf16", lambda: False)  # resumed on an AMD EPYC, AVX2 only
    run = Run(cfg, str(p))
    run.stage("train/vanilla-s1", a, "k1", work(a), ("train", "auto", None))  # done: nothing runs
    with pytest.raises(ConfigError, match=r"train/vanilla-s2: this run's train stages .*bfloat16.*float32"):
        run.stage("train/vanilla-s2", b, "k2", work(b), ("train", "auto", None))
    assert ran == ["a"] and not b.exists()
    # an explicit dtype resolves the same on every machine; another stage kind has its own record
    run.stage("train/vanilla-s2", b, "k2", work(b), ("train", "bfloat16", None))
    run.stage("eval/seed", run.dir / "eval" / "s", "k3", work(run.dir / "eval" / "s"), ("eval", "auto", None))
    saved = json.loads((run.dir / "manifest.json").read_text())
    assert saved["dtypes"] == {"train": {"auto": "bfloat16", "bfloat16": "bfloat16"}, "eval": {"auto": "float32"}}
    assert saved["stages"]["train/vanilla-s2"]["dtype"] == "bfloat16"
    # which stages load a model, with which config dtype
    ev = Stage("eval/x", tmp_path, "k", lambda: None, "eval", EvalConfig(generation=GenerationConfig(dtype="float32")))
    assert stage_dtype(ev) == ("eval", "float32", None)
    served = EvalConfig(generation=GenerationConfig(backend="openai"))
    assert stage_dtype(Stage("eval/y", tmp_path, "k", lambda: None, "eval", served)) is None
    assert stage_dtype(Stage("data/x", tmp_path, "k", lambda: None, "data")) is None
