"""Distribution-shift analysis: pair each fine-tuned model's outputs with the seed's, and measure.

For one benchmark (the paper uses AdvBench), each fine-tuned model's ``predict`` texts are
matched to the seed model's on the shared prompt ids and scored with :mod:`similarity`; each
model with an adapter or checkpoint folder also gets its :mod:`shift` (a folder whose weights
were let go gets the one measured before, from its ``param_shift.json``). The result is the
``analysis.json`` object::

    {"benchmark": "advbench", "seed": {...}, "pairs": {label: {"n", "bleu4": {"mean", "ci95",
     "values"}, "rouge_l": {...}, "cosine": {...}, "ids": [...]}},
     "param_shift": {label: {"kind", "total", "per_module", ...}}, "missing": {label: why}}

Ids present for only one side are dropped (and counted); a model with no predictions for the
benchmark is listed under ``missing`` instead of failing the whole analysis.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from sdft.analyze import runfiles, shift, similarity
from sdft.errors import DataError
from sdft.evaluate.context import bench_folder


def paired_texts(seed: dict[str, dict[str, Any]], tuned: dict[str, dict[str, Any]]):
    """(ids, tuned texts, seed texts) over the ids both sides have, in the seed's order."""
    ids = [i for i in seed if i in tuned]
    text = lambda rec: str(rec.get("predict") or "")  # noqa: E731 - None/absent is an empty answer
    return ids, [text(tuned[i]) for i in ids], [text(seed[i]) for i in ids]


def analyze(seed_eval: str | Path, tuned: dict[str, dict[str, Any]], benchmark: str = "advbench",
            seed_model: str | None = None, measures: tuple[str, ...] = similarity.MEASURES,
            encode: Callable | None = None, progress: bool = True) -> dict[str, Any]:
    """``tuned``: {label: {"eval_dir": path, "adapter": path or None}}."""
    seed_preds = runfiles.predictions(seed_eval, benchmark)
    if seed_preds is None:
        raise DataError(f"{bench_folder(seed_eval, benchmark) / 'predictions.jsonl'}: the seed model has no "
                        f"predictions for {benchmark!r}; evaluate it first")
    if "cosine" in measures and encode is None and tuned:
        encode = similarity.load_encoder()
    out: dict[str, Any] = {"benchmark": benchmark, "seed": {"eval_dir": str(seed_eval), "n": len(seed_preds),
                                                             "model": seed_model},
                           "measures": list(measures), "pairs": {}, "param_shift": {}, "missing": {}}
    from tqdm.auto import tqdm

    for label, t in tqdm(tuned.items(), desc=f"analyze {benchmark}", disable=not progress):
        preds = runfiles.predictions(t.get("eval_dir"), benchmark)
        if preds is None:
            folder = bench_folder(t.get("eval_dir") or "", benchmark).name
            out["missing"][label] = f"no {folder}/predictions.jsonl under {t.get('eval_dir')}"
        else:
            ids, hyps, refs = paired_texts(seed_preds, preds)
            pair = similarity.compare(hyps, refs, measures, encode)
            pair["ids"] = ids
            pair["unpaired"] = len(preds) - len(ids)
            out["pairs"][label] = pair
        if t.get("adapter"):
            out["param_shift"][label] = shift.parameter_shift(t["adapter"], seed_model)
        elif t.get("shift_file"):  # measured before the weights were let go (scripts/carry_run.py)
            out["param_shift"][label] = json.loads(Path(t["shift_file"]).read_text(encoding="utf-8"))
    return out


def tuned_from_run(run: dict[str, Any]) -> tuple[Path, str | None, dict[str, dict[str, Any]]]:
    """(seed eval dir, seed model spec, tuned models) from a run's manifest."""
    seed = runfiles.find_model(run, "seed")
    if seed is None or not seed.get("eval_dir"):
        raise DataError(f"{run['dir'] / 'manifest.json'}: models: no entry with method 'seed' and an eval_dir")
    tuned = {}
    for m in run["models"]:
        if m is seed or not m.get("eval_dir"):
            continue
        adapter = runfiles.path_in(run, m.get("adapter") or m.get("train_dir"))
        weights = adapter is not None and _has_weights(adapter)
        shift_file = adapter / "param_shift.json" if adapter is not None else None
        tuned[m["label"]] = {"eval_dir": runfiles.path_in(run, m["eval_dir"]),
                             "adapter": adapter if weights else None,
                             "shift_file": shift_file if not weights and shift_file and shift_file.is_file() else None}
    return runfiles.path_in(run, seed["eval_dir"]), seed.get("model"), tuned


WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin", "model.safetensors", "model.safetensors.index.json",
                "pytorch_model.bin")


def _has_weights(d: Path) -> bool:
    # A train folder may hold only summaries (a run still training, or one carried across
    # machines without its weights): no shift to measure from it.
    return any((d / f).is_file() for f in WEIGHT_FILES)


def parse_tuned(specs: list[str]) -> dict[str, dict[str, Any]]:
    """``LABEL=EVAL_DIR[@ADAPTER_DIR]`` strings from the command line."""
    from sdft.errors import ConfigError

    out = {}
    for s in specs:
        label, sep, rest = s.partition("=")
        if not sep or not label or not rest:
            raise ConfigError(f"--tuned {s!r}: expected LABEL=EVAL_DIR[@ADAPTER_DIR]")
        eval_dir, _, adapter = rest.partition("@")
        out[label] = {"eval_dir": Path(eval_dir), "adapter": Path(adapter) if adapter else None}
    return out
