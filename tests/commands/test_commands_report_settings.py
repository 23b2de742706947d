"""`sdft report`'s settings: the run's own ``report`` section under ``--config`` under the flags,
``decide`` checked by `sdft validate`'s rule, the flow syntax of list and mapping flags, the
verdict kept across output folders, and a refused setting that writes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sdft.cli import main

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"


@pytest.fixture()
def demo(tmp_path) -> Path:
    return Path(shutil.copytree(RUNS / "demo", tmp_path / "demo"))


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def _set_run_report(run: Path, section: dict) -> None:
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["config"]["report"] = section
    (run / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("bad", [["--decide", "nope"], ["--decide", "vanilla"], ["--decide", "dft"],
                                 ["--decide", "[]"]])
def test_a_decide_flag_naming_no_fine_tuned_method_is_refused_and_nothing_is_written(demo, tmp_path, capsys, bad):
    before = _files(demo)
    assert main(["report", str(demo), *bad, "--no-figures", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sdft report: error: --decide: ") and "must name methods of the fine-tunes reported " \
        "other than vanilla (each is decided against it): sdft\n" in err
    assert _files(demo) == before and not (tmp_path / "o").exists()


def test_decide_in_a_config_file_and_in_the_runs_own_section_is_checked_naming_where_it_is(demo, tmp_path, capsys):
    config = tmp_path / "r.yaml"
    config.write_text("decide: [nope]\n")
    assert main(["report", str(demo), "--config", str(config), "--no-figures"]) == 2
    assert f"sdft report: error: {config}: decide: ['nope'] must name methods" in capsys.readouterr().err
    _set_run_report(demo, {"decide": ["vanilla"]})
    assert main(["report", str(demo), "--no-figures"]) == 2
    assert f"{demo / 'manifest.json'}: report.decide: ['vanilla'] must name" in capsys.readouterr().err
    assert not (demo / "report").exists()


def test_the_bracketed_decide_and_braced_margins_of_the_help_are_read_as_the_yaml_keys_are(demo, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["report", str(demo), "--decide", "[sdft]", "--non-inferiority", "{gsm8k: 5}", "--no-figures",
                 "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["decision"]) == ["sdft_minus_vanilla"]
    assert summary["non_inferiority"]["sdft_minus_vanilla"]["gsm8k"]["margin"] == 5
    assert main(["report", str(demo), "--decide", "sdft", "--non-inferiority", "gsm8k=5", "--no-figures",
                 "--out", str(out)]) == 0  # the KEY=VALUE form still reads
    assert main(["report", str(demo), "--non-inferiority", "{gsm8k: [5}", "--out", str(out)]) == 2
    assert "`non_inferiority` expects dict" in capsys.readouterr().err


def test_the_runs_own_section_is_the_base_under_the_config_file_and_the_flags(demo, tmp_path):
    _set_run_report(demo, {"title": "From the run", "primary": "gsm8k", "non_inferiority": {"gsm8k": 5}})
    config = tmp_path / "r.yaml"
    config.write_text(f"figures: false\nout: {tmp_path / 'o'}\nnon_inferiority: {{advbench: 10}}\n")
    assert main(["report", str(demo), "--config", str(config)]) == 0
    md, summary = (tmp_path / "o" / "report.md").read_text(), json.loads((tmp_path / "o" / "summary.json").read_text())
    assert md.startswith("# From the run") and not (tmp_path / "o" / "figures").exists()
    assert summary["decision"]["sdft_minus_vanilla"]["endpoint"] == "gsm8k"  # the run's primary kept
    assert set(summary["non_inferiority"]["sdft_minus_vanilla"]) == {"gsm8k", "advbench"}  # merged, as `base:`
    assert main(["report", str(demo), "--config", str(config), "--title", "From the flag",
                 "--non-inferiority", "advbench=3"]) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert (tmp_path / "o" / "report.md").read_text().startswith("# From the flag")
    assert summary["non_inferiority"]["sdft_minus_vanilla"]["advbench"]["margin"] == 3
    assert set(summary["non_inferiority"]["sdft_minus_vanilla"]) == {"advbench"}  # a flag: the whole value


def test_a_bad_value_names_where_it_is_once(demo, tmp_path, capsys):
    assert main(["report", str(demo), "--seed-test-alpha", "x", "--no-figures"]) == 2
    err = capsys.readouterr().err
    assert err == "sdft report: error: flags: `seed_test_alpha` expects float, got 'x'\n"
    assert main(["report", str(demo), "--seed-test-alpha", "2", "--no-figures"]) == 2
    assert capsys.readouterr().err == "sdft report: error: flags: seed_test_alpha: 2.0 is not a level between 0 " \
                                      "and 1\n"
    assert not (demo / "report").exists()


def test_a_refused_setting_appends_nothing_to_the_runs_log_nor_makes_the_out_folder(demo, tmp_path):
    assert main(["report", str(demo), "--no-figures"]) == 0
    log = (demo / "report" / "run.log").read_text()
    for bad in (["--primary", "nope"], ["--decide", "nope"], ["--flip-items", "many"]):
        assert main(["report", str(demo), *bad]) == 2
        assert main(["report", str(demo), *bad, "--out", str(tmp_path / "o")]) == 2
    assert (demo / "report" / "run.log").read_text() == log and not (tmp_path / "o").exists()


def test_a_rebuild_into_another_folder_keeps_the_runs_verdict(demo, tmp_path):
    assert main(["report", str(demo), "--no-figures", "--verdict", "No difference detected."]) == 0
    assert main(["report", str(demo), "--no-figures", "--out", str(tmp_path / "o")]) == 0
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["verdict"] == "No difference detected."
    assert "**Verdict.** No difference detected." in (tmp_path / "o" / "report.md").read_text()
    assert main(["report", str(demo), "--no-figures", "--out", str(tmp_path / "o"), "--verdict", "Later."]) == 0
    assert main(["report", str(demo), "--no-figures", "--out", str(tmp_path / "o")]) == 0  # OUT's own comes first
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["verdict"] == "Later."


def test_a_run_folder_given_twice_is_refused(demo, tmp_path, capsys):
    """`sdft report X X` listed every model of X twice."""
    before = _files(demo)
    assert main(["report", str(demo), str(demo) + "/", "--no-figures", "--out", str(tmp_path / "o")]) == 2
    assert f"run folder given more than once: {demo}" in capsys.readouterr().err
    assert _files(demo) == before and not (tmp_path / "o").exists()


def test_an_experiment_config_gives_its_report_section_through_its_base_chain(demo, tmp_path, capsys):
    """The plan's rule lives in the experiment config; a run whose sittings predate it (a frozen
    copy) is reported under it with `--config EXPERIMENT.yaml`."""
    (tmp_path / "base.yaml").write_text("name: x\nreport:\n  primary: gsm8k\n  non_inferiority: {advbench: 7}\n")
    config = tmp_path / "exp.yaml"
    config.write_text("base: base.yaml\nseeds: [1]\nreport:\n  decide: [sdft]\n")
    out = tmp_path / "o"
    assert main(["report", str(demo), "--config", str(config), "--no-figures", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["decision"]["sdft_minus_vanilla"]["endpoint"] == "gsm8k"  # from the base's section
    assert summary["non_inferiority"]["sdft_minus_vanilla"]["advbench"]["margin"] == 7
    config.write_text("base: base.yaml\nreport:\n  decide: [nope]\n")
    assert main(["report", str(demo), "--config", str(config), "--no-figures", "--out", str(out)]) == 2
    assert f"sdft report: error: {config}: report.decide: ['nope'] must name" in capsys.readouterr().err
    config.write_text("report: [primary]\n")
    assert main(["report", str(demo), "--config", str(config), "--no-figures", "--out", str(out)]) == 2
    assert f"{config}: report: expected a mapping" in capsys.readouterr().err
    config.write_text("name: x\nseeds: [1]\n")
    assert main(["report", str(demo), "--config", str(config), "--no-figures", "--out", str(out)]) == 2
    assert f"{config}: an experiment config with no report section (it sets name, seeds)" in capsys.readouterr().err
