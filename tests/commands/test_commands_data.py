"""`sdft data`: list the task table, show and check a spec; bad input is one line, exit 2."""

from __future__ import annotations

import json

from sdft.cli import main


def test_cli_show_and_check(data_dir, capsys):
    assert main(["data", "--data-dir", str(data_dir), "show", "winogrande:train_xs", "--limit", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["meta"]["answer"] in (1, 2)
    assert main(["data", "--data-dir", str(data_dir), "check", "codealpaca"]) == 0
    out = capsys.readouterr().out
    assert "2017 records" in out and "2 records have an empty response" in out


def test_cli_list_marks_missing_files(tmp_path, capsys):
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "gsm8k_test.json").write_text('[{"question": "1+1?", "answer": "The answer is 2."}]')
    assert main(["data", "--data-dir", str(tmp_path), "list"]) == 0
    rows = {tuple(line.split()[:4]) for line in capsys.readouterr().out.splitlines()}
    assert ("gsm8k", "train", "test", "1") in rows and ("gsm8k", "train", "train", "missing") in rows


def test_cli_check_bad_input_exits_2_with_the_message(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "x", "output": "y"}\n{"instruction": "x"}\n')
    assert main(["data", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2: field 'output': missing" in err and "Traceback" not in err


def test_unknown_fields_suggest_what_a_cli_user_can_do_and_the_suggestion_works(tmp_path, capsys):
    wrong = tmp_path / "wrongcols.jsonl"
    wrong.write_text('{"question": "What is 2+2?", "response": "4"}\n')
    assert main(["data", "check", str(wrong)]) == 2
    err = capsys.readouterr().err
    assert "pass a format or columns" not in err  # no command has such flags
    assert "Rename the fields" in err and "dataset_info.json#NAME" in err
    entry = json.loads(err[err.index("e.g. ") + 5:].strip())  # the entry the message suggests, as JSON
    columns = {"prompt": "question", "response": "response"}
    assert entry == {"NAME": {"file_name": "wrongcols.jsonl", "columns": columns}}
    (tmp_path / "dataset_info.json").write_text(json.dumps(entry))
    assert main(["data", "show", f"{tmp_path / 'dataset_info.json'}#NAME"]) == 0
    shown = json.loads(capsys.readouterr().out.splitlines()[0])
    assert (shown["instruction"], shown["response"]) == ("What is 2+2?", "4")


def test_data_dir_may_follow_the_action_too(tmp_path, capsys):
    """`sdft data list --data-dir X` was "unrecognized arguments": the flag worked only before the action."""
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "gsm8k_test.json").write_text('[{"question": "1+1?", "answer": "The answer is 2."}]')
    assert main(["data", "list", "--data-dir", str(tmp_path)]) == 0
    assert f"data folder: {tmp_path}" in capsys.readouterr().out
    assert main(["data", "show", "gsm8k:test", "--data-dir", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == "gsm8k/test/0"
    # given before the action and not after it, it is kept (not overwritten by the action's default)
    assert main(["data", "--data-dir", str(tmp_path), "check", "gsm8k:test"]) == 0
    assert "gsm8k:test: 1 records" in capsys.readouterr().out


def test_show_refuses_a_negative_limit(data_dir, capsys):
    """--limit -1 printed all but the last record; 0 prints all, as its help says."""
    import pytest

    with pytest.raises(SystemExit) as exit_:
        main(["data", "show", "winogrande:train_xs", "--limit", "-1"])
    assert exit_.value.code == 2
    assert "argument --limit: must be 0 (all) or a positive number of records, got -1" in capsys.readouterr().err
    assert main(["data", "--data-dir", str(data_dir), "show", "multiarith", "--limit", "0"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 180  # 0: all, as documented
