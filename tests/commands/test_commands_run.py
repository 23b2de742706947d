"""`sdft run`: how its flags and KEY.SUB=VALUE overrides reach the experiment, the dry run's plan
and the run itself (the pipeline replaced by a recorder: running stages is tests/test_pipeline.py's,
the plan's arithmetic tests/test_dryrun.py's), and its one-line errors with exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdft.cli import main

CONFIG = Path(__file__).resolve().parents[1] / "fixtures" / "configs" / "demo_smollm2.yaml"


def _plan_rows(out: str) -> list[str]:
    return [line.split()[0] for line in out.splitlines() if line.startswith(("eval/", "distill/", "train/", "data/"))]


def test_dry_run_takes_overrides_flags_and_a_spaced_only_list(tmp_path, data_dir, capsys):
    argv = ["run", str(CONFIG), "--dry-run", "--out", str(tmp_path / "r"), "--data-dir", str(data_dir),
            "seeds=[1,2]", "train.lr=2e-4", "--only", " vanilla-s2, sdft-s1 ,"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "  lr: 0.0002" in out and f"\ndata_dir: {data_dir}\n" in out
    assert f"# plan: 8 stages in {tmp_path / 'r'}:" in out
    assert _plan_rows(out) == ["eval/seed", "distill/default", "data/sdft-s1", "train/sdft-s1", "eval/sdft-s1",
                               "data/vanilla-s2", "train/vanilla-s2", "eval/vanilla-s2"]
    assert not (tmp_path / "r").exists()  # a dry run writes nothing


def test_the_out_flag_wins_over_an_out_override(tmp_path, data_dir, capsys):
    assert main(["run", str(CONFIG), "--dry-run", f"out={tmp_path / 'a'}", "--out", str(tmp_path / "b"),
                 "--data-dir", str(data_dir)]) == 0
    assert f"# plan: 8 stages in {tmp_path / 'b'}:" in capsys.readouterr().out


def test_a_run_hands_the_config_and_labels_to_the_pipeline(tmp_path, monkeypatch):
    import sdft.pipeline

    calls = []
    monkeypatch.setattr(sdft.pipeline, "run_experiment",
                        lambda cfg, path, only=None, blind=False: calls.append((Path(cfg.run_dir), path, only,
                                                                                cfg.train.lr, blind)))
    assert main(["run", str(CONFIG), "train.lr=3e-4", "--out", str(tmp_path / "r"), "--only", "sdft"]) == 0
    assert calls == [(tmp_path / "r", str(CONFIG), ["sdft"], 3e-4, False)]
    assert main(["run", str(CONFIG), "--out", str(tmp_path / "r"), "--blind"]) == 0
    assert calls[1][2] is None and calls[1][4] is True  # no --only: every model; --blind handed on


def test_a_folder_another_run_writes_is_refused_without_running(tmp_path, monkeypatch, capsys):
    import sdft.pipeline
    from sdft.locks import output_lock

    monkeypatch.setattr(sdft.pipeline, "run_experiment", lambda *a, **k: pytest.fail("ran under a held lock"))
    with output_lock(tmp_path / "r", folder=True):
        assert main(["run", str(CONFIG), "--out", str(tmp_path / "r")]) == 2
    assert "is being written by another sdft process" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["train.lrr=1"], "train.lrr=1 (command-line override of "),  # not the file, which is fine
    (["train.lrr=1"], "demo_smollm2.yaml): train: unknown key(s) 'lrr'"),
    (["nonsense"], "overrides: expected KEY.SUB=VALUE, got 'nonsense'"),
    (["train.lr=[1e-4"], "overrides: 'train.lr=[1e-4': the value is invalid YAML: expected ',' or ']'"),
    (["--only", "nosuch"], "--only: no model labelled nosuch; this config has seed, vanilla, sdft"),
])
def test_bad_arguments_exit_2_with_one_line_naming_the_problem(tmp_path, capsys, args, message):
    assert main(["run", str(CONFIG), "--dry-run", "--out", str(tmp_path / "r"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sdft run: error:") and message in err and "Traceback" not in err
    assert err.count("\n") == 1, err  # one line


def test_a_missing_config_file_is_named(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml"), "--dry-run"]) == 2
    assert f"{tmp_path / 'nope.yaml'}: no such config file" in capsys.readouterr().err
