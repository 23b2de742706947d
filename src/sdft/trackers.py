"""Experiment trackers: TensorBoard event files for training and for the stages that do not train.

Training reports through transformers' own integrations (``report_to``: ``tensorboard``,
``wandb``, ...). For ``tensorboard`` the events go to a folder we choose (``OUT/tensorboard``
for ``sdft train``; ``RUN/tensorboard/<label>`` under ``sdft run``) instead of transformers'
default (a time-stamped folder under the checkpoints), and ``sdft run`` writes the
distillation and evaluation metrics as scalars into the same tree (:func:`log_scalars`), so
``tensorboard --logdir RUN/tensorboard`` shows one run per model: its training curves, its scores
at each evaluated step (0 for the seed, the snapshots, the end), and one run per distillation.
Only TensorBoard gets the stage metrics; other trackers receive what transformers sends them.
Works offline: nothing but files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def split_report_to(report_to: str | list[str] | None) -> tuple[list[str], bool]:
    """(the integrations transformers should start, whether TensorBoard is asked for)."""
    names = report_to.split(",") if isinstance(report_to, str) else list(report_to or [])
    names = [n.strip() for n in names if n.strip() and n.strip() != "none"]
    tb = "tensorboard" in names or "all" in names
    return [n for n in names if n != "tensorboard"] or ["none"], tb


def summary_writer(log_dir: str | Path):
    """A TensorBoard ``SummaryWriter`` (torch's, else tensorboardX's)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            from sdft.config import ConfigError

            raise ConfigError("report_to tensorboard needs the tensorboard package: "
                              "pip install 'sdft-toolkit[tensorboard]'") from None
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    return SummaryWriter(log_dir=str(log_dir))


def tensorboard_callback(log_dir: str | Path):
    """transformers' TensorBoardCallback writing to ``log_dir``."""
    from transformers.integrations import TensorBoardCallback

    return TensorBoardCallback(tb_writer=summary_writer(log_dir))


def log_scalars(log_dir: str | Path, scalars: dict[str, Any], step: int = 0) -> None:
    """Write the numeric values of ``scalars`` (tag -> value) at ``step`` into ``log_dir``."""
    writer = summary_writer(log_dir)
    try:
        for tag, value in scalars.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                writer.add_scalar(tag, value, step)
    finally:
        writer.close()


def log_once(log_dir: Path, key: str, name: str, scalars: dict[str, Any], step: int = 0) -> bool:
    """:func:`log_scalars` once per ``key`` (a ``.logged-<key>`` marker naming ``name`` beside the
    events), so a resumed run does not log a finished stage twice; whether it logged now."""
    done = log_dir / f".logged-{key}"
    if done.exists():
        return False
    log_scalars(log_dir, scalars, step)
    done.write_text(name + "\n")
    return True


def eval_scalars(eval_dir: Path) -> dict[str, Any]:
    """An evaluation's scores as ``eval/<benchmark>`` (from its results.json)."""
    res = json.loads((eval_dir / "results.json").read_text(encoding="utf-8"))
    return {f"eval/{b}": e["score"] for b, e in res["benchmarks"].items()}


def distill_scalars(distill_dir: Path) -> dict[str, Any]:
    """A distillation's kept rate and counts, and its NLL gap, as ``distill/...`` (from its report)."""
    rep = json.loads((distill_dir / "distill_report.json").read_text(encoding="utf-8"))
    nll = rep.get("nll") or {}
    scalars = {f"distill/{k}": rep.get(k) for k in ("kept_rate", "kept", "distilled", "fallback")}
    return scalars | {f"distill/nll_{k}": (nll.get(k) or {}).get("nll_per_token") for k in ("original", "distilled")}


def read_scalars(log_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in ``log_dir``'s event files as {tag: [(step, value), ...]} (tests, reports)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
