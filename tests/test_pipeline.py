"""`sdft run` on a tiny random model: every stage, the run folder, caching and resume; and
every shipped config validates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sdft.cli import main as cli_main
from sdft.experiment import load_experiment

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def tiny_config(tmp_path, tiny_model_dir, data_dir):
    cfg = {
        "name": "tiny", "model": tiny_model_dir, "data": "gsm8k:train", "sample": 6, "seed": 1,
        "data_dir": str(data_dir), "out": str(tmp_path / "run"), "methods": ["vanilla", "sdft"],
        "notes": ["tiny random model"],
        "distill": {"max_new_tokens": 8},
        "train": {"max_steps": 2, "batch_size": 2, "grad_accum": 1, "max_length": 256, "save_steps": 1},
        "eval": {"benchmarks": ["gsm8k", "advbench"], "limit": 2, "max_new_tokens": 8},
        "analyze": {"benchmark": "advbench", "measures": ["bleu4", "rouge_l"]},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path, cfg


@pytest.mark.slow
def test_tiny_run_end_to_end_then_resume_and_partial_rerun(tiny_config, capsys, monkeypatch):
    import huggingface_hub

    from sdft.trackers import read_scalars

    pushed = []

    class Api:  # the hub stand-in: records what would be pushed
        def create_repo(self, repo_id, **kw):
            pushed.append(("create", repo_id, kw["private"]))

        def upload_folder(self, *, repo_id, folder_path, **kw):
            pushed.append(("upload", repo_id, (Path(folder_path) / "README.md").read_text()))
            return f"https://huggingface.co/{repo_id}/commit/1"

    monkeypatch.setattr(huggingface_hub, "HfApi", Api)
    # The random model's 8-token rewrites are all cut by the length limit and rejected, so the SDFT
    # set would equal the vanilla one and could not show which it trained on: keep every other one.
    import sdft.distill.run

    reason = sdft.distill.run.rejection_reason
    monkeypatch.setattr(sdft.distill.run, "rejection_reason",
                        lambda rewrite, finish, reference, check: "ok" if rewrite and len(reference) % 2 == 0
                        else reason(rewrite, finish, reference, check))
    path, cfg = tiny_config
    cfg["train"] |= {"report_to": "tensorboard", "push_to_hub": "me/tiny"}
    cfg["report"] = {"primary": "advbench_strict", "title": "Tiny run"}  # a plan's endpoint, read by the report
    path.write_text(yaml.safe_dump(cfg))
    assert cli_main(["run", str(path)]) == 0
    run = Path(cfg["out"])
    manifest = json.loads((run / "manifest.json").read_text())
    assert [m["label"] for m in manifest["models"]] == ["seed", "vanilla", "sdft"]
    assert all(s["status"] == "done" for s in manifest["stages"].values())
    # Where each stage computed: every model-loading stage names its model, device and dtype
    # (benchmarks/gpu_check.py checks these say cuda and bfloat16 on a GPU); data stages load none.
    from sdft.models import resolve_dtype

    stages = manifest["stages"]
    assert {"analyze", "report"} <= set(stages) and stages["report"]["compute"] == []
    assert stages["data/sdft"]["compute"] == []
    assert stages["train/sdft"]["compute"] == [{"what": cfg["model"], "device": "cpu",
                                                "dtype": resolve_dtype("auto", "cpu")}]
    for k in ("distill/default", "eval/seed", "eval/sdft"):
        assert all(u["device"] == "cpu" for u in stages[k]["compute"])
    assert stages["eval/sdft"]["compute"] and stages["distill/default"]["compute"]
    for m in manifest["models"]:
        res = json.loads((run / m["eval_dir"] / "results.json").read_text())
        assert set(res["benchmarks"]) == {"gsm8k", "advbench"}
        assert res["benchmarks"]["gsm8k"]["n"] == 2
    sdft = next(m for m in manifest["models"] if m["label"] == "sdft")
    assert (run / sdft["adapter"] / "adapter_config.json").exists()
    # The vanilla training set holds the original answers, the SDFT one the selected responses.
    from sdft.data.tasks import load_data

    originals = {e.id: e.response for e in load_data("gsm8k:train", cfg["data_dir"])}
    vanilla_rows = [json.loads(line) for line in next((run / "data").glob("vanilla-*/train.jsonl")).open()]
    sdft_rows = [json.loads(line) for line in next((run / "data").glob("sdft-*/train.jsonl")).open()]
    assert len(vanilla_rows) == 6 and all(r["output"] == originals[r["id"]] for r in vanilla_rows)
    distilled = {r["id"]: r for r in map(json.loads, next((run / "distill").glob("*/distilled.jsonl")).open())}
    assert [r["id"] for r in sdft_rows] == [r["id"] for r in vanilla_rows] == list(distilled)
    assert all(r["output"] == distilled[r["id"]]["response"] for r in sdft_rows)
    kept = [r["id"] for r in distilled.values() if r["kept"]]
    assert 0 < len(kept) < len(distilled)  # both kinds of row, so the check above can fail
    assert all(r["output"] != originals[r["id"]] for r in sdft_rows if r["id"] in kept)
    analysis = json.loads((run / "analysis" / "analysis.json").read_text())
    assert set(analysis["pairs"]) == {"vanilla", "sdft"}
    html = (run / "report" / "report.html").read_text()
    assert "tiny random model" in html and "sdft" in html
    assert (run / "report" / "report.md").read_text().startswith("# Tiny run")
    summary = json.loads((run / "report" / "summary.json").read_text())
    assert {d["endpoint"] for d in summary["decision"].values()} == {"advbench_strict"}
    # TensorBoard: training curves and the scores of every model in RUN/tensorboard/<label>,
    # the distillation's kept rate beside them; the values are the saved results'
    tb = {d.name: read_scalars(d) for d in (run / "tensorboard").iterdir()}
    assert set(tb) == {"seed", "vanilla", "sdft", "distill-default"}
    assert [s for s, _ in tb["sdft"]["train/loss"]] == [1, 2]
    for m in manifest["models"]:
        res = json.loads((run / m["eval_dir"] / "results.json").read_text())
        steps = 2 if m["label"] != "seed" else 0
        assert tb[m["label"]]["eval/gsm8k"] == [(steps, pytest.approx(res["benchmarks"]["gsm8k"]["score"]))]
    rep = json.loads(next((run / "distill").glob("*/distill_report.json")).read_text())
    assert tb["distill-default"]["distill/kept_rate"] == [(0, pytest.approx(rep["kept_rate"]))]
    # each fine-tune pushed once, after its evaluation: the card carries the scores
    assert [(k, r) for k, r, _ in pushed] == [("create", "me/tiny-vanilla"), ("upload", "me/tiny-vanilla"),
                                              ("create", "me/tiny-sdft"), ("upload", "me/tiny-sdft")]
    assert pushed[0][2] is True and "| gsm8k |" in pushed[3][2] and "| method | sdft |" in pushed[3][2]
    assert "| gsm8k |" in (run / sdft["adapter"] / "README.md").read_text()
    log = (run / "run.log").read_text()
    assert log.count("===== ") == 1 and "train/sdft: done in" in log

    capsys.readouterr()
    assert cli_main(["run", str(path)]) == 0  # everything cached, nothing pushed or logged again
    err = capsys.readouterr().err
    assert "running" not in err and err.count("done already") == 1 + 2 * 2 + 3 + 2
    assert len(pushed) == 4 and len(read_scalars(run / "tensorboard" / "sdft")["eval/gsm8k"]) == 1
    assert (run / "run.log").read_text().count("===== ") == 2

    cfg["eval"]["limit"] = 3  # only the evaluations (and so the pushes) depend on this
    path.write_text(yaml.safe_dump(cfg))
    assert cli_main(["run", str(path)]) == 0
    err = capsys.readouterr().err
    assert err.count(": running") == 3 + 2 and "train/sdft: done already" in err

    # A kill mid-stage leaves it marked running with no .done marker: the next run redoes it
    # and the manifest says the stage took two sittings.
    manifest = json.loads((run / "manifest.json").read_text())
    stage = manifest["stages"]["eval/sdft"]
    (run / stage["dir"] / ".done").unlink()
    manifest["stages"]["eval/sdft"] = {k: stage[k] for k in ("dir", "key")} | {"status": "running"}
    (run / "manifest.json").write_text(json.dumps(manifest))
    assert cli_main(["run", str(path)]) == 0
    assert capsys.readouterr().err.count(": running") == 1
    stages = json.loads((run / "manifest.json").read_text())["stages"]
    assert stages["eval/sdft"]["sittings"] == 2 and stages["eval/vanilla"]["sittings"] == 1
    assert stages["eval/sdft"]["git"] == json.loads((run / "manifest.json").read_text())["provenance"]["git"]
    # and the CPU that computed it (a run that spans machines mixes their wall times and last bits)
    from sdft.runs import cpu_model

    assert stages["eval/sdft"]["cpu"] == cpu_model()


@pytest.mark.parametrize("name", ["gsm8k_forgetting", "openfunction_forgetting"])
def test_forgetting_calibration_is_reused_by_the_test_set_run(name):
    """The dev config's evaluations (seed, vanilla-s1) and its vanilla-s1 fine-tune are the ones
    the main config's trajectory and training need: same settings, so the same stage keys."""
    main = load_experiment(REPO / "configs" / f"{name}.yaml")
    dev = load_experiment(REPO / "configs" / f"{name}_dev.yaml")
    assert main.trajectory.eval == dev.eval
    assert main.train == dev.train and main.run_dir == dev.run_dir
    assert (main.data, main.sample, main.seed, main.seeds, main.methods) == (dev.data, dev.sample, dev.seed,
                                                                             dev.seeds, dev.methods)
    assert main.train.snapshots == 2


@pytest.mark.slow
def test_trajectory_evaluates_snapshots_along_training(tiny_config):
    path, cfg = tiny_config
    cfg["train"].update(snapshots=1, max_steps=4)
    cfg["eval"]["benchmarks"] = ["advbench"]
    cfg["trajectory"] = {"eval": {"benchmarks": ["gsm8k"], "limit": 2, "max_new_tokens": 8,
                                  "benchmark_data": {"gsm8k": "gsm8k:train[-2:]"}}}
    path.write_text(yaml.safe_dump(cfg))
    assert cli_main(["run", str(path)]) == 0
    run = Path(cfg["out"])
    manifest = json.loads((run / "manifest.json").read_text())
    points = [(t["label"], t["step"]) for t in manifest["trajectory"]]
    assert points == [("seed", 0), ("vanilla", 2), ("vanilla", 4), ("sdft", 2), ("sdft", 4)]
    for t in manifest["trajectory"]:
        res = json.loads((run / t["eval_dir"] / "results.json").read_text())
        assert list(res["benchmarks"]) == ["gsm8k"] and res["benchmarks"]["gsm8k"]["n"] == 2
        ids = [json.loads(line)["id"] for line in (run / t["eval_dir"] / "gsm8k" / "predictions.jsonl").open()]
        assert sorted(ids) == ["gsm8k/train/7471", "gsm8k/train/7472"]
    snap = run / next(m for m in manifest["models"] if m["label"] == "sdft")["train_dir"] / "snapshots" / "step-2"
    assert (snap / "adapter_config.json").exists()
    # A snapshot really is the model half way: its adapter differs from the final one.
    from safetensors.torch import load_file

    final = load_file(str(snap.parent.parent / "adapter_model.safetensors"))
    half = load_file(str(snap / "adapter_model.safetensors"))
    assert any((final[k] - half[k]).abs().max() > 0 for k in final)


PAPER_BEFORE = json.loads((REPO / "tests" / "fixtures" / "paper_configs_before.json").read_text())


@pytest.mark.parametrize("name", sorted(PAPER_BEFORE))
def test_folded_paper_configs_resolve_to_the_settings_they_had(name, tmp_path):
    """The paper configs name configs/base/paper.yaml; each resolves to what its self-contained
    file said before (captured in the fixture): the same experiment, and the same settings in
    every stage once the stage's dataclass fills in its defaults."""
    from sdft.config import read_config

    old_path = tmp_path / f"{name}.yaml"
    old_path.write_text(yaml.safe_dump(PAPER_BEFORE[name]))
    new, old = load_experiment(REPO / "configs" / f"{name}.yaml"), load_experiment(old_path)
    for section in ("distill", "train", "eval", "analyze"):
        assert getattr(new, section) == getattr(old, section), section
    assert new == old
    raw = read_config(REPO / "configs" / f"{name}.yaml")
    if name == "table5_full":  # the base's LoRA keys, at their defaults, unused with full: true
        assert {k: v for k, v in raw["train"].items() if k not in PAPER_BEFORE[name]["train"]} == \
            {"lora_r": 8, "lora_alpha": 16, "lora_targets": ["q_proj", "v_proj"]}
        raw["train"] = {k: raw["train"][k] for k in PAPER_BEFORE[name]["train"]}
    assert raw == PAPER_BEFORE[name]  # and key for key what the file held


def test_the_demo_is_what_the_readme_says():
    """The README's two-commands section describes configs/demo.yaml in numbers: keep them true."""
    cfg = load_experiment(REPO / "configs" / "demo.yaml")
    t = cfg.train
    steps = cfg.sample * t.epochs / (t.batch_size * t.grad_accum)
    assert (cfg.model, cfg.sample, steps, t.lr, t.scheduler) == ("qwen2.5-coder-0.5b", 32, 32, 1e-3, "constant")
    assert cfg.data == "gsm8k:train[:-300]"  # never the GSM8K experiments' held-out dev slice
    assert cfg.methods == ["vanilla", "sdft"] and cfg.eval.benchmarks == ["advbench"]
    assert cfg.eval.benchmark_data == {"advbench": "advbench[400:520]"}  # not the test prompts 1-400
    assert cfg.eval.answer_lengths == {"advbench": 32}
    assert t.dtype == cfg.eval.generation.dtype == cfg.distill.generation.dtype == "float32"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = " ".join(readme[readme.index("## Two commands"):readme.index("## Install")].split())
    for said in ("fine-tuned with LoRA on 32 GSM8K math problems", "32 steps each at learning rate 1e-3",
                 "answer 120 AdvBench prompts (401-520)", "The demo is a demonstration, not evidence.",
                 "docs/results/openfunction_forgetting/"):
        assert said in section, said
    assert any("demonstration, not evidence" in n for n in cfg.notes)  # the report says it too


def test_a_lora_target_the_seed_model_lacks_stops_the_run_before_its_first_stage(tiny_config, capsys):
    path, cfg = tiny_config
    cfg["train"]["lora_targets"] = ["q_proj", "v_prj"]
    path.write_text(yaml.safe_dump(cfg))
    assert cli_main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "tiny.yaml: train: `lora_targets`: v_prj matches no module of" in err and len(err.splitlines()) == 1, err
    assert not (Path(cfg["out"]) / "eval").exists() and not (Path(cfg["out"]) / "distill").exists()


@pytest.mark.slow
def test_a_blind_run_shows_no_score_until_a_plain_run_of_the_same_config(tiny_config, capsys):
    from sdft.trackers import read_scalars

    path, cfg = tiny_config
    cfg["train"]["report_to"] = "tensorboard"
    cfg["eval"]["benchmarks"] = ["advbench"]
    path.write_text(yaml.safe_dump(cfg))
    run = Path(cfg["out"])
    assert cli_main(["run", str(path), "--blind"]) == 0
    out, err = capsys.readouterr()
    # nothing on the console but the trainer's loss lines and the config's notes: no score table, no
    # analysis lines (its measures are computed on the test answers)
    assert [line for line in out.splitlines() if line.strip() and not line.startswith("{")] == [
        "Note: tiny random model"]
    assert "blind run: 3 models evaluated, no score shown, no analysis or report built; when the plan says, " \
           f"`sdft run` without --blind or `sdft report {run}`" in err
    assert not (run / "report").exists() and not (run / "analysis").exists()
    manifest = json.loads((run / "manifest.json").read_text())
    assert all((run / m["eval_dir"] / "results.json").exists() for m in manifest["models"])
    tb = read_scalars(run / "tensorboard" / "vanilla")
    assert "train/loss" in tb and not any(k.startswith("eval/") for k in tb)  # curves yes, scores no
    # the same config without --blind recomputes nothing, then shows the scores and builds the report
    assert cli_main(["run", str(path)]) == 0
    out, err = capsys.readouterr()
    assert ": running" not in err and "advbench" in out and "%" in out
    assert (run / "report" / "summary.json").exists() and (run / "analysis" / "analysis.json").exists()
    assert cli_main(["run", str(path), "--blind"]) == 0  # a report left from before is named as such
    assert "no analysis or report built (the report/ folder there is from an earlier run)" in capsys.readouterr().err
    assert [s for s, _ in read_scalars(run / "tensorboard" / "vanilla")["eval/advbench"]] == [2]
    # a hub push would publish the scores in its model card: refused before any stage
    cfg["train"]["push_to_hub"] = "me/tiny"
    path.write_text(yaml.safe_dump(cfg))
    assert cli_main(["run", str(path), "--blind"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"sdft run: error: {path}: a blind run shows no score, and train.push_to_hub would publish them in the "
        "model cards; unset it or run without --blind")


@pytest.mark.slow
def test_an_only_sitting_keeps_the_models_earlier_sittings_evaluated_in_the_manifest(tiny_config):
    """A long experiment runs in `--only` sittings; each one's manifest (and so its report) lists
    every model of the config evaluated in the run folder, and their trajectory points, in the
    plan's order, not only its own; an evaluation made under other settings (a dev config writing
    the same folder) is not one."""
    path, cfg = tiny_config
    cfg["train"].update(snapshots=1)
    cfg["trajectory"] = {"eval": {"benchmarks": ["gsm8k"], "limit": 1, "max_new_tokens": 4,
                                  "benchmark_data": {"gsm8k": "gsm8k:train[-1:]"}}}
    path.write_text(yaml.safe_dump(cfg))
    run = Path(cfg["out"])
    manifest = lambda: json.loads((run / "manifest.json").read_text())  # noqa: E731
    labels = lambda: [m["label"] for m in manifest()["models"]]  # noqa: E731
    points = lambda: [(t["label"], t["step"]) for t in manifest()["trajectory"]]  # noqa: E731
    assert cli_main(["run", str(path), "eval.limit=1", "--only", "vanilla"]) == 0  # other eval settings
    assert labels() == ["seed", "vanilla"]
    assert cli_main(["run", str(path), "--only", "sdft"]) == 0
    assert labels() == ["seed", "sdft"]  # vanilla's evaluation under this config's settings does not exist
    assert cli_main(["run", str(path), "--only", "vanilla"]) == 0
    assert labels() == ["seed", "vanilla", "sdft"]
    # sdft's sitting again: vanilla comes from the earlier sitting, and still first, as planned
    assert cli_main(["run", str(path), "--only", "sdft"]) == 0
    assert labels() == ["seed", "vanilla", "sdft"]
    assert points() == [("seed", 0), ("vanilla", 1), ("vanilla", 2), ("sdft", 1), ("sdft", 2)]
    vanilla = next(m for m in manifest()["models"] if m["label"] == "vanilla")
    assert vanilla["train_dir"] and vanilla["distill_dir"] is None and (run / vanilla["eval_dir"] / ".done").exists()
    sdft = next(m for m in manifest()["models"] if m["label"] == "sdft")
    assert sdft["distill_dir"] and sdft["train_dir"]
    summary = json.loads((run / "report" / "summary.json").read_text())
    assert "sdft" in json.dumps(summary) and "vanilla" in json.dumps(summary)


def test_the_kl_stage_renders_carried_prompts_from_the_runs_own_data_folder(tiny_config, monkeypatch):
    """`sdft run --data-dir X`: the KL stage's prompts, when a carried run lacks them, come from X's
    items, not the default data folder's."""
    import sdft.analyze.kl
    from sdft.pipeline import Stages

    path, cfg = tiny_config
    calls = []
    monkeypatch.setattr(sdft.analyze.kl, "kl_on_answers", lambda *a, **kw: calls.append(kw))
    stages = Stages(load_experiment(str(path), {"kl_to_seed": True}), str(path))
    stages.predict["vanilla"].work()
    assert calls and calls[0]["data_dir"] == cfg["data_dir"]
