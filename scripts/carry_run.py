#!/usr/bin/env python3
"""Carry the finished stages of an `sdft run` folder across machines, through the repository.

    python scripts/carry_run.py save runs/openfunction_forgetting docs/results/openfunction_forgetting/carry
    python scripts/carry_run.py restore docs/results/openfunction_forgetting/carry runs/openfunction_forgetting

A run longer than a session resumes from its stage folders, but a session may start on a fresh
machine where `runs/` is gone. `save` packs each finished stage (a folder whose `.done` marker
is written) into CARRY/<kind>/<folder>.tar.xz, only what the rest of the run and its report
read; `restore` unpacks the ones the run folder lacks, after which `sdft run` treats them as
cached (same code, same config, same stage keys). Restore into the same run folder, named the
same way (`runs/openfunction_forgetting` from the repository root, with `../shared/data` beside
it): a snapshot's evaluation is keyed by its adapter's path, and the data folder's path counts in
the keys (checked: restored so in another checkout, all 8 carried stages dry-run as cached; under
/tmp, or with another --data-dir, they do not). What is left out:

- every record's rendered `prompt` and AdvBench's `request` (copies of the datasets, which this
  repository does not redistribute; the report's flipped-item list then shows ids only);
- a distillation's `rewrites.jsonl` (the generation's resume file; `distilled.jsonl` holds them);
- a fine-tune's checkpoints, tokenizer copy and weights, once its evaluation is finished: its
  parameter shift, the one thing the analysis reads from the weights, is written beside it as
  `param_shift.json` (:func:`sdft.analyze.shift.parameter_shift`). Its snapshots keep their
  `adapter_config.json` (the trajectory's stage keys are their paths).

A fine-tune whose evaluation, or (for the training seeds a trajectory follows) whose trajectory
points, are not all finished is not carried: it would
need its weights (~18 MB a LoRA adapter of Qwen-0.5B, which xz does not shrink, and the
repository holds no weights); if a session ends there, the next one trains it again.
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path

DROP_FIELDS = ("prompt", "request")
DROP_FILES = {"rewrites.jsonl", "adapter_model.safetensors", "model.safetensors", "tokenizer.json",
              "tokenizer_config.json", "chat_template.jinja", "training_args.bin"}


def finished(folder: Path) -> bool:
    return (folder / ".done").is_file()


def _strip_jsonl(data: bytes) -> bytes:
    out = []
    for line in data.decode("utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            out.append(json.dumps({k: v for k, v in rec.items() if k not in DROP_FIELDS}, ensure_ascii=False))
    return ("\n".join(out) + "\n").encode("utf-8") if out else b""


def _followed(manifest: dict) -> set[str] | None:
    """Labels of the fine-tunes the run follows along training (:func:`sdft.planning.followed`
    on the manifest's config), or None where the manifest has no config (then every fine-tune
    with snapshots counts as followed)."""
    if manifest.get("config") is None:
        return None
    from sdft.experiment import from_record
    from sdft.planning import followed, plan

    cfg = from_record(manifest["config"], "manifest.json: config")
    return followed(cfg, plan(cfg, n_available=cfg.sample or 1))  # labels do not depend on the count


def _evaluated(run: Path, manifest: dict) -> tuple[dict[str, str | None], set[tuple[str, int]]]:
    """({train folder name: label, or None when its snapshots are not followed} of the fine-tunes
    whose evaluation is finished, {(label, step)} of the trajectory points evaluated)."""
    labels = _followed(manifest)
    done = {Path(m["train_dir"]).name: m["label"] if labels is None or m["label"] in labels else None
            for m in manifest.get("models", [])
            if m.get("train_dir") and m.get("eval_dir") and finished(run / m["eval_dir"])}
    points = {(p["label"], int(p["step"])) for p in manifest.get("trajectory") or []
              if p.get("eval_dir") and finished(run / p["eval_dir"])}
    return done, points


def _all_evaluated(folder: Path, label: str | None, points: set[tuple[str, int]]) -> bool:
    """A followed fine-tune's snapshots and final model (its last trajectory point) are evaluated;
    ``label`` None: a fine-tune whose snapshots no trajectory evaluates (other training seeds)."""
    if label is None or not (folder / "snapshots").is_dir():
        return True
    steps = json.loads((folder / "train_summary.json").read_text(encoding="utf-8"))["steps"]
    snaps = [int(p.name.split("-")[1]) for p in (folder / "snapshots").glob("step-*")]
    return all((label, step) in points for step in [*snaps, steps])


def pack(folder: Path, target: Path) -> None:
    """One stage folder into ``target`` (tar.xz), with the leaving-out rules above."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    with tarfile.open(tmp, "w:xz") as tar:
        for p in sorted(folder.rglob("*")):
            rel = p.relative_to(folder)
            if not p.is_file() or rel.parts[0] == "checkpoints" or p.name in DROP_FILES:
                continue
            data = p.read_bytes()
            if p.suffix == ".jsonl":
                data = _strip_jsonl(data)
            info = tarfile.TarInfo(str(Path(folder.name) / rel))
            info.size, info.mtime = len(data), int(p.stat().st_mtime)
            tar.addfile(info, io.BytesIO(data))
    tmp.replace(target)


def save(run: Path, carry: Path) -> list[Path]:
    from sdft.analyze import shift

    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    evaluated, points = _evaluated(run, manifest)
    seed_model = next((m.get("model") for m in manifest.get("models", []) if m.get("method") == "seed"), None)
    written = []
    for kind in ("distill", "eval", "train"):
        for folder in sorted((run / kind).glob("*")):
            if not finished(folder):
                continue
            if kind == "train" and not (folder.name in evaluated
                                        and _all_evaluated(folder, evaluated[folder.name], points)):
                continue  # its weights are still needed
            target = carry / kind / f"{folder.name}.tar.xz"
            if target.exists() and target.stat().st_mtime >= (folder / ".done").stat().st_mtime:
                continue  # carried already
            if kind == "train" and not (folder / "param_shift.json").exists():
                (folder / "param_shift.json").write_text(
                    json.dumps(shift.parameter_shift(folder, seed_model), indent=1) + "\n", encoding="utf-8")
            pack(folder, target)
            written.append(target)
    (carry / "manifest.json").write_bytes((run / "manifest.json").read_bytes())  # wall times, provenance
    return written


def restore(carry: Path, run: Path) -> list[Path]:
    restored = []
    for archive in sorted(carry.glob("*/*.tar.xz")):
        kind = archive.parent.name
        folder = run / kind / archive.name.removesuffix(".tar.xz")
        if finished(folder):
            continue
        (run / kind).mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive, "r:xz") as tar:
            tar.extractall(run / kind, filter="data")
        restored.append(folder)
    if restored and not (run / "manifest.json").exists() and (carry / "manifest.json").exists():
        (run / "manifest.json").write_bytes((carry / "manifest.json").read_bytes())
    return restored


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("save", "restore"):
        print("usage: carry_run.py save RUN CARRY | restore CARRY RUN", file=sys.stderr)
        return 2
    verb, a, b = argv[0], Path(argv[1]), Path(argv[2])
    if verb == "save":
        if not (a / "manifest.json").is_file():
            print(f"{a}: no manifest.json (not an `sdft run` folder)", file=sys.stderr)
            return 2
        done = save(a, b)
        size = sum(p.stat().st_size for p in b.glob("*/*.tar.xz"))
        print(f"packed {len(done)} stage(s) into {b} ({size / 1024:.0f} KiB carried in all)")
    else:
        done = restore(a, b)
        names = ", ".join(f"{p.parent.name}/{p.name}" for p in done) or "-"
        print(f"restored {len(done)} stage(s) into {b}: {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
