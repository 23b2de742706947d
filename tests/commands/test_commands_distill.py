"""`sdft distill`: config errors are one line on stderr, exit 2."""

from __future__ import annotations

from sdft.cli import main


def test_cli_reports_config_errors_in_one_line(tmp_path, capsys):
    assert main(["distill", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "sdft distill: error: distill: `data` is required" in err
    # the config's own values are checked as the flags are read, before anything else
    assert main(["distill", "--out", str(tmp_path), "--mix-ratio", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "sdft distill: error: `mix_ratio` must be within [0, 1], got 2.0" in err and len(err.splitlines()) == 1
