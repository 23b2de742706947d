"""`sdft score`: a benchmark that cannot score a predictions file, or a file with none, is one line,
exit 2."""

from __future__ import annotations

import json

from sdft.cli import main


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_score_cli_checks_that_the_benchmark_scores_files(tmp_path, capsys):
    f = _write(tmp_path / "p.jsonl", [{"predict": "x", "label": "y"}])
    assert main(["score", "mmlu", str(f)]) == 2
    assert "mmlu is not a generative benchmark" in capsys.readouterr().err
    assert main(["score", "gsm9k", str(f)]) == 2
    assert "unknown benchmark 'gsm9k'" in capsys.readouterr().err


def test_a_file_with_no_predictions_is_an_error_naming_it(tmp_path, capsys):
    """An empty file used to print "accuracy = nan (n=0)" and exit 0, which a script reads as a
    result; it is most likely the wrong file (an evaluation that never wrote, a typo'd folder)."""
    f = tmp_path / "empty.jsonl"
    f.write_text("")
    for extra in ([], ["--json"]):
        assert main(["score", "gsm8k", str(f), *extra]) == 2
        captured = capsys.readouterr()
        assert f"{f}: no predictions in the file" in captured.err and captured.out == ""
