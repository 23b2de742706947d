#!/usr/bin/env python3
"""Is a fine-tune trained again the one that was evaluated? Checked against its carried KL.

    python scripts/kl_identity.py runs/gsm8k_forgetting_v2 vanilla-s2

A carried run keeps no weights (scripts/carry_run.py), so a stage that needs a fine-tune's weights
after a machine change trains it again from its stage (GSM8K v2, PLAN amendment 6). Whether that
retrained fine-tune *is* the evaluated one is measured on what was carried: its KL to the seed
(``kl_to_seed.json`` of the model's ``kl_dir`` in the manifest), per item, one answer at a time
(no batching enters), recomputed with the weights now in its ``train_dir`` on the same answers
(their prompts rendered again where the carry left them out). The same weights give every item's
value to the last digit; a sibling trained on another CPU differs in the last digits. The code is
main's, not the frozen copy's: the KL arithmetic (``sdft.train.objectives.kl_terms``, one answer at
a time) is unchanged since the frozen commit 74cb8aa.

Prints one line per model: how many items are identical and the largest relative difference
(a KL difference, never a score), and writes the same into the fine-tune's folder as
``identity.json``, where the report reads which models are retrained siblings. Exits 0 when every
item is identical, 1 when not, 2 on bad input.

The KL compared with is one measured before the fine-tune now in ``train_dir`` finished training
(the carried one): the manifest's ``kl_dir`` when it is that old, else the one such
``predict/LABEL-*`` result, or the folder ``--kl-dir`` names. A later sitting records its own
(new-rule) KL stage as the model's ``kl_dir``, measured with the retrained weights themselves.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _carried_kl(run: Path, label: str, recorded: Path | None, train: Path, eval_dir: Path | None) -> Path:
    """The KL result to compare with: one measured *before* the fine-tune now in ``train`` finished
    training (older than its ``.done``), so with the weights that were evaluated. A KL measured
    afterwards came from these very weights, and agreeing with it proves nothing: a later sitting
    (the secondaries' new-rule KL) records that one as the model's ``kl_dir``. The manifest's
    ``kl_dir`` is taken when it is older, else the one older ``predict/LABEL-*`` result on the
    answers of the model's evaluation (``eval_dir``; a dev run's KL is on other answers)."""
    from sdft.errors import DataError

    trained = (train / ".done").stat().st_mtime

    def older(d: Path) -> bool:
        f = d / "kl_to_seed.json"
        if not f.is_file() or f.stat().st_mtime >= trained:
            return False
        try:
            on = Path(json.loads(f.read_text(encoding="utf-8"))["predictions"]).parent.parent.name
        except (ValueError, KeyError, TypeError):
            return False
        return eval_dir is not None and on == eval_dir.name
    if recorded is not None and older(recorded):
        return recorded
    found = sorted(d for d in (run / "predict").glob(f"{label}-*") if d.is_dir() and older(d))
    if len(found) == 1:
        return found[0]
    if not found:
        raise DataError(f"{label}: every KL to the seed of it in {run / 'predict'} was measured after its fine-tune "
                        f"in {train} finished training, so with these weights: nothing carried to check against "
                        "(name one with --kl-dir)")
    raise DataError(f"{label}: {len(found)} KL results older than its fine-tune ({', '.join(d.name for d in found)}); "
                    "name the carried one with --kl-dir")


def check(run: Path, label: str, against: str | None = None) -> tuple[int, int, float]:
    """(items identical, items, largest relative difference) for ``label`` in ``run``, against the
    KL result in ``against`` (a ``predict/`` folder) or else the carried one (:func:`_carried_kl`)."""
    from sdft.analyze.kl import KL_FILE, kl_per_item
    from sdft.analyze.runfiles import load_run, path_in
    from sdft.errors import DataError
    from sdft.evaluate.generative import refill

    manifest = load_run(run)
    model = next((m for m in manifest["models"] if m.get("label") == label), None)
    if model is None:
        raise DataError(f"{run / 'manifest.json'}: no model {label!r} (carry_run.py restore fills the list)")
    train = path_in(manifest, model.get("train_dir"))
    eval_dir = path_in(manifest, model.get("eval_dir"))
    if train is None or not (train / ".done").is_file() or not any(
            (train / f).is_file() for f in ("adapter_model.safetensors", "adapter_model.bin")):
        raise DataError(f"{label}: no trained LoRA weights in its train_dir {model.get('train_dir')!r}: "
                        "train it again first")
    kl_dir = Path(against) if against else _carried_kl(run, label, path_in(manifest, model.get("kl_dir")), train,
                                                                eval_dir)
    if not (kl_dir / KL_FILE).is_file():
        raise DataError(f"{label}: no {KL_FILE} in {kl_dir} to check against")
    try:
        old = json.loads((kl_dir / KL_FILE).read_text(encoding="utf-8"))
        bench, items = Path(old["predictions"]).parent.name, old["per_item"]
        ids = [x["id"] for x in items]
    except (ValueError, KeyError, TypeError) as e:
        raise DataError(f"{kl_dir / KL_FILE}: not a KL result with 'predictions' and 'per_item' ({e!r})") from None
    if not ids:
        raise DataError(f"{kl_dir / KL_FILE}: no item to compare")
    predictions = eval_dir / bench / "predictions.jsonl" if eval_dir else None
    if predictions is None or not predictions.is_file():
        raise DataError(f"{label}: no {bench} predictions under its eval_dir {model.get('eval_dir')!r}")
    lines = predictions.read_text(encoding="utf-8").splitlines()
    by_id = {r["id"]: r for r in map(json.loads, filter(str.strip, lines))}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise DataError(f"{predictions}: record {missing[0]!r} of {kl_dir / KL_FILE} is not there")

    from sdft import models
    from sdft.experiment import from_record

    model_spec = from_record(manifest["manifest"].get("config") or {}, f"{run / 'manifest.json'}: config").model
    dtype = (((manifest["manifest"].get("stages") or {}).get(f"predict/{label}") or {}).get("dtype")) or "float32"
    net, tok = models.load(model_spec, adapter=str(train), dtype=dtype, padding_side="right")
    new, _, _ = kl_per_item(net, tok, refill([by_id[i] for i in ids], predictions, tok))
    same, worst = 0, 0.0
    for a, b in zip(items, new):
        if a == b:
            same += 1
        else:
            worst = max(worst, abs(a["kl"] - b["kl"]) / max(abs(a["kl"]), 1e-12))
    _record(train, label, kl_dir, run, same, len(items), worst)
    return same, len(items), worst


def _record(train: Path, label: str, kl_dir: Path, run: Path, same: int, n: int, worst: float) -> None:
    """The check's outcome beside the weights it checked (``identity.json``), so that the report
    labels what is read from a retrained sibling's weights (:func:`sdft.analyze.runfiles.retrained`)
    and the carry keeps it with the fine-tune's folder."""
    import datetime

    from sdft.analyze.runfiles import IDENTITY_FILE
    from sdft.runs import write_text

    try:
        compared = str(kl_dir.resolve().relative_to(run.resolve()))
    except ValueError:
        compared = str(kl_dir)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), None) if Path("/proc/cpuinfo").is_file() else None
    write_text(train / IDENTITY_FILE, json.dumps({
        "label": label, "same_weights": same == n, "identical": same, "items": n, "max_rel_diff": worst,
        "compared_with": compared, "weights_finished": (train / ".done").stat().st_mtime,
        "checked": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu or __import__("platform").processor() or None}, indent=1) + "\n")


def main(argv: list[str]) -> int:
    from sdft.errors import SdftError

    against = None
    if "--kl-dir" in argv:
        i = argv.index("--kl-dir")
        against, argv = (argv[i + 1] if i + 1 < len(argv) else ""), argv[:i] + argv[i + 2:]
    if len(argv) < 2 or against == "" or (against and len(argv) != 2):
        print("usage: kl_identity.py RUN LABEL [LABEL ...]  |  kl_identity.py RUN LABEL --kl-dir PREDICT_DIR",
              file=sys.stderr)
        return 2
    run, ok = Path(argv[0]), True
    for label in argv[1:]:
        try:
            same, n, worst = check(run, label, against)
        except SdftError as e:
            print(f"kl_identity.py: error: {e}", file=sys.stderr)
            return 2
        ok &= same == n
        verdict = "the evaluated weights" if same == n else "a retrained sibling, not the evaluated weights"
        print(f"{label}: {same} of {n} items identical to the last digit, largest relative difference "
              f"{worst:.2e}: {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
