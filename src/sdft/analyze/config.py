"""The settings of `sdft analyze` (and of an experiment's ``analyze`` section)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass
class AnalyzeConfig:
    """Settings of `sdft analyze`.

    What to compare
    benchmark: benchmark whose saved predictions are compared (the paper uses AdvBench outputs)
    seed_eval: the seed model's eval folder, for use without a run folder (old name: seed)
    tuned: fine-tuned models as LABEL=EVAL_DIR[@ADAPTER_DIR], repeatable, for use without a run folder
    seed_model: seed model spec, needed for full-checkpoint parameter shift (default: the run's seed model)

    Output
    out: output folder (default: RUN_DIR/analysis)
    measures: similarity measures to compute, comma-separated
    figures: draw the similarity histograms (PNG + SVG; the scores' figures are the report's)
    """

    benchmark: str = "advbench"
    seed_eval: str | None = None
    tuned: list[str] = field(default_factory=list)
    seed_model: str | None = None
    out: str | None = None
    measures: list[str] = field(default_factory=lambda: ["bleu4", "rouge_l", "cosine"])
    figures: bool = True

    RENAMED: ClassVar[dict[str, str]] = {"seed": "seed_eval"}  # configs and flags of before

    def __post_init__(self):
        # Checked here, so a typo fails when the config is read, not after the embedding model loaded.
        from sdft.analyze.similarity import MEASURES
        from sdft.errors import ConfigError

        unknown = [m for m in self.measures if m not in MEASURES]
        if unknown:
            raise ConfigError(f"measures: unknown similarity measure(s) {', '.join(map(repr, unknown))}; "
                              f"choose from {', '.join(MEASURES)}")
