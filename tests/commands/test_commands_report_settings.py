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


def test_a_bad_value_names_where_it_is_once(demo, tmp_path, capsys):
    assert main(["report", str(demo), "--seed-test-alpha", "x", "--no-figures"]) == 2
    err = capsys.readouterr().err
    assert err == "sdft report: error: flags: `seed_test_alpha` expects float, got 'x'\n"
    assert not (demo / "report").exists()  # nor its run.log


def test_a_refused_setting_appends_nothing_to_the_runs_log_nor_makes_the_out_folder(demo, tmp_path):
    assert main(["report", str(demo), "--no-figures"]) == 0
    log = (demo / "report" / "run.log").read_text()
    for bad in (["--primary", "nope"], ["--flip-items", "many"]):
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
