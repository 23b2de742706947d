"""`sdft run --dry-run`: the plan a real run follows (same folders and keys), what is cached or
partly done, the estimate, and no model (nor torch) loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sdft.config import read_config
from sdft.experiment import load_experiment
from sdft.pipeline import Stages
from sdft.stages import marker

REPO = Path(__file__).resolve().parents[1]
# Stage folders `sdft run` computed for these configs before the plan/run refactor (captured
# from run_experiment with the work stubbed out): a changed key would redo finished work.
STAGE_KEYS = json.loads((REPO / "tests" / "fixtures" / "stage_keys.json").read_text())
# The SmolLM2 demo before issue 31: the dry-run arithmetic below is worked out on its numbers.
SMOLLM2_DEMO = REPO / "tests" / "fixtures" / "configs" / "demo_smollm2.yaml"


def _folders(name: str, tmp_path: Path, merge_adapter: bool | None = None) -> dict[str, str]:
    """Stage name -> folder of configs/NAME.yaml (with ``merge_adapter`` set in its eval sections)."""
    path = REPO / "configs" / f"{name}.yaml"
    if not path.exists():
        path = SMOLLM2_DEMO.with_name(f"{name}.yaml")
    over: dict = {"out": str(tmp_path)}
    if merge_adapter is not None:
        gen = {"generation": {"merge_adapter": merge_adapter}}
        over["eval"] = gen
        if (read_config(path).get("trajectory") or {}).get("eval"):
            over["trajectory"] = {"eval": gen}
    stages = Stages(load_experiment(path, over))
    got = {st.name: str(st.folder.relative_to(tmp_path)) for st in stages.main()}
    for v in stages.trained:  # trajectory points exist once a fine-tune is trained (10 steps here)
        if v.label in stages.followed:
            train = stages.train[v.label]
            train.folder.mkdir(parents=True, exist_ok=True)
            (train.folder / ".done").write_text(marker(train.key))
            (train.folder / "train_summary.json").write_text('{"steps": 10}')
            got |= {st.name: str(st.folder.relative_to(tmp_path)) for st in stages.trajectory(v, train)}
    return got


@pytest.mark.parametrize("name", sorted(STAGE_KEYS))
def test_stage_folders_and_keys_are_the_ones_runs_already_have(name, tmp_path, data_dir):
    """With fine-tunes evaluated through PEFT layers (as they were when these keys were made)."""
    assert _folders(name, tmp_path, merge_adapter=False) == STAGE_KEYS[name]


@pytest.mark.parametrize("name", ["cpu_repro", "gsm8k_forgetting"])
def test_merging_adapters_for_evaluation_moves_only_the_fine_tunes_evaluations(name, tmp_path, data_dir):
    """The default (merge_adapter on) changes what a fine-tune's evaluation generates, so those
    stages get folders of their own; the seed's evaluation, distillation, data and training
    keep theirs."""
    got = _folders(name, tmp_path)
    moved = {k for k in got if got[k] != STAGE_KEYS[name][k]}
    fine_tune_evals = {k for k in got if k.startswith("eval/") and k != "eval/seed" and not k.startswith("eval/seed@")}
    assert fine_tune_evals and moved == fine_tune_evals



@pytest.mark.parametrize("name", ["gsm8k_forgetting", "gsm8k_forgetting_dev"])
def test_publishing_and_tracking_settings_change_no_stage_key(name, tmp_path, data_dir):
    """A push, a merged push or a tracker added to a config re-runs nothing: each stage keeps the
    folder it had (the long gsm8k_forgetting run resumes from these)."""
    path = REPO / "configs" / f"{name}.yaml"
    if not path.exists():
        path = SMOLLM2_DEMO.with_name(f"{name}.yaml")

    def folders(**over):
        stages = Stages(load_experiment(path, {"out": str(tmp_path), **over}))
        return {st.name: st.folder.name for st in stages.main() if st.kind != "push"}

    plain = folders()
    assert plain["train/vanilla-s1"] == STAGE_KEYS[name]["train/vanilla-s1"].split("/")[1]
    assert plain["eval/seed"] == STAGE_KEYS[name]["eval/seed"].split("/")[1]
    published = folders(train={"push_to_hub": "me/m", "push_merged": "me/m-merged", "hub_private": False,
                               "report_to": "tensorboard"},
                        distill={"push_to_hub": "me/d", "hub_private": False})
    assert published == plain
    assert folders(train={"lr": 3e-4})["train/vanilla-s1"] != plain["train/vanilla-s1"]  # a setting that matters


def test_the_refusal_judge_counts_in_eval_keys_only_once_set(tmp_path, data_dir):
    path = REPO / "configs" / "gsm8k_forgetting_dev.yaml"

    def seed_eval(**over) -> str:
        stages = Stages(load_experiment(path, {"out": str(tmp_path), **over}))
        return next(st.folder.name for st in stages.main() if st.name == "eval/seed")

    assert seed_eval() == STAGE_KEYS["gsm8k_forgetting_dev"]["eval/seed"].split("/")[1]
    assert seed_eval(eval={"refusal_judge": "local"}) != seed_eval()


def test_torch_compile_counts_in_train_keys_only_once_set(tmp_path, data_dir):
    """Compiled training rounds differently, so it is a new fine-tune; off, finished runs keep
    their folders."""
    path = REPO / "configs" / "gsm8k_forgetting_dev.yaml"

    def vanilla(**over) -> str:
        stages = Stages(load_experiment(path, {"out": str(tmp_path), **over}))
        return next(st.folder.name for st in stages.main() if st.name == "train/vanilla-s1")

    pinned = STAGE_KEYS["gsm8k_forgetting_dev"]["train/vanilla-s1"].split("/")[1]
    assert vanilla(train={"torch_compile": False}) == pinned
    assert vanilla(train={"torch_compile": True}) != vanilla()


def _dry(args: list[str], cwd: Path) -> tuple[str, list[str]]:
    code = ("import sys; from sdft.cli import main; rc = main(sys.argv[1:]); "
            "heavy = {'torch', 'transformers', 'peft', 'trl'}; "
            "print('MODULES', sorted({m.split('.')[0] for m in sys.modules} & heavy));"
            "sys.exit(rc)")
    res = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "PYTHONPATH": str(REPO / "src")})
    assert res.returncode == 0, res.stderr
    out, _, mods = res.stdout.rpartition("MODULES ")
    return out, json.loads(mods.replace("'", '"'))


def test_dry_run_says_cached_partial_and_to_run_without_loading_a_model(tmp_path, data_dir):
    run = tmp_path / "run"
    stages = Stages(load_experiment(SMOLLM2_DEMO, {"out": str(run)}))
    seed_eval, distill = stages.main()[0], stages.main()[1]
    seed_eval.folder.mkdir(parents=True)
    (seed_eval.folder / ".done").write_text(marker(seed_eval.key))
    distill.folder.mkdir(parents=True)
    (distill.folder / "rewrites.jsonl").write_text("".join(json.dumps({"id": str(i)}) + "\n" for i in range(20)))
    (run / "train").mkdir()
    out, modules = _dry(["run", str(SMOLLM2_DEMO), f"out={run}", "--dry-run", "--gen-tok-s", "100",
                         "train.lr=2e-4"], tmp_path)  # overrides before or after the flags
    assert modules == []  # no torch, no transformers: seconds, not a model load
    assert "# resolved config" in out and "  lr: 0.0002" in out  # the override, as a float, in the resolved config
    rows = {line.split()[0]: line for line in out.splitlines()
            if line.startswith(("eval/", "distill/", "train/", "data/"))}
    assert list(rows) == ["eval/seed", "distill/default", "data/vanilla", "train/vanilla", "eval/vanilla",
                          "data/sdft", "train/sdft", "eval/sdft"]
    assert rows["eval/seed"].split()[1] == "cached" and seed_eval.folder.name in rows["eval/seed"]
    # 48 sampled examples, 20 rewrites there: 28 x 256 new tokens at 100 tok/s
    assert "partial" in rows["distill/default"] and "20/48 rewrites" in rows["distill/default"]
    assert "28 rewrites, <= 7,168 tok: ~72 s" in rows["distill/default"]
    assert "to run" in rows["train/sdft"] and "12 steps" in rows["train/sdft"]
    assert "# plan: 8 stages" in out and "1 cached, 1 partial, 6 to run" in out
    assert "generation 100 tok/s, --gen-tok-s" in out
    assert not (run / "manifest.json").exists()  # nothing written

    out, _ = _dry(["run", str(SMOLLM2_DEMO), f"out={run}", "--dry-run", "--only", "vanilla"],
                  tmp_path)
    assert "train/vanilla" in out and "train/sdft" not in out and "distill/default" not in out


def test_a_folder_two_stages_share_is_estimated_once(tmp_path, data_dir):
    from sdft.dryrun import describe

    stages = Stages(load_experiment(REPO / "configs" / "gsm8k_forgetting_dev.yaml", {"out": str(tmp_path)}),
                    only=["vanilla-s1"])
    train = stages.train["vanilla-s1"]
    train.folder.mkdir(parents=True)
    (train.folder / ".done").write_text(marker(train.key))
    (train.folder / "train_summary.json").write_text('{"steps": 10}')
    rows = {r["stage"]: r for r in describe(stages, 100.0, 100.0)["rows"]}
    final, point = rows["eval/vanilla-s1"], rows["eval/vanilla-s1@10"]
    assert final["folder"] == point["folder"] and final["seconds"] > 0  # the final point is the model's eval
    assert point["seconds"] == 0 and point["left"] == "the work of eval/vanilla-s1"


def test_a_finished_seed_gives_the_other_seeds_their_real_step_and_token_counts(tmp_path, data_dir):
    from sdft.dryrun import describe

    stages = Stages(load_experiment(REPO / "configs" / "openfunction_forgetting.yaml", {"out": str(tmp_path)}))
    train = stages.train["vanilla-s1"]
    train.folder.mkdir(parents=True)
    (train.folder / ".done").write_text(marker(train.key))
    # 17 rows dropped at max_length: 96 steps where batch arithmetic says 100
    (train.folder / "train_summary.json").write_text('{"steps": 96, "train_tokens": 192000}')
    rows = {r["stage"]: r for r in describe(stages, 100.0, 100.0)["rows"]}
    assert rows["train/vanilla-s2"]["left"] == "96 steps, ~192,000 tok (as vanilla-s1)"
    assert rows["train/vanilla-s2"]["seconds"] == pytest.approx(1920.0)
    # SDFT trains on other rows (the distilled set): still the estimate from counts
    assert rows["train/sdft-s2"]["left"].startswith("100 steps") and "(as" not in rows["train/sdft-s2"]["left"]
    # A twin must be finished with its own key: a folder left by an older key is not one.
    (train.folder / ".done").write_text(marker("another-key"))
    rows = {r["stage"]: r for r in describe(stages, 100.0, 100.0)["rows"]}
    assert rows["train/vanilla-s2"]["left"].startswith("100 steps")


def test_self_replay_counts_the_rows_it_adds(tmp_path, data_dir):
    """GSM8K v2's replay adds 200 Dolly answers to its 800 task rows: 250 steps at the same epochs
    (the dry run said 200, as for the other methods)."""
    from sdft.dryrun import describe

    stages = Stages(load_experiment(REPO / "configs" / "gsm8k_forgetting_v2.yaml", {"out": str(tmp_path)}))
    rows = {r["stage"]: r["left"] for r in describe(stages, 100.0, 100.0)["rows"]}
    assert rows["train/replay-s1"].startswith("250 steps") and rows["train/dft-s1"].startswith("200 steps")


def test_merge_adapter_counts_in_a_key_only_where_the_hf_backend_merges():
    from sdft.evaluate.evaluator import EvalConfig
    from sdft.generation.base import GenerationConfig
    from sdft.stages import keyed

    def has(adapter, **gen):
        return "merge_adapter" in keyed(EvalConfig(adapter=adapter, generation=GenerationConfig(**gen)))["generation"]

    assert has("a") and not has(None) and not has("a", merge_adapter=False)
    assert not has("a", backend="vllm")  # vLLM applies the LoRA itself: nothing is merged



def test_estimates_use_the_seconds_per_item_and_training_rate_this_run_measured(tmp_path, data_dir):
    from sdft.dryrun import describe

    stages = Stages(load_experiment(SMOLLM2_DEMO, {"out": str(tmp_path)}))
    seed_eval = stages.main()[0]
    seed_eval.folder.mkdir(parents=True)
    (seed_eval.folder / ".done").write_text(marker(seed_eval.key))
    # the seed's evaluation generated at 3 s per GSM8K item and 0.5 s per AdvBench prompt; a
    # resumed sitting that only re-scored (nothing generated) and an lm-eval entry say nothing
    (seed_eval.folder / "results.json").write_text(json.dumps({"benchmarks": {
        "gsm8k": {"wall_s": 80.0, "n": 24, "generation_stats": {"wall_s": 36.0, "generated": 12}},
        "advbench": {"wall_s": 20.0, "n": 24, "generation_stats": {"wall_s": 12.0, "generated": 24}},
        "advbench_jailbreak": {"wall_s": 0.5, "n": 24, "generation_stats": {"wall_s": 0.0, "generated": 0}},
        "arc_easy": {"wall_s": 30.0, "n": 24}}}))
    train = stages.train["vanilla"]
    train.folder.mkdir(parents=True)  # an unfinished training: 100 tok/s over its last logged steps
    (train.folder / "train_log.jsonl").write_text("".join(
        json.dumps({"step": i, "tokens_seen": 1000 * i, "wall_s": 10.0 * i}) + "\n" for i in range(1, 6))
        + '{"step": 6, "tok')  # a line cut by a kill is skipped
    plan = describe(stages)
    assert plan["train_tok_s"] == pytest.approx(100.0) and plan["train_rate_from"] == "measured in this run"
    assert plan["seconds_per_item"] == {"advbench": 0.5, "gsm8k": 3.0}
    rows = {r["stage"]: r for r in plan["rows"]}
    # eval/sdft: 24 GSM8K x 3 s + 24 AdvBench x 0.5 s measured; the rest (jailbreak, arc_easy) by tokens
    by_tokens = (24 * 192 + 24 * 64) / plan["gen_tok_s"]
    assert rows["eval/sdft"]["seconds"] == pytest.approx(24 * 3.0 + 24 * 0.5 + by_tokens, abs=0.1)
    assert describe(stages, gen_tok_s=100.0)["seconds_per_item"] == {}  # an explicit rate wins


def test_the_training_rate_leaves_out_time_the_process_was_paused(tmp_path, data_dir):
    """A finished fine-tune that ran at 100 tok/s but was paused (SIGSTOP) for 1000 s in one logged
    interval: its summary says 28.6 tok/s (tokens over the whole wall time); the estimate uses 100."""
    from sdft.dryrun import describe

    stages = Stages(load_experiment(SMOLLM2_DEMO, {"out": str(tmp_path)}))
    train = stages.train["vanilla"]
    train.folder.mkdir(parents=True)
    walls = [10.0 * i + (1000.0 if i > 3 else 0.0) for i in range(1, 41)]
    (train.folder / "train_log.jsonl").write_text("".join(
        json.dumps({"step": i, "tokens_seen": 1000 * i, "wall_s": w}) + "\n" for i, w in enumerate(walls, 1)))
    (train.folder / "train_summary.json").write_text(json.dumps({"tokens_per_s": round(40000 / 1400, 1)}))
    assert describe(stages)["train_tok_s"] == pytest.approx(100.0)
    (train.folder / "train_log.jsonl").unlink()  # no log: the summary's figure
    assert describe(stages)["train_tok_s"] == pytest.approx(28.6)


def test_benchmark_items_are_counted_as_the_benchmark_reads_them_and_a_bad_file_is_an_error(tmp_path, monkeypatch):
    from sdft.dryrun import _bench_items
    from sdft.errors import DataError
    from sdft.evaluate.evaluator import EvalConfig

    table = tmp_path / "redteam.csv"
    table.write_text("Behavior,notes\none,x\ntwo,y\nthree,z\n")
    # FILE#column was read with load_data, failed, and was planned at advbench's full 520 items
    assert _bench_items(EvalConfig(benchmark_data={"advbench": f"{table}#Behavior"}), "advbench") == 3
    assert _bench_items(EvalConfig(benchmark_data={"advbench": f"{table}#Behavior[:2]"}), "advbench") == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")  # no prompt column: the run would fail, so the plan does
    with pytest.raises(DataError, match="bad.csv"):
        _bench_items(EvalConfig(benchmark_data={"advbench": str(bad)}), "advbench")

    def offline(spec, *a, **k):
        raise DataError(f"{spec}: could not load it (offline)")

    monkeypatch.setattr("sdft.data.hub_datasets.load_hf", offline)  # a hub dataset this machine cannot reach
    assert _bench_items(EvalConfig(benchmark_data={"advbench": "hf:org/redteam#test"}), "advbench") == 520


@pytest.mark.parametrize("flag", ["--gen-tok-s", "--train-tok-s"])
@pytest.mark.parametrize("value", ["-5", "0", "nan", "fast"])
def test_a_rate_flag_must_be_a_positive_number(flag, value, tmp_path, capsys):
    """-5 estimated "~-3890 s"; 0 fell back to the default without a word."""
    from sdft.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["run", str(SMOLLM2_DEMO), f"out={tmp_path}", "--dry-run", flag, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: " in err and value in err and "Traceback" not in err


def test_describe_refuses_a_rate_that_is_not_positive(tmp_path, data_dir):
    from sdft.config import ConfigError
    from sdft.dryrun import describe

    stages = Stages(load_experiment(SMOLLM2_DEMO, {"out": str(tmp_path)}))
    with pytest.raises(ConfigError, match=r"--gen-tok-s: must be a positive number of tokens per second, got 0"):
        describe(stages, gen_tok_s=0)
    with pytest.raises(ConfigError, match=r"--train-tok-s: must be a positive"):
        describe(stages, train_tok_s=-1.0)


@pytest.mark.parametrize("model, gen, source", [
    ("qwen2.5-coder-0.5b", 67.0, "default: Qwen2.5-Coder-0.5B, float32, 2-core AMD EPYC"),
    ("Qwen/Qwen2.5-Coder-0.5B-Instruct", 67.0, "default: Qwen2.5-Coder-0.5B"),  # its hub id, for online users
    ("smollm2-135m", 150.0, "default: SmolLM2-135M on 2 CPU cores"),
    ("meta-llama/Llama-2-7b-chat-hf", 150.0, "(no measurement of meta-llama/Llama-2-7b-chat-hf: a bigger model"),
])
def test_a_plan_with_nothing_measured_uses_its_models_rates(model, gen, source, tmp_path, data_dir):
    """The Qwen configs were planned at SmolLM2's rates (150 and 180 tok/s), twice too fast."""
    from sdft.dryrun import describe

    plan = describe(Stages(load_experiment(SMOLLM2_DEMO, {"out": str(tmp_path), "model": model})))
    assert plan["gen_tok_s"] == gen and source in plan["gen_rate_from"] and source in plan["train_rate_from"]


def test_the_v2_primary_verdict_config_is_the_primary_arms_under_the_plans_rule(tmp_path, data_dir):
    """configs/gsm8k_forgetting_v2_primary.yaml (PLAN amendment 6): the verdict is read from the
    primary arms' stage folders, under the same report section as the whole experiment's."""
    assert _folders("gsm8k_forgetting_v2_primary", tmp_path) == _folders("base/gsm8k_forgetting_v2", tmp_path)
    primary = load_experiment(REPO / "configs" / "gsm8k_forgetting_v2_primary.yaml")
    whole = load_experiment(REPO / "configs" / "gsm8k_forgetting_v2.yaml")
    assert primary.report == whole.report and primary.report.primary == "advbench_strict"
    assert primary.name == whole.name and primary.run_dir == whole.run_dir
