"""The training set of one fine-tune: the first N sampled examples; for SDFT a seeded share of
distilled answers; for replay the seed's answers after the task rows."""

from __future__ import annotations

import json

import pytest

from sdft.data.records import Example
from sdft.errors import DataError
from sdft.train.trainset import training_rows, write_rows


def _sampled(n=6):
    return [Example(id=f"t/{i}", task="gsm8k", instruction=f"q{i}", response=f"a{i}", history=[("hi", "hello")])
            for i in range(n)]


def _distilled(path, n=6):
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"t/{i}", "task": "gsm8k", "instruction": f"q{i}", "input": "",
                                "response": f"rewrite{i}", "original": f"a{i}", "kept": True}) + "\n")
    return path


def test_vanilla_rows_are_the_first_n_sampled_examples_with_their_answers():
    rows = training_rows("vanilla", _sampled(), 4, seed=1)
    assert [r["id"] for r in rows] == ["t/0", "t/1", "t/2", "t/3"]
    assert rows[0] == {"id": "t/0", "task": "gsm8k", "system": None, "history": [["hi", "hello"]],
                       "instruction": "q0", "input": "", "output": "a0"}
    assert len(training_rows("onpolicy", _sampled(), None, seed=1)) == 6


def test_sdft_rows_take_a_seeded_share_of_the_rewrites(tmp_path):
    d = _distilled(tmp_path / "distilled.jsonl")
    full = training_rows("sdft", [], 4, seed=1, distilled=d, mix_ratio=1.0)
    assert [r["output"] for r in full] == ["rewrite0", "rewrite1", "rewrite2", "rewrite3"]
    half = training_rows("sdft", [], 4, seed=1, distilled=d, mix_ratio=0.5)
    assert sum(r["output"].startswith("rewrite") for r in half) == 2
    assert half == training_rows("sdft", [], 4, seed=1, distilled=d, mix_ratio=0.5)  # seeded
    assert [r["output"] for r in training_rows("sdft", [], 4, seed=1, distilled=d)] == ["a0", "a1", "a2", "a3"]


def test_the_share_of_rewrites_is_picked_by_the_training_seed(tmp_path):
    """Which rows train on a rewrite depends on the seed, by a pinned rule (random.Random(f"{seed}-mix")
    sampling the ids): a seed ignored, or the rule changed, would change every mixed run's training set."""
    d = _distilled(tmp_path / "distilled.jsonl", n=20)

    def rewritten(seed):
        rows = training_rows("sdft", [], 20, seed=seed, distilled=d, mix_ratio=0.5)
        return [int(r["id"][2:]) for r in rows if r["output"].startswith("rewrite")]

    assert rewritten(1) == [0, 1, 2, 3, 6, 8, 9, 11, 12, 16]
    assert rewritten(2) == [0, 1, 4, 5, 7, 10, 11, 13, 16, 19]


def test_replay_rows_follow_the_task_rows_and_ids_stay_unique(tmp_path):
    replayed = [{"id": "replay:d/1", "task": "dolly", "system": None, "history": [], "instruction": "p",
                 "input": "", "output": "seed answer"}]
    rows = training_rows("replay", _sampled(), 3, seed=1, replay_rows=replayed)
    assert [r["id"] for r in rows] == ["t/0", "t/1", "t/2", "replay:d/1"]
    with pytest.raises(DataError, match="both the task rows and the replay rows"):
        training_rows("replay", _sampled(), 3, seed=1, replay_rows=[{**replayed[0], "id": "t/0"}])


def test_the_file_is_replaced_whole(tmp_path):
    dest = tmp_path / "data"
    write_rows(dest, training_rows("vanilla", _sampled(), 3, seed=1))
    path = write_rows(dest, training_rows("vanilla", _sampled(), 2, seed=1))
    assert [json.loads(x)["id"] for x in path.read_text().splitlines()] == ["t/0", "t/1"]
    assert not (dest / "train.jsonl.tmp").exists()
