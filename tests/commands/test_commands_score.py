"""`sdft score`: a benchmark that cannot score a predictions file is one line, exit 2."""

from __future__ import annotations

import json

import pytest

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


def test_score_json_of_a_file_with_no_predictions_is_valid_json(tmp_path, capsys):
    f = tmp_path / "empty.jsonl"
    f.write_text("")
    assert main(["score", "gsm8k", str(f), "--json"]) == 0
    res = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"invalid JSON: {c}"))
    assert res["n"] == 0 and res["score"] is None and res["ci95"] == [None, None]
