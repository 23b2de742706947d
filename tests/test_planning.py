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
    with pytest.raises(ConfigError, match="duplicates"):
        load_experiment(p)
