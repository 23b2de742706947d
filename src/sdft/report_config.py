"""The settings of `sdft report`, and an experiment config's ``report`` section: below both the
experiment config and the report package (which reads experiment configs back from manifests)."""

from __future__ import annotations

from dataclasses import dataclass

from sdft.errors import ConfigError


@dataclass
class ReportConfig:
    """Settings of `sdft report`.

    out: folder for report.md, report.html, summary.json and the figures
        (default: RUN_DIR/report for one run folder, else ./report)
    title: heading of the report (default: the run names)
    figures: draw figures (benchmark bars, changes vs the seed, loss curves, trajectory, sweeps, similarity)
    primary: endpoint whose method contrast is listed first, marked as the primary endpoint, and read
        by the decision rule (better / worse / no difference detected from its 95% CI, in summary.json)
    seed_test_alpha: the decision rule also needs the exact permutation test over training seeds
        (two-sided p, at least two seeds a side) at this level: better only if p <= it and the CI
        lies wholly on the better side of 0 (a pre-registered rule such as GSM8K v2's 0.05)
    decide: the methods whose contrast with vanilla the decision rule reads (default: every
        method); a plan's secondary methods stay descriptive (GSM8K v2: [sdft])
    non_inferiority: margins in percentage points per endpoint, e.g. {gsm8k: 5}: each decided
        method is non-inferior to vanilla there when its 95% CI against vanilla stays above minus the
        margin (below plus it where lower is better); stated beside the decision rule, apart from it
    flip_items: most flipped items shown per benchmark in report.html's flip browser (0 = no browser)
    verdict: a person's reading of the results, shown at the top and saved in summary.json
        (default: the one already in OUT/summary.json, else the run's own RUN_DIR/report/summary.json)
    """

    out: str | None = None
    title: str | None = None
    figures: bool = True
    primary: str | None = "advbench"
    flip_items: int = 20
    verdict: str | None = None
    seed_test_alpha: float | None = None
    decide: list[str] | None = None
    non_inferiority: dict[str, float] | None = None

    def __post_init__(self) -> None:
        if self.seed_test_alpha is not None and not 0 < self.seed_test_alpha < 1:
            raise ConfigError(f"seed_test_alpha: {self.seed_test_alpha} is not a level between 0 and 1")
        for key, margin in (self.non_inferiority or {}).items():
            if not margin > 0:
                raise ConfigError(f"non_inferiority.{key}: the margin must be a positive number of points, got "
                                  f"{margin}")


def check_decide(decide: list[str] | None, methods: list[str], where: str, of: str = "this config") -> None:
    """``decide`` (None: every method) must name methods of ``methods`` other than vanilla, each
    decided against it: a typo or vanilla itself would leave the rule nothing to read. The one
    rule of `sdft validate` (a config's ``report.decide``, ``where`` naming the file and field)
    and `sdft report` (``methods``: those the runs have fine-tunes of); ConfigError otherwise."""
    decided = [m for m in dict.fromkeys(methods) if m != "vanilla"]
    if decide is not None and (not decide or set(decide) - set(decided)):
        raise ConfigError(f"{where}: {decide} must name methods of {of} other than vanilla (each is decided "
                          f"against it): {', '.join(decided) or 'none'}")
