"""`sdft run CONFIG.yaml`: the whole experiment, stage by stage, resumable.

Stages talk only through files in the run folder::

    RUN/manifest.json                 resolved config, provenance, stage timings, the model list
    RUN/distill/<template>-<key>/     distilled.jsonl, distill_report.json     (one per template)
    RUN/data/<label>-<key>/           distilled.jsonl: the exact training set of one fine-tune
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
mix-ratio sweep costs training and evaluation, not more generation.

    sdft run configs/demo.yaml
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

from sdft.experiment import ExperimentConfig, load_experiment, stage_config
from sdft.runs import JsonlWriter, git_hash, provenance, read_jsonl, write_json


@dataclass
class Variant:
    """One model of the comparison: how it is trained (or not, for the seed)."""

    label: str
    method: str  # seed | vanilla | sdft | onpolicy
    sample_size: int | None = None
    mix_ratio: float | None = None
    template: str | None = None


def key_of(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:8]


def plan(cfg: ExperimentConfig, n_available: int) -> list[Variant]:
    """The models to evaluate, in display order: seed, the main methods, then sweep points."""
    n = min(cfg.sample or n_available, n_available)
    main_template = cfg.distill.get("template")
    out = [Variant("seed", "seed")]
    for m in cfg.methods:
        out.append(Variant(m, m, n, {"vanilla": 0.0, "sdft": 1.0}.get(m), main_template if m == "sdft" else None))
    for size in cfg.sweeps.sample_sizes:
        if size != n:
            out += [Variant(f"vanilla-n{size}", "vanilla", size, 0.0),
                    Variant(f"sdft-n{size}", "sdft", size, 1.0, main_template)]
    for r in cfg.sweeps.mix_ratios:
        if r not in (0.0, 1.0):
            out.append(Variant(f"sdft-r{r:g}", "sdft", n, r, main_template))
    for t in cfg.sweeps.templates:
        if t != main_template:
            out.append(Variant(f"sdft-{Path(t).stem}", "sdft", n, 1.0, t))
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


def _training_set(distilled: Path, dest: Path, v: Variant, seed: int) -> None:
    """Cut one fine-tune's data from a distilled file: the first N records; a seeded fraction
    R of them with the selected (distilled-or-fallback) response, the rest with the original."""
    from sdft.distill.run import mixed_ids

    records = list(read_jsonl(distilled))[: v.sample_size]
    use = mixed_ids([r["id"] for r in records], v.mix_ratio or 0.0, seed)
    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest / "distilled.jsonl.tmp"
    tmp.unlink(missing_ok=True)
    with JsonlWriter(tmp, fsync=False) as w:
        for r in records:
            chosen = r["response"] if r["id"] in use else r["original"]
            w.write({**r, "response": chosen, "kept": bool(r["kept"] and r["id"] in use)})
    tmp.replace(dest / "distilled.jsonl")


def run_experiment(cfg: ExperimentConfig, config_path: str = "") -> Path:
    from sdft.analyze import AnalyzeConfig
    from sdft.analyze.command import run_analyze
    from sdft.analyze.report import build_report
    from sdft.data.tasks import load_data
    from sdft.distill import DistillConfig, run_distill
    from sdft.evaluate.evaluator import EvalConfig, run_eval
    from sdft.train.config import TrainConfig
    from sdft.train.trainer import run_train

    run = Run(cfg, config_path)
    n_available = len(load_data(cfg.data, data_dir=cfg.data_dir))
    variants = plan(cfg, n_available)
    trained = [v for v in variants if v.method in ("vanilla", "sdft")]
    n_max = max([v.sample_size or 0 for v in trained] + [min(cfg.sample or n_available, n_available)])
    common = {"model": cfg.model, "data_dir": cfg.data_dir, "seed": cfg.seed}

    def evaluate(v: Variant, adapter: Path | None) -> Path:
        ecfg = stage_config(EvalConfig, cfg.eval, f"{config_path}: eval", **common,
                            adapter=str(adapter) if adapter else None, out="-")
        key = key_of("eval", asdict(replace(ecfg, out="", adapter=None)),
                     adapter.joinpath(".done").read_text() if adapter else None)
        folder = run.dir / "eval" / f"{v.label}-{key}"
        return run.stage(f"eval/{v.label}", folder, key,
                         lambda: run_eval(replace(ecfg, out=str(folder))))

    # 0. The seed's scores first: they need nothing else, and a broken benchmark shows at once.
    eval_dirs = {v.label: evaluate(v, None) for v in variants if v.method == "seed"}

    # 1. Distil once per template, on the largest sample any fine-tune needs. Vanilla needs the
    #    same sampled examples, so the file is needed even without SDFT (mix ratio 0 skips generation).
    distilled: dict[str | None, Path] = {}
    for template in sorted({v.template for v in trained if v.method == "sdft"} or {None}, key=str):
        any_sdft = any(v.method == "sdft" for v in trained)
        dcfg = stage_config(DistillConfig, cfg.distill, f"{config_path}: distill", **common, data=cfg.data,
                            sample=n_max, template=template, mix_ratio=1.0 if any_sdft else 0.0, out="-")
        key = key_of("distill", asdict(replace(dcfg, out="", progress=True)))
        folder = run.dir / "distill" / f"{Path(template or 'default').stem}-{key}"
        run.stage(f"distill/{template or 'default'}", folder, key,
                  lambda dcfg=dcfg, folder=folder: run_distill(replace(dcfg, out=str(folder))))
        distilled[template] = folder

    # 2. Fine-tune each variant on its cut of the distilled data.
    train_dirs: dict[str, Path] = {}
    for v in variants:
        if v.method == "seed":
            continue
        src = distilled[v.template if v.method == "sdft" else next(iter(distilled))]
        method = "onpolicy" if v.method == "onpolicy" else "sft"
        data_key = key_of("data", str(src), src.joinpath(".done").read_text(), asdict(v), cfg.seed)
        data_folder = run.dir / "data" / f"{v.label}-{data_key}"
        if v.method == "onpolicy":  # learns from the original demonstrations, like vanilla
            v_data = replace(v, mix_ratio=0.0)
        else:
            v_data = v
        run.stage(f"data/{v.label}", data_folder, data_key,
                  lambda src=src, d=data_folder, vd=v_data: _training_set(src / "distilled.jsonl", d, vd, cfg.seed))
        tcfg = stage_config(TrainConfig, cfg.train, f"{config_path}: train", **common,
                            data=str(data_folder / "distilled.jsonl"), method=method, out="-")
        key = key_of("train", asdict(replace(tcfg, out="", data="")), data_key)
        folder = run.dir / "train" / f"{v.label}-{key}"
        train_dirs[v.label] = run.stage(f"train/{v.label}", folder, key,
                                        lambda tcfg=tcfg, folder=folder: run_train(replace(tcfg, out=str(folder))))

    # 3. Evaluate every fine-tuned model on the same battery.
    for v in variants:
        adapter = train_dirs.get(v.label)
        if v.label not in eval_dirs:
            eval_dirs[v.label] = evaluate(v, adapter)
        run.manifest["models"].append({
            **asdict(v), "model": cfg.model, "adapter": _rel(run.dir, adapter),
            "eval_dir": _rel(run.dir, eval_dirs[v.label]), "train_dir": _rel(run.dir, adapter),
            "distill_dir": _rel(run.dir, distilled.get(v.template)) if v.method == "sdft" else None,
        })
        run.save()

    # 4. Shift analysis and the report: cheap, always rebuilt from the saved files.
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="experiment YAML (see `sdft ls`)")
    parser.add_argument("--out", help="run folder (default: the config's `out`, else runs/<name>)")
    parser.add_argument("--data-dir", help="folder of the shared datasets")


def run(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in (("out", args.out), ("data_dir", args.data_dir)) if v}
    cfg = load_experiment(args.config, overrides)
    run_experiment(cfg, args.config)
    return 0
