"""The report's figures: along training (loss, trajectory), and sweeps only from three points."""

from __future__ import annotations

from pathlib import Path

from sdft.analyze import runfiles
from sdft.analyze.runfiles import load_run
from sdft.report import build

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"
SEEDED = RUNS / "seeded"
REPO = Path(__file__).resolve().parents[2]


def test_figures_along_training_and_no_two_point_sweeps(built, tmp_path):
    out, _, md, _ = built
    names = {p.name for p in (out / "figures").iterdir()}
    assert {"forest.png", "forest.svg", "loss_curves.png", "trajectory.png", "benchmarks.png"} <= names
    assert not any(n.startswith("sweep_") for n in names) and "## Sweeps" not in md  # mix ratios 0 and 1 only
    assert [r["step"] for r in runfiles.train_logs(load_run(SEEDED))["sdft-s2"]] == list(range(1, 11))

    # The one-seed CPU reproduction: its two mix-ratio points are no sweep; a stale figure goes.
    cpu = tmp_path / "cpu"
    (cpu / "figures").mkdir(parents=True)
    (cpu / "figures" / "sweep_mix_ratio.png").write_bytes(b"old")
    cpu_md = build.write_report([REPO / "docs" / "results" / "cpu_repro"], cpu)["md"].read_text()
    assert not (cpu / "figures" / "sweep_mix_ratio.png").exists() and "## Sweeps" not in cpu_md
    # The demo fixture has three mix-ratio points (0, 0.5, 1) but two sample sizes.
    demo = tmp_path / "demo"
    build.write_report([RUNS / "demo"], demo)
    assert (demo / "figures" / "sweep_mix_ratio.png").exists()
    assert not (demo / "figures" / "sweep_sample_size.png").exists()
