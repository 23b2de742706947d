"""An experiment config: one YAML that names the seed model, the task data, the methods, the
sweeps, and each stage's settings. ``sdft ls`` lists the shipped ones, ``sdft validate`` checks
one without running it.

Stage sections (``distill``, ``train``, ``eval``, ``analyze``) hold fields of that stage's own
config dataclass, so the YAML and the stage's CLI flags share one schema; the fields the
pipeline sets itself (model, data, out, adapter) are refused in a section.

    sdft validate configs/demo.yaml
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdft.config import from_dict, merge_mappings, read_config
from sdft.errors import ConfigError
from sdft.models import DEFAULT_MODEL

# vanilla: SFT on the task's answers; sdft: rewrite self-distillation (SFT on the seed's rewrites,
# the SDFT paper); onpolicy: TRL's on-policy self-distillation; dft: TRL's DFT loss; kl: SFT + beta
# KL to the seed; replay: SFT with the seed's answers to general prompts mixed in. Each one's
# TrainConfig method is TRAIN_METHOD's (replay's rows are mixed by the pipeline's data stage).
METHODS = ("vanilla", "sdft", "onpolicy", "dft", "kl", "replay")
TRAIN_METHOD = {"vanilla": "sft", "sdft": "sft", "onpolicy": "onpolicy", "dft": "dft", "kl": "kl", "replay": "sft"}
# What a reader sees for each method (the config names stay short and stable).
METHOD_NAMES = {"vanilla": "vanilla SFT", "sdft": "rewrite self-distillation",
                "onpolicy": "on-policy self-distillation", "dft": "DFT", "kl": "KL to the seed",
                "replay": "self-replay"}
# Set by the pipeline for every stage, so a section may not set them.
_PIPELINE_FIELDS = {"model", "data", "out", "adapter", "data_dir"}


@dataclass
class SweepConfig:
    """Extra fine-tuned models around the main comparison (paper Figs. 5-8, Table 4).

    sample_sizes: train vanilla and SDFT on the first N of the sampled examples, for each N
    mix_ratios: train SDFT with this fraction of distilled responses (the rest original)
    templates: distil with each of these templates too (using, refer, math, or a file)
    interpolation: weight interpolation (WiSE-FT): evaluate every main LoRA fine-tune with its update
        scaled by each alpha in [0, 1] (0 is the seed, 1 the fine-tune, neither re-evaluated); costs
        evaluation only
    """

    sample_sizes: list[int] = field(default_factory=list)
    mix_ratios: list[float] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    interpolation: list[float] = field(default_factory=list)


@dataclass
class TrajectoryConfig:
    """Forgetting along training: the ``train.snapshots`` of some fine-tunes, evaluated cheaply.

    eval: sdft eval settings for the snapshots (a dev slice, e.g. benchmark_data); empty = no trajectory
    seeds: training seeds whose fine-tunes are followed (default: the first one)
    """

    eval: dict[str, Any] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=list)


@dataclass
class ExperimentConfig:
    """An SDFT experiment: seed model + task data -> vanilla / SDFT / on-policy -> battery -> report.

    Identity:
    name: experiment name (the run folder defaults to runs/<name>)
    description: one line shown by `sdft ls`
    notes: lines shown at the top of the report (caveats a reader must see)
    What:
    model: seed model (alias, local dir, .gguf, or hub id)
    data: training data spec (task, task:split, or a file)
    data_dir: folder of the shared datasets (default: $SDFT_DATA_DIR or ../shared/data)
    sample: seeded subsample of the training data (the paper uses 2000); null = all
    seed: seed of the data sample, the distillation and evaluation (and training, when seeds is empty)
    seeds: training seeds: each method is trained once per seed on the same data (adapter init and batch order differ)
    methods: which fine-tunes to compare: vanilla, sdft (rewrite self-distillation), onpolicy,
        dft, kl (KL to the seed), replay (self-replay); same rows, steps, batch, learning rate and
        training seeds for all (their own knobs live in the train section)
    Where:
    out: run folder (default runs/<name>); re-running resumes it
    Stages (fields of each stage's own config):
    distill: sdft distill settings (template, max_new_tokens, generation: {backend, base_url, ...}, ...)
    train: sdft train settings (lora_r, epochs, lr, batch_size, full, ...)
    eval: sdft eval settings (benchmarks, limit, variants, ...)
    analyze: sdft analyze settings (benchmark, ...)
    sweeps: sample_sizes, mix_ratios, templates, interpolation (see SweepConfig)
    kl_to_seed: measure each main LoRA fine-tune's KL to the seed on its own answers to the
        training task's benchmark (held-out prompts; the "RL's Razor" forgetting predictor)
    trajectory: evaluate training snapshots on a dev slice (see TrajectoryConfig)
    """

    name: str = "experiment"
    description: str = ""
    notes: list[str] = field(default_factory=list)
    model: str = DEFAULT_MODEL
    data: str = ""
    data_dir: str | None = None
    sample: int | None = None
    seed: int = 42
    seeds: list[int] = field(default_factory=list)
    methods: list[str] = field(default_factory=lambda: ["vanilla", "sdft"])
    out: str | None = None
    distill: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    eval: dict[str, Any] = field(default_factory=dict)
    analyze: dict[str, Any] = field(default_factory=dict)
    sweeps: SweepConfig = field(default_factory=SweepConfig)
    trajectory: TrajectoryConfig = field(default_factory=TrajectoryConfig)
    kl_to_seed: bool = False

    @property
    def run_dir(self) -> Path:
        return Path(self.out or Path("runs") / self.name)

    @property
    def train_seeds(self) -> list[int]:
        return list(self.seeds) or [self.seed]


def _stage_classes() -> dict[str, type]:
    # Imported here: each stage module is light at import, but the experiment module is used
    # by `sdft ls`, which should not import them at all.
    from sdft.analyze import AnalyzeConfig
    from sdft.distill import DistillConfig
    from sdft.evaluate.evaluator import EvalConfig
    from sdft.train.config import TrainConfig

    return {"distill": DistillConfig, "train": TrainConfig, "eval": EvalConfig, "analyze": AnalyzeConfig}


def parse_overrides(items: list[str], where: str = "overrides") -> dict[str, Any]:
    """``key.sub=value`` strings as a nested mapping; values are YAML scalars or flow
    collections (``train.lr=2e-4``, ``seeds=[1,2]``, ``eval.benchmarks=[gsm8k]``)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip() or any(not p for p in key.strip().split(".")):
            raise ConfigError(f"{where}: expected KEY.SUB=VALUE, got {item!r}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as e:
            raise ConfigError(f"{where}: {item!r}: the value is not valid YAML: {e}") from None
        node = out
        *parents, leaf = key.strip().split(".")
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{where}: {item!r} sets a key under {p!r}, which another override set to a value")
        node[leaf] = value
    return out


def load_experiment(path: str | Path, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """Read and fully validate a config (its ``base:`` chain, then ``overrides`` on top): unknown
    keys anywhere are errors naming the key."""
    data = merge_mappings(read_config(path), overrides or {})
    cfg = from_dict(ExperimentConfig, data, str(path))
    if not cfg.data:
        raise ConfigError(f"{path}: `data` is required (the training data: a task name or a file)")
    bad = sorted(set(cfg.methods) - set(METHODS))
    if bad or not cfg.methods:
        raise ConfigError(f"{path}: `methods` must be a non-empty subset of {list(METHODS)}, got {cfg.methods}")
    if len(set(cfg.seeds)) != len(cfg.seeds):
        raise ConfigError(f"{path}: `seeds` has duplicates: {cfg.seeds}")
    for a in cfg.sweeps.interpolation:
        if not 0 <= a <= 1:
            raise ConfigError(f"{path}: sweeps.interpolation: {a} is outside [0, 1]")
    if cfg.sweeps.interpolation and cfg.train.get("full"):
        raise ConfigError(f"{path}: sweeps.interpolation scales a LoRA update; a full fine-tune (train.full) "
                          "has none")
    if "kl" in cfg.methods and cfg.train.get("full"):
        raise ConfigError(f"{path}: method kl needs LoRA (the seed is the model with its adapter disabled); "
                          "train.full is set")
    for r in cfg.sweeps.mix_ratios:
        if not 0 <= r <= 1:
            raise ConfigError(f"{path}: sweeps.mix_ratios: {r} is outside [0, 1]")
    for section, cls in _stage_classes().items():
        values = getattr(cfg, section)
        clash = sorted(set(values) & _PIPELINE_FIELDS)
        if clash:
            raise ConfigError(f"{path}: {section}: {', '.join(clash)} is set by the experiment itself; "
                              "put it at the top level")
        from_dict(cls, values, f"{path}: {section}")  # unknown keys / wrong types
    if cfg.trajectory.eval:
        from sdft.evaluate.evaluator import EvalConfig

        clash = sorted(set(cfg.trajectory.eval) & _PIPELINE_FIELDS)
        if clash:
            raise ConfigError(f"{path}: trajectory.eval: {', '.join(clash)} is set by the experiment itself")
        from_dict(EvalConfig, cfg.trajectory.eval, f"{path}: trajectory.eval")
        if not cfg.train.get("snapshots"):
            raise ConfigError(f"{path}: trajectory needs train.snapshots (how many points along training to save)")
    return cfg


def stage_config(cls: type, section: dict[str, Any], where: str, **fixed: Any):
    """A stage's dataclass from its YAML section plus the fields the pipeline fixes."""
    names = {f.name for f in dataclasses.fields(cls)}
    return from_dict(cls, {**section, **{k: v for k, v in fixed.items() if k in names}}, where)


def shipped_configs() -> list[Path]:
    """Configs shipped in the repository's configs/ (source checkout) and ./configs."""
    roots = [Path(__file__).resolve().parents[2] / "configs", Path.cwd() / "configs"]
    seen: dict[Path, None] = {}
    for root in roots:
        if root.is_dir():
            for p in sorted(root.glob("*.yaml")):
                seen.setdefault(p.resolve(), None)
    return list(seen)
