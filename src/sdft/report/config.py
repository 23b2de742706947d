"""The settings of `sdft report`."""

from __future__ import annotations

from dataclasses import dataclass


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
