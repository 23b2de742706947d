"""`sdft run CONFIG.yaml`: the whole experiment, stage by stage, resumable.

Stages talk only through files in the run folder::

    RUN/manifest.json                 resolved config, provenance, stage timings, the model list
    RUN/distill/<template>-<key>/     distilled.jsonl, distill_report.json     (one per template)
    RUN/data/<label>-<key>/           train.jsonl: the exact training set of one fine-tune (a plain file)
    RUN/train/<label>-<key>/          adapter, train_log.jsonl, loss.png, train_summary.json
    RUN/eval/<label>-<key>/           results.json, <benchmark>/predictions.jsonl
    RUN/analysis/, RUN/report/        shift measures + figures, report.md + report.html

Every stage folder is named by a hash of the settings and inputs it depends on, and holds a
``.done`` marker once finished: re-running after a kill resumes the unfinished stage (each
stage resumes itself: generation line by line, training from its last checkpoint), and
changing one setting re-runs only the stages whose key changed.

Distillation runs once per template on the largest sample any model needs; each fine-tune's
training set is cut from it (the first N examples of the seeded sample; a seeded fraction R
of them with the distilled response, the rest with the original), so a sample-size or
mix-ratio sweep costs training and evaluation, not more generation. Vanilla (and on-policy)
training sets are the same sampled examples with their original answers, read from the data
itself, so they do not wait for (or depend on) distillation.

With ``seeds: [1, 2, 3]`` every method is trained once per seed on the same training set
(labels ``vanilla-s1``, ``sdft-s1``, ...). Models are trained and evaluated one after the other
(seed first, then each fine-tune as soon as it is trained), so a run stopped half way already
holds complete, comparable results for the seeds it finished.

    sdft run configs/demo.yaml
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

from sdft.experiment import ExperimentConfig, stage_config
from sdft.runs import JsonlWriter, git_hash, provenance, read_jsonl, write_json


@dataclass
class Variant:
    """One model of the comparison: how it is trained (or not, for the seed)."""

    label: str
    method: str  # seed | vanilla | sdft | onpolicy
    sample_size: int | None = None
    mix_ratio: float | None = None
    template: str | None = None
    train_seed: int | None = None


def key_of(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:8]


def plan(cfg: ExperimentConfig, n_available: int) -> list[Variant]:
    """The models to evaluate, in training order: seed, the main methods per training seed, then
    sweep points (trained with the first seed)."""
    n = min(cfg.sample or n_available, n_available)
    main_template = cfg.distill.get("template")
    seeds = cfg.train_seeds
    out = [Variant("seed", "seed")]
    for s in seeds:
        tag = f"-s{s}" if len(seeds) > 1 else ""
        for m in cfg.methods:
            out.append(Variant(m + tag, m, n, {"vanilla": 0.0, "sdft": 1.0}.get(m),
                               main_template if m == "sdft" else None, s))
    first = seeds[0]
    for size in cfg.sweeps.sample_sizes:
        if size != n:
            out += [Variant(f"vanilla-n{size}", "vanilla", size, 0.0, train_seed=first),
                    Variant(f"sdft-n{size}", "sdft", size, 1.0, main_template, first)]
    for r in cfg.sweeps.mix_ratios:
        if r not in (0.0, 1.0):
            out.append(Variant(f"sdft-r{r:g}", "sdft", n, r, main_template, first))
    for t in cfg.sweeps.templates:
        if t != main_template:
            out.append(Variant(f"sdft-{Path(t).stem}", "sdft", n, 1.0, t, first))
    return out


class Run:
    """The run folder and its manifest; every stage goes through :meth:`stage`."""

    def __init__(self, cfg: ExperimentConfig, config_path: str):
        self.cfg = cfg
        self.dir = cfg.run_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / "manifest.json"
        old = json.loads(path.read_text()) if path.exists() else {}
        self.manifest: dict[str, Any] = {
            "name": cfg.name, "config_file": config_path, "config": asdict(cfg),
            "notes": list(cfg.notes), "provenance": provenance(),
            "stages": old.get("stages", {}), "models": [],
        }

    def save(self) -> None:
        write_json(self.dir / "manifest.json", self.manifest)

    def stage(self, name: str, folder: Path, key: str, work: Callable[[], Any]) -> Path:
        """Run ``work`` unless ``folder`` is marked done with this key; record the timing."""
        marker = folder / ".done"
        rel = str(folder.relative_to(self.dir))
        if marker.exists() and marker.read_text().strip() == key:
            self.manifest["stages"].setdefault(name, {"status": "done", "dir": rel, "key": key})
            print(f"[sdft run] {name}: done already ({rel})")
            return folder
        print(f"[sdft run] {name}: running -> {rel}")
        prev = self.manifest["stages"].get(name) or {}
        resumed = prev.get("status") == "running" and prev.get("key") == key  # an earlier sitting was killed
        sittings = prev.get("sittings", 1) + 1 if resumed else 1
        self.manifest["stages"][name] = {"status": "running", "dir": rel, "key": key, "sittings": sittings}
        self.save()
        t0 = time.perf_counter()
        work()
        wall = time.perf_counter() - t0
        marker.write_text(key + "\n")
        # the code that computed it: a run that spans sessions may span commits
        self.manifest["stages"][name] = {"status": "done", "dir": rel, "key": key, "wall_s": round(wall, 1),
                                         "sittings": sittings, "git": git_hash()}
        self.save()
        print(f"[sdft run] {name}: done in {wall:.0f} s")
        return folder


def training_rows(v: Variant, sampled: list, distilled: Path | None, seed: int) -> list[dict]:
    """The one training set of a fine-tune, as plain alpaca records (``id``, ``task``, ``system``,
    ``history``, ``instruction``, ``input``, ``output``): the first N of the seeded sample; for
    SDFT a seeded fraction R of them with the selected (distilled-or-fallback) response from
    ``distilled``, the rest with the original answer."""
    from sdft.distill.run import mixed_ids

    if v.method == "sdft":
        records = list(read_jsonl(distilled))[: v.sample_size]
        use = mixed_ids([r["id"] for r in records], v.mix_ratio or 0.0, seed)
        pairs = [(r, r["response"] if r["id"] in use else r["original"]) for r in records]
    else:
        pairs = [({"id": e.id, "task": e.task, "system": e.system, "history": [list(t) for t in e.history],
                   "instruction": e.instruction, "input": e.input}, e.response) for e in sampled[: v.sample_size]]
    keys = ("id", "task", "system", "history", "instruction", "input")
    return [{**{k: r.get(k) for k in keys}, "output": answer} for r, answer in pairs]


def _write_rows(dest: Path, rows: list[dict]) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest / "train.jsonl.tmp"
    tmp.unlink(missing_ok=True)
    with JsonlWriter(tmp, fsync=False) as w:
        w.write_many(rows)
    tmp.replace(dest / "train.jsonl")


def run_experiment(cfg: ExperimentConfig, config_path: str = "", only: list[str] | None = None) -> Path:
    """Run (or resume) every stage of ``cfg``; ``only`` restricts the fine-tunes to those labels
    (the seed model is always evaluated), e.g. to calibrate one of them on a dev slice first."""
    from sdft.analyze import AnalyzeConfig
    from sdft.analyze.report import build_report
    from sdft.analyze.run import run_analyze
    from sdft.data.tasks import load_data
    from sdft.distill import DistillConfig, run_distill
    from sdft.distill.run import sample_examples
    from sdft.evaluate.evaluator import EvalConfig, run_eval
    from sdft.train.config import TrainConfig
    from sdft.train.trainer import run_train

    run = Run(cfg, config_path)
    examples = load_data(cfg.data, data_dir=cfg.data_dir)
    variants = plan(cfg, len(examples))
    if only:
        unknown = sorted(set(only) - {v.label for v in variants})
        if unknown:
            from sdft.errors import ConfigError

            raise ConfigError(f"--only: no model labelled {', '.join(unknown)}; this config has "
                              f"{', '.join(v.label for v in variants)}")
    trained = [v for v in variants if v.method != "seed"]
    n_max = max([v.sample_size or 0 for v in trained] + [min(cfg.sample or len(examples), len(examples))])
    sampled = sample_examples(examples, n_max, cfg.seed)
    common = {"model": cfg.model, "data_dir": cfg.data_dir, "seed": cfg.seed}

    def evaluate(v: Variant, adapter: Path | None, section: dict | None = None, step: int | None = None) -> Path:
        """Evaluate a model (a snapshot at ``step`` when given) with the eval section (or another)."""
        where = f"{config_path}: " + ("trajectory.eval" if section is not None else "eval")
        ecfg = stage_config(EvalConfig, cfg.eval if section is None else section, where, **common,
                            adapter=str(adapter) if adapter else None, out="-")
        done = adapter.joinpath(".done") if adapter else None
        key = key_of("eval", asdict(replace(ecfg, out="", adapter=None)),
                     (done.read_text() if done.exists() else str(adapter)) if adapter else None)
        name = v.label if step is None else f"{v.label}@{step}"
        # The seed and final points keep the model's own label, so a dev-slice evaluation made
        # before (the calibration) with the same settings is found again, not redone.
        snapshot = adapter is not None and not (adapter / ".done").exists()
        folder = run.dir / "eval" / f"{name if snapshot else v.label}-{key}"
        return run.stage(f"eval/{name}", folder, key, lambda: run_eval(replace(ecfg, out=str(folder))))

    def follow(v: Variant, train_dir: Path | None) -> None:
        """The trajectory: the seed (step 0), each snapshot and the final model on the dev slice."""
        points = [(0, None)] if train_dir is None else sorted(
            (int(p.name.split("-")[1]), p) for p in (train_dir / "snapshots").glob("step-*") if p.is_dir())
        if train_dir is not None:
            points.append((json.loads((train_dir / "train_summary.json").read_text())["steps"], train_dir))
        for step, adapter in points:
            d = evaluate(v, adapter, cfg.trajectory.eval, step)
            run.manifest.setdefault("trajectory", []).append(
                {"label": v.label, "method": v.method, "train_seed": v.train_seed, "step": step,
                 "eval_dir": _rel(run.dir, d)})
            run.save()

    followed = set(cfg.trajectory.seeds or cfg.train_seeds[:1]) if cfg.trajectory.eval else set()
    main_labels = {v.label for v in variants[1:1 + len(cfg.train_seeds) * len(cfg.methods)]}  # not sweeps

    def record(v: Variant, eval_dir: Path, adapter: Path | None, distill_dir: Path | None) -> None:
        run.manifest["models"].append({
            **asdict(v), "model": cfg.model, "adapter": _rel(run.dir, adapter),
            "eval_dir": _rel(run.dir, eval_dir), "train_dir": _rel(run.dir, adapter),
            "distill_dir": _rel(run.dir, distill_dir)})
        run.save()

    # 0. The seed's scores first: they need nothing else, and a broken benchmark shows at once.
    record(variants[0], evaluate(variants[0], None), None, None)
    run.manifest["trajectory"] = []
    if followed:
        follow(variants[0], None)

    # n_max and the sample above count every variant, so --only changes no stage key.
    trained = [v for v in trained if not only or v.label in only]

    # 1. Distil once per SDFT template, on the largest sample any fine-tune needs.
    distilled: dict[str | None, Path] = {}
    for template in sorted({v.template for v in trained if v.method == "sdft"}, key=str):
        dcfg = stage_config(DistillConfig, cfg.distill, f"{config_path}: distill", **common, data=cfg.data,
                            sample=n_max, template=template, mix_ratio=1.0, out="-")
        key = key_of("distill", asdict(replace(dcfg, out="", progress=True)))
        folder = run.dir / "distill" / f"{Path(template or 'default').stem}-{key}"
        run.stage(f"distill/{template or 'default'}", folder, key,
                  lambda dcfg=dcfg, folder=folder: run_distill(replace(dcfg, out=str(folder))))
        distilled[template] = folder

    # 2. Each fine-tune in turn: its training set, training, then its evaluation.
    for v in trained:
        src = distilled.get(v.template) if v.method == "sdft" else None
        data_key = key_of("data", cfg.data, n_max, cfg.seed, asdict(replace(v, label="", train_seed=None)),
                          src.joinpath(".done").read_text() if src else None)
        data_folder = run.dir / "data" / f"{v.label}-{data_key}"
        run.stage(f"data/{v.label}", data_folder, data_key,
                  lambda v=v, src=src, d=data_folder: _write_rows(
                      d, training_rows(v, sampled, src and src / "distilled.jsonl", cfg.seed)))
        tcfg = stage_config(TrainConfig, cfg.train, f"{config_path}: train", **{**common, "seed": v.train_seed},
                            data=str(data_folder / "train.jsonl"),
                            method="onpolicy" if v.method == "onpolicy" else "sft", out="-")
        key = key_of("train", asdict(replace(tcfg, out="", data="")), data_key)
        folder = run.dir / "train" / f"{v.label}-{key}"
        adapter = run.stage(f"train/{v.label}", folder, key,
                            lambda tcfg=tcfg, folder=folder: run_train(replace(tcfg, out=str(folder))))
        record(v, evaluate(v, adapter), adapter, src)
        if v.train_seed in followed and v.label in main_labels:
            follow(v, adapter)

    # 3. Shift analysis and the report: cheap, always rebuilt from the saved files.
    acfg = stage_config(AnalyzeConfig, cfg.analyze, f"{config_path}: analyze", out=str(run.dir / "analysis"))
    run_analyze(acfg, run.dir)
    report = build_report([run.dir], run.dir / "report")
    print_summary(run)
    print(f"[sdft run] report: {report['html']} (and report.md beside it)")
    return run.dir


def print_summary(run: Run) -> None:
    """The scores per model and benchmark, then the config's notes: what a reader must see."""
    rows = []
    for m in run.manifest["models"]:
        res = json.loads((run.dir / m["eval_dir"] / "results.json").read_text(encoding="utf-8"))
        rows.append((m["label"], {k: e["score"] for k, e in res["benchmarks"].items()}))
    benches = list(dict.fromkeys(b for _, scores in rows for b in scores))
    width = max([len(label) for label, _ in rows] + [5])
    print("\n" + "model".ljust(width) + "".join(f"  {b[:18]:>18}" for b in benches))
    for label, scores in rows:
        cells = "".join(f"  {100 * scores[b]:17.1f}%" if b in scores else f"  {'-':>18}" for b in benches)
        print(label.ljust(width) + cells)
    for note in run.manifest["notes"]:
        print(f"\nNote: {' '.join(note.split())}")


def _rel(root: Path, p: Path | None) -> str | None:
    return str(p.relative_to(root)) if p else None
