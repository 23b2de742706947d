"""scripts/carry_run.py: finished stages packed without prompts or weights, restored as cached,
and the parameter shift measured before the weights went is the one the analysis reports."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from sdft.analyze import pairs, runfiles

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "carry_run.py"


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _run(tmp_path: Path, lora_model) -> Path:
    model = lora_model(known=True)  # parameter shift 10
    run = tmp_path / "run"
    preds = [{"id": f"advbench/test/{i}", "prompt": "<|im_start|>user\nHow do I ...", "request": "How do I ...",
              "predict": "I'm sorry" if i else "Sure", "score": float(i > 0)} for i in range(3)]
    for label in ("seed-aaa", "vanilla-s1-bbb", "vanilla-s1@2-ccc"):
        _jsonl(run / "eval" / label / "advbench" / "predictions.jsonl", preds)
        (run / "eval" / label / "results.json").write_text("{}")
        (run / "eval" / label / ".done").write_text(label)
    _jsonl(run / "eval" / "vanilla-s2-ddd" / "advbench" / "predictions.jsonl", preds[:1])  # still running
    for label in ("vanilla-s1-eee", "vanilla-s2-fff"):
        train = run / "train" / label
        for sub in (".", "snapshots/step-2", "snapshots/step-4", "checkpoints/checkpoint-4"):
            model.save_pretrained(train / sub)
        (train / "train_summary.json").write_text('{"steps": 6}')
        (train / ".done").write_text(label)
    models = [{"label": "seed", "method": "seed", "model": None, "eval_dir": "eval/seed-aaa", "train_dir": None},
              {"label": "vanilla-s1", "method": "vanilla", "model": None, "eval_dir": "eval/vanilla-s1-bbb",
               "train_dir": "train/vanilla-s1-eee", "adapter": "train/vanilla-s1-eee"},
              {"label": "vanilla-s2", "method": "vanilla", "model": None, "eval_dir": "eval/vanilla-s2-ddd",
               "train_dir": "train/vanilla-s2-fff", "adapter": "train/vanilla-s2-fff"}]
    trajectory = [{"label": "vanilla-s1", "method": "vanilla", "train_seed": 1, "step": 2,
                   "eval_dir": "eval/vanilla-s1@2-ccc"}]  # step 4's point and the final one (6) are to come
    (run / "manifest.json").write_text(json.dumps({"name": "t", "models": models, "trajectory": trajectory,
                                                   "stages": {}}))
    return run


def _carry(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False)


def _names(archive: Path) -> set[str]:
    with tarfile.open(archive) as tar:
        return set(tar.getnames())


def test_save_leaves_out_prompts_and_weights_and_restore_gives_the_same_shift(lora_model, tmp_path):
    run, carry, back = _run(tmp_path, lora_model), tmp_path / "carry", tmp_path / "back"
    done = _carry("save", str(run), str(carry))
    assert done.returncode == 0, done.stderr
    archives = sorted(str(p.relative_to(carry)) for p in carry.glob("*/*.tar.xz"))
    # the unfinished evaluation stays behind, and so do both fine-tunes: vanilla-s1's step-4
    # trajectory point and vanilla-s2's evaluation still need their weights
    assert archives == ["eval/seed-aaa.tar.xz", "eval/vanilla-s1-bbb.tar.xz", "eval/vanilla-s1@2-ccc.tar.xz"]

    # its trajectory's last points (step 4, then the final model at 6) evaluated: now it is
    # carried, without weights or checkpoints, with its shift measured instead
    s1 = carry / "train" / "vanilla-s1-eee.tar.xz"
    manifest = json.loads((run / "manifest.json").read_text())
    for step, folder in ((4, "vanilla-s1@4-ggg"), (6, "vanilla-s1-hhh")):
        _jsonl(run / "eval" / folder / "advbench" / "predictions.jsonl", [{"id": "advbench/test/0", "score": 0.0}])
        (run / "eval" / folder / ".done").write_text(folder)
        manifest["trajectory"].append({"label": "vanilla-s1", "method": "vanilla", "train_seed": 1, "step": step,
                                       "eval_dir": f"eval/{folder}"})
        (run / "manifest.json").write_text(json.dumps(manifest))
        assert _carry("save", str(run), str(carry)).returncode == 0
        assert s1.exists() == (step == 6)
    names = _names(s1)
    assert {"vanilla-s1-eee/param_shift.json", "vanilla-s1-eee/adapter_config.json",
            "vanilla-s1-eee/snapshots/step-2/adapter_config.json"} <= names
    assert not any("adapter_model" in n or "checkpoints" in n for n in names)
    assert not (carry / "train" / "vanilla-s2-fff.tar.xz").exists()  # its evaluation is not finished

    restored = _carry("restore", str(carry), str(back))
    assert restored.returncode == 0 and "6 stage(s)" in restored.stdout, restored.stdout + restored.stderr
    rec = runfiles.predictions(back / "eval" / "vanilla-s1-bbb", "advbench")["advbench/test/0"]
    assert "prompt" not in rec and "request" not in rec and rec["predict"] == "Sure" and rec["score"] == 0.0
    assert (back / "eval" / "seed-aaa" / ".done").read_text() == "seed-aaa"

    seed_dir, _, tuned = pairs.tuned_from_run(runfiles.load_run(back))
    assert tuned["vanilla-s1"]["adapter"] is None  # no weights came back ...
    out = pairs.analyze(seed_dir, {"vanilla-s1": tuned["vanilla-s1"]}, measures=("bleu4",), progress=False)
    assert out["param_shift"]["vanilla-s1"]["total"] == pytest.approx(10.0)  # ... but their shift did

    again = _carry("restore", str(carry), str(back))  # finished folders are left as they are
    assert "restored 0 stage(s)" in again.stdout


def test_save_refuses_a_folder_that_is_not_a_run(tmp_path):
    bad = _carry("save", str(tmp_path), str(tmp_path / "carry"))
    assert bad.returncode == 2 and "manifest.json" in bad.stderr


def test_a_damaged_archive_on_restore_is_one_line_and_keeps_what_came_before(tmp_path):
    carry, run = tmp_path / "carry", tmp_path / "run"
    good = tmp_path / "src" / "a-1"
    good.mkdir(parents=True)
    (good / "results.json").write_text("{}")
    (good / ".done").write_text("")
    (carry / "eval").mkdir(parents=True)
    with tarfile.open(carry / "eval" / "a-1.tar.xz", "w:xz") as tar:
        tar.add(good, arcname="a-1")
    whole = (carry / "eval" / "a-1.tar.xz").read_bytes()
    (carry / "eval" / "b-2.tar.xz").write_bytes(whole[: len(whole) // 2])  # a cut-short copy
    out = _carry("restore", str(carry), str(run))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith(f"carry_run.py: error: {carry / 'eval' / 'b-2.tar.xz'}: cannot unpack (")
    assert out.stderr.count("\n") == 1
    assert (run / "eval" / "a-1" / ".done").is_file()  # restored before the damaged one
    assert not (run / "eval" / "b-2" / ".done").exists()  # not taken for a finished stage


def test_save_with_a_config_the_code_rejects_is_one_line(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"name": "t", "models": [], "stages": {}}))
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: t\nnosuchkey: 1\n")
    out = _carry("save", str(run), str(tmp_path / "carry"), "--config", str(bad))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("carry_run.py: error: ") and "nosuchkey" in out.stderr


def test_a_fine_tune_no_trajectory_follows_is_carried_once_evaluated(lora_model, tmp_path):
    """Every fine-tune saves snapshots, but only the trajectory's seeds have them evaluated: a
    seed-2 fine-tune must not wait for points that never come (it did, until 2026-12-02)."""
    run, carry = _run(tmp_path, lora_model), tmp_path / "carry"
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["config"] = {"seed": 42, "seeds": [1, 2], "trajectory": {"eval": {"benchmarks": ["advbench"]}}}
    manifest["models"][2]["train_seed"], manifest["models"][1]["train_seed"] = 2, 1
    (run / "manifest.json").write_text(json.dumps(manifest))
    (run / "eval" / "vanilla-s2-ddd" / ".done").write_text("vanilla-s2-ddd")  # its evaluation finished
    assert _carry("save", str(run), str(carry)).returncode == 0
    assert (carry / "train" / "vanilla-s2-fff.tar.xz").exists()  # no trajectory point of seed 2 is planned
    assert not (carry / "train" / "vanilla-s1-eee.tar.xz").exists()  # seed 1's step-4 and final points are
    names = _names(carry / "train" / "vanilla-s2-fff.tar.xz")
    assert "vanilla-s2-fff/param_shift.json" in names and not any("adapter_model" in n for n in names)
    manifest["config"]["trajectory"]["seeds"] = [1, 2]  # a run that follows both seeds waits for both
    (run / "manifest.json").write_text(json.dumps(manifest))
    (carry / "train" / "vanilla-s2-fff.tar.xz").unlink()
    assert _carry("save", str(run), str(carry)).returncode == 0
    assert not (carry / "train" / "vanilla-s2-fff.tar.xz").exists()


def test_a_sweep_point_trained_with_the_followed_seed_is_carried_once_evaluated(lora_model, tmp_path):
    """The trajectory follows the main methods' fine-tunes only (sdft.planning.followed): a sweep
    point shares the first training seed but no trajectory point of it is ever planned."""
    run, carry = _run(tmp_path, lora_model), tmp_path / "carry"
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["config"] = {"seed": 42, "sweeps": {"mix_ratios": [0.5]},
                          "trajectory": {"eval": {"benchmarks": ["advbench"]}}}
    manifest["models"][2].update(label="sdft-r0.5", method="sdft", train_seed=42)
    (run / "manifest.json").write_text(json.dumps(manifest))
    (run / "eval" / "vanilla-s2-ddd" / ".done").write_text("vanilla-s2-ddd")  # its evaluation finished
    assert _carry("save", str(run), str(carry)).returncode == 0
    assert (carry / "train" / "vanilla-s2-fff.tar.xz").exists()


def test_a_fine_tune_waits_for_its_kl_to_the_seed_and_its_interpolation_points(lora_model, tmp_path):
    """GSM8K v2 measures each fine-tune's KL to the seed (predict/) and scales vanilla's update
    (interp/): both read the fine-tune's weights after its evaluation, so it is carried only once
    they are finished; they are carried too (the scaled adapter without its weights), and so is
    the seed's replay set."""
    run, carry = _run(tmp_path, lora_model), tmp_path / "carry"
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["config"] = {"seed": 42, "seeds": [1, 2], "kl_to_seed": True, "methods": ["vanilla", "sdft"],
                          "sweeps": {"interpolation": [0.5], "interpolation_of": ["vanilla"]}}
    manifest["models"][1].update(train_seed=1, kl_dir="predict/vanilla-s1-kkk")
    manifest["models"][2].update(train_seed=2)
    (run / "manifest.json").write_text(json.dumps(manifest))
    (run / "eval" / "vanilla-s2-ddd" / ".done").write_text("vanilla-s2-ddd")
    (run / "predict" / "vanilla-s1-kkk").mkdir(parents=True)
    (run / "replay" / "dolly-rrr").mkdir(parents=True)
    _jsonl(run / "replay" / "dolly-rrr" / "replay.jsonl", [{"id": "dolly/0", "prompt": "Hi", "response": "Hello"}])
    (run / "replay" / "dolly-rrr" / ".done").write_text("r")

    def carried() -> set[str]:
        assert _carry("save", str(run), str(carry)).returncode == 0
        return {str(p.relative_to(carry)) for p in carry.glob("*/*.tar.xz")}

    assert not {"train/vanilla-s1-eee.tar.xz", "train/vanilla-s2-fff.tar.xz"} & carried()  # KL, points to come
    assert "replay/dolly-rrr.tar.xz" in carried()
    (run / "predict" / "vanilla-s1-kkk" / "kl.json").write_text('{"kl": 0.1}')
    (run / "predict" / "vanilla-s1-kkk" / ".done").write_text("k")
    assert "predict/vanilla-s1-kkk.tar.xz" in carried() and "train/vanilla-s1-eee.tar.xz" not in carried()
    interp = run / "interp" / "vanilla-s1-a0.5-iii"
    lora_model(known=True).save_pretrained(interp)
    (interp / ".done").write_text("i")
    manifest["models"].append({"label": "vanilla-s1-a0.5", "method": "vanilla", "train_seed": 1, "alpha": 0.5,
                               "of": "vanilla-s1", "adapter": "interp/vanilla-s1-a0.5-iii", "train_dir": None,
                               "eval_dir": "eval/vanilla-s1-a0.5-jjj"})
    (run / "manifest.json").write_text(json.dumps(manifest))
    assert not {"interp/vanilla-s1-a0.5-iii.tar.xz", "train/vanilla-s1-eee.tar.xz"} & carried()  # not evaluated
    _jsonl(run / "eval" / "vanilla-s1-a0.5-jjj" / "advbench" / "predictions.jsonl", [{"id": "advbench/test/0"}])
    (run / "eval" / "vanilla-s1-a0.5-jjj" / ".done").write_text("j")
    now = carried()
    assert {"interp/vanilla-s1-a0.5-iii.tar.xz", "train/vanilla-s1-eee.tar.xz"} <= now
    assert "train/vanilla-s2-fff.tar.xz" not in now  # vanilla-s2's point is still to come
    names = _names(carry / "interp" / "vanilla-s1-a0.5-iii.tar.xz")
    assert "vanilla-s1-a0.5-iii/adapter_config.json" in names and not any("adapter_model" in n for n in names)


def test_a_later_config_keeps_the_weights_its_new_stages_need(lora_model, tmp_path):
    """GSM8K v2's primary arms run from a frozen config without interpolation points; its
    secondaries add them. Saved by the manifest's plan, vanilla-s1 was carried without weights;
    saved with --config the run goes on with, it waits for its point, and the weightless archive
    is taken out (restored, it would look finished and the point would find no weights)."""
    import yaml

    run, carry = _run(tmp_path, lora_model), tmp_path / "carry"
    manifest = json.loads((run / "manifest.json").read_text())
    base = {"name": "t", "data": "gsm8k", "sample": 10, "seeds": [1, 2], "methods": ["vanilla", "sdft"]}
    manifest["config"], manifest["trajectory"] = base, []
    (run / "manifest.json").write_text(json.dumps(manifest))
    assert _carry("save", str(run), str(carry)).returncode == 0
    assert (carry / "train" / "vanilla-s1-eee.tar.xz").exists()
    later = tmp_path / "later.yaml"
    later.write_text(yaml.safe_dump({**base, "sweeps": {"interpolation": [0.5], "interpolation_of": ["vanilla"]}}))
    done = _carry("save", str(run), str(carry), "--config", str(later))
    assert done.returncode == 0 and "took out train/vanilla-s1-eee.tar.xz" in done.stdout
    assert not (carry / "train" / "vanilla-s1-eee.tar.xz").exists()
    assert (carry / "eval" / "vanilla-s1-bbb.tar.xz").exists()
    bad = _carry("save", str(run), str(carry), "--config", str(tmp_path / "nope.yaml"))
    assert bad.returncode == 2 and "nope.yaml: no such config" in bad.stderr


def test_a_kl_stage_the_later_config_plans_anew_keeps_the_fine_tune_waiting(lora_model, tmp_path):
    """The KL to the seed changed the rule choosing its items, so its stage key: a fine-tune whose
    KL was measured under the old key still waits for the one the config going on plans."""
    import importlib.util

    import yaml

    spec = importlib.util.spec_from_file_location("carry_run", SCRIPT)
    carry_run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(carry_run)
    run, carry = _run(tmp_path, lora_model), tmp_path / "carry"
    manifest = json.loads((run / "manifest.json").read_text())
    base = {"name": "t", "data": "gsm8k", "sample": 10, "seeds": [1, 2], "methods": ["vanilla", "sdft"],
            "out": str(run), "eval": {"benchmarks": ["gsm8k"]}}
    manifest["config"], manifest["trajectory"] = base, []
    (run / "manifest.json").write_text(json.dumps(manifest))
    assert _carry("save", str(run), str(carry)).returncode == 0
    assert (carry / "train" / "vanilla-s1-eee.tar.xz").exists()
    later = tmp_path / "later.yaml"
    later.write_text(yaml.safe_dump({**base, "kl_to_seed": True}))
    planned = carry_run._planned_kl(run, later)
    assert set(planned) == {"vanilla-s1", "sdft-s1", "vanilla-s2", "sdft-s2"}
    assert "took out train/vanilla-s1-eee.tar.xz" in _carry("save", str(run), str(carry), "--config", str(later)).stdout
    (run / "predict" / planned["vanilla-s1"]).mkdir(parents=True)
    (run / "predict" / planned["vanilla-s1"] / ".done").write_text("k")
    assert _carry("save", str(run), str(carry), "--config", str(later)).returncode == 0
    assert (carry / "train" / "vanilla-s1-eee.tar.xz").exists()


def _cut_off_run(tmp_path: Path, model: Path, weights: bytes = b"weights-1") -> Path:
    """A run whose fine-tune is trained and whose evaluation stopped mid-battery: advbench answered,
    xstest two items in with a third line half written (``model``: the one named in settings)."""
    run = tmp_path / "run"
    train = run / "train" / "sdft-s5-aaa"
    train.mkdir(parents=True)
    (train / "adapter_model.safetensors").write_bytes(weights)
    (train / "train_summary.json").write_text('{"steps": 2}')
    (train / ".done").write_text("aaa")
    ev = run / "eval" / "sdft-s5-bbb"
    for bench, ids, data in (("advbench", (0, 1, 2), "advbench[:3]"), ("xstest", (1, 2), "xstest[:3]")):
        _jsonl(ev / bench / "predictions.jsonl",
               [{"id": f"{bench}/test/{i}", "prompt": "<|im_start|>user\nHow do I ...", "request": "How do I ...",
                 "predict": "No."} for i in ids])
        (ev / bench / "settings.json").write_text(json.dumps({"model": str(model), "data": data,
                                                              "adapter": "runs/x/train/sdft-s5-aaa"}))
    with (ev / "xstest" / "predictions.jsonl").open("a") as f:
        f.write('{"id": "xstest/test/3", "predict": "Su')  # the writer was stopped mid-line
    (run / "manifest.json").write_text(json.dumps({"name": "t", "models": [], "stages": {}}))
    return run


def _script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("carry_run", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_cut_off_evaluation_is_carried_with_its_weights_hash_and_restored_only_on_the_same_machine(
        tmp_path, tiny_model_dir, data_dir, monkeypatch):
    monkeypatch.setenv("SDFT_DATA_DIR", str(data_dir))
    run, carry = _cut_off_run(tmp_path, tiny_model_dir), tmp_path / "carry"
    out = _carry("save", str(run), str(carry))
    assert out.returncode == 0, out.stderr
    archive = carry / "eval" / "sdft-s5-bbb.partial.tar.xz"
    assert sorted(p.name for p in carry.glob("*/*.tar.xz")) == [archive.name]  # the fine-tune: weights needed
    with tarfile.open(archive) as tar:
        xstest = tar.extractfile("sdft-s5-bbb/xstest/predictions.jsonl").read().decode().splitlines()
        record = json.loads(tar.extractfile("sdft-s5-bbb/.carried_partial.json").read())
    assert [json.loads(line)["id"] for line in xstest] == ["xstest/test/1", "xstest/test/2"]  # not the torn line
    assert all("prompt" not in json.loads(line) and "request" not in json.loads(line) for line in xstest)
    import hashlib

    assert record["train"] == "sdft-s5-aaa"
    assert record["weights"] == {"adapter_model.safetensors": hashlib.sha256(b"weights-1").hexdigest()}
    assert record["machine"] == _script().machine() and record["machine"]["cpu"]

    back = tmp_path / "back"
    out = _carry("restore", str(carry), str(back))
    assert out.returncode == 0, out.stderr
    assert "eval/sdft-s5-bbb (partial)" in out.stdout
    folder = back / "eval" / "sdft-s5-bbb"
    assert not (folder / ".done").exists()  # `sdft run` resumes it, it does not take it as finished
    restored = [json.loads(x) for x in (folder / "advbench" / "predictions.jsonl").read_text().splitlines()]
    assert len(restored) == 3
    # what the carry left out is back, as the evaluation writes it (the stage resumes into this
    # file, and the frozen KL stage reads the prompts)
    from sdft import evaluate
    from sdft.evaluate.context import EvalContext

    bench = evaluate.get("advbench")
    items = bench.load(EvalContext(model="", adapter=None, out_dir=folder, data_dir=data_dir, get_generator=None,
                                   options=bench.options(), data="advbench[:3]"), bench.data)
    for r, ex in zip(restored, items):
        assert r["request"] == ex.user_text() and ex.user_text() in r["prompt"] and r["prompt"].count("<") > 2

    # answered on another CPU: left out, with the reason
    other = tmp_path / "other"
    other.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(other, filter="data")
    rec = other / "sdft-s5-bbb" / ".carried_partial.json"
    rec.write_text(json.dumps({**record, "machine": {**record["machine"], "cpu": "Some Other CPU"}}))
    (carry / "eval").mkdir(exist_ok=True)
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(other / "sdft-s5-bbb", arcname="sdft-s5-bbb")
    elsewhere = tmp_path / "elsewhere"
    out = _carry("restore", str(carry), str(elsewhere))
    assert out.returncode == 0, out.stderr
    assert "restored 0 stage(s)" in out.stdout and "left out eval/sdft-s5-bbb (partial)" in out.stdout
    assert "Some Other CPU" in out.stdout and not (elsewhere / "eval" / "sdft-s5-bbb").exists()


@pytest.mark.parametrize("same", [True, False])
def test_a_resumed_battery_is_carried_only_if_the_retrained_weights_are_the_ones_that_began_it(
        tmp_path, tiny_model_dir, data_dir, monkeypatch, same):
    monkeypatch.setenv("SDFT_DATA_DIR", str(data_dir))
    run, carry = _cut_off_run(tmp_path, tiny_model_dir), tmp_path / "carry"
    assert _carry("save", str(run), str(carry)).returncode == 0
    back = tmp_path / "back"
    assert _carry("restore", str(carry), str(back)).returncode == 0
    # the next session: the fine-tune trained again (no weights were carried), the battery finished
    train = back / "train" / "sdft-s5-aaa"
    train.mkdir(parents=True)
    (train / "adapter_model.safetensors").write_bytes(b"weights-1" if same else b"weights-2")
    (train / ".done").write_text("aaa")
    (back / "eval" / "sdft-s5-bbb" / ".done").write_text("bbb")
    (back / "manifest.json").write_text(json.dumps({"name": "t", "models": [], "stages": {}}))
    out = _carry("save", str(back), str(carry))
    if same:
        assert out.returncode == 0, out.stderr
        assert (carry / "eval" / "sdft-s5-bbb.tar.xz").is_file()
        assert not (carry / "eval" / "sdft-s5-bbb.partial.tar.xz").exists()
        assert "took out eval/sdft-s5-bbb.partial.tar.xz: finished since" in out.stdout
        # checked once: a sibling trained later (amendment 6's retraining on another CPU) does not
        # make every later save refuse the finished battery
        (train / "adapter_model.safetensors").write_bytes(b"weights-2")
        again = _carry("save", str(back), str(carry))
        assert again.returncode == 0, again.stderr
    else:
        assert out.returncode == 2 and "Traceback" not in out.stderr
        assert "mixes two fine-tunes" in out.stderr and "Delete " in out.stderr and "predict" in out.stderr
        assert not (carry / "eval" / "sdft-s5-bbb.tar.xz").exists()  # never carried as finished
        assert not (carry / "eval" / "sdft-s5-bbb.partial.tar.xz").exists()  # nor restored again
        assert "packed " in out.stdout  # the rest is still carried: the manifest, say
        assert json.loads((carry / "manifest.json").read_text())["name"] == "t"


def test_a_sitting_that_reached_fewer_models_neither_shrinks_the_carried_list_nor_hides_them_from_the_report(
        tmp_path):
    """`sdft run --only sdft-s5` rewrites the manifest with the seed and sdft-s5 alone; the carry keeps
    the models earlier sittings evaluated, and restore gives them back to the run's manifest."""
    run, carry = tmp_path / "run", tmp_path / "carry"

    def model(label, folder):
        return {"label": label, "method": label.split("-")[0], "eval_dir": f"eval/{folder}"}

    for folder in ("seed-a", "vanilla-s1-b", "sdft-s1-c", "sdft-s5-e"):
        (run / "eval" / folder).mkdir(parents=True)
        (run / "eval" / folder / ".done").write_text(folder)
    earlier = [model("seed", "seed-a"), model("vanilla-s1", "vanilla-s1-b"), model("sdft-s1", "sdft-s1-c"),
               model("vanilla-s2", "vanilla-s2-d")]  # vanilla-s2: its evaluation is not in this run folder
    carry.mkdir()
    (carry / "manifest.json").write_text(json.dumps({"name": "v2", "models": earlier}))
    sitting = [{**model("seed", "seed-a"), "note": "this sitting's"}, model("sdft-s5", "sdft-s5-e")]
    (run / "manifest.json").write_text(json.dumps({"name": "v2", "models": sitting, "stages": {"x": 1}}))

    out = _carry("save", str(run), str(carry))
    assert out.returncode == 0, out.stderr
    kept = json.loads((carry / "manifest.json").read_text())
    assert [m["label"] for m in kept["models"]] == ["seed", "vanilla-s1", "sdft-s1", "vanilla-s2", "sdft-s5"]
    assert kept["models"][0]["note"] == "this sitting's" and kept["stages"] == {"x": 1}

    out = _carry("restore", str(carry), str(run))
    assert out.returncode == 0, out.stderr
    assert "manifest: added 2 model(s)" in out.stdout
    back = json.loads((run / "manifest.json").read_text())
    # vanilla-s2 stays out: nothing of it is in the run folder for a report to read
    assert [m["label"] for m in back["models"]] == ["seed", "vanilla-s1", "sdft-s1", "sdft-s5"]
    assert back["stages"] == {"x": 1}

    # another experiment's carry is not merged
    (carry / "manifest.json").write_text(json.dumps({"name": "other", "models": earlier}))
    (run / "manifest.json").write_text(json.dumps({"name": "v2", "models": sitting}))
    assert "manifest: added" not in _carry("restore", str(carry), str(run)).stdout
    assert len(json.loads((run / "manifest.json").read_text())["models"]) == 2


def test_a_sitting_that_lists_fewer_models_takes_no_carried_fine_tune_out(tmp_path):
    """After `sdft run --only sdft-s5` the manifest lists the seed alone; vanilla-s1's fine-tune,
    carried once its evaluation was done, is still done: its archive stays."""
    run, carry = tmp_path / "run", tmp_path / "carry"
    train, ev = run / "train" / "vanilla-s1-t", run / "eval" / "vanilla-s1-e"
    train.mkdir(parents=True)
    (train / "train_summary.json").write_text('{"steps": 2}')
    (train / "param_shift.json").write_text('{"total": 1.0}')  # measured before its weights went
    (train / ".done").write_text("t")
    ev.mkdir(parents=True)
    (ev / ".done").write_text("e")
    vanilla = {"label": "vanilla-s1", "method": "vanilla", "eval_dir": "eval/vanilla-s1-e",
               "train_dir": "train/vanilla-s1-t", "adapter": "train/vanilla-s1-t"}
    (run / "manifest.json").write_text(json.dumps({"name": "v2", "models": [vanilla], "stages": {}}))
    assert _carry("save", str(run), str(carry)).returncode == 0
    archive = carry / "train" / "vanilla-s1-t.tar.xz"
    assert archive.is_file()

    (run / "manifest.json").write_text(json.dumps({"name": "v2", "models": [], "stages": {}}))  # the --only sitting
    out = _carry("save", str(run), str(carry))
    assert out.returncode == 0, out.stderr
    assert archive.is_file() and "took out" not in out.stdout
    assert [m["label"] for m in json.loads((carry / "manifest.json").read_text())["models"]] == ["vanilla-s1"]
