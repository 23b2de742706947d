"""Training logs: the loss plot (drawn with matplotlib's object API, so plotting switches no global
backend) and the steps snapshots are saved at."""

from __future__ import annotations

import json
import struct
import subprocess
import sys


def test_plot_loss_writes_the_png_without_pyplot(tmp_path):
    log = tmp_path / "train_log.jsonl"
    log.write_text("".join(json.dumps({"step": s, "loss": 2.0 / s, "lr": 1e-4 * (1 - s / 10)}) + "\n"
                           for s in range(1, 6)))
    png = tmp_path / "loss.png"
    # A fresh interpreter: whether pyplot got imported (and a backend chosen) is only visible there.
    code = ("import sys\nfrom sdft.train.logs import plot_loss\n"
            f"plot_loss({str(log)!r}, {str(png)!r})\n"
            "print('matplotlib.pyplot' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[-1] == "False"
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", head[16:24]) == (720, 420)  # 6 x 3.5 inches at 120 dpi


def test_snapshots_fall_evenly_strictly_inside_training():
    from sdft.train.logs import snapshot_steps

    assert snapshot_steps(100, 3) == [25, 50, 75]
    assert snapshot_steps(2, 3) == [1]  # rounded steps that coincide count once; 0 and the end never
    assert snapshot_steps(10, 0) == []


def test_cpu_time_is_carried_from_a_checkpoint_and_unknown_where_the_checkpoint_had_none(tmp_path):
    from sdft.train.logs import COST_FILE, CostCheckpoints

    counts = {"forward_passes": 8, "backward_passes": 8, "tokens_forwarded": 800, "wall_s": 90.0, "steps_counted": 8}
    (tmp_path / COST_FILE).write_text(json.dumps({**counts, "cpu_s": 150.0}))
    carried = CostCheckpoints(tmp_path, start_step=8).totals(9, wall=10.0, cpu=20.0)
    assert (carried["wall_s"], carried["cpu_s"], carried["steps_counted"]) == (100.0, 170.0, 9)
    # without this sitting's figure: what this process has spent since the callback was made
    assert 150.0 <= CostCheckpoints(tmp_path, start_step=8).totals(9)["cpu_s"] < 160.0
    (tmp_path / COST_FILE).write_text(json.dumps(counts))  # written before CPU time was counted
    assert CostCheckpoints(tmp_path, start_step=8).totals(9, wall=10.0)["cpu_s"] is None
    fresh = CostCheckpoints(None)
    sum(i * i for i in range(300_000))  # spend a little CPU
    assert fresh.totals(1, wall=1.0)["cpu_s"] > 0
