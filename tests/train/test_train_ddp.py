"""Two-process DDP on CPU (gloo, via torchrun) gives the losses of one process with the same
global batch: the scale-out path is the same Trainer, only launched differently."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

DATA = str(Path(__file__).resolve().parents[1] / "fixtures" / "train" / "toy_math.jsonl")


def _train(launcher: list[str], model: str, out: Path, batch_size: int) -> list[float]:
    cmd = [*launcher, "-m", "sdft.cli", "train", "--model", model, "--data", DATA, "--out", str(out),
           "--full", "--lr", "1e-2", "--max-steps", "4", "--batch-size", str(batch_size), "--grad-accum", "1",
           "--max-length", "128", "--save-steps", "100", "--scheduler", "constant", "--no-group-by-length"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    return [json.loads(line)["loss"] for line in (out / "train_log.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_two_process_ddp_matches_one_process_with_the_same_global_batch(tiny_model_dir, tmp_path):
    single = _train([sys.executable], tiny_model_dir, tmp_path / "one", batch_size=4)
    with socket.socket() as s:  # a free port, so parallel test runs do not collide
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                "--master_addr", "127.0.0.1", "--master_port", str(port)]
    ddp = _train(torchrun, tiny_model_dir, tmp_path / "ddp", batch_size=2)
    assert len(single) == len(ddp) == 4
    assert ddp == pytest.approx(single, rel=1e-4)
    assert single[-1] < single[0] - 0.3  # the steps did train
