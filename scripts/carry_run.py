#!/usr/bin/env python3
"""Carry the finished stages of an `sdft run` folder across machines, through the repository.

    python scripts/carry_run.py save runs/openfunction_forgetting docs/results/openfunction_forgetting/carry
    python scripts/carry_run.py restore docs/results/openfunction_forgetting/carry runs/openfunction_forgetting
    python scripts/carry_run.py save RUN CARRY --config configs/gsm8k_forgetting_v2.yaml

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
- a fine-tune's checkpoints, tokenizer copy and weights, once every stage that reads them is
  finished: its parameter shift, the one thing the analysis reads from the weights, is written
  beside it as `param_shift.json` (:func:`sdft.analyze.shift.parameter_shift`). Its snapshots keep
  their `adapter_config.json` (the trajectory's stage keys are their paths). A weight-interpolation
  point's scaled adapter likewise, once the point is evaluated.

The stages that read a fine-tune's weights: its evaluation, its KL to the seed (`predict/`, where
the config sets `kl_to_seed`), its weight-interpolation points (`interp/`, then their evaluation)
and, for the training seeds a trajectory follows, its trajectory points. A fine-tune any of them
still waits for is not carried: it would need its weights (~18 MB a LoRA adapter of Qwen-0.5B,
which xz does not shrink, and the repository holds no weights); if a session ends there, the next
one trains it again. The seed's answers for self-replay (`replay/`) are carried once finished;
the data stages (`data/`, seconds) are rebuilt.

An evaluation cut off by the end of a session is carried too, as CARRY/eval/<folder>.partial.tar.xz
(the benchmarks answered so far, line by line; a line still being written is left out, and
results.json is read before the answers), with what the next session needs to trust it: the
SHA-256 of the fine-tune's weights that gave those answers, and this machine (CPU model, a digest
of its instruction flags, its core count; the torch, transformers and peft versions). A fresh
machine has no weights, so `sdft run` trains the fine-tune again first; on the same machine kind
that retraining gives the same weights bit for bit (training here is deterministic: same seed,
same kernels), and the evaluation then goes on from its last answer. `restore` unpacks a partial
evaluation only on such a machine (elsewhere it says so and leaves it: the battery starts again
there) and writes back into its records what the carry left out (prompts, a judged benchmark's
requests: :func:`sdft.evaluate.generative.refill`), since the stage resumes into those files and
the KL stage after it reads them. Nothing checks the weights between the retraining and the
evaluation going on (the frozen code that runs it cannot), so `save` checks them before anything
of it is carried: a resumed evaluation whose fine-tune now holds other weights is refused (exit 2,
naming the folders to delete: it and its model's KL stage), its partial archive is taken out of
CARRY so that no later restore brings it back, and everything else is still carried. Once a
resumed evaluation is finished and its weights matched, it is marked checked and never refused
later (a fine-tune retrained again for a later stage may be a sibling).

The manifest's list of evaluated models is kept whole across sittings: a sitting of `sdft run`
that stops early, or an `--only` one of code before 634c02d (the GSM8K v2 run's frozen copies),
rewrites it with the models *it* reached, so `save` merges the run's list into the carried one (a label
the run has replaces the carried entry), and `restore` adds to an existing run manifest the carried
models it lacks whose evaluation is finished in the run folder (under the run folder's lock: run it
when no `sdft run` is writing there), so that `sdft report` sees every model evaluated so far.

Which stages wait for a fine-tune's weights is read from the manifest's config, or with
``--config YAML`` from the config the run goes on with, where later arms join from a newer one
(GSM8K v2: its secondaries' interpolation points of each vanilla seed, and each fine-tune's KL to
the seed, whose stage key changed with the rule choosing its items). A fine-tune carried
earlier that now waits again is taken out of CARRY: restored, it would look finished without the
weights its points need, where without it the next session trains it again.
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import os
import platform
import sys
import tarfile
from importlib import metadata
from pathlib import Path

DROP_FIELDS = ("prompt", "request")
DROP_FILES = {"rewrites.jsonl", "adapter_model.safetensors", "model.safetensors", "tokenizer.json",
              "tokenizer_config.json", "chat_template.jinja", "training_args.bin"}


PARTIAL = ".carried_partial.json"  # in a partial evaluation: the weights and machine its answers came from
WEIGHT_FILES = ("adapter_model.safetensors", "model.safetensors")


def finished(folder: Path) -> bool:
    return (folder / ".done").is_file()


def machine() -> dict[str, str]:
    """What decides whether a fine-tune retrained here gets the same weights bit for bit: the CPU
    (model name, a digest of its instruction flags, the core count that sets the threads) and the
    torch, transformers and peft versions."""
    from sdft.runs import cpu_fields, cpu_model

    fields = cpu_fields()
    listed = fields.get("flags") or fields.get("Features") or ""  # x86, ARM
    flags = hashlib.sha256(" ".join(sorted(listed.split())).encode()).hexdigest()[:16] if listed else ""
    versions = {}
    for package in ("torch", "transformers", "peft"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = ""
    return {"arch": platform.machine(), "cpu": cpu_model(), "cpu_flags": flags, "cpus": os.cpu_count(),
            **versions}


def weights_digest(train: Path) -> dict[str, str]:
    """{weights file: SHA-256} of a fine-tune folder's final weights ({} when they are not there)."""
    out = {}
    for name in WEIGHT_FILES:
        if (train / name).is_file():
            h = hashlib.sha256()
            with (train / name).open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            out[name] = h.hexdigest()
    return out


def _adapter_of(folder: Path, run: Path) -> Path | None:
    """The fine-tune folder an evaluation answers with, from its benchmarks' settings.json
    (``adapter``, recorded relative to where the run was launched: its last part names the folder
    under RUN/train); None for the seed's evaluation."""
    for settings in sorted(folder.glob("*/settings.json")):
        try:
            adapter = json.loads(settings.read_text(encoding="utf-8")).get("adapter")
        except (OSError, ValueError, AttributeError):
            continue
        if adapter:
            return run / "train" / Path(adapter).name
    return None


def _partial_problem(folder: Path, run: Path) -> str | None:
    """An evaluation resumed from a carried partial one: None when its fine-tune (trained again)
    holds the weights whose digest the carried answers recorded, or when it was so checked once
    already; else what is wrong."""
    record = json.loads((folder / PARTIAL).read_text(encoding="utf-8"))
    if record.get("verified"):
        return None
    train = run / "train" / record["train"]
    now = weights_digest(train)
    if not now:
        return None if not finished(folder) else (
            f"{folder}: resumed from answers of weights {record['weights']}, and {train} has no weights to "
            "check them against")
    if now != record["weights"]:
        return (f"{folder}: its answers up to the carried point came from weights {record['weights']}, but "
                f"{train} now holds other weights {now} (trained again on another machine or code?): the battery "
                f"mixes two fine-tunes. Delete {folder} and the KL stage of the same model under "
                f"{run / 'predict'} (its key does not see the answers), then run again")
    return None


def _verify(folder: Path, run: Path) -> str | None:
    """:func:`_partial_problem` for a finished evaluation, which is then marked checked."""
    problem = _partial_problem(folder, run)
    if problem is None:
        record = json.loads((folder / PARTIAL).read_text(encoding="utf-8"))
        if not record.get("verified"):
            record["verified"] = record["weights"]  # the retrained weights matched: never checked again
            (folder / PARTIAL).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return problem


def _pack_partial(folder: Path, run: Path, target: Path) -> tuple[bool, str | None]:
    """(packed, problem): an unfinished evaluation of a finished fine-tune, with :data:`PARTIAL`."""
    if (folder / PARTIAL).is_file():  # resumed from a carry already: keep the first record, after a check
        problem = _partial_problem(folder, run)
        if problem:
            return False, problem
        record = json.loads((folder / PARTIAL).read_text(encoding="utf-8"))
    else:
        train = _adapter_of(folder, run)
        if train is None or not finished(train) or not weights_digest(train):
            return False, None
        record = {"train": train.name, "weights": weights_digest(train), "machine": machine()}
    if not any(p.stat().st_size for p in folder.glob("*/predictions.jsonl")):
        return False, None  # nothing answered yet
    (folder / PARTIAL).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    pack(folder, target, live=True)
    return True, None


def _strip_jsonl(data: bytes, live: bool = False) -> bytes:
    """``live``: a file still being appended to; a last line not yet ended is left out (the
    stage answers that item again)."""
    if live and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
    out = []
    for line in data.decode("utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            out.append(json.dumps({k: v for k, v in rec.items() if k not in DROP_FIELDS}, ensure_ascii=False))
    return ("\n".join(out) + "\n").encode("utf-8") if out else b""


def _planned(manifest: dict, config: Path | None = None) -> tuple[set[str] | None, dict[str, list[str]]]:
    """(labels of the fine-tunes the run follows along training (:func:`sdft.planning.followed`),
    {fine-tune label: labels of its weight-interpolation points}) from ``config`` or else the
    manifest's config; (None, {}) where there is neither (then every fine-tune with snapshots
    counts as followed)."""
    if config is None and manifest.get("config") is None:
        return None, {}
    from sdft.experiment import from_record, load_experiment
    from sdft.planning import followed, interpolation_points, plan

    cfg = load_experiment(config) if config else from_record(manifest["config"], "manifest.json: config")
    variants = plan(cfg, n_available=cfg.sample or 1)  # labels do not depend on the count
    points: dict[str, list[str]] = {}
    for p in interpolation_points(cfg, variants):
        points.setdefault(p.of, []).append(p.label)
    return followed(cfg, variants), points


def _planned_kl(run: Path, config: Path) -> dict[str, str]:
    """{fine-tune label: the folder name of its KL-to-seed stage} by ``config``'s plan (the stage
    keys `sdft run` would use on this run folder)."""
    from sdft.experiment import load_experiment
    from sdft.pipeline import Stages

    cfg = load_experiment(config)
    if Path(cfg.run_dir).resolve() != run.resolve():
        cfg = load_experiment(config, {"out": str(run)})
    return {label: st.folder.name for label, st in Stages(cfg).predict.items()}


def _evaluated(run: Path, manifest: dict,
               config: Path | None = None) -> tuple[dict[str, str | None], set[tuple[str, int]], set[str]]:
    """({train folder name: label, or None when its snapshots are not followed} of the fine-tunes
    whose evaluation, KL to the seed and interpolation points are finished, {(label, step)} of
    the trajectory points evaluated, {folder names of the interpolation points evaluated})."""
    labels, interp = _planned(manifest, config)
    kl = _planned_kl(run, config) if config else {}  # a KL stage the config plans anew (other keys)
    models = manifest.get("models", [])
    evaluated = {m["label"] for m in models if m.get("eval_dir") and finished(run / m["eval_dir"])}
    done = {Path(m["train_dir"]).name: m["label"] if labels is None or m["label"] in labels else None
            for m in models
            if m.get("train_dir") and m["label"] in evaluated
            and (not m.get("kl_dir") or finished(run / m["kl_dir"]))
            and (m["label"] not in kl or finished(run / "predict" / kl[m["label"]]))
            and all(p in evaluated for p in interp.get(m["label"], []))}
    points = {(p["label"], int(p["step"])) for p in manifest.get("trajectory") or []
              if p.get("eval_dir") and finished(run / p["eval_dir"])}
    scaled = {Path(m["adapter"]).name for m in models
              if m.get("alpha") is not None and m.get("adapter") and m["label"] in evaluated}
    return done, points, scaled


def _all_evaluated(folder: Path, label: str | None, points: set[tuple[str, int]]) -> bool:
    """A followed fine-tune's snapshots and final model (its last trajectory point) are evaluated;
    ``label`` None: a fine-tune whose snapshots no trajectory evaluates (other training seeds)."""
    if label is None or not (folder / "snapshots").is_dir():
        return True
    summary = folder / "train_summary.json"
    steps = json.loads(summary.read_text(encoding="utf-8")).get("steps")
    if not isinstance(steps, int):
        from sdft.errors import DataError

        raise DataError(f"{summary}: field 'steps': expected the fine-tune's step count, got {steps!r}")
    snaps = [int(p.name.split("-")[1]) for p in (folder / "snapshots").glob("step-*")]
    return all((label, step) in points for step in [*snaps, steps])


def pack(folder: Path, target: Path, live: bool = False) -> None:
    """One stage folder into ``target`` (tar.xz), with the leaving-out rules above; ``live``: an
    unfinished stage, which may be writing meanwhile."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    # A live folder's results.json is read first: a benchmark it lists was finished before its
    # predictions are read, so the two never disagree in the archive.
    files = sorted(folder.rglob("*"), key=lambda p: (not live or p.name != "results.json", str(p)))
    with tarfile.open(tmp, "w:xz") as tar:
        for p in files:
            rel = p.relative_to(folder)
            if not p.is_file() or rel.parts[0] == "checkpoints" or p.name in DROP_FILES:
                continue
            data = p.read_bytes()
            if p.suffix == ".jsonl":
                data = _strip_jsonl(data, live)
            info = tarfile.TarInfo(str(Path(folder.name) / rel))
            info.size, info.mtime = len(data), int(p.stat().st_mtime)
            tar.addfile(info, io.BytesIO(data))
    tmp.replace(target)


def save(run: Path, carry: Path, config: Path | None = None) -> tuple[list[Path], list[Path], list[str]]:
    """(archives written, archives taken out: fine-tunes that wait for their weights again and
    partial evaluations finished since or refused, problems: evaluations refused)."""
    from sdft.analyze import shift

    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    carried_file = carry / "manifest.json"
    carried = _read_manifest(carried_file)
    same = carried is not None and carried.get("name") == manifest.get("name")
    # A sitting stopped early, or an `--only` one of code before 634c02d (the GSM8K v2 run's
    # frozen copies), lists only the models it reached: the fine-tunes evaluated before are still
    # evaluated, so none of their archives is taken out for it.
    known = _merged_models(manifest, carried if same else None,
                           keep=lambda m: bool(m.get("eval_dir")) and finished(run / m["eval_dir"]))
    evaluated, points, scaled = _evaluated(run, {**manifest, "models": known}, config)
    removed, problems, written = [], [], []
    seed_model = next((m.get("model") for m in known if m.get("method") == "seed"), None)
    for kind in ("distill", "replay", "eval", "predict", "interp", "train"):
        for folder in sorted((run / kind).glob("*")):
            partial = carry / kind / f"{folder.name}.partial.tar.xz"
            problem = None
            if kind == "eval" and folder.is_dir() and not finished(folder):
                packed, problem = _pack_partial(folder, run, partial)
                if packed:
                    written.append(partial)
            elif kind == "eval" and finished(folder) and (folder / PARTIAL).is_file():
                problem = _verify(folder, run)  # before it is carried as finished
            if problem:  # never carried, and not restored again from an earlier carry
                problems.append(problem)
                if partial.exists():
                    partial.unlink()
                    removed.append(partial)
                continue
            if not finished(folder):
                continue
            if partial.exists():  # finished since: the whole one replaces it
                partial.unlink()
                removed.append(partial)
            if kind == "train" and not (folder.name in evaluated
                                        and _all_evaluated(folder, evaluated[folder.name], points)):
                stale = carry / kind / f"{folder.name}.tar.xz"
                if stale.exists():  # carried under an earlier plan, without the weights now needed
                    stale.unlink()
                    removed.append(stale)
                continue  # its weights are still needed
            if kind == "interp" and folder.name not in scaled:
                continue  # its evaluation still needs the scaled adapter
            target = carry / kind / f"{folder.name}.tar.xz"
            if target.exists() and target.stat().st_mtime >= (folder / ".done").stat().st_mtime:
                continue  # carried already
            if kind == "train" and not (folder / "param_shift.json").exists():
                (folder / "param_shift.json").write_text(
                    json.dumps(shift.parameter_shift(folder, seed_model), indent=1) + "\n", encoding="utf-8")
            pack(folder, target)
            written.append(target)
    if carried is not None and not same:  # a dev sitting on the same folder: the carry stays the test run's
        problems.append(f"{carried_file}: kept, it is experiment {carried.get('name')!r}'s and the run folder's "
                        f"manifest is {manifest.get('name')!r}'s (rerun save after a sitting of that experiment)")
    else:
        carried_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = carried_file.with_suffix(".tmp")  # wall times, provenance, every model evaluated so far
        tmp.write_text(json.dumps({**manifest, "models": _merged_models(manifest, carried, keep=lambda m: True)},
                                  indent=2) + "\n", encoding="utf-8")  # as `sdft run` writes it
        tmp.replace(carried_file)
    return written, removed, problems


def _read_manifest(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        from sdft.errors import DataError

        raise DataError(f"{path}: not a readable manifest ({e})") from None


def _merged_models(run_manifest: dict, carried: dict | None, keep) -> list[dict]:
    """The carried manifest's models in their order, each replaced by the run's entry of the same
    label, then the run's other models; carried ones only where ``keep(model)`` and the two
    manifests are of one experiment (same name)."""
    mine = run_manifest.get("models") or []
    if not carried or carried.get("name") != run_manifest.get("name"):
        return mine
    by_label = {m.get("label"): m for m in mine}
    out = [by_label.pop(m.get("label")) if m.get("label") in by_label else m
           for m in carried.get("models") or [] if m.get("label") in by_label or keep(m)]
    return out + list(by_label.values())


def _fill_models(carry: Path, run: Path) -> int:
    """Add to ``run``'s manifest the carried models it lacks whose evaluation is finished there;
    how many were added (the caller holds the run folder's lock)."""
    carried = _read_manifest(carry / "manifest.json")
    path = run / "manifest.json"
    manifest = _read_manifest(path)
    if manifest is None or carried is None:
        return 0
    before = len(manifest.get("models") or [])
    models = _merged_models(manifest, carried,
                            keep=lambda m: bool(m.get("eval_dir")) and finished(run / m["eval_dir"]))
    if len(models) == before:
        return 0
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({**manifest, "models": models}, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return len(models) - before


def _partial_record(archive: Path) -> dict:
    with tarfile.open(archive, "r:xz") as tar:
        member = next((m for m in tar.getmembers() if Path(m.name).name == PARTIAL), None)
        data = tar.extractfile(member) if member is not None else None
        return json.loads(data.read().decode("utf-8")) if data is not None else {}


def _refill(folder: Path, tokenizer_of) -> None:
    """A restored partial evaluation's records get back what the carry left out (prompts, a judged
    benchmark's requests), as its evaluation wrote them: the stage resumes into the same files,
    and stages after it (the KL to the seed of the frozen copy) read those fields."""
    from sdft.evaluate.generative import refill

    for predictions in sorted(folder.glob("*/predictions.jsonl")):
        settings = json.loads((predictions.parent / "settings.json").read_text(encoding="utf-8"))
        lines = [json.loads(x) for x in predictions.read_text(encoding="utf-8").splitlines() if x.strip()]
        full = refill(lines, predictions, tokenizer_of(settings.get("model")))
        if full != lines:
            tmp = predictions.with_suffix(".jsonl.tmp")
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in full), encoding="utf-8")
            tmp.replace(predictions)


def restore(carry: Path, run: Path, skipped: list[str] | None = None) -> list[Path]:
    """Unpack what ``run`` lacks, under the run folder's lock (not while an `sdft run` writes
    there), then give its manifest the models evaluated in earlier sittings; ``skipped`` collects
    why a partial evaluation was left out."""
    from sdft.locks import output_lock

    run.mkdir(parents=True, exist_ok=True)
    with output_lock(run, folder=True):
        restored = _restore(carry, run, skipped)
        if restored and not (run / "manifest.json").exists() and (carry / "manifest.json").exists():
            (run / "manifest.json").write_bytes((carry / "manifest.json").read_bytes())
        _fill_models(carry, run)
    return restored


def _restore(carry: Path, run: Path, skipped: list[str] | None) -> list[Path]:
    restored = []
    here = machine()
    tokenizers: dict = {}

    def tokenizer_of(spec):
        if spec not in tokenizers:
            from sdft import models

            tokenizers[spec] = models.load_tokenizer(spec)
        return tokenizers[spec]

    for archive in sorted(carry.glob("*/*.tar.xz")):
        kind = archive.parent.name
        name = archive.name.removesuffix(".tar.xz")
        partial = name.endswith(".partial")
        if partial:
            folder = run / kind / name.removesuffix(".partial")
            if folder.exists():  # finished, or going on on this machine: what is here is the live copy
                continue
            try:
                record = _partial_record(archive)
            except (tarfile.TarError, EOFError, lzma.LZMAError, ValueError) as e:
                from sdft.errors import DataError

                raise DataError(f"{archive}: cannot read its record ({e}); stages restored before it are kept: "
                                "fetch the carry again and rerun restore") from None
            if record.get("machine") != here:
                if skipped is not None:
                    skipped.append(f"{kind}/{folder.name} (partial): answered on {record.get('machine')}, this is "
                                   f"{here}; a fine-tune trained again here may differ, so it is evaluated anew")
                continue
        else:
            folder = run / kind / name
        if finished(folder):
            continue
        (run / kind).mkdir(parents=True, exist_ok=True)
        try:
            with tarfile.open(archive, "r:xz") as tar:
                tar.extractall(run / kind, filter="data")
        except (tarfile.TarError, EOFError, lzma.LZMAError) as e:
            from sdft.errors import DataError

            (folder / ".done").unlink(missing_ok=True)  # part of it may be out: not a finished stage
            raise DataError(f"{archive}: cannot unpack ({e}); stages restored before it are kept: "
                            "fetch the carry again and rerun restore") from None
        if partial:
            try:
                _refill(folder, tokenizer_of)
            except Exception:
                import shutil

                shutil.rmtree(folder)  # a half-refilled partial is not left to resume from
                raise
        restored.append(folder)
    return restored


def main(argv: list[str]) -> int:
    config = None
    if argv[:1] == ["save"] and len(argv) == 5 and argv[3] == "--config":
        argv, config = argv[:3], Path(argv[4])
    if len(argv) != 3 or argv[0] not in ("save", "restore"):
        print("usage: carry_run.py save RUN CARRY [--config YAML] | restore CARRY RUN", file=sys.stderr)
        return 2
    verb, a, b = argv[0], Path(argv[1]), Path(argv[2])
    if verb == "save":
        if not (a / "manifest.json").is_file():
            print(f"{a}: no manifest.json (not an `sdft run` folder)", file=sys.stderr)
            return 2
        if config is not None and not config.is_file():
            print(f"{config}: no such config", file=sys.stderr)
            return 2
        done, removed, problems = save(a, b, config)
        size = sum(p.stat().st_size for p in b.glob("*/*.tar.xz"))
        print(f"packed {len(done)} stage(s) into {b} ({size / 1024:.0f} KiB carried in all)")
        for p in removed:
            if p.name.endswith(".partial.tar.xz"):
                print(f"took out {p.parent.name}/{p.name}: finished since (carried whole), or refused below")
            else:
                print(f"took out {p.parent.name}/{p.name}: its weights are needed again (by a stage planned since "
                      "it was carried)")
        for problem in problems:
            print(f"carry_run.py: error: {problem}", file=sys.stderr)
        return 2 if problems else 0
    skipped: list[str] = []
    before = len((_read_manifest(b / "manifest.json") or {}).get("models") or [])
    done = restore(a, b, skipped)
    names = ", ".join(f"{p.parent.name}/{p.name}" + ("" if finished(p) else " (partial)") for p in done) or "-"
    print(f"restored {len(done)} stage(s) into {b}: {names}")
    added = len((_read_manifest(b / "manifest.json") or {}).get("models") or []) - before
    if added > 0 and before:
        print(f"manifest: added {added} model(s) evaluated in earlier sittings to {b / 'manifest.json'}")
    for line in skipped:
        print(f"left out {line}")
    return 0


def _cli(argv: list[str]) -> int:
    """:func:`main` with a problem the user can fix (a bad config, a damaged archive) as one line."""
    from sdft.errors import SdftError

    try:
        return main(argv)
    except SdftError as e:
        print(f"carry_run.py: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(_cli(sys.argv[1:]))
