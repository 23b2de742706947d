"""Fixtures of the report tests: the hand-made run folders under tests/fixtures/runs.

``seeded``: seed, vanilla-s1/-s2 and sdft-s1/-s2; per-item predictions for GSM8K (6 items),
AdvBench (6) and XSTest (4 safe + 3 unsafe prompts), HumanEval as results.json only; a dev-slice
trajectory for seed 1; training logs; a distillation report with an NLL block and its nll.jsonl.
``demo`` and ``ablation``: one model per method, in an older manifest layout.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sdft.report import build

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("seeded_report")
    paths = build.write_report([RUNS / "seeded"], out)
    return out, json.loads(paths["summary"].read_text()), paths["md"].read_text(), paths["html"].read_text()


@pytest.fixture()
def runs(tmp_path) -> Path:
    """A writable copy of the fixture runs (analyze writes into the run folder)."""
    shutil.copytree(RUNS, tmp_path / "runs")
    return tmp_path / "runs"
