"""The forgetting-mitigation methods on the tiny random model: each trains with its loss falling,
KL to the seed is zero at a zero adapter, replay mixes the stated share, costs are counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdft.errors import ConfigError, DataError
from sdft.train import TrainConfig, run_train

DATA = str(Path(__file__).resolve().parents[1] / "fixtures" / "train" / "toy_math.jsonl")
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _cfg(model, out, **kw) -> TrainConfig:
    base = dict(model=model, data=DATA, out=str(out), batch_size=4, grad_accum=1, max_length=128,
                save_steps=100, scheduler="constant", dtype="float32", lora_alpha=64, lora_targets=ALL_LINEAR,
                lr=0.3, max_steps=12)
    return TrainConfig(**{**base, **kw})


def _losses(out) -> list[float]:
    return [json.loads(line)["loss"] for line in (Path(out) / "train_log.jsonl").read_text().splitlines()]


def _rows(tok, n=4):
    from sdft.data.chat import tokenize
    from sdft.train import data as tdata

    ex = tdata.load_examples(DATA, limit=n)
    return tokenize(tok, ex, 128).rows


def _batch(rows):
    import torch

    width = max(len(r["input_ids"]) for r in rows)
    ids = torch.tensor([r["input_ids"] + [0] * (width - len(r["input_ids"])) for r in rows])
    labels = torch.tensor([r["labels"] + [-100] * (width - len(r["labels"])) for r in rows])
    mask = torch.tensor([[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in rows])
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _task_nll(model_dir, adapter) -> float:
    """Mean NLL per response token of the training rows under the seed (``adapter`` None) or a fine-tune."""
    import torch

    from sdft import models

    model, tok = models.load(model_dir, adapter=str(adapter) if adapter else None, device="cpu",
                             dtype="float32", padding_side="right")
    with torch.no_grad():
        return model(**_batch(_rows(tok, 24))).loss.item()


def _answers_file(path: Path, prompts) -> Path:
    path.write_text("".join(json.dumps({"id": e.id, "predict": f"Seed answer {i}."}) + "\n"
                            for i, e in enumerate(prompts)))
    return path


def test_kl_to_seed_is_zero_at_a_zero_adapter_and_positive_after_a_step(lora_model, tiny_model_dir):
    import torch
    from transformers import AutoTokenizer

    from sdft.train.objectives import kl_terms

    model = lora_model()  # PEFT initialises B = 0: the adapter changes nothing yet
    batch = _batch(_rows(AutoTokenizer.from_pretrained(tiny_model_dir)))
    ce, kl, n = kl_terms(model, batch)
    assert kl.item() == 0.0 and n.item() == (batch["labels"][:, 1:] != -100).sum().item() > 0
    # the cross-entropy is the model's own loss on the same positions
    ref = model(**batch).loss
    assert (ce / n).item() == pytest.approx(ref.item(), rel=1e-5)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    (ce / n).backward()
    opt.step()
    _, kl_after, _ = kl_terms(model, batch)
    assert kl_after.item() > 1e-6


@pytest.mark.parametrize("method", ["sft", "dft", "kl", "replay"])
def test_every_supervised_method_trains_with_the_loss_falling(tiny_model_dir, tmp_path, method, data_dir):
    from sdft.train import replay

    extra = {}
    if method == "replay":  # the seed's answers already generated (the pipeline's cached stage)
        prompts = replay.replay_pool("dolly", 42, str(data_dir))[: replay.replay_count(24, 0.2)]
        extra = dict(replay_answers=str(_answers_file(tmp_path / "answers.jsonl", prompts)),
                     data_dir=str(data_dir))
    s = run_train(_cfg(tiny_model_dir, tmp_path / method, method=method, **extra))
    losses = _losses(tmp_path / method)
    assert s["method"] == s["method_label"] == method and s["steps"] == 12
    if method == "dft":
        # DFT's loss, -p log p per token, grows with p while p < 1/e (all of a random model's
        # tokens): what falls is the task's NLL
        assert _task_nll(tiny_model_dir, None) - _task_nll(tiny_model_dir, tmp_path / method) > 0.05
    else:
        assert sum(losses[:3]) / 3 - sum(losses[-3:]) / 3 > 0.05, losses
    cost = s["cost"]
    # one micro-batch per step here: one forward with gradients (and its backward) per step, plus
    # the seed's forward without gradients for kl
    assert cost["backward_passes"] == 12
    assert cost["forward_passes"] == (24 if method == "kl" else 12)
    assert cost["tokens_forwarded"] > 0 and cost["peak_memory_mb"] > 0 and cost["wall_s"] > 0
    if method == "replay":
        assert s["n_examples"] == 24 + 6 and s["n_replay"] == 6  # 6 / 30 = the stated 0.2


def test_dft_weights_each_token_by_its_probability(tiny_model_dir, tmp_path):
    """DFT's loss is below the plain NLL on the same first batch (p < 1 scales every token down)."""
    a = run_train(_cfg(tiny_model_dir, tmp_path / "sft", max_steps=1))
    b = run_train(_cfg(tiny_model_dir, tmp_path / "dft", method="dft", max_steps=1))
    assert 0 < b["final_loss"] < a["final_loss"]


def test_replay_mixes_exactly_the_stated_share_from_a_disjoint_split(data_dir, tmp_path):
    from sdft.train import replay

    for n_task, share, want in ((24, 0.2, 6), (100, 0.5, 100), (10, 0.25, 3)):
        assert replay.replay_count(n_task, share) == want
    pool = replay.replay_pool("dolly", 42, str(data_dir))
    assert len(pool) == 2000 and {e.task for e in pool} == {"dolly"}
    assert [e.id for e in pool[:6]] == [e.id for e in replay.replay_pool("dolly", 42, str(data_dir))[:6]]
    assert [e.id for e in pool[:6]] != [e.id for e in replay.replay_pool("dolly", 43, str(data_dir))[:6]]
    answers = _answers_file(tmp_path / "a.jsonl", pool[:7])
    lines = answers.read_text().splitlines()
    lines[2] = json.dumps({"id": pool[2].id, "predict": "  "})  # an empty answer: the next prompt replaces it
    answers.write_text("\n".join(lines) + "\n")
    task = [{"id": f"t{i}", "task": "gsm8k", "system": None, "history": [], "instruction": "q", "input": "",
             "output": "a"} for i in range(24)]
    rows = replay.mix(task, replay.replay_rows(pool, answers, replay.replay_count(24, 0.2)))
    assert len(rows) == 30 and sum(r["id"].startswith("replay:") for r in rows) / len(rows) == 0.2
    assert [r["id"] for r in rows[24:]] == ["replay:" + e.id for e in pool[:7] if e.id != pool[2].id]
    assert rows[:24] == task and rows[24]["output"] == "Seed answer 0."
    with pytest.raises(DataError, match="6 non-empty seed answers"):
        replay.replay_rows(pool, answers, 7)
    for bad in ("gsm8k", "alpaca_eval", "humaneval:test", "mmlu"):
        with pytest.raises(ConfigError, match="replay_data"):
            replay.check_disjoint(bad, "alpaca")
    with pytest.raises(ConfigError, match="training task"):
        replay.check_disjoint("dolly", "dolly")
    replay.check_disjoint("dolly", "gsm8k")


def test_replay_answers_come_from_the_seed_model_once(data_dir, tmp_path):
    from sdft.generation import GenerationConfig
    from sdft.train import replay

    pool = replay.replay_pool("dolly", 1, str(data_dir))
    calls = []

    def respond(req):
        calls.append(req.id)
        return "" if req.id == pool[0].id else f"answer to {req.id}"

    out = tmp_path / "answers.jsonl"
    for _ in range(2):  # the second call finds every answer cached
        replay.generate_answers("m", pool, 3, out, generation=GenerationConfig(backend="fake"), respond=respond)
    assert sorted(calls) == sorted(e.id for e in pool[:4])  # the empty first answer made room for a 4th
    assert [r["output"] for r in replay.replay_rows(pool, out, 3)] == [f"answer to {e.id}" for e in pool[1:4]]


def test_cached_replay_answers_of_another_seed_model_are_refused(tmp_path):
    """`sdft train --overwrite --model B` into A's folder trained on A's answers as B's replay."""
    from sdft.train import replay

    answers = tmp_path / "replay_answers.jsonl"
    a, b = {"model": "A", "max_new_tokens": 256}, {"model": "B", "max_new_tokens": 256}
    replay._same_maker(answers, a)  # a first run: says what makes them
    answers.write_text('{"id": "d/1", "predict": "A says"}\n')
    replay._same_maker(answers, a)  # a resume or a retrain with the same seed: reused
    with pytest.raises(ConfigError, match=r"replay_answers.jsonl: these replay answers were generated with "
                                          r"\{'model': 'A'.*not \{'model': 'B'"):
        replay._same_maker(answers, b)
    answers.unlink()  # deleted as the error says: B's are generated
    replay._same_maker(answers, b)
    assert json.loads((tmp_path / "replay_answers.json").read_text()) == b
