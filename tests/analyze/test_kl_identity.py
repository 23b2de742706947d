"""scripts/kl_identity.py: a fine-tune trained again after a machine change is the evaluated one
only if its KL to the seed, recomputed on the carried answers item by item, is the carried one
to the last digit (GSM8K v2, PLAN amendment 6)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from sdft.analyze.kl import kl_on_answers
from sdft.cli import main

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "kl_identity.py"


def test_the_same_weights_pass_and_other_weights_are_called_a_sibling(lora_model, tiny_model_dir, tmp_path,
                                                                      data_dir, monkeypatch):
    monkeypatch.setenv("SDFT_DATA_DIR", str(data_dir))
    run = tmp_path / "run"
    ev = run / "eval" / "vanilla-s1-a"
    assert main(["eval", "--model", str(tiny_model_dir), "--benchmarks", "gsm8k", "--benchmark-data",
                 "gsm8k=gsm8k:test[:3]", "--max-new-tokens", "6", "--out", str(ev), "--data-dir", str(data_dir),
                 "--no-progress"]) == 0
    evaluated = run / "train" / "vanilla-s1-b"
    lora_model(known=True).save_pretrained(evaluated)
    (evaluated / ".done").write_text("b")  # a finished fine-tune
    kl_on_answers(tiny_model_dir, evaluated, ev / "gsm8k" / "predictions.jsonl", run / "predict" / "vanilla-s1-c")
    carried_kl = run / "predict" / "vanilla-s1-c" / "kl_to_seed.json"
    done = (evaluated / ".done").stat().st_mtime
    os.utime(carried_kl, (done - 60, done - 60))  # measured after the training it checks, before any retraining
    dev = run / "predict" / "vanilla-s1-dev" / "kl_to_seed.json"  # a dev run's KL, on other answers: not one
    dev.parent.mkdir(parents=True)
    dev.write_text(json.dumps({**json.loads(carried_kl.read_text()), "predictions": "eval/vanilla-s1-x/gsm8k/p.jsonl"}))
    os.utime(dev, (done - 90, done - 90))
    preds = ev / "gsm8k" / "predictions.jsonl"  # carried: no prompts
    preds.write_text("".join(json.dumps({k: v for k, v in json.loads(x).items() if k != "prompt"}) + "\n"
                             for x in preds.read_text().splitlines()))
    (run / "manifest.json").write_text(json.dumps({
        "name": "t", "config": {"model": str(tiny_model_dir)}, "stages": {},
        "models": [{"label": "vanilla-s1", "method": "vanilla", "eval_dir": "eval/vanilla-s1-a",
                    "train_dir": "train/vanilla-s1-b", "kl_dir": "predict/vanilla-s1-c"}]}))

    def identity(*extra):
        return subprocess.run([sys.executable, str(SCRIPT), str(run), "vanilla-s1", *extra], capture_output=True,
                              text=True,
                              check=False, env={**__import__("os").environ, "SDFT_DATA_DIR": str(data_dir)})

    out = identity()
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("vanilla-s1: 3 of 3 items identical to the last digit") and \
        "the evaluated weights" in out.stdout
    record = json.loads((evaluated / "identity.json").read_text())  # beside the weights, for the report
    assert (record["same_weights"], record["identical"], record["items"], record["compared_with"]) == \
        (True, 3, 3, "predict/vanilla-s1-c")
    assert record["weights_finished"] == (evaluated / ".done").stat().st_mtime

    shutil.rmtree(evaluated)  # trained again, elsewhere: other weights
    sibling = lora_model(known=True)
    with __import__("torch").no_grad():  # the same but for the last digits of one weight
        sibling.base_model.model.model.layers[0].self_attn.q_proj.lora_B["default"].weight[0, 0] = 3.0001
    sibling.save_pretrained(evaluated)
    (evaluated / ".done").write_text("b")
    out = identity()
    assert out.returncode == 1, out.stderr
    assert "0 of 3 items identical" in out.stdout and "a retrained sibling" in out.stdout
    record = json.loads((evaluated / "identity.json").read_text())
    assert (record["same_weights"], record["identical"]) == (False, 0) and record["max_rel_diff"] > 0

    # A later sitting measures the retrained sibling's own (new-rule) KL and records it as the
    # model's kl_dir: agreeing with it would prove nothing, so the older, carried one is used.
    kl_on_answers(tiny_model_dir, evaluated, ev / "gsm8k" / "predictions.jsonl", run / "predict" / "vanilla-s1-d")
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["models"][0]["kl_dir"] = "predict/vanilla-s1-d"
    (run / "manifest.json").write_text(json.dumps(manifest))
    out = identity()
    assert out.returncode == 1 and "0 of 3 items identical" in out.stdout, out.stderr
    out = identity("--kl-dir", str(run / "predict" / "vanilla-s1-d"))  # named: taken as it is
    assert out.returncode == 0 and "3 of 3 items identical" in out.stdout, out.stderr
    shutil.move(run / "predict" / "vanilla-s1-c", tmp_path / "elsewhere")
    out = identity()
    assert out.returncode == 2 and "nothing carried to check against" in out.stderr, out.stderr
    shutil.move(tmp_path / "elsewhere", run / "predict" / "vanilla-s1-c")

    (evaluated / "adapter_model.safetensors").unlink()  # restored from a carry: no weights
    out = identity()
    assert out.returncode == 2 and "train it again first" in out.stderr and "Traceback" not in out.stderr
