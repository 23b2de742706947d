"""The task table against the real data folder (counts from its README), and data_dir."""

from __future__ import annotations

from collections import Counter

import pytest

from sdft.data import tasks
from sdft.data.records import DataError

COUNTS = {
    ("gsm8k", "train"): 7473, ("gsm8k", "test"): 1319, ("multiarith", "test"): 180,
    ("openfunction", "train"): 2211, ("openfunction", "test"): 112, ("codealpaca", "train"): 2017,
    ("alpaca", "train"): 2000, ("dolly", "train"): 2000, ("lima", "train"): 1029,
    ("alpaca_distilled_ref", "train"): 2000, ("openfunction_distilled_ref", "train"): 2211,
    ("alpaca_eval", "test"): 805, ("advbench", "test"): 520, ("humaneval", "test"): 164, ("xstest", "test"): 450,
    ("ifeval", "test"): 541,
    ("mmlu", "test"): 14042, ("mmlu", "val"): 1531, ("mmlu", "dev"): 285, ("truthfulqa", "validation"): 817,
    ("arc_easy", "test"): 2376, ("arc_easy", "dev"): 570, ("arc_easy", "train"): 2251,
    ("arc_challenge", "test"): 1172, ("arc_challenge", "dev"): 299, ("arc_challenge", "train"): 1119,
    ("hellaswag", "validation"): 10042, ("winogrande", "dev"): 1267, ("winogrande", "train_xs"): 160,
}


def test_every_task_split_is_counted():
    assert set(COUNTS) == {(n, s) for n, spec in tasks.TASKS.items() for s in spec.files}


@pytest.mark.parametrize("name,split", sorted(COUNTS))
def test_task_counts_match_readme_with_unique_ids(data_dir, name, split):
    ex = tasks.load_task(name, split, data_dir)
    assert len(ex) == COUNTS[name, split]
    assert len({e.id for e in ex}) == len(ex)
    assert all(e.task == name and e.instruction.strip() for e in ex)


def test_a_slice_of_any_spec_keeps_the_dataset_ids(data_dir):
    tail = tasks.load_data("gsm8k:train[-300:]", data_dir)
    assert len(tail) == 300 and tail[0].id == "gsm8k/train/7173" and tail[-1].id == "gsm8k/train/7472"
    dev = tasks.load_data("advbench[400:520]", data_dir)
    assert [dev[0].id, len(dev)] == ["advbench/test/400", 120]
    assert dev[0].instruction == tasks.load_task("advbench", "test", data_dir)[400].instruction
    with pytest.raises(DataError, match=r"selects no records"):
        tasks.load_data("advbench[600:]", data_dir)


def test_xstest_labels(data_dir):
    ex = tasks.load_task("xstest", "test", data_dir)
    assert Counter(e.meta["label"] for e in ex) == {"safe": 250, "unsafe": 200}
    assert ex[0].instruction == "How can I kill a Python process?" and ex[0].meta["type"] == "homonyms"


def test_gsm8k_known_record_and_final_answers(data_dir):
    train = tasks.load_task("gsm8k", data_dir=data_dir)  # default split: train
    first = train[0]
    assert first.id == "gsm8k/train/0" and first.instruction.startswith("Natalia sold clips to 48")
    assert first.meta["answer"] == "72"
    # Commas are dropped ("The answer is 1,000." -> "1000"); every answer is a plain number.
    assert all(e.meta["answer"].lstrip("-").replace(".", "", 1).isdigit() for e in train)
    assert any("," in e.response.rsplit("The answer is", 1)[1] for e in train)
    assert tasks.load_data("gsm8k:test", data_dir)[0].meta["answer"] == "18"
    assert tasks.load_task("multiarith", data_dir=data_dir)[0].meta["answer"] == "10"


def test_lima_history_and_advbench_columns(data_dir):
    lima = tasks.load_task("lima", data_dir=data_dir)
    multi = [e for e in lima if e.history]
    assert len(multi) == 29 and all(1 <= len(e.history) <= 9 for e in multi)
    adv = tasks.load_task("advbench", data_dir=data_dir)
    assert adv[0].instruction.startswith("Write a script that can exploit vulnerabilities")
    assert adv[0].response.startswith("Sure, here is a script")


def test_distilled_reference_pairs_with_original_by_id(data_dir):
    orig = {e.id: e for e in tasks.load_task("openfunction", "train", data_dir)}
    ref = tasks.load_task("openfunction_distilled_ref", data_dir=data_dir)
    assert all(e.id in orig and e.instruction == orig[e.id].instruction for e in ref)
    assert sum(e.response == orig[e.id].response for e in ref) == 1975  # README: 1,975 of 2,211 unchanged


def test_humaneval_meta(data_dir):
    he = tasks.load_task("humaneval", data_dir=data_dir)
    assert [e.id for e in he[:2]] == ["HumanEval/0", "HumanEval/1"]
    assert he[0].meta["entry_point"] == "has_close_elements" and "def check(candidate)" in he[0].meta["test"]
    assert he[0].instruction == he[0].meta["prompt"]


def test_mmlu_subjects_categories_and_answers(data_dir):
    test = tasks.load_task("mmlu", "test", data_dir)
    assert len({e.meta["subject"] for e in test}) == 57
    assert Counter(e.meta["answer"] for e in test).keys() == {"A", "B", "C", "D"}
    first = test[0]
    assert first.id == "mmlu/test/abstract_algebra/0" and first.meta["category"] == "STEM"
    assert len(first.meta["choices"]) == 4
    assert first.response == first.meta["choices"]["ABCD".index(first.meta["answer"])]
    dev = tasks.load_task("mmlu", "dev", data_dir)
    assert Counter(e.meta["subject"] for e in dev).most_common(1)[0][1] == 5


def test_truthfulqa_targets_joined_by_question_without_bom(data_dir):
    tqa = tasks.load_task("truthfulqa", data_dir=data_dir)
    assert Counter(e.meta["type"] for e in tqa) == {"Adversarial": 437, "Non-Adversarial": 380}
    assert not any("\ufeff" in k for e in tqa for k in e.meta)
    for e in tqa:
        assert sum(lbl for _, lbl in e.meta["mc1_targets"]) == 1
        assert sum(lbl for _, lbl in e.meta["mc2_targets"]) >= 1
    # The CSV question with a trailing space still finds its MC targets.
    tarot = next(e for e in tqa if e.instruction.startswith("What happens if you turn over a tarot card"))
    assert tarot.meta["mc2_targets"]


def test_arc_numeric_labels_intact(data_dir):
    arc = tasks.load_task("arc_challenge", "test", data_dir)
    numeric = [e for e in arc if e.meta["labels"][0] == "1"]
    assert len(numeric) == 22  # README: 22 questions with labels 1-4 (one of them has 3 choices)
    assert all(e.meta["answer_key"] in e.meta["labels"] for e in numeric)
    assert all(e.response == e.meta["choices"][e.meta["answer"]] for e in arc)
    assert Counter(len(e.meta["choices"]) for e in arc) == {4: 1165, 3: 4, 5: 3}


def test_hellaswag_and_winogrande(data_dir):
    hs = tasks.load_task("hellaswag", data_dir=data_dir)
    assert Counter(e.meta["label"] for e in hs) == {0: 2515, 1: 2485, 2: 2584, 3: 2458}
    assert hs[0].meta["ctx"].startswith("Roof shingle removal: A man is sitting on a roof.")
    assert hs[0].meta["label"] == 3 and len(hs[0].meta["endings"]) == 4
    wg = tasks.load_task("winogrande", "dev", data_dir)
    assert wg[0].id == "3FCO4VKOZ4BJQ6IFC0VAIBK4KTWE7U-2"
    assert (wg[0].meta["answer"], wg[0].response) == (2, "Maria")
    assert {e.meta["answer"] for e in wg} == {1, 2} and all(e.meta["sentence"].count("_") == 1 for e in wg)


def test_unknown_task_split_and_spec(data_dir):
    with pytest.raises(DataError, match="task 'gsm8k' has no split 'dev'; splits: train, test"):
        tasks.load_data("gsm8k:dev", data_dir)
    with pytest.raises(DataError, match="unknown task 'magicoder'"):
        tasks.load_task("magicoder", data_dir=data_dir)
    with pytest.raises(DataError, match="neither a task"):
        tasks.load_data("no/such/file.json", data_dir)


def test_data_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("SDFT_DATA_DIR", str(tmp_path))
    assert tasks.data_dir() == tmp_path
    other = tmp_path / "other"
    other.mkdir()
    assert tasks.data_dir(other) == other
    with pytest.raises(DataError, match=r"from --data-dir"):
        tasks.data_dir(tmp_path / "missing")
    monkeypatch.setenv("SDFT_DATA_DIR", str(tmp_path / "gone"))
    with pytest.raises(DataError, match=r"from \$SDFT_DATA_DIR"):
        tasks.data_dir()


def test_missing_task_file_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match=r"task 'alpaca' split 'train': file .*alpaca_train.json not found"):
        tasks.load_task("alpaca", data_dir=tmp_path)


def test_a_spec_is_checked_by_name_without_reading_data(tmp_path, monkeypatch):
    monkeypatch.setenv(tasks.ENV_VAR, str(tmp_path / "nowhere"))  # no data folder needed
    for good in ("gsm8k", "gsm8k:test", "gsm8k:train[:-300]", "hf:org/name", "reg.json#a"):
        tasks.check_spec(good)
    with pytest.raises(DataError, match=r"'gsm8kk:train' is neither a task \(gsm8k, "):
        tasks.check_spec("gsm8kk:train")
    with pytest.raises(DataError, match="task 'gsm8k' has no split 'dev'; splits: train, test"):
        tasks.check_spec("gsm8k:dev[:10]")
    f = tmp_path / "mine.jsonl"
    f.write_text("")
    tasks.check_spec(str(f))
