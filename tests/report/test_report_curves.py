"""Figures along training: loss curves per method and the dev-slice trajectory, from saved files."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdft.analyze import figures, runfiles
from sdft.analyze.runfiles import load_run
from sdft.report import curves

SEEDED = Path(__file__).resolve().parents[1] / "fixtures" / "runs" / "seeded"


@pytest.fixture()
def drawn(monkeypatch):
    """The figures the functions save, kept for inspection (they are still written)."""
    figs = []

    def keep(fig, out_base):
        figs.append(fig)
        return figures.save(fig, out_base)

    monkeypatch.setattr(curves, "save", keep)
    return figs


def test_running_mean_over_a_window():
    assert curves._running_mean([1.0, 2.0, 3.0, 4.0], 2) == [1.0, 1.5, 2.5, 3.5]
    assert curves._running_mean([4.0, 2.0], 1) == [4.0, 2.0]
    assert curves._running_mean([], 3) == []


def test_loss_curves_one_panel_per_method_sharing_the_loss_axis(tmp_path, drawn):
    logs = {"vanilla-s1": [{"step": s, "loss": 2.0 - 0.1 * s} for s in range(1, 11)],
            "vanilla-s2": [{"step": s, "loss": 1.0} for s in range(1, 11)],
            "sdft-s1": [{"step": 1, "loss": "0.5"}, {"step": 2, "loss": 0.25}],
            "sdft-s2": []}  # no log: left out
    method_of = {"vanilla-s1": "vanilla", "vanilla-s2": "vanilla", "sdft-s1": "sdft", "sdft-s2": "sdft"}
    paths = curves.loss_curves(logs, method_of, tmp_path / "figures" / "loss_curves")
    assert [p.name for p in paths] == ["loss_curves.png", "loss_curves.svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[1].read_text().lstrip().startswith("<?xml")
    (fig,) = drawn
    van, sd = fig.axes
    assert (van.get_title(), sd.get_title()) == ("vanilla: training loss", "sdft: training loss")
    assert [t.get_text() for t in van.get_legend().get_texts()] == ["vanilla-s1 (mean 1.45)", "vanilla-s2 (mean 1.00)"]
    assert [t.get_text() for t in sd.get_legend().get_texts()] == ["sdft-s1 (mean 0.38)"]
    assert len(van.get_lines()) == 4  # raw and smoothed per model
    raw, smooth = (ln.get_ydata() for ln in sd.get_lines())
    assert list(raw) == [0.5, 0.25] and list(smooth) == [0.5, 0.25]  # window max(1, 2/10) = 1
    assert sd.get_shared_y_axes().joined(van, sd)
    assert curves.loss_curves({"a": []}, {}, tmp_path / "none") == [] and not (tmp_path / "none.png").exists()


def test_trajectory_lines_start_at_the_seed():
    run = load_run(SEEDED)
    lines = curves.trajectory_lines(runfiles.trajectory(run))
    assert set(lines) == {"vanilla-s1", "sdft-s1"} and lines["sdft-s1"]["steps"] == [0, 5, 10]
    assert lines["vanilla-s1"]["results"][0]["advbench"]["score"] == 0.80  # the seed's dev score at step 0
    assert (lines["sdft-s1"]["method"], lines["sdft-s1"]["train_seed"]) == ("sdft", 1)


def test_trajectory_lines_without_a_seed_entry_or_with_a_step_zero():
    entries = [{"label": "a", "method": "sdft", "step": 10, "results": {"x": 2}},
               {"label": "a", "method": "sdft", "step": 0, "results": {"x": 0}}]
    assert curves.trajectory_lines(entries)["a"]["steps"] == [0, 10]  # sorted by step, no seed to add
    seed = {"label": "seed", "method": "seed", "step": 0, "results": {"x": -1}}
    assert curves.trajectory_lines([seed, *entries])["a"]["results"] == [{"x": 0}, {"x": 2}]  # own step 0 kept
    assert curves.trajectory_lines([seed]) == {}


def test_trajectory_figure_panels_per_benchmark_and_the_safety_scatter(tmp_path, drawn):
    run = load_run(SEEDED)
    entries = runfiles.trajectory(run)
    paths = curves.trajectory_figure(entries, tmp_path / "trajectory")
    assert [p.name for p in paths] == ["trajectory.png", "trajectory.svg"] and paths[0].stat().st_size > 0
    (fig,) = drawn
    benches = list(dict.fromkeys(b for e in entries for b, r in e["results"].items()
                                 if isinstance((r or {}).get("score"), (int, float))))
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:-1] == [f"{b} on the dev slice (%, 95% CI)" for b in benches]
    assert titles[-1] == "safety vs task along training (labels: step)"  # gsm8k and advbench both there
    assert curves.trajectory_figure([], tmp_path / "empty") == []
