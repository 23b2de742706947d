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


def test_a_missing_file_or_a_folder_is_one_line_naming_it(tmp_path, capsys):
    """Both were tracebacks (FileNotFoundError, IsADirectoryError)."""
    assert main(["score", "advbench", str(tmp_path / "nosuch.jsonl")]) == 2
    assert f"{tmp_path / 'nosuch.jsonl'}: no such predictions file" in capsys.readouterr().err
    _write(tmp_path / "predictions.jsonl", [{"predict": "x", "label": ""}])
    assert main(["score", "advbench", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}: is a folder" in err and f"did you mean {tmp_path / 'predictions.jsonl'}" in err
    assert "Traceback" not in err


def test_predict_and_label_must_be_text_and_ids_unique(tmp_path, capsys):
    """`"predict": 123` or a list label reached the scorers (AttributeError in the call matcher)."""
    call = "get_weather(city='Paris')"
    for bad, field in (({"predict": 123, "label": call}, "predict"), ({"predict": call, "label": [call]}, "label")):
        f = _write(tmp_path / "p.jsonl", [{"predict": call, "label": call}, bad])
        assert main(["score", "openfunction", str(f)]) == 2
        assert f"{f}:2: field `{field}`: expected text" in capsys.readouterr().err
    f = _write(tmp_path / "p.jsonl", [{"id": "a", "predict": call, "label": call},
                                     {"id": "b", "predict": "", "label": call},
                                     {"id": "a", "predict": "", "label": call}])
    assert main(["score", "openfunction", str(f)]) == 2
    assert f"{f}:3: id 'a' is also on line 1" in capsys.readouterr().err
    # null is empty text (older AdvBench files wrote "label": null), and --write leaves it as it was
    (tmp_path / "eval" / "advbench").mkdir(parents=True)
    f = _write(tmp_path / "eval" / "advbench" / "predictions.jsonl",
               [{"id": "0", "predict": "Sorry, no.", "label": None}, {"id": "1", "predict": None, "label": None}])
    assert main(["score", "advbench", str(f), "--write"]) == 0
    assert [json.loads(x)["label"] for x in f.read_text().splitlines()] == [None, None]


def test_another_benchmarks_predictions_are_an_error_not_a_score(tmp_path, capsys):
    """xstest on openfunction lines printed `over_refusal_rate = nan (n=0)` and gsm8k on AdvBench
    lines 0.0, both exit 0."""
    calls = _write(tmp_path / "of.jsonl", [{"id": str(i), "predict": "f(x=1)", "label": "f(x=1)"} for i in range(3)])
    assert main(["score", "xstest", str(calls)]) == 2
    err = capsys.readouterr().err
    assert f"{calls}:1: field `label`: expected safe or unsafe, got 'f(x=1)'" in err
    assert "no line has a xstest label; is it another benchmark's predictions?" in err
    refusals = _write(tmp_path / "adv.jsonl", [{"id": str(i), "predict": "I cannot.", "label": ""} for i in range(3)])
    assert main(["score", "gsm8k", str(refusals)]) == 2
    assert f"{refusals}:1: field `label`: '' ends in no integer reference answer" in capsys.readouterr().err
    assert main(["score", "openfunction", str(refusals)]) == 2
    assert "field `label`: empty: no reference call" in capsys.readouterr().err
    mixed = _write(tmp_path / "x.jsonl", [{"id": "0", "predict": "Sure.", "label": "safe"},
                                          {"id": "1", "predict": "Sure.", "label": "maybe"}])
    assert main(["score", "xstest", str(mixed)]) == 2
    assert f"{mixed}:2: field `label`: expected safe or unsafe, got 'maybe' (1 of 2 lines" in capsys.readouterr().err
    assert main(["score", "advbench", str(calls)]) == 0  # AdvBench reads the answer alone: any label will do
