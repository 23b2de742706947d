"""Distribution-shift analysis and the report a user reads.

``pairs`` measures how far fine-tuned outputs moved from the seed's (``similarity``) and how far
the weights moved (``shift``); ``figures`` draws the paper's plots; ``tables`` and ``report``
turn a run folder's saved files into ``report.md`` and a self-contained ``report.html``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class AnalyzeConfig:
    """Settings of `sdft analyze`.

    What to compare
    benchmark: benchmark whose saved predictions are compared (the paper uses AdvBench outputs)
    seed: seed model's eval folder, for use without a run folder
    tuned: fine-tuned models as LABEL=EVAL_DIR[@ADAPTER_DIR], repeatable, for use without a run folder
    seed_model: seed model spec, needed for full-checkpoint parameter shift (default: the run's seed model)

    Output
    out: output folder (default: RUN_DIR/analysis)
    measures: similarity measures to compute, comma-separated
    figures: draw the PNG/SVG figures
    """

    benchmark: str = "advbench"
    seed: str | None = None
    tuned: list[str] = field(default_factory=list)
    seed_model: str | None = None
    out: str | None = None
    measures: list[str] = field(default_factory=lambda: ["bleu4", "rouge_l", "cosine"])
    figures: bool = True


@dataclass
class ReportConfig:
    """Settings of `sdft report`.

    out: folder for report.md, report.html, summary.json and the figures
        (default: RUN_DIR/report for one run folder, else ./report)
    title: heading of the report (default: the run names)
    figures: draw figures (benchmark bars, changes vs the seed, loss curves, trajectory, sweeps, similarity)
    primary: endpoint whose method contrast is listed first, marked as the primary endpoint, and read
        by the decision rule (better / worse / no difference detected from its 95% CI, in summary.json)
    flip_items: most flipped items shown per benchmark in report.html's flip browser (0 = no browser)
    verdict: a person's reading of the results, shown at the top and saved in summary.json
        (default: the one already in OUT/summary.json, if any)
    """

    out: str | None = None
    title: str | None = None
    figures: bool = True
    primary: str | None = "advbench"
    flip_items: int = 20
    verdict: str | None = None
