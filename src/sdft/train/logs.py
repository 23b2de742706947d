"""Training log files: ``train_log.jsonl`` (one record per logging step) and ``loss.png``, and
the snapshots along training (``snapshots/step-N``: the adapter at a few evenly spaced steps).

The log is append-only like every other stage output. When a run resumes from a checkpoint,
records past that checkpoint's step were written by the killed process and are about to be
produced again, so :func:`trim_log` cuts them first: the final log has each step once.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from transformers import TrainerCallback

from sdft.runs import JsonlWriter, read_jsonl, repair_jsonl, write_json

# Trainer log key -> our key. Everything else the trainer logs is kept under its own name.
_RENAME = {"learning_rate": "lr", "num_input_tokens_seen": "tokens_seen"}
_SKIP = {"train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos", "train_loss",
         "train_tokens_per_second"}


class TrainLogCallback(TrainerCallback):
    """Write every training log event as a JSON line (main process only)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.t0 = time.perf_counter()
        self.wall_before = 0.0  # wall time of earlier (killed) sessions, read from the log on resume
        self._writer: JsonlWriter | None = None

    def on_train_begin(self, args, state, control, **kw):
        if state.is_world_process_zero:
            recs = list(read_jsonl(self.path)) if self.path.exists() else []
            self.wall_before = max((r.get("wall_s", 0.0) for r in recs), default=0.0)
            self._writer = JsonlWriter(self.path, fsync=False)
        self.t0 = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kw):
        if self._writer is None or not logs or not any(k in logs for k in ("loss", "learning_rate")):
            return
        rec = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4)}
        for k, v in logs.items():
            if k not in _SKIP:
                rec[_RENAME.get(k, k)] = v
        rec.setdefault("tokens_seen", state.num_input_tokens_seen)
        rec["wall_s"] = round(self.wall_before + time.perf_counter() - self.t0, 3)
        self._writer.write(rec)

    def on_train_end(self, args, state, control, **kw):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


COST_FILE = "sdft_cost.json"  # in each checkpoint: the training cost counted up to its step
COUNTS = ("forward_passes", "backward_passes", "tokens_forwarded")


class CostCheckpoints(TrainerCallback):
    """Carries the training cost across sittings: each checkpoint gets the counts of every sitting
    so far (:data:`COST_FILE`), and a resumed training starts from its checkpoint's.

    ``resume``: the checkpoint folder the training resumes from (at optimizer step ``start_step``),
    or None. A checkpoint written by
    code older than this file has none: the counts then start at 0 from its step, and
    ``steps_counted`` (the optimizer steps the counts cover) says they cover the later sittings
    only (so do those of a damaged file). Set :attr:`meter` (a
    :class:`~sdft.train.objectives.CostMeter`), :attr:`t0` and :attr:`cpu0` (this sitting's start)
    before training.

    ``cpu_s`` is the training process's CPU time (all its threads): unlike ``wall_s`` it does not
    count the seconds the process sat paused (SIGSTOP while tests ran) or waited off-core, so it
    compares methods trained on a shared CPU machine (on a GPU it is the host's share only); None
    where a sitting's share is unknown (a checkpoint written before it was counted)."""

    def __init__(self, resume: str | Path | None, start_step: int = 0):
        self.start_step = start_step
        self.carried = {**dict.fromkeys(COUNTS, 0), "wall_s": 0.0, "cpu_s": 0.0, "steps_counted": 0}
        if resume:
            try:
                got = json.loads((Path(resume) / COST_FILE).read_text(encoding="utf-8"))
                self.carried = {k: got[k] for k in (*COUNTS, "wall_s", "steps_counted")}
                self.carried["cpu_s"] = got.get("cpu_s")
            except (OSError, ValueError, KeyError, TypeError):
                pass  # none, or cut off mid-write: count from the checkpoint's step
        self.meter = None
        self.t0 = time.perf_counter()
        self.cpu0 = time.process_time()

    def totals(self, step: int, wall: float | None = None, cpu: float | None = None) -> dict:
        """The counts over the sittings counted, at optimizer step ``step`` (``wall`` and ``cpu``:
        this sitting's seconds, else the time since training began); counts None where not metered."""
        now = self.meter.as_dict() if self.meter is not None else dict.fromkeys(COUNTS)
        out = {k: None if now[k] is None or self.carried.get(k) is None else self.carried[k] + now[k] for k in COUNTS}
        out["wall_s"] = round(self.carried["wall_s"] + (time.perf_counter() - self.t0 if wall is None else wall), 2)
        carried = self.carried["cpu_s"]
        now_cpu = time.process_time() - self.cpu0 if cpu is None else cpu
        out["cpu_s"] = None if carried is None else round(carried + now_cpu, 2)
        out["steps_counted"] = self.carried["steps_counted"] + step - self.start_step
        return out

    def on_save(self, args, state, control, **kw):
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if state.is_world_process_zero and folder.is_dir():
            write_json(folder / COST_FILE, self.totals(state.global_step))


def trim_log(path: str | Path, last_step: int) -> None:
    """Drop records after ``last_step`` (written after the checkpoint we resume from)."""
    path = Path(path)
    if not path.exists():
        return
    repair_jsonl(path)
    keep = [r for r in read_jsonl(path) if r.get("step", 0) <= last_step]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in keep), encoding="utf-8")
    tmp.replace(path)


def plot_loss(log_path: str | Path, png_path: str | Path, title: str = "") -> None:
    """Loss (and learning rate on a second axis) against optimizer step."""
    # The object API, as in sdft.analyze.figures: no pyplot, so no global backend is switched
    # inside a library call and no figure is left registered with pyplot.
    from matplotlib.figure import Figure

    recs = [r for r in read_jsonl(log_path) if "loss" in r]
    fig = Figure(figsize=(6, 3.5), dpi=120, layout="tight")
    ax = fig.subplots()
    ax.plot([r["step"] for r in recs], [r["loss"] for r in recs], marker=".", color="tab:blue", label="loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss")
    ax.grid(alpha=0.3)
    lr = [(r["step"], r["lr"]) for r in recs if "lr" in r]
    if lr:
        ax2 = ax.twinx()
        ax2.plot(*zip(*lr), color="tab:gray", alpha=0.5, linewidth=1)
        ax2.set_ylabel("learning rate", color="tab:gray")
    ax.set_title(title or Path(log_path).parent.name, fontsize=9)
    fig.savefig(png_path)


def snapshot_steps(total: int, n: int) -> list[int]:
    """``n`` evenly spaced steps strictly inside ``1..total`` (the final model is the last point)."""
    return sorted({round(total * i / (n + 1)) for i in range(1, n + 1)} - {0, total})


def snapshot_callback(out: Path, n: int, model_spec: str):
    class Snapshots(TrainerCallback):
        """Saves the trained weights at a few steps along training; a resumed run keeps the
        snapshots an earlier sitting saved."""

        steps: list[int] = []

        def on_train_begin(self, args, state, control, **kw):
            self.steps = snapshot_steps(state.max_steps, n)

        def on_step_end(self, args, state, control, model=None, **kw):
            dest = out / "snapshots" / f"step-{state.global_step}"
            if state.global_step in self.steps and state.is_world_process_zero and not dest.exists():
                tmp = dest.with_name(dest.name + ".tmp")
                model.save_pretrained(str(tmp))
                from sdft.models import record_base_model

                record_base_model(tmp, model_spec)
                tmp.rename(dest)

    return Snapshots()
