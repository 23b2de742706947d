"""The stage folders of a run: each stage's key, its ``.done`` marker, and the manifest that
records them (:class:`Run`).

A stage's folder is named by a hash of the settings and inputs it depends on (:func:`key_of` of
its config as :func:`keyed` sees it, and the markers of the stages it reads), and holds a
``.done`` marker naming that key once finished. A long experiment is resumed from these folders,
so a key may change only when the result would: the lists below say which settings a key leaves
out or hashes at their old defaults, so that settings added later keep finished runs' keys
(``tests/fixtures/stage_keys.json`` pins them).

One precision per experiment: every stage that loads a model records the dtype it resolved
(``dtype: auto`` is bfloat16 on CPUs with AMX-BF16 / AVX512-BF16, float32 elsewhere) on its
manifest entry and in the manifest's ``dtypes``; a run resumed where the same config dtype would
resolve otherwise stops before the next such stage instead of mixing bf16 and float32 models
(an explicit dtype resolves the same on every machine). Stage keys hold the config's dtype, as before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Callable

from sdft.experiment import ExperimentConfig, as_record
from sdft.locks import output_lock
from sdft.planning import Variant
from sdft.runs import computing, cpu_model, git_hash, provenance, write_json

log = logging.getLogger(__name__)

# Settings that change where a result is published or logged, not what it is, so that adding a
# push or a tracker to a finished run re-runs nothing. Fields new with the hub support are left
# out of stage keys; report_to (in the keys before) is hashed as its default, which keeps the
# keys of runs made before identical (tests/fixtures/stage_keys.json).
HUB_FIELDS = ("push_to_hub", "push_merged", "hub_private")
AS_DEFAULT = ("report_to",)
# Fields added after keys were pinned count only once set away from these defaults, so finished
# runs keep their keys.
DEFAULT_LEFT_OUT = {"refusal_judge": None, "torch_compile": False, "distillation_alpha": None,
                    "distillation_topk": 100, "kl_beta": 0.1, "replay_data": "dolly", "replay_share": 0.2,
                    "replay_answers": None, "replay_max_new_tokens": 256, "teacher_template": None}
# Train fields new with the method comparison that only one method reads: the other methods' keys
# see them at their defaults (so setting kl_beta re-trains the kl fine-tunes only).
OWN_FIELDS = {"onpolicy": ("distillation_alpha", "distillation_topk", "teacher_template"), "kl": ("kl_beta",),
              "replay": ("replay_data", "replay_share", "replay_max_new_tokens")}
# generation.merge_adapter (added later) counts only where it changes what is generated
# (GenerationConfig.merge_record): merged fine-tune evaluations get new folders.


def key_of(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:8]


def keyed(stage_cfg: Any, **replace_with: Any) -> dict[str, Any]:
    """A stage config as its key sees it: ``replace_with`` applied, the hub fields and the
    :data:`DEFAULT_LEFT_OUT` ones still at their defaults left out, and the :data:`AS_DEFAULT`
    ones at their defaults."""
    defaults = {f.name: f.default for f in fields(stage_cfg) if f.name in AS_DEFAULT}
    d = asdict(replace(stage_cfg, **{**defaults, **replace_with}))
    gen = getattr(stage_cfg, "generation", None)
    if gen is not None:
        d["generation"].pop("merge_adapter")
        d["generation"].update(gen.merge_record(getattr(stage_cfg, "adapter", None)))
    return {k: v for k, v in d.items()
            if k not in HUB_FIELDS and not (k in DEFAULT_LEFT_OUT and v == DEFAULT_LEFT_OUT[k])}


def others_left_out(method: str) -> dict[str, Any]:
    """The fields other methods own (:data:`OWN_FIELDS`) at their defaults, for ``method``'s
    train key; replay's own too for replay, whose rows the data stage mixes (training reads
    nothing else)."""
    out = {f: DEFAULT_LEFT_OUT[f] for m, names in OWN_FIELDS.items() if m != method for f in names}
    if method == "replay":
        out.update({f: DEFAULT_LEFT_OUT[f] for f in OWN_FIELDS["replay"]})
    return out


def marker(key: str) -> str:
    """The text of a finished stage's ``.done`` file; later keys include it, so it is computed
    from the key rather than read back, which lets a plan name stages that have not run yet."""
    return key + "\n"


def marked_done(folder: Path, key: str) -> bool:
    """``folder`` holds a finished stage of this key (its ``.done`` marker names the key)."""
    done = folder / ".done"
    return done.exists() and done.read_text().strip() == key


class Run:
    """The run folder and its manifest; every stage goes through :meth:`stage`."""

    def __init__(self, cfg: ExperimentConfig, config_path: str):
        self.cfg = cfg
        self.dir = cfg.run_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / "manifest.json"
        old = json.loads(path.read_text()) if path.exists() else {}
        self.manifest: dict[str, Any] = {
            "name": cfg.name, "config_file": config_path, "config": as_record(cfg),
            "notes": list(cfg.notes), "provenance": provenance(),
            "stages": old.get("stages", {}), "models": [],
            # {stage kind: {config dtype: the dtype it resolved to}}: one precision per experiment
            "dtypes": old.get("dtypes", {}),
        }

    def save(self) -> None:
        write_json(self.dir / "manifest.json", self.manifest)

    def stage(self, name: str, folder: Path, key: str, work: Callable[[], Any],
              dtype: tuple[str, str | None, str | None] | None = None) -> Path:
        """Run ``work`` unless ``folder`` is marked done with this key; record the timing.

        ``dtype``: (stage kind, config dtype, device) of a stage that loads a model
        (:func:`stage_dtype`). The dtype it resolves to here is recorded on the stage and in the
        manifest's ``dtypes``; when an earlier sitting resolved the same config dtype of that kind
        otherwise (``auto`` on another CPU), the run stops before the stage runs."""
        rel = str(folder.relative_to(self.dir))
        if marked_done(folder, key):
            self.manifest["stages"].setdefault(name, {"status": "done", "dir": rel, "key": key})
            log.info("%s: done already (%s)", name, rel)
            return folder
        log.info("%s: running -> %s", name, rel)
        prev = self.manifest["stages"].get(name) or {}
        resumed = prev.get("status") == "running" and prev.get("key") == key  # an earlier sitting was killed
        sittings = prev.get("sittings", 1) + 1 if resumed else 1
        entry = {"status": "running", "dir": rel, "key": key, "sittings": sittings}
        if dtype is not None:
            from sdft import models

            kind, config, device = dtype
            seen = self.manifest["dtypes"].setdefault(kind, {})
            where = f"{name}: this run's {kind} stages (manifest.json dtypes)"
            said = str(config or "auto")
            entry["dtype"] = seen[said] = models.check_dtype(where, seen.get(said), config, device)
        self.manifest["stages"][name] = entry
        self.save()
        t0 = time.perf_counter()
        # The run folder's lock keeps out a second `sdft run`; the stage folder's keeps out a
        # command pointed straight at it (`sdft eval --out RUN/eval/...`) while the stage writes.
        with output_lock(folder, folder=True), computing() as used:
            work()
        wall = time.perf_counter() - t0
        (folder / ".done").write_text(marker(key))
        # the code and the CPU that computed it: a run that spans sessions may span commits and
        # machines; "compute": the device and dtype of each model the stage loaded (checked by
        # benchmarks/gpu_check.py)
        self.manifest["stages"][name] = {"status": "done", "dir": rel, "key": key, "wall_s": round(wall, 1),
                                         "sittings": sittings, "git": git_hash(), "cpu": cpu_model(),
                                         "compute": used,
                                         **({"dtype": entry["dtype"]} if "dtype" in entry else {})}
        self.save()
        log.info("%s: done in %.0f s", name, wall)
        return folder

    def after(self, name: str, rel: str, work: Callable[[], Any]) -> Any:
        """Run one of the stages rebuilt on every run (analysis, report; no key, no marker) and
        record its timing and the models it loaded like :meth:`stage` does."""
        t0 = time.perf_counter()
        with computing() as used:
            result = work()
        self.manifest["stages"][name] = {"status": "done", "dir": rel, "wall_s": round(time.perf_counter() - t0, 1),
                                         "git": git_hash(), "compute": used}
        self.save()
        return result


@dataclass
class Stage:
    """One stage of the plan: ``work`` fills ``folder``; ``cfg`` is the stage's own config (what
    the dry run estimates from); ``variant`` the model it belongs to."""

    name: str
    folder: Path
    key: str
    work: Callable[[], Any]
    kind: str  # distill | data | train | eval | push
    cfg: Any = None
    variant: Variant | None = None
    step: int | None = None


def stage_dtype(st: Stage) -> tuple[str, str | None, str | None] | None:
    """(kind, config dtype, device) of a stage that loads a model here, else None (data and push
    stages; an evaluation or distillation served by an OpenAI-compatible endpoint)."""
    if st.kind == "train":
        return ("train", st.cfg.dtype, None)
    if st.kind in ("eval", "distill") and st.cfg.generation.backend != "openai":
        return (st.kind, st.cfg.generation.dtype, st.cfg.generation.device)
    return None
