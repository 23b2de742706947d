"""`sdft train`: bad data or flags are one line on stderr, exit 2."""

from __future__ import annotations

import json

from sdft.cli import main


def test_cli_reports_bad_input_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"instruction": "q", "output": ""}) + "\n")
    assert main(["train", "--data", str(tmp_path / "missing.json"), "--out", str(tmp_path / "o")]) == 2
    assert "missing.json" in capsys.readouterr().err
    assert main(["train", "--data", str(bad), "--out", str(tmp_path / "o1")]) == 2
    err = capsys.readouterr().err.strip()
    assert "bad.jsonl" in err and "output" in err and len(err.splitlines()) == 1, err
    assert main(["train", "--data", "x", "--out", str(tmp_path / "o2"), "--method", "rl"]) == 2
    assert "method" in capsys.readouterr().err


def test_a_negative_limit_or_zero_epochs_exit_2_in_one_line(tmp_path, capsys):
    for flags, word in ((["--limit", "-2"], "`limit` must be >= 0"), (["--epochs", "0"], "`epochs` must be > 0")):
        assert main(["train", "--data", "gsm8k", "--out", str(tmp_path / "o"), *flags]) == 2
        err = capsys.readouterr().err.strip()
        assert word in err and len(err.splitlines()) == 1, err
