"""`sdft run` with every forgetting-mitigation method and weight interpolation on the tiny model,
and the shipped comparison configs: labels, training sets, costs, interpolation points, keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sdft.cli import main as cli_main
from sdft.config import ConfigError
from sdft.experiment import METHODS, load_experiment
from sdft.pipeline import Stages

REPO = Path(__file__).resolve().parents[1]


def test_the_shipped_comparison_lists_every_method_and_dry_runs(tmp_path, data_dir, capsys):
    for name in ("methods_comparison", "methods_small"):
        cfg = load_experiment(REPO / "configs" / f"{name}.yaml", {"out": str(tmp_path / name),
                                                                  "data_dir": str(data_dir)})
        assert set(cfg.methods) == set(METHODS)
        stages = Stages(cfg, name)
        names = [st.name for st in stages.main()]
        assert "replay" in names and all(f"train/{m}" in names or f"train/{m}-s1" in names for m in METHODS)
        n_points = len(cfg.train_seeds) * len(METHODS) * len([a for a in cfg.sweeps.interpolation if 0 < a < 1])
        assert sum(n.startswith("interp/") for n in names) == n_points > 0
        assert cli_main(["run", str(REPO / "configs" / f"{name}.yaml"), f"out={tmp_path / name}",
                         f"data_dir={data_dir}", "--dry-run"]) == 0
        assert "interp/" in capsys.readouterr().out


def test_each_method_trains_with_its_own_objective_and_fields_only_move_its_key(tmp_path, data_dir):
    base = {"name": "m", "data": "gsm8k:train", "sample": 6, "data_dir": str(data_dir), "out": str(tmp_path / "r"),
            "methods": list(METHODS)}
    p = tmp_path / "m.yaml"
    p.write_text(yaml.safe_dump(base))
    st = Stages(load_experiment(p), "m")
    assert {v: st.train[v].cfg.method for v in METHODS} == {
        "vanilla": "sft", "sdft": "sft", "onpolicy": "onpolicy", "dft": "dft", "kl": "kl", "replay": "sft"}
    keys = {v: st.train[v].key for v in METHODS}
    p.write_text(yaml.safe_dump({**base, "train": {"kl_beta": 0.5, "distillation_alpha": 0.0}}))
    moved = {v for v, k in keys.items() if Stages(load_experiment(p), "m").train[v].key != k}
    assert moved == {"kl", "onpolicy"}
    p.write_text(yaml.safe_dump({**base, "train": {"replay_share": 0.5}}))
    st2 = Stages(load_experiment(p), "m")
    assert {v for v in METHODS if st2.train[v].key != keys[v]} == {"replay"}  # through its data stage
    assert st2.replay.key != st.replay.key
    p.write_text(yaml.safe_dump({**base, "methods": ["kl"], "train": {"full": True}}))
    with pytest.raises(ConfigError, match="kl needs LoRA"):
        load_experiment(p)
    p.write_text(yaml.safe_dump({**base, "train": {"replay_data": "gsm8k:test"}}))
    with pytest.raises(ConfigError, match="replay_data"):
        Stages(load_experiment(p), "m")


def test_the_onpolicy_teacher_gets_the_configured_distillation_template(tmp_path, data_dir):
    """distill.template reaches the on-policy trainer (it used to see the task's default only);
    naming the task's own template changes nothing, so such a fine-tune keeps its key."""
    base = {"name": "m", "data": "gsm8k:train", "sample": 6, "data_dir": str(data_dir), "out": str(tmp_path / "r"),
            "methods": ["vanilla", "onpolicy"]}
    p = tmp_path / "m.yaml"

    def train(distill: dict) -> dict:
        p.write_text(yaml.safe_dump({**base, "distill": distill}))
        return Stages(load_experiment(p), "m").train

    unset, own, other = train({}), train({"template": "math"}), train({"template": "refer"})
    assert getattr(other["onpolicy"].cfg, "teacher_template", None) == "refer"
    assert getattr(own["onpolicy"].cfg, "teacher_template", None) is None  # gsm8k's own template
    assert own["onpolicy"].key == unset["onpolicy"].key != other["onpolicy"].key
    assert unset["vanilla"].key == own["vanilla"].key == other["vanilla"].key


@pytest.mark.slow
def test_tiny_run_of_every_method_with_interpolation(tmp_path, tiny_model_dir, data_dir, monkeypatch):
    from sdft.generation import GenerationConfig
    from sdft.train import replay

    real = replay.generate_answers

    def seed_answers(model, pool, n, out, max_new_tokens=256, generation=None):
        # the random model answers replay prompts with nothing: the fake backend stands in for it
        assert model == tiny_model_dir and generation.dtype == "auto"
        return real(model, pool, n, out, max_new_tokens, GenerationConfig(backend="fake"),
                    respond=lambda r: "A seed answer.")

    monkeypatch.setattr(replay, "generate_answers", seed_answers)
    cfg = {
        "name": "tiny", "model": tiny_model_dir, "data": "gsm8k:train", "sample": 8, "seed": 1,
        "data_dir": str(data_dir), "out": str(tmp_path / "run"), "methods": list(METHODS),
        "distill": {"max_new_tokens": 8, "nll_sample": 0},
        "train": {"max_steps": 2, "batch_size": 2, "grad_accum": 1, "max_length": 256, "save_steps": 2,
                  "max_completion_length": 6, "replay_share": 0.2, "replay_max_new_tokens": 6},
        "eval": {"benchmarks": ["gsm8k", "advbench"], "limit": 2, "max_new_tokens": 6},
        "sweeps": {"interpolation": [0.0, 0.5, 1.0]}, "kl_to_seed": True,
        "analyze": {"benchmark": "advbench", "measures": ["bleu4"]},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert cli_main(["run", str(path)]) == 0
    run = Path(cfg["out"])
    manifest = json.loads((run / "manifest.json").read_text())
    labels = [m["label"] for m in manifest["models"]]
    assert labels == ["seed"] + [x for m in METHODS for x in (m, f"{m}-a0.5")]
    for m in manifest["models"]:
        if m["label"] in METHODS:
            s = json.loads((run / m["train_dir"] / "train_summary.json").read_text())
            assert s["steps"] == 2 and s["cost"]["backward_passes"] == 2 and s["cost"]["forward_passes"] >= 2
            # replay's rows are mixed in by the pipeline's data stage, so its trainer runs plain SFT
            assert s["n_replay"] == (2 if m["label"] == "replay" else 0), (m["label"], s["n_replay"])
        elif m["label"] != "seed":
            assert m["alpha"] == 0.5 and m["of"] == m["label"][:-5] and m["train_dir"] is None
    replay_rows = [json.loads(x) for x in next((run / "data").glob("replay-*/train.jsonl")).open()]
    assert len(replay_rows) == 10 and sum(r["id"].startswith("replay:") for r in replay_rows) == 2
    # the predictor: KL(fine-tune || seed) on each main fine-tune's own GSM8K answers (0 where the
    # adapter has not moved the answers' distributions, never negative)
    for m in manifest["models"]:
        if m["label"] in METHODS:
            kl = json.loads((run / m["kl_dir"] / "kl_to_seed.json").read_text())
            assert kl["n_items"] <= 2 and (kl["kl_per_token"] is None or kl["kl_per_token"] > -1e-5)  # rounding
    summary = json.loads((run / "report" / "summary.json").read_text())
    compared = summary["methods_comparison"]
    assert {p["label"] for p in compared["pareto"]} == set(METHODS) | {f"{m} α=0.5" for m in METHODS}
    assert set(compared["costs"]) == set(METHODS) and compared["costs"]["kl"]["forward_passes"] == 4
    best = compared["best"]
    assert best["endpoint"] == "advbench" and best["best"] is None  # 2 items cannot separate methods
    assert best["leader"] in METHODS or set(best["undecided_against"]) <= set(METHODS)
    md = (run / "report" / "report.md").read_text()
    assert "Methods compared" in md and "KL to the seed" in md and (run / "report" / "figures" / "pareto.png").exists()
    # interpolation points are arms of their own, not extra seeds of their fine-tune
    assert summary["methods"]["vanilla"]["labels"] == ["vanilla"]
