"""`sdft compare`: the report's endpoints of two results folders, paired."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdft.cli import main


def test_compare_splits_xstest_into_its_safe_and_unsafe_endpoints(tmp_path, capsys):
    # XSTest's score is over-refusal of the safe prompts; refusal of the unsafe ones is the other
    # endpoint the report shows, and `sdft compare` must show it too.
    labels = ["safe", "safe", "unsafe", "unsafe"]
    for folder, scores in (("a", [1, 0, 1, 1]), ("b", [0, 0, 0, 1])):
        (tmp_path / folder / "xstest").mkdir(parents=True)
        lines = [json.dumps({"id": f"x{i}", "predict": "...", "label": lab, "score": float(s)})
                 for i, (lab, s) in enumerate(zip(labels, scores))]
        (tmp_path / folder / "xstest" / "predictions.jsonl").write_text("\n".join(lines) + "\n")
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json"]) == 0
    rows = {r["endpoint"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"xstest", "xstest_unsafe"}
    safe, unsafe = rows["xstest"], rows["xstest_unsafe"]
    assert (safe["n"], safe["mean_a"], safe["mean_b"], safe["better"]) == (2, 0.5, 0.0, "lower")
    assert (unsafe["n"], unsafe["mean_a"], unsafe["mean_b"], unsafe["better"]) == (2, 1.0, 0.5, "higher")


def _eval_folder(folder, scores, settings=None, results=True, ids="g"):
    """A results folder with gsm8k predictions scored ``scores`` (None: not scored yet) and, with
    ``results``, a results.json whose gsm8k entry has ``settings`` over the usual ones."""
    (folder / "gsm8k").mkdir(parents=True)
    lines = [{"id": f"{ids}{i}", "predict": "...", "label": "1", **({} if s is None else {"score": float(s)})}
             for i, s in enumerate(scores)]
    (folder / "gsm8k" / "predictions.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    if results:
        base = {"model": "smollm2-135m", "adapter": None, "backend": "hf", "dtype": "auto", "seed": 0,
                "data": None, "variant": None, "max_new_tokens": None, "options": {}}
        settings = {**base, **(settings or {})}
        sampling = {"max_new_tokens": settings["max_new_tokens"] or 256, "temperature": 0.0, "top_p": 1.0,
                    "seed": settings["seed"], "stop": []}  # what the benchmark decoded with
        entry = {"benchmark": "gsm8k", "score": 0.5, "n": len(scores), "limit": None, "dtype": "bfloat16",
                 "generation": sampling, "settings": settings}
        (folder / "results.json").write_text(json.dumps({"benchmarks": {"gsm8k": entry}}))
    return str(folder)


def test_compare_refuses_a_missing_folder_and_one_that_holds_no_results(tmp_path, capsys):
    evals = _eval_folder(tmp_path / "eval", [1, 0])
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "train_summary.json").write_text("{}")
    assert main(["compare", str(tmp_path / "nosuch1"), evals]) == 2
    assert f"{tmp_path / 'nosuch1'}: no such folder" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "train"), evals, "--json"]) == 2
    captured = capsys.readouterr()
    assert f"{tmp_path / 'train'}: not an evaluation results folder (no results.json)" in captured.err
    assert captured.out == ""
    demo = Path(__file__).resolve().parents[1] / "fixtures" / "runs" / "demo"
    assert main(["compare", str(demo), evals]) == 2
    assert "(no results.json); it is a run folder: compare its eval/LABEL folders" in capsys.readouterr().err


def test_compare_with_no_item_scored_in_both_folders_is_an_error_naming_them(tmp_path, capsys):
    a = _eval_folder(tmp_path / "a", [1, 0, 1])
    b = _eval_folder(tmp_path / "b", [None, None], results=False)  # an evaluation still generating
    assert main(["compare", a, b, "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "nan" not in captured.err.lower()
    assert f"gsm8k: no item scored in both {a} (3 scored) and {b} (0 scored); is an evaluation unfinished?" \
        in captured.err
    other = _eval_folder(tmp_path / "other", [1, 1], ids="h")  # other items: other data
    assert main(["compare", a, other]) == 2
    assert "(2 scored); they scored different items (other data?)" in capsys.readouterr().err


def test_compare_json_is_valid_json_when_a_score_is_not_a_number(tmp_path, capsys):
    a = _eval_folder(tmp_path / "a", [1, 0])
    b = _eval_folder(tmp_path / "b", [float("nan"), 1])  # json.dumps writes NaN, json.loads reads it back
    assert main(["compare", a, b, "--json"]) == 0
    row = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"invalid JSON: {c}"))[0]
    assert row["n"] == 2 and row["mean_a"] == 0.5 and row["mean_b"] is None and row["diff"] is None


def test_compare_warns_about_settings_that_differ_and_still_compares(tmp_path, capsys):
    a = _eval_folder(tmp_path / "a", [1, 0], settings={"max_new_tokens": 256, "seed": 0})
    b = _eval_folder(tmp_path / "b", [1, 1], settings={"max_new_tokens": 512, "seed": 1, "model": "other",
                                                        "adapter": "train/sdft", "merge_adapter": True})
    assert main(["compare", a, b]) == 0
    captured = capsys.readouterr()
    warnings = [ln for ln in captured.err.splitlines() if "other settings" in ln]
    assert len(warnings) == 1 and "max_new_tokens 256 vs 512" in warnings[0] and "seed 0 vs 1" in warnings[0]
    assert "model" not in warnings[0] and "adapter" not in warnings[0]  # the model is what is compared
    assert "gsm8k" in captured.out
    assert main(["compare", a, b, "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["settings_differ"] == {"max_new_tokens": [256, 512], "seed": [0, 1]}
    assert row["diff"] == 0.5


def test_an_unfinished_evaluation_is_compared_on_the_settings_asked_for(tmp_path, capsys):
    """A's results.json holds the values used (dtype resolved to bfloat16, variant named), B's
    settings.json those asked for (auto, None): compared crosswise, they read as a difference."""
    a = tmp_path / "a"
    _eval_folder(a, [1, 0])
    results = json.loads((a / "results.json").read_text())
    results["benchmarks"]["gsm8k"]["variant"] = "default"
    (a / "results.json").write_text(json.dumps(results))
    b = _eval_folder(tmp_path / "b", [1, None], results=False)  # still generating: settings.json only
    asked = results["benchmarks"]["gsm8k"]["settings"]
    (tmp_path / "b" / "gsm8k" / "settings.json").write_text(json.dumps(asked))
    assert main(["compare", str(a), b]) == 0
    assert "other settings" not in capsys.readouterr().err
    (tmp_path / "b" / "gsm8k" / "settings.json").write_text(json.dumps({**asked, "max_new_tokens": 512}))
    assert main(["compare", str(a), b]) == 0
    err = capsys.readouterr().err
    assert "other settings (as asked for: an evaluation is unfinished): max_new_tokens None vs 512" in err
    assert "dtype" not in err and "variant" not in err


def test_compare_warns_when_the_folders_share_only_part_of_their_items(tmp_path, capsys):
    a = _eval_folder(tmp_path / "a", [1, 0, 1, 1])
    b = _eval_folder(tmp_path / "b", [1, 1, None, None])  # B scored 2 of A's 4: n=2 must not pass for all
    assert main(["compare", a, b]) == 0
    captured = capsys.readouterr()
    assert f"gsm8k: compared on the 2 items both scored; 2 scored only in {a}, 0 only in {b}" in captured.err
    assert main(["compare", a, a]) == 0
    assert "compared on the" not in capsys.readouterr().err


def test_a_score_that_is_not_a_number_is_an_error_naming_the_line(tmp_path, capsys):
    """It was dropped silently, so n shrank without a word."""
    a = _eval_folder(tmp_path / "a", [1, 0])
    b = _eval_folder(tmp_path / "b", [1, 0])
    path = tmp_path / "b" / "gsm8k" / "predictions.jsonl"
    lines = path.read_text().splitlines()
    path.write_text(lines[0] + "\n" + lines[1].replace("0.0", '"yes"') + "\n")
    assert main(["compare", a, b]) == 2
    assert f"{path}:2: field `score`: expected a number, got 'yes'" in capsys.readouterr().err


@pytest.mark.parametrize("field, value", [("settings", ["hf"]), ("generation", "greedy")])
def test_a_hand_edited_results_entry_is_one_line_naming_the_file(tmp_path, capsys, field, value):
    a = _eval_folder(tmp_path / "a", [1, 0])
    b = _eval_folder(tmp_path / "b", [1, 0])
    results = tmp_path / "b" / "results.json"
    data = json.loads(results.read_text())
    data["benchmarks"]["gsm8k"][field] = value
    results.write_text(json.dumps(data))
    assert main(["compare", a, b]) == 2
    err = capsys.readouterr().err
    assert f"{results}: gsm8k's {field}: expected an object, got {value!r}" in err and "Traceback" not in err
