"""The planning rules of an experiment: which models it compares, in which order.

:func:`plan` names every model of a run (the seed model, each method once per training seed,
then the sweep points), :func:`main_variants` / :func:`main_labels` the main comparison among
them, :func:`followed` the fine-tunes a trajectory evaluates along training and
:func:`interpolation_points` the weight-interpolation points. One home for these rules: the
pipeline builds its stages from them, the report reads from them which models were planned and
which are the main arms (:mod:`sdft.report.arms`), and ``scripts/carry_run.py`` which fine-tunes
wait for trajectory points. It imports only the experiment config, so any layer may use it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from sdft.experiment import ExperimentConfig


@dataclass
class Variant:
    """One model of the comparison: how it is trained (or not, for the seed)."""

    label: str
    method: str  # seed | one of sdft.experiment.METHODS
    sample_size: int | None = None
    mix_ratio: float | None = None
    template: str | None = None
    train_seed: int | None = None
    alpha: float | None = None  # weight interpolation: the fine-tune ``of`` with its LoRA update scaled
    of: str | None = None  # label of the fine-tune an interpolation point scales


def followed(cfg: ExperimentConfig, variants: list[Variant]) -> set[str]:
    """Labels of the fine-tunes a trajectory evaluates along training: the main methods' models of
    ``trajectory.seeds`` (default: the first training seed), no sweep point; none without
    ``trajectory.eval``. ``variants``: :func:`plan`'s."""
    if cfg.trajectory.eval is None:
        return set()
    seeds = set(cfg.trajectory.seeds or cfg.train_seeds[:1])
    return {v.label for v in main_variants(cfg, variants) if v.train_seed in seeds}


def plan(cfg: ExperimentConfig, n_available: int) -> list[Variant]:
    """The models to evaluate, in training order: seed, the main methods per training seed, then
    sweep points (trained with the first seed)."""
    n = min(cfg.sample or n_available, n_available)
    main_template = cfg.distill.template
    seeds = cfg.train_seeds
    out = [Variant("seed", "seed")]
    for s in seeds:
        tag = f"-s{s}" if len(seeds) > 1 else ""
        for m in (m for m in cfg.methods if s in cfg.seeds_of(m)):
            out.append(Variant(m + tag, m, n, {"vanilla": 0.0, "sdft": 1.0}.get(m),
                               main_template if m == "sdft" else None, s))
    first = seeds[0]
    for size in cfg.sweeps.sample_sizes:
        if size != n:
            out += [Variant(f"vanilla-n{size}", "vanilla", size, 0.0, train_seed=first),
                    Variant(f"sdft-n{size}", "sdft", size, 1.0, main_template, first)]
    for r in cfg.sweeps.mix_ratios:
        if r not in (0.0, 1.0):
            out.append(Variant(f"sdft-r{r:g}", "sdft", n, r, main_template, first))
    for t in cfg.sweeps.templates:
        if t != main_template:
            out.append(Variant(f"sdft-{Path(t).stem}", "sdft", n, 1.0, t, first))
    return out


def interpolation_points(cfg: ExperimentConfig, variants: list[Variant]) -> list[Variant]:
    """Weight-interpolation points of the main fine-tunes (of ``sweeps.interpolation_of``'s methods,
    default all): one per alpha strictly inside (0, 1) (alpha 0 is the seed model and 1 the
    fine-tune, evaluated already)."""
    of = set(cfg.sweeps.interpolation_of or cfg.methods)
    return [replace(v, label=f"{v.label}-a{a:g}", alpha=a, of=v.label)
            for v in main_variants(cfg, variants) if v.method in of
            for a in cfg.sweeps.interpolation if 0 < a < 1]


def main_variants(cfg: ExperimentConfig, variants: list[Variant]) -> list[Variant]:
    """The fine-tunes of the main comparison among :func:`plan`'s ``variants``: each method once
    per training seed it trains on (``method_seeds``), seed by seed (the sweep points come after them)."""
    return variants[1:1 + sum(len(cfg.seeds_of(m)) for m in cfg.methods)]


def main_labels(cfg: ExperimentConfig, methods: set[str] | None = None) -> list[str]:
    """Labels of the main comparison, in plan order: the seed model, then each method once per
    training seed (``methods``: only those methods' fine-tunes). The report's main arms and its
    completeness check read them from here."""
    variants = plan(cfg, cfg.sample or 1)  # the sample size names no main model
    return [variants[0].label] + [v.label for v in main_variants(cfg, variants)
                                  if methods is None or v.method in methods]


def point_labels(cfg: ExperimentConfig) -> list[str]:
    """Labels of the weight-interpolation points (:func:`interpolation_points`), in plan order."""
    variants = plan(cfg, cfg.sample or 1)
    return [p.label for p in interpolation_points(cfg, variants)]
