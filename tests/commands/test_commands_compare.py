"""`sdft compare`: the report's endpoints of two results folders, paired."""

from __future__ import annotations

import json

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
