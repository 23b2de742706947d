"""Fixtures of the report tests: the hand-made run folders under tests/fixtures/runs.

``seeded``: seed, vanilla-s1/-s2 and sdft-s1/-s2; per-item predictions for GSM8K (6 items),
AdvBench (6) and XSTest (4 safe + 3 unsafe prompts), HumanEval as results.json only; a dev-slice
trajectory for seed 1; training logs; a distillation report with an NLL block and its nll.jsonl.
``demo`` and ``ablation``: one model per method, in an older manifest layout.
``build_v2_run``: a run folder shaped like GSM8K v2's final one (configs/gsm8k_forgetting_v2.yaml).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest

from sdft.evaluate import advbench, ifeval, xstest
from sdft.evaluate.stats import mean_ci
from sdft.experiment import as_record, load_experiment
from sdft.planning import interpolation_points, main_variants, plan
from sdft.report import build

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("seeded_report")
    paths = build.write_report([RUNS / "seeded"], out)
    return out, json.loads(paths["summary"].read_text()), paths["md"].read_text(), paths["html"].read_text()


@pytest.fixture()
def runs(tmp_path) -> Path:
    """A writable copy of the fixture runs (analyze writes into the run folder)."""
    shutil.copytree(RUNS, tmp_path / "runs")
    return tmp_path / "runs"


ROOT = Path(__file__).resolve().parents[2]
SEEDED = ROOT / "tests" / "fixtures" / "runs" / "seeded"
STRICT = {"seed": [16], "vanilla": [6, 7, 8, 9, 10], "sdft": [11, 12, 13, 14, 15], "dft": [7, 8, 9],
          "replay": [16, 17, 18], "interp": [12, 12, 13, 13, 14]}
GSM = {"seed": [5], "vanilla": [9, 10, 11, 12, 13], "sdft": [8, 9, 10, 11, 12], "dft": [10, 11, 12],
       "replay": [7, 8, 9], "interp": [7, 7, 8, 8, 9]}
KL = {"vanilla": 0.10, "sdft": 0.03, "dft": 0.08, "replay": 0.05}


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _evaluation(folder: Path, k: int, g: int) -> None:
    """Predictions and results.json as the evaluators write them: k strict refusals, g problems solved."""
    adv = [{"id": f"adv-{i}", "prompt": f"harmful {i}", "predict": "…", "label": None, "score": float(i < k + 2),
            "refusal_strict": float(i < k)} for i in range(20)]
    xs = [{"id": f"xs-{lab}-{i}", "prompt": f"{lab} {i}", "predict": "…", "label": lab,
           "score": float(i < (1 if lab == "safe" else k // 2)), "keyword": float(i < 1),
           "refusal_strict": float(i < (1 if lab == "safe" else k // 2))}
          for lab in ("safe", "unsafe") for i in range(10)]
    gsm = [{"id": f"gsm8k-{i}", "prompt": f"q {i}", "predict": "…", "label": str(i), "score": float(i < g)}
           for i in range(20)]
    he = [{"id": f"he-{i}", "predict": "…", "label": f"HumanEval/{i}", "score": float(i < 4)} for i in range(10)]
    ife = [{"id": f"if-{i}", "predict": "…", "label": "{}", "instructions": ["length:max", "format:json"],
            "follow_strict": [i < 6, i < 4], "follow_loose": [i < 7, i < 5], "score": float(i < 4),
            "prompt_loose": float(i < 5)} for i in range(8)]
    for name, rows in (("advbench", adv), ("xstest", xs), ("gsm8k", gsm), ("humaneval", he), ("ifeval", ife)):
        _jsonl(folder / name / "predictions.jsonl", rows)
    entries = {"advbench": advbench.summary(adv), "xstest": xstest.summary(xs),
               "gsm8k": {"metric": "accuracy", **mean_ci([r["score"] for r in gsm])},
               "humaneval": {"metric": "pass@1", **mean_ci([r["score"] for r in he])},
               "ifeval": {**ifeval.summary(ife), "truncated": 0, "generation": {"max_new_tokens": 512}}}
    (folder / "results.json").write_text(json.dumps(
        {"model": "qwen2.5-coder-0.5b", "benchmarks": {b: {"benchmark": b, **e} for b, e in entries.items()}}))


def _build_v2_run(root: Path, only: set[str] | None = None, strict: dict[str, list[int]] | None = None,
                 gsm: dict[str, list[int]] | None = None) -> Path:
    """The run folder, with the models (labels) in ``only`` evaluated (default: all), recorded in
    the manifest in the order `sdft run` evaluates them; ``strict``, ``gsm``: arms whose counts
    replace :data:`STRICT`'s and :data:`GSM`'s.

    The numbers are made to be checked by hand. AdvBench (20 prompts): a model refuses its first k
    prompts under the strict rule and k + 2 under the keyword rule, k = seed 16; vanilla 6-10 (30-50 %,
    mean 40 %), SDFT 11-15 (55-75 %, mean 65 %), DFT 7-9, replay 16-18, interpolation 12, 12, 13, 13,
    14. So SDFT − vanilla is +25 pp with every SDFT seed above every vanilla seed: exact permutation
    p = 2 / C(10, 5) = 2/252; Welch on the per-seed rates: 25 ± t(8) · 5 = [+13.5, +36.5]. DFT's
    seeds average vanilla's: p = 1. Replay's three seeds lie above vanilla's five: only the observed
    labelling of the C(8, 3) = 56 reaches +45 pp (the mirror one gives 35 pp), p = 1/56. GSM8K (20
    problems): seed 5, vanilla 9-13, SDFT 8-12, DFT 10-12, replay 7-9, interpolation 7-9.
    """
    strict, gsm = {**STRICT, **(strict or {})}, {**GSM, **(gsm or {})}
    cfg = load_experiment(ROOT / "configs" / "gsm8k_forgetting_v2.yaml")
    variants = plan(cfg, cfg.sample)
    points = interpolation_points(cfg, variants)
    d = root / "gsm8k_forgetting_v2"
    shutil.copytree(SEEDED / "distill" / "math", d / "distill" / "math")  # an NLL block and its nll.jsonl
    order = [variants[0]]
    for v in main_variants(cfg, variants):
        order += [v] + [p for p in points if p.of == v.label]
    models = []
    for v in (v for v in order if only is None or v.label in only):
        arm = "interp" if v.alpha is not None else v.method
        i = 0 if v.method == "seed" else v.train_seed - 1
        _evaluation(d / "eval" / v.label, strict[arm][i], gsm[arm][i])
        trained = v.method != "seed" and v.alpha is None
        entry = {**asdict(v), "model": cfg.model, "adapter": None, "kl_dir": None, "eval_dir": f"eval/{v.label}",
                 "train_dir": None, "distill_dir": "distill/math" if v.method == "sdft" else None}
        if trained:
            entry.update(adapter=f"train/{v.label}", train_dir=f"train/{v.label}", kl_dir=f"predict/{v.label}")
            (d / "predict" / v.label).mkdir(parents=True)
            (d / "predict" / v.label / "kl_to_seed.json").write_text(
                json.dumps({"kl_per_token": KL[v.method] + 0.01 * i, "n_items": 64}))
        elif v.alpha is not None:
            entry["adapter"] = f"interp/{v.label}"
        models.append(entry)
    manifest = {"name": "gsm8k_forgetting_v2", "config_file": "configs/gsm8k_forgetting_v2.yaml",
                "config": as_record(cfg), "notes": [], "provenance": {"git": "0123abc"}, "stages": {},
                "models": models, "trajectory": []}
    (d / "manifest.json").write_text(json.dumps(manifest, default=str))
    return d


@pytest.fixture(scope="session")
def build_v2_run():
    """GSM8K v2's final run folder, made to be checked by hand: :func:`_build_v2_run`."""
    return _build_v2_run
