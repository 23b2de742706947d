"""`sdft score`: a benchmark that cannot score a predictions file is one line, exit 2."""

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
