"""Self-replay: general prompts answered once by the seed model, mixed into the task rows.

A fine-tune forgets less when part of what it trains on is the seed model's own behaviour on
other prompts (replay of self-generated data). The replay prompts come from a general set that
no benchmark evaluates and that is not the training task (:func:`check_disjoint`); the seed
answers them once, greedily, and the answers are cached (a JSONL resumed line by line), so
every training seed and every method that replays shares one generation. A prompt the seed
answers with nothing is skipped for the next one of the seeded order.

``share`` is the fraction of the *mixed* training set that is replay: ``n_task`` task rows get
``round(share * n_task / (1 - share))`` replay rows (:func:`replay_count`), the first prompts
of a seeded order of the general set. The mix keeps the task rows in their order and puts the replay rows
after them (the trainer shuffles).

    sdft train --data gsm8k --limit 200 --method replay --replay-share 0.2 --out runs/g-replay
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from sdft.data.records import Example
from sdft.errors import ConfigError, DataError

REPLAY_PREFIX = "replay:"


def evaluated_tasks() -> set[str]:
    """Task names whose data some benchmark reads (the battery's own data, by task name)."""
    from sdft.evaluate import BENCHMARKS

    return {b.data.split(":")[0] for b in BENCHMARKS.values() if b.data} | set(BENCHMARKS)


def check_disjoint(spec: str, train_task: str | None) -> None:
    """The replay set must be neither the training task nor any evaluated set (compared by task
    name, so e.g. ``gsm8k:train`` is refused while GSM8K is a benchmark: conservative)."""
    name = spec.split(":")[0]
    if train_task and name == train_task:
        raise ConfigError(f"train: replay_data {spec!r} is the training task itself; name a general set "
                          "such as dolly")
    if name in evaluated_tasks():
        raise ConfigError(f"train: replay_data {spec!r}: a benchmark evaluates that data, so replaying it "
                          "would train on the test; name a general set such as dolly")


def replay_count(n_task: int, share: float) -> int:
    """Replay rows that make ``share`` of a mix with ``n_task`` task rows."""
    if not 0 < share < 1:
        raise ConfigError(f"train: replay_share must be in (0, 1), got {share}")
    return round(share * n_task / (1 - share))


def replay_pool(spec: str, seed: int, data_dir: str | None = None) -> list[Example]:
    """The general set in a seeded order: replay uses the first prompts of it that the seed
    answers (their own answers are never used)."""
    from sdft.data.tasks import load_data

    pool = load_data(spec, data_dir=data_dir)
    # A stream of its own, so the task sample (same seed) never decides which prompts replay.
    random.Random(f"{seed}-replay").shuffle(pool)
    return pool


def _answers(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            out[r["id"]] = r["predict"].strip()
    return out


def generate_answers(model: str, pool: list[Example], n: int, out: str | Path, max_new_tokens: int = 256,
                     generation=None, **extra) -> Path:
    """The seed model's greedy answers into ``out`` (JSONL; resumed) for the first prompts of
    ``pool`` until ``n`` of them are non-empty (an empty answer cannot be trained on; the next
    prompt takes its place, so the share stays exact). ``extra`` goes to the backend (tests pass
    the fake backend's ``respond``)."""
    from sdft.generation import GenerationConfig, Request, SamplingParams, make_generator
    from sdft.generation.runner import generate_jsonl

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    gen = None
    upto, cap = n, min(len(pool), 2 * n + 16)  # a seed that answers most prompts with nothing is an error
    while True:
        have = _answers(out)
        todo = [e for e in pool[:upto] if e.id not in have]
        if todo:
            gen = gen or make_generator(generation or GenerationConfig(), model, **extra)
            generate_jsonl(gen, [Request(e.id, e.messages()) for e in todo],
                           SamplingParams(max_new_tokens=max_new_tokens), out, desc="replay")
            have = _answers(out)
        good = sum(bool(have.get(e.id)) for e in pool[:upto])
        if good >= n or upto >= cap:
            break
        upto = min(cap, upto + (n - good))
    return out


def replay_rows(pool: list[Example], answers: str | Path, n: int) -> list[dict]:
    """Plain training records of the first ``n`` prompts of ``pool`` with a non-empty seed answer
    (ids prefixed ``replay:``)."""
    have = _answers(Path(answers))
    rows = []
    for e in pool:
        if len(rows) == n:
            break
        if e.id not in have:
            break
        if have[e.id]:
            rows.append({"id": REPLAY_PREFIX + e.id, "task": e.task, "system": e.system,
                         "history": [list(t) for t in e.history], "instruction": e.instruction,
                         "input": e.input, "output": have[e.id]})
    if len(rows) < n:
        raise DataError(f"{answers}: {len(rows)} non-empty seed answers for the {n} replay rows asked for "
                        f"({len(have)} answers in the file; the seed answers up to {2 * n + 16} prompts)")
    return rows


def mix(task_rows: list[dict], replay: list[dict]) -> list[dict]:
    """Task rows then replay rows; ids must stay unique."""
    ids = [r["id"] for r in task_rows]
    clash = set(ids) & {r["id"] for r in replay}
    if clash:
        raise DataError(f"replay: ids {sorted(clash)[:3]} appear in both the task rows and the replay rows")
    return [*task_rows, *replay]


def as_examples(rows: list[dict]) -> list[Example]:
    """Plain records back into examples (what the trainer tokenizes)."""
    return [Example(id=r["id"], task=r.get("task"), system=r.get("system"),
                    history=[tuple(t) for t in r.get("history") or []], instruction=r["instruction"],
                    input=r.get("input") or "", response=r["output"]) for r in rows]


def _same_maker(answers: Path, now: dict) -> None:
    """The cached answers in a training folder are the seed's: ``sdft train --overwrite`` with
    another --model (or answer length) must not train on the old model's answers as its own
    replay. What made them is kept beside them (``replay_answers.json``)."""
    from sdft.runs import write_json

    meta = answers.with_suffix(".json")
    made = json.loads(meta.read_text(encoding="utf-8")) if meta.exists() else None
    if made is not None and made != now and answers.exists():
        raise ConfigError(f"{answers}: these replay answers were generated with {made}, not {now}; delete the "
                          "file to generate this seed's (or name it with replay_answers to use it anyway)")
    if made != now:
        write_json(meta, now)


def with_replay(cfg, examples: list, task: str | None, out: Path) -> list:
    """method=replay: the task examples followed by the seed's answers to general prompts
    (this module), generated into OUT unless ``replay_answers`` names them."""
    check_disjoint(cfg.replay_data, task)
    pool = replay_pool(cfg.replay_data, cfg.seed, cfg.data_dir)
    n = replay_count(len(examples), cfg.replay_share)
    answers = cfg.replay_answers or out / "replay_answers.jsonl"
    if not cfg.replay_answers:
        _same_maker(answers, {"model": cfg.model, "max_new_tokens": cfg.replay_max_new_tokens})
        generate_answers(cfg.model, pool, n, answers, cfg.replay_max_new_tokens)
    return [*examples, *as_examples(replay_rows(pool, answers, n))]
