"""`sdft report`: where it writes by default, what it prints (the files and the decision rule),
settings from a YAML file under the flags, and its one-line errors with exit status 2. What the
report says is tested in tests/report/."""

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


def test_one_run_reports_into_its_own_folder_and_prints_the_files_and_the_decision(demo, capsys):
    assert main(["report", str(demo), "--no-figures", "--verdict", "Nothing yet."]) == 0
    out = capsys.readouterr().out.splitlines()
    report = demo / "report"
    assert out[0] == f"wrote {report / 'report.md'}, {report / 'report.html'} and {report / 'summary.json'}"
    assert out[1].startswith("decision rule (primary endpoint): advbench, sdft − vanilla: +37.5 pp")
    assert "**Verdict.** Nothing yet." in (report / "report.md").read_text()
    assert json.loads((report / "summary.json").read_text())["verdict"] == "Nothing yet."
    assert not (report / "figures").exists() and "data:image/png" not in (report / "report.html").read_text()


def test_several_runs_report_into_report_under_the_working_folder(demo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["report", str(demo), str(RUNS / "ablation"), "--no-figures"]) == 0
    md = (tmp_path / "report" / "report.md").read_text()
    assert "| demo/sdft |" in md and "ablation/sdft-using" in md
    assert not (demo / "report").exists()


def test_a_yaml_file_sets_the_fields_and_a_flag_overrides_it(demo, tmp_path):
    config = tmp_path / "report.yaml"
    config.write_text(f"title: From the file\nfigures: false\nout: {tmp_path / 'r'}\nprimary: gsm8k\n")
    assert main(["report", str(demo), "--config", str(config)]) == 0
    assert (tmp_path / "r" / "report.md").read_text().startswith("# From the file")
    assert main(["report", str(demo), "--config", str(config), "--title", "From the flag"]) == 0
    assert (tmp_path / "r" / "report.md").read_text().startswith("# From the flag")


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sdft report: error:") and "nope/manifest.json" in err and "Traceback" not in err
    (tmp_path / "bad.yaml").write_text("titel: x\n")
    bad = ["--config", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "o")]
    assert main(["report", str(RUNS / "demo"), *bad]) == 2
    assert "bad.yaml: unknown key(s) 'titel'" in capsys.readouterr().err
    assert main(["report", str(RUNS / "demo"), "--flip-items", "many", "--out", str(tmp_path / "o")]) == 2
    assert not (RUNS / "demo" / "report").exists()


def test_no_run_folder_is_a_usage_error():
    with pytest.raises(SystemExit) as exit_:
        main(["report"])
    assert exit_.value.code == 2


def test_an_unknown_primary_endpoint_is_refused_as_validate_refuses_it(demo, capsys):
    assert main(["report", str(demo), "--primary", "advbnech", "--no-figures"]) == 2
    err = capsys.readouterr().err
    assert "error: --primary: 'advbnech' is not an endpoint of the evaluated benchmarks (gsm8k, " in err
    assert main(["report", str(demo), "--non-inferiority", "gsm=5", "--no-figures"]) == 2  # the flag is named
    assert "error: --non-inferiority gsm: 'gsm' is not an endpoint" in capsys.readouterr().err
    assert not (demo / "report" / "report.md").exists()
    assert main(["report", str(demo), "--primary", "gsm8k", "--no-figures"]) == 0  # an evaluated one


def test_a_folder_that_is_not_a_run_gets_no_folder_made_in_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train").mkdir()  # a folder, but not a run folder
    for argv in (["report", "nosuchdir"], ["report", "train"], ["report", str(RUNS / "demo"), "nosuchdir"],
                 ["analyze", "nosuchdir"]):
        assert main(argv) == 2, argv
        assert "manifest.json" in capsys.readouterr().err
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["train"]
    assert not (RUNS / "demo" / "report").exists()
