"""The report's IFEval tables: the four numbers per evaluated model with their CIs, and the
strict share followed per instruction id, model by model."""

from __future__ import annotations

from sdft.data.records import Example
from sdft.evaluate import ifeval
from sdft.report import ifeval_table
from sdft.report.cells import DASH


def _record(i, instructions, kwargs, response, prompt="Answer as asked."):
    ex = Example(id=f"t/{i}", instruction=prompt, meta={"instruction_id_list": instructions, "kwargs": kwargs})
    return {"id": ex.id, "predict": response, "label": ifeval.label(ex)}


def test_report_tables_show_four_numbers_and_the_breakdown():
    # The entry as the evaluation writes it: scored by ifeval's own summary.
    recs = [_record(0, ["punctuation:no_comma"], [{}], "a b"), _record(1, ["startend:quotation"], [{}], "x")]
    ifeval.score_many(recs)
    res = {**ifeval.summary(recs), "truncated": 1, "generation": {"max_new_tokens": 512}}
    runs = [{"name": "r", "manifest": {}, "models": [{"label": "seed", "method": "seed", "results": {"ifeval": res}},
                                     {"label": "vanilla", "method": "vanilla", "results": {"gsm8k": {"score": 0.1}}}]}]
    numbers, breakdown = ifeval_table.tables_of(runs)
    assert numbers["rows"][0][0] == "seed" and len(numbers["rows"]) == 1
    assert numbers["rows"][0][1]["text"] == "50.0" and numbers["rows"][0][-1] == "1"
    assert "512 new tokens" in numbers["note"]
    assert breakdown["rows"] == [["punctuation:no_comma", "1", "100.0"], ["startend:quotation", "1", "0.0"]]
    assert ifeval_table.tables_of([{"name": "r", "manifest": {}, "models": []}]) == []


def _entry(score, by=None, **extra):
    entry = {"score": score, "ci95": [score - 0.1, score + 0.1], "extra": extra}
    return {**entry, "by_instruction": by} if by else entry


def test_several_runs_missing_numbers_and_instructions_one_model_lacks():
    a = _entry(0.5, {"length:max": {"n": 4, "strict": 0.25, "loose": 0.5}},
               inst_strict={"score": 0.6, "ci95": [0.5, 0.7]})
    b = _entry(0.75, {"length:max": {"n": 4, "strict": 0.5, "loose": 0.5},
                      "format:json": {"n": 2, "strict": 1.0, "loose": 1.0}})
    seed = lambda res: {"label": "seed", "method": "seed", "results": {"ifeval": res}}  # noqa: E731
    runs = [{"name": "r1", "manifest": {}, "models": [seed(a)]},
            {"name": "r2", "manifest": {}, "models": [seed(b), {"label": "x", "method": "vanilla", "results": None}]}]
    numbers, breakdown = ifeval_table.tables_of(runs)
    assert numbers["columns"] == ["model", "prompt-level strict", "instruction-level strict", "prompt-level loose",
                                  "instruction-level loose", "answers cut"]
    assert [r[0] for r in numbers["rows"]] == ["r1/seed", "r2/seed"]  # several runs: the run names the row
    # numbers not saved and truncation not counted are dashes
    assert numbers["rows"][0][1:] == [{"text": "50.0", "small": "[40.0, 60.0]"},
                                      {"text": "60.0", "small": "[50.0, 70.0]"}, DASH, DASH, DASH]
    assert f"({DASH} new tokens)" in numbers["note"]
    assert breakdown["columns"] == ["instruction", "n", "r1/seed", "r2/seed"]
    assert breakdown["rows"] == [["format:json", "2", DASH, "100.0"], ["length:max", "4", "25.0", "50.0"]]


def test_no_breakdown_without_per_instruction_results():
    seed = {"label": "seed", "method": "seed", "results": {"ifeval": _entry(0.5)}}
    runs = [{"name": "r", "manifest": {}, "models": [seed]}]
    assert [t["title"] for t in ifeval_table.tables_of(runs)] == ["IFEval: instruction following (%, 95% CI)"]


def test_a_method_trained_with_several_seeds_is_one_row_and_one_column():
    """GSM8K v2 has 22 models: a row (and a breakdown column) each made a table no one reads; a
    seeded method is its seeds' mean, as in the score table, with the cut answers summed."""
    by = lambda s: {"length:max": {"n": 4, "strict": s, "loose": s}}  # noqa: E731
    models = [{"label": "seed", "method": "seed", "results": {"ifeval": {**_entry(0.5, by(0.5)), "truncated": 2}}}]
    models += [{"label": f"vanilla-s{i}", "method": "vanilla", "train_seed": i,
                "results": {"ifeval": {**_entry(s, by(s)), "truncated": 1}}} for i, s in ((1, 0.25), (2, 0.75))]
    numbers, breakdown = ifeval_table.tables_of([{"name": "r", "manifest": {}, "models": models}])
    assert [r[0] for r in numbers["rows"]] == ["seed", "vanilla (mean of 2 seeds)"]
    assert numbers["rows"][1][1]["text"] == "50.0" and numbers["rows"][1][-1] == "2"  # mean of 25 and 75; 1 + 1 cut
    assert "summed over a method's seeds" in numbers["note"]
    assert breakdown["rows"] == [["length:max", "4", "50.0", "50.0"]]
