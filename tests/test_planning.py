"""Planning: the models an experiment config trains (methods x training seeds, sweeps)."""

from __future__ import annotations

import pytest
import yaml

from sdft.config import ConfigError
from sdft.experiment import load_experiment
from sdft.planning import Variant, plan


def test_plan_expands_sweeps(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump({"name": "s", "data": "gsm8k", "sample": 100, "methods": ["vanilla", "sdft"],
                                 "distill": {"template": "using"},
                                 "sweeps": {"sample_sizes": [50, 100], "mix_ratios": [0.5, 1.0],
                                            "templates": ["using", "refer"]}}))
    labels = [(v.label, v.sample_size, v.mix_ratio, v.template) for v in plan(load_experiment(p), 7473)]
    assert labels == [("seed", None, None, None), ("vanilla", 100, 0.0, None), ("sdft", 100, 1.0, "using"),
                      ("vanilla-n50", 50, 0.0, None), ("sdft-n50", 50, 1.0, "using"),
                      ("sdft-r0.5", 100, 0.5, "using"), ("sdft-refer", 100, 1.0, "refer")]
    assert isinstance(plan(load_experiment(p), 7473)[0], Variant)


def test_plan_trains_each_method_once_per_seed(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump({"name": "s", "data": "gsm8k", "sample": 10, "seed": 7, "seeds": [1, 2],
                                 "sweeps": {"mix_ratios": [0.5]}}))
    got = [(v.label, v.method, v.train_seed) for v in plan(load_experiment(p), 100)]
    assert got == [("seed", "seed", None), ("vanilla-s1", "vanilla", 1), ("sdft-s1", "sdft", 1),
                   ("vanilla-s2", "vanilla", 2), ("sdft-s2", "sdft", 2), ("sdft-r0.5", "sdft", 1)]
    p.write_text(yaml.safe_dump({"name": "s", "data": "gsm8k", "seeds": [1, 1]}))
    with pytest.raises(ConfigError, match=r"`seeds` names 1 more than once: \[1, 1\]"):
        load_experiment(p)


def _cfg(tmp_path, **over):
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump({"name": "s", "data": "gsm8k", "sample": 10, "seeds": [1, 2, 3],
                                 "methods": ["vanilla", "sdft", "onpolicy"], **over}))
    return load_experiment(p)


def test_a_secondary_method_trains_on_fewer_seeds_and_the_main_arms_follow(tmp_path):
    from sdft.planning import interpolation_points, main_labels, point_labels

    cfg = _cfg(tmp_path, method_seeds={"onpolicy": [3, 1]},
               sweeps={"interpolation": [0.5], "interpolation_of": ["vanilla"], "mix_ratios": [0.5]})
    variants = plan(cfg, 100)
    assert [v.label for v in variants] == [
        "seed", "vanilla-s1", "sdft-s1", "onpolicy-s1", "vanilla-s2", "sdft-s2",
        "vanilla-s3", "sdft-s3", "onpolicy-s3", "sdft-r0.5"]  # the sweep point is not a main arm
    assert main_labels(cfg) == [v.label for v in variants[:-1]]
    assert [p.label for p in interpolation_points(cfg, variants)] == ["vanilla-s1-a0.5", "vanilla-s2-a0.5",
                                                                       "vanilla-s3-a0.5"]
    assert point_labels(cfg) == [p.label for p in interpolation_points(cfg, variants)]
    assert cfg.seeds_of("onpolicy") == [1, 3] and cfg.seeds_of("vanilla") == [1, 2, 3]


@pytest.mark.parametrize("over, message", [
    ({"method_seeds": {"kl": [1]}}, "method_seeds: 'kl' is not one of the methods"),
    ({"method_seeds": {"onpolicy": [4]}}, r"method_seeds.onpolicy: \[4\] must be a non-empty subset"),
    ({"method_seeds": {"onpolicy": []}}, "must be a non-empty subset"),
    ({"sweeps": {"interpolation": [0.5], "interpolation_of": ["dft"]}}, "interpolation_of"),
])
def test_method_seeds_and_interpolation_of_name_what_is_wrong(tmp_path, over, message):
    with pytest.raises(ConfigError, match=message):
        _cfg(tmp_path, **over)


def test_secondary_methods_joining_the_gsm8k_v2_run_leave_the_primary_arms_stage_folders(tmp_path, data_dir):
    """The pre-registered experiment's secondaries (PLAN amendment 3) join its run folder after the
    primary arms, which run from a frozen copy whose config is base/gsm8k_forgetting_v2.yaml's
    values: the primary arms' finished and running stages must keep their folders."""
    from pathlib import Path

    from sdft.pipeline import Stages

    configs = Path(__file__).resolve().parents[1] / "configs"

    def folders(config):
        stages = Stages(load_experiment(config, {"out": str(tmp_path)}))
        return {st.name: str(st.folder.relative_to(tmp_path)) for st in stages.main()}

    before = folders(configs / "base" / "gsm8k_forgetting_v2.yaml")
    after = folders(configs / "gsm8k_forgetting_v2.yaml")
    assert len(before) == 42 and {k: v for k, v in after.items() if k in before} == before
    added = sorted(set(after) - set(before))
    assert [k for k in added if k.startswith("train/")] == [
        f"train/{m}-s{s}" for m in ("dft", "replay") for s in (1, 2, 3)]
    assert [k for k in added if k.startswith("interp/")] == [f"interp/vanilla-s{s}-a0.5" for s in range(1, 6)]
    assert "replay" in added  # the seed's Dolly answers, once for every replay seed
