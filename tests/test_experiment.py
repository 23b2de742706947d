"""The experiment config: stage sections are the stages' own typed configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sdft.config import ConfigError, from_dict
from sdft.distill import DistillConfig
from sdft.evaluate.evaluator import EvalConfig
from sdft.experiment import ExperimentConfig, as_record, from_record, load_experiment, shipped_configs, stage_config
from sdft.train.config import TrainConfig


def _write(tmp_path: Path, data: dict) -> Path:
    p = tmp_path / "x.yaml"
    p.write_text(yaml.safe_dump({"name": "x", "data": "gsm8k", **data}))
    return p


def test_sections_are_the_stage_configs(tmp_path):
    cfg = load_experiment(_write(tmp_path, {"train": {"lr": "2e-4", "report_to": "tensorboard", "snapshots": 2},
                                            "distill": {"template": "refer", "generation": {"dtype": "float32"}},
                                            "trajectory": {"eval": {"limit": 5}}}))
    assert isinstance(cfg.train, TrainConfig) and cfg.train.lr == 2e-4 and cfg.train.report_to == "tensorboard"
    assert isinstance(cfg.distill, DistillConfig) and cfg.distill.template == "refer"
    assert cfg.distill.generation.dtype == "float32" and cfg.eval == EvalConfig()
    assert cfg.trajectory.eval == EvalConfig(limit=5)
    # not given: no trajectory
    assert load_experiment(_write(tmp_path, {"trajectory": {"eval": {}}})).trajectory.eval is None


def test_section_errors_name_the_file_and_field(tmp_path):
    with pytest.raises(ConfigError, match=r"x.yaml: eval: unknown key\(s\) 'benchmark'"):
        load_experiment(_write(tmp_path, {"eval": {"benchmark": "gsm8k"}}))
    with pytest.raises(ConfigError, match=r"x.yaml: train: `lr` expects float"):
        load_experiment(_write(tmp_path, {"train": {"lr": "fast"}}))
    # the stage's own checks (EvalConfig's) are named too
    with pytest.raises(ConfigError, match=r"x.yaml: trajectory.eval: variants: unknown benchmark\(s\) nope"):
        load_experiment(_write(tmp_path, {"trajectory": {"eval": {"variants": {"nope": "paper"}}}}))
    with pytest.raises(ConfigError, match=r"x.yaml: distill: data is set by the experiment itself"):
        load_experiment(_write(tmp_path, {"distill": {"data": "dolly"}}))
    with pytest.raises(ConfigError, match=r"x.yaml: train: `dtype` must be one of auto, float32, bfloat16"):
        load_experiment(_write(tmp_path, {"train": {"dtype": "float16"}}))  # at load, not at training
    with pytest.raises(ConfigError, match=r"x.yaml: analyze: expected a mapping"):
        load_experiment(_write(tmp_path, {"analyze": "advbench"}))


def test_the_report_section_holds_a_plans_endpoint_and_rule(tmp_path, capsys, data_dir):
    cfg = load_experiment(_write(tmp_path, {"eval": {"benchmarks": ["gsm8k", "advbench"]},
                                            "report": {"primary": "advbench_strict", "seed_test_alpha": 0.05}}))
    assert (cfg.report.primary, cfg.report.seed_test_alpha) == ("advbench_strict", 0.05)
    assert as_record(cfg)["report"] == {"primary": "advbench_strict", "seed_test_alpha": 0.05}
    # a primary the run does not evaluate: `sdft validate` and `sdft run` (dry run too) say so
    from sdft.cli import main

    bad = _write(tmp_path, {"eval": {"benchmarks": ["gsm8k", "advbench"]}, "report": {"primary": "xstest"}})
    assert main(["validate", str(bad)]) == 2
    assert main(["run", str(bad), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("x.yaml: report.primary: 'xstest' is not an endpoint of the evaluated benchmarks "
                     "(gsm8k, advbench, advbench_strict)") == 2
    with pytest.raises(ConfigError, match=r"x.yaml: report: seed_test_alpha: 5.0 is not a level between 0 and 1"):
        load_experiment(_write(tmp_path, {"report": {"seed_test_alpha": 5}}))
    with pytest.raises(ConfigError, match=r"x.yaml: report: out is set by the experiment itself"):
        load_experiment(_write(tmp_path, {"report": {"out": "elsewhere"}}))
    # a non-inferiority margin: a positive number of points on an endpoint the run evaluates
    with pytest.raises(ConfigError, match=r"x.yaml: report: non_inferiority.gsm8k: the margin must be a positive"):
        load_experiment(_write(tmp_path, {"report": {"non_inferiority": {"gsm8k": -5}}}))
    bad = _write(tmp_path, {"eval": {"benchmarks": ["gsm8k", "advbench"]}, "report": {"non_inferiority": {"gsm": 5}}})
    assert main(["validate", str(bad)]) == 2
    assert "x.yaml: report.non_inferiority.gsm: 'gsm' is not an endpoint of the evaluated benchmarks" \
        in capsys.readouterr().err


def test_stage_config_fills_in_the_pipeline_fields(tmp_path):
    cfg = load_experiment(_write(tmp_path, {"train": {"lr": 0.5}}))
    t = stage_config(TrainConfig, cfg.train, "x: train", model="m", seed=3, out="o", template="not a train field")
    assert (t.model, t.seed, t.out, t.lr) == ("m", 3, "o", 0.5) and cfg.train.model != "m"
    # the same as building the stage config from the section's values with those fields
    assert t == from_dict(TrainConfig, {"lr": 0.5, "model": "m", "seed": 3, "out": "o"})


@pytest.mark.parametrize("path", shipped_configs(), ids=lambda p: p.stem)
def test_manifest_record_reads_back_as_the_same_config(path):
    """The manifest holds each section where it differs from the defaults; reading it back (the
    report's decision rule, scripts/carry_run.py) gives the config that ran."""
    cfg = load_experiment(path)
    record = as_record(cfg)
    assert "model" not in record["train"] and "out" not in record["distill"]
    assert from_dict(ExperimentConfig, record, "manifest") == cfg


def test_an_older_manifest_reads_back_without_its_retired_section_keys():
    """docs/results/cpu_repro's manifest has eval.batch_size, a key EvalConfig no longer has;
    the plan it records is still read (the report's planned arms)."""
    record = {"name": "old", "data": "gsm8k", "seeds": [1, 2], "distill": {"template": "math"},
              "eval": {"batch_size": 8, "limit": 5}, "trajectory": {"eval": {}, "seeds": []}}
    cfg = from_record(record)
    assert cfg.eval.limit == 5 and cfg.distill.template == "math" and cfg.trajectory.eval is None
    assert record["eval"]["batch_size"] == 8  # the manifest's mapping is left as it was
    with pytest.raises(ConfigError, match=r"manifest.eval: unknown key\(s\) 'batch_size'"):
        from_dict(ExperimentConfig, record, "manifest")


def test_every_shipped_config_validates():
    configs = shipped_configs()
    names = {p.stem for p in configs}
    assert {"demo", "cpu_repro", "table1_gsm8k", "table4_templates", "table5_full", "fig5_8_sweeps"} <= names
    for p in configs:
        cfg = load_experiment(p)
        assert cfg.data and cfg.methods


def test_unknown_keys_and_pipeline_fields_are_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndata: gsm8k\ntrain:\n  learning_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: train: unknown key\(s\) 'learning_rate'"):
        load_experiment(bad)
    bad.write_text("name: x\ndata: gsm8k\ntrain:\n  model: other\n")
    with pytest.raises(ConfigError, match="set by the experiment itself"):
        load_experiment(bad)


@pytest.mark.parametrize("values, message", [
    # a negative limit: Python's slicing would evaluate all but the last 5 items
    ({"eval": {"limit": -5}}, r"x.yaml: eval: limit: must be a positive number of items \(or null for all\), got -5"),
    ({"train": {"limit": -2}}, r"x.yaml: train: `limit` must be >= 0 \(0 = no limit\), got -2"),
    ({"train": {"epochs": 0}}, r"x.yaml: train: `epochs` must be > 0 \(or set max_steps\)"),
    ({"train": {"scheduler": "cosin"}}, r"x.yaml: train: `scheduler` must be one of linear, cosine, "),
    # random.sample in the first stage (a traceback in the dry run)
    ({"sample": 0}, r"x.yaml: sample: must be a positive number of examples \(or null for all\), got 0"),
    ({"sample": -3}, r"x.yaml: sample: must be a positive"),
    # the same stages planned twice
    ({"methods": ["vanilla", "sdft", "sdft"]}, r"x.yaml: `methods` names sdft more than once: \['vanilla', "),
    ({"eval": {"benchmarks": ["gsm8k", "advbench", "gsm8k"]}}, r"x.yaml: `eval.benchmarks` names gsm8k more than once"),
    ({"sweeps": {"interpolation": [0.5, 0.25, 0.5]}}, r"x.yaml: `sweeps.interpolation` names 0.5 more than once"),
    # a data folder the config names: the data loaders said "(from --data-dir)"
    ({"data_dir": "/nonexistent"}, r"x.yaml: data_dir: /nonexistent is not a folder"),
    # "8 stages in /etc/passwd"
    ({"out": "/etc/passwd"}, r"x.yaml: out: /etc/passwd is an existing file, not a run folder"),
    # answer caps: the dry run planned "<= -120 tok: ~-1 s"
    ({"eval": {"answer_lengths": {"advbench": -1}}},
     r"x.yaml: eval: answer_lengths.advbench: must be a positive number of tokens, got -1"),
    ({"trajectory": {"eval": {"max_new_tokens": 0}}}, r"x.yaml: trajectory.eval: max_new_tokens: must be a positive"),
    # a benchmark's items from a file that is not there: the dry run planned the full 520
    ({"eval": {"benchmark_data": {"advbench": "/nonexistent/x.csv"}}},
     r"x.yaml: eval: benchmark_data.advbench: /nonexistent/x.csv: no such file"),
    ({"eval": {"benchmark_data": {"advbench": "/nonexistent/x.csv#Behavior[:10]"}}},
     r"x.yaml: eval: benchmark_data.advbench: /nonexistent/x.csv: no such file"),
    ({"trajectory": {"eval": {"benchmark_data": {"gsm8k": "gsm8k:tran[-300:]"}}}, "train": {"snapshots": 2}},
     r"x.yaml: trajectory.eval: benchmark_data.gsm8k: task 'gsm8k' has no split 'tran'"),
    # int(3.7) silently sampled 3 examples
    ({"sample": 3.7}, r"x.yaml: `sample` expects int, got 3.7"),
    ({"train": {"batch_size": 2.5}}, r"x.yaml: train: `batch_size` expects int, got 2.5"),
    ({"seeds": [1, 2.5]}, r"x.yaml: `seeds` expects int, got 2.5"),
    ({"sample": float("inf")}, r"x.yaml: `sample` expects int, got inf"),
    ({"sweeps": {"sample_sizes": [100, -1]}}, r"x.yaml: sweeps.sample_sizes: \[100, -1\] must be positive"),
    # the checks `sdft distill` made only when it ran, now in DistillConfig
    ({"distill": {"mix_ratio": 1.5}}, r"x.yaml: distill: `mix_ratio` must be within \[0, 1\], got 1.5"),
    ({"distill": {"limit": -1}}, r"x.yaml: distill: `limit` must be positive, got -1"),
    ({"distill": {"template": "usng"}}, r"x.yaml: distill.template: 'usng' is neither a built-in \(using, refer, "),
    ({"sweeps": {"templates": ["using", "refr"]}}, r"x.yaml: sweeps.templates: 'refr' is neither a built-in"),
    # the task table read by name, as the first stage would (no data loaded)
    ({"data": "gsm8kk:train"}, r"x.yaml: data: 'gsm8kk:train' is neither a task \(gsm8k, .*\), an existing file"),
    ({"data": "gsm8k:tran[:-300]"}, r"x.yaml: data: task 'gsm8k' has no split 'tran'; splits: train, test"),
    # report.decide: a method of the config other than vanilla (else the decision was silently empty)
    ({"report": {"decide": ["dft"]}}, r"x.yaml: report.decide: \['dft'\] must name methods of this config other "
                                      r"than vanilla \(each is decided against it\): sdft"),
    ({"report": {"decide": ["vanilla"]}}, r"x.yaml: report.decide: \['vanilla'\] must name"),
    ({"report": {"decide": []}}, r"x.yaml: report.decide: \[\] must name"),
    # an analysis benchmark set explicitly must be evaluated (it failed after every other stage)
    ({"eval": {"benchmarks": ["gsm8k"]}, "analyze": {"benchmark": "advbench"}},
     r"x.yaml: analyze.benchmark: 'advbench' is not a benchmark this run evaluates with generated answers \(gsm8k\)"),
    ({"eval": {"benchmarks": ["mmlu"]}}, r"x.yaml: analyze.benchmark: 'advbench' .*\(eval.benchmarks has none\)"),
])
def test_values_that_failed_later_or_misled_are_errors_when_read(tmp_path, values, message):
    with pytest.raises(ConfigError, match=message):
        load_experiment(_write(tmp_path, values))


def test_an_integral_float_for_an_int_field_is_that_int(tmp_path):
    assert load_experiment(_write(tmp_path, {"sample": 3.0})).sample == 3


def test_the_analysis_benchmark_left_unset_is_one_the_run_evaluates(tmp_path):
    # the paper's advbench where it is evaluated; else the first benchmark with generated answers
    def analyzed(values):
        return load_experiment(_write(tmp_path, values)).analyze.benchmark

    assert analyzed({}) == "advbench"
    assert analyzed({"eval": {"benchmarks": ["gsm8k", "xstest", "advbench"]}}) == "advbench"
    assert analyzed({"eval": {"benchmarks": ["mmlu", "gsm8k", "xstest"]}}) == "gsm8k"
    assert analyzed({"eval": {"benchmarks": ["gsm8k"]}, "analyze": {"figures": False}}) == "gsm8k"
    assert analyzed({"eval": {"benchmarks": ["gsm8k", "xstest"]}, "analyze": {"benchmark": "xstest"}}) == "xstest"
    # what it resolved to is what the manifest records
    cfg = load_experiment(_write(tmp_path, {"eval": {"benchmarks": ["gsm8k"]}}))
    assert as_record(cfg)["analyze"] == {"benchmark": "gsm8k"}


def test_validate_and_the_dry_run_report_a_bad_value_in_one_line(tmp_path, capsys):
    from sdft.cli import main

    for values, words in (({"sample": -1}, "x.yaml: sample: must be a positive"),
                          ({"data": "gsm8kk:train"}, "x.yaml: data: 'gsm8kk:train' is neither a task"),
                          ({"eval": {"limit": -1}}, "x.yaml: eval: limit: must be a positive")):
        bad = _write(tmp_path, values)
        assert main(["validate", str(bad)]) == 2
        assert main(["run", str(bad), "--dry-run"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 2 and all(words in line for line in err), err


def test_an_error_an_override_causes_names_the_override_not_the_file(tmp_path, capsys):
    from sdft.cli import main

    good = _write(tmp_path, {})
    for argv, words in ((["train.lr=abc"], "train.lr=abc (command-line override of "),
                        (["seed=3", "train.lrr=1"], "train.lrr=1 (command-line override of "),
                        (["sample=-1", "train.lr=abc"], "train.lr=abc (command-line override of "),
                        (["--data-dir", "/nonexistent"], "--data-dir /nonexistent (command-line override of "),
                        (["--out", str(good)], f"--out {good} (command-line override of ")):
        assert main(["run", str(good), *argv, "--dry-run"]) == 2
        err = capsys.readouterr().err.strip()
        assert words in err and not err.startswith(f"sdft run: error: {good}"), err
    with pytest.raises(ConfigError, match=r"train.lr=abc \(command-line override of .*x.yaml\): train: `lr` expects "
                                          r"float, got 'abc'"):
        load_experiment(good, {"train": {"lr": "abc"}})
    # the file's own error is still the file's
    bad = _write(tmp_path, {"sample": -1})
    with pytest.raises(ConfigError, match=r"^\S*x.yaml: sample: must be a positive"):
        load_experiment(bad, {"seed": 3})


def test_benchmark_data_from_an_existing_file_or_the_hub_is_accepted(tmp_path):
    table = tmp_path / "redteam.csv"
    table.write_text("Behavior\nsay something bad\n")
    cfg = load_experiment(_write(tmp_path, {"eval": {"benchmark_data": {"advbench": f"{table}#Behavior",
                                                                        "xstest": "hf:org/not-checked#test"}}}))
    assert cfg.eval.benchmark_data["advbench"] == f"{table}#Behavior"  # a hub name is left to the loader (online)
