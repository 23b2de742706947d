"""An experiment config: one YAML that names the seed model, the task data, the methods, the
sweeps, and each stage's settings. ``sdft ls`` lists the shipped ones, ``sdft validate`` checks
one without running it.

Stage sections (``distill``, ``train``, ``eval``, ``analyze``, and ``report``) are that stage's
own config dataclass, read from the YAML with the same schema as the stage's CLI flags, and read
by attribute; the fields the pipeline sets itself (model, data, out, adapter, data_dir) are
refused in a section, and the pipeline fills them in (:func:`stage_config`). The report is
rebuilt at the end of every run, so its section decides no stage.

    sdft validate configs/demo.yaml
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sdft.analyze.config import AnalyzeConfig
from sdft.config import from_dict, merge_mappings, read_config
from sdft.distill.run import DistillConfig
from sdft.errors import ConfigError
from sdft.evaluate.evaluator import EvalConfig
from sdft.models import DEFAULT_MODEL
from sdft.overrides import blame
from sdft.overrides import parse_overrides as parse_overrides  # re-exported: `sdft run` and logs import it here
from sdft.report_config import ReportConfig, check_decide
from sdft.train.config import TrainConfig

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
T = TypeVar("T")


@dataclass
class SweepConfig:
    """Extra fine-tuned models around the main comparison (paper Figs. 5-8, Table 4).

    sample_sizes: train vanilla and SDFT on the first N of the sampled examples, for each N
    mix_ratios: train SDFT with this fraction of distilled responses (the rest original)
    templates: distil with each of these templates too (using, refer, math, or a file)
    interpolation: weight interpolation (WiSE-FT): evaluate every main LoRA fine-tune with its update
        scaled by each alpha in [0, 1] (0 is the seed, 1 the fine-tune, neither re-evaluated); costs
        evaluation only
    interpolation_of: methods whose fine-tunes get the interpolation points (default: every method)
    """

    sample_sizes: list[int] = field(default_factory=list)
    mix_ratios: list[float] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    interpolation: list[float] = field(default_factory=list)
    interpolation_of: list[str] = field(default_factory=list)


@dataclass
class TrajectoryConfig:
    """Forgetting along training: the ``train.snapshots`` of some fine-tunes, evaluated cheaply.

    eval: sdft eval settings for the snapshots (a dev slice, e.g. benchmark_data); unset = no trajectory
    seeds: training seeds whose fine-tunes are followed (default: the first one)
    """

    eval: EvalConfig | None = None
    seeds: list[int] = field(default_factory=list)

    def __post_init__(self):
        # A mapping here comes from a manifest (load_experiment reads the YAML's with its path);
        # an empty one, as manifests write "no trajectory", is none.
        if isinstance(self.eval, dict):
            self.eval = from_dict(EvalConfig, self.eval, "trajectory.eval") if self.eval else None


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
        dft, kl (KL to the seed), replay (self-replay); same task rows, epochs, batch, learning rate
        and training seeds for all (replay adds its rows, so it trains more steps), their own knobs
        in the train section
    method_seeds: a method trained on only some of the training seeds, e.g. {onpolicy: [1, 2, 3]}
        for a costly secondary method beside five-seed main arms (default: every seed)
    Where:
    out: run folder (default runs/<name>); re-running resumes it
    Stages (fields of each stage's own config):
    distill: sdft distill settings (template, max_new_tokens, generation: {backend, base_url, ...}, ...)
    train: sdft train settings (lora_r, epochs, lr, batch_size, full, ...)
    eval: sdft eval settings (benchmarks, limit, variants, ...)
    analyze: sdft analyze settings (benchmark: default advbench where evaluated, else the first
        evaluated benchmark with generated answers; ...)
    report: sdft report settings (primary, seed_test_alpha, title, ...): the endpoint and decision
        rule a plan fixed, applied by every run's report
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
    method_seeds: dict[str, list[int]] = field(default_factory=dict)
    out: str | None = None
    distill: DistillConfig = field(default_factory=DistillConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    analyze: AnalyzeConfig = field(default_factory=AnalyzeConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    sweeps: SweepConfig = field(default_factory=SweepConfig)
    trajectory: TrajectoryConfig = field(default_factory=TrajectoryConfig)
    kl_to_seed: bool = False

    @property
    def run_dir(self) -> Path:
        return Path(self.out or Path("runs") / self.name)

    @property
    def train_seeds(self) -> list[int]:
        return list(self.seeds) or [self.seed]

    def seeds_of(self, method: str) -> list[int]:
        """The training seeds ``method`` is trained on (``method_seeds``, else every one)."""
        chosen = self.method_seeds.get(method)
        return [s for s in self.train_seeds if s in chosen] if chosen else self.train_seeds


# Each stage section's config class (the stage modules are light at import: no torch).
STAGE_SECTIONS = {"distill": DistillConfig, "train": TrainConfig, "eval": EvalConfig, "analyze": AnalyzeConfig,
                  "report": ReportConfig}


def _section(cls: type, values: Any, where: str):
    """One stage section from its YAML mapping: the pipeline's own fields refused, unknown keys
    and wrong types named (with the file and section, as are the stage's own checks)."""
    if isinstance(values, cls):
        return values
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping of {cls.__name__} fields, got {values!r}")
    clash = sorted(set(values) & _PIPELINE_FIELDS)
    if clash:
        raise ConfigError(f"{where}: {', '.join(clash)} is set by the experiment itself; put it at the top level")
    try:
        return from_dict(cls, values, where)
    except ConfigError as e:
        if str(e).startswith(where):
            raise
        raise ConfigError(f"{where}: {e}") from None


def load_experiment(path: str | Path, overrides: dict[str, Any] | None = None,
                    origins: dict[str, str] | None = None) -> ExperimentConfig:
    """Read and fully validate a config (its ``base:`` chain, then ``overrides`` on top): unknown
    keys anywhere are errors naming the key. An error the file alone does not have names the
    override that causes it, as ``origins`` spells it (dotted key -> ``train.lr=abc``, ``--out X``)."""
    try:
        return _load(path, overrides)
    except ConfigError as e:
        if not overrides:
            raise
        raise blame(e, path, overrides, origins, _load) from None


def _load(path: str | Path, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    data = merge_mappings(read_config(path), overrides or {})
    # (read before the section becomes an AnalyzeConfig, whose default cannot tell "not set")
    analyze = data.get("analyze")
    analyze_set = analyze is not None and (not isinstance(analyze, dict) or "benchmark" in analyze)
    for section, cls in STAGE_SECTIONS.items():
        if section in data:
            data[section] = _section(cls, data[section], f"{path}: {section}")
    trajectory = data.get("trajectory")
    if isinstance(trajectory, dict) and trajectory.get("eval"):  # an empty one: no trajectory
        trajectory = data["trajectory"] = dict(trajectory)
        trajectory["eval"] = _section(EvalConfig, trajectory["eval"], f"{path}: trajectory.eval")
    cfg = from_dict(ExperimentConfig, data, str(path))
    if not cfg.data:
        raise ConfigError(f"{path}: `data` is required (the training data: a task name or a file)")
    _check_data(cfg.data, path)
    if cfg.data_dir is not None and not Path(cfg.data_dir).expanduser().is_dir():
        # (checked here so that the error names this key; the data loaders would blame --data-dir)
        raise ConfigError(f"{path}: data_dir: {cfg.data_dir} is not a folder (the shared datasets' folder)")
    for where, ecfg in (("eval", cfg.eval), ("trajectory.eval", cfg.trajectory.eval)):
        _check_benchmark_data(ecfg, f"{path}: {where}")
    if cfg.run_dir.exists() and not cfg.run_dir.is_dir():
        raise ConfigError(f"{path}: out: {cfg.run_dir} is an existing file, not a run folder")
    if cfg.sample is not None and cfg.sample < 1:  # (random.sample would fail in the first stage)
        raise ConfigError(f"{path}: sample: must be a positive number of examples (or null for all), "
                          f"got {cfg.sample}")
    if any(n < 1 for n in cfg.sweeps.sample_sizes):
        raise ConfigError(f"{path}: sweeps.sample_sizes: {cfg.sweeps.sample_sizes} must be positive numbers of "
                          "examples")
    bad = sorted(set(cfg.methods) - set(METHODS))
    if bad or not cfg.methods:
        raise ConfigError(f"{path}: `methods` must be a non-empty subset of {list(METHODS)}, got {cfg.methods}")
    # a value given twice would plan the same stages (or report the same column) twice
    sw = cfg.sweeps
    for key, values in (("methods", cfg.methods), ("seeds", cfg.seeds), ("eval.benchmarks", cfg.eval.benchmarks),
                        ("sweeps.templates", sw.templates), ("sweeps.sample_sizes", sw.sample_sizes),
                        ("sweeps.mix_ratios", sw.mix_ratios), ("sweeps.interpolation", sw.interpolation),
                        ("sweeps.interpolation_of", sw.interpolation_of)):
        if twice := sorted({str(v) for v in values if list(values).count(v) > 1}):
            raise ConfigError(f"{path}: `{key}` names {', '.join(twice)} more than once: {list(values)}")
    for m, chosen in cfg.method_seeds.items():
        if m not in cfg.methods:
            raise ConfigError(f"{path}: method_seeds: {m!r} is not one of the methods {cfg.methods}")
        if not chosen or set(chosen) - set(cfg.train_seeds):
            raise ConfigError(f"{path}: method_seeds.{m}: {chosen} must be a non-empty subset of the "
                              f"training seeds {cfg.train_seeds}")
    if set(cfg.sweeps.interpolation_of) - set(cfg.methods):
        raise ConfigError(f"{path}: sweeps.interpolation_of: {cfg.sweeps.interpolation_of} names a method "
                          f"not in {cfg.methods}")
    for a in cfg.sweeps.interpolation:
        if not 0 <= a <= 1:
            raise ConfigError(f"{path}: sweeps.interpolation: {a} is outside [0, 1]")
    if cfg.sweeps.interpolation and cfg.train.full:
        raise ConfigError(f"{path}: sweeps.interpolation scales a LoRA update; a full fine-tune (train.full) "
                          "has none")
    if "kl" in cfg.methods and cfg.train.full:
        raise ConfigError(f"{path}: method kl needs LoRA (the seed is the model with its adapter disabled); "
                          "train.full is set")
    for r in cfg.sweeps.mix_ratios:
        if not 0 <= r <= 1:
            raise ConfigError(f"{path}: sweeps.mix_ratios: {r} is outside [0, 1]")
    try:  # the train section's own checks (dtype, lr, ...) now, not when the first model trains
        dataclasses.replace(cfg.train, data="-", out="-").validate()
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    if cfg.trajectory.eval is not None and not cfg.train.snapshots:
        raise ConfigError(f"{path}: trajectory needs train.snapshots (how many points along training to save)")
    _check_templates(cfg, path)
    check_decide(cfg.report.decide, cfg.methods, f"{path}: report.decide")
    cfg.analyze = _analyzed(cfg, analyze_set, path)
    return cfg


def _check_data(spec: str, path: str | Path) -> None:
    """``data`` resolved as the first stage will (a task's name and split, or a file), unread."""
    from sdft.data.tasks import check_spec  # the task table's readers: not at import
    from sdft.errors import DataError

    try:
        check_spec(spec)
    except DataError as e:
        raise ConfigError(f"{path}: data: {e}") from None


def _check_benchmark_data(ecfg: EvalConfig | None, where: str) -> None:
    """Each ``benchmark_data`` entry resolved as its benchmark will (a task slice, a file), unread."""
    from sdft.data.tasks import check_benchmark_spec
    from sdft.errors import DataError

    for name, spec in (ecfg.benchmark_data if ecfg else {}).items():
        try:
            check_benchmark_spec(spec)
        except DataError as e:
            raise ConfigError(f"{where}: benchmark_data.{name}: {e}") from None


def _check_templates(cfg: ExperimentConfig, path: str | Path) -> None:
    """Each distillation template named (built-in or file) loads now, not when its stage starts."""
    from sdft.distill.templates import load_template

    named = [("distill.template", cfg.distill.template), ("train.teacher_template", cfg.train.teacher_template)]
    for where, name in named + [("sweeps.templates", t) for t in cfg.sweeps.templates]:
        if name:
            try:
                load_template(name)
            except ConfigError as e:
                raise ConfigError(f"{path}: {where}: {str(e).removeprefix('template: ')}") from None


def _analyzed(cfg: ExperimentConfig, explicit: bool, path: str | Path) -> AnalyzeConfig:
    """The analyze section with its benchmark one the run evaluates with generated answers (what
    the analysis compares). Left unset, it is the paper's advbench where that is evaluated, else
    the first such benchmark evaluated (a config that evaluates only gsm8k analyses gsm8k); set,
    it must be one of them."""
    from sdft import evaluate as battery
    from sdft.evaluate.knowledge import KnowledgeOptions

    generated = [b for b in battery.expand(cfg.eval.benchmarks)
                 if not issubclass(battery.get(b).options, KnowledgeOptions)]
    if cfg.analyze.benchmark in generated:
        return cfg.analyze
    if explicit or not generated:
        raise ConfigError(f"{path}: analyze.benchmark: {cfg.analyze.benchmark!r} is not a benchmark this run "
                          f"evaluates with generated answers ({', '.join(generated) or 'eval.benchmarks has none'})")
    return dataclasses.replace(cfg.analyze, benchmark=generated[0])


def stage_config(cls: type[T], section: T, where: str, **fixed: Any) -> T:
    """A stage's config: the experiment's ``section`` (a ``cls``) with the fields the pipeline
    fixes (those ``cls`` has) put in; ``where`` names the section in errors."""
    if not isinstance(section, cls):
        raise ConfigError(f"{where}: expected a {cls.__name__}, got {type(section).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    return dataclasses.replace(section, **{k: v for k, v in fixed.items() if k in names})


def as_record(cfg: ExperimentConfig) -> dict[str, Any]:
    """The config as the manifest records it: top-level fields in full, each stage section only
    where it differs from its stage's defaults (what the config set; the fields the pipeline
    fills in are not repeated there). :func:`sdft.config.from_dict` reads it back."""
    out = dataclasses.asdict(cfg)
    for section in STAGE_SECTIONS:
        out[section] = _changed(getattr(cfg, section))
    if cfg.trajectory.eval is not None:  # never empty: an empty one reads back as no trajectory
        out["trajectory"]["eval"] = _changed(cfg.trajectory.eval) or {"benchmarks": cfg.trajectory.eval.benchmarks}
    return out


def from_record(record: dict[str, Any], where: str = "manifest config") -> ExperimentConfig:
    """A manifest's config read back (:func:`as_record`'s). A run made by an older version may
    hold section keys since renamed or dropped: they decided its stages then, and what is read
    back here (the plan, the trajectory) reads none of them, so they are left out."""
    data = copy.deepcopy(record)
    sections = [(data, s, cls) for s, cls in STAGE_SECTIONS.items()]
    if isinstance(data.get("trajectory"), dict):
        sections.append((data["trajectory"], "eval", EvalConfig))
    for parent, section, cls in sections:
        if isinstance(parent.get(section), dict):
            # (a class's RENAMED old names still read: from_dict maps them to their fields)
            names = {f.name for f in dataclasses.fields(cls)} | set(getattr(cls, "RENAMED", {}))
            parent[section] = {k: v for k, v in parent[section].items() if k in names}
    return from_dict(ExperimentConfig, data, where)


def _changed(obj: Any) -> dict[str, Any]:
    """A config's fields away from its class's defaults (nested configs likewise), as JSON."""
    default = type(obj)()
    return {f.name: _changed(v) if dataclasses.is_dataclass(v) else copy.deepcopy(v)
            for f in dataclasses.fields(obj) if (v := getattr(obj, f.name)) != getattr(default, f.name)}


def shipped_configs() -> list[Path]:
    """Configs shipped in the repository's configs/ (source checkout) and ./configs."""
    roots = [Path(__file__).resolve().parents[2] / "configs", Path.cwd() / "configs"]
    seen: dict[Path, None] = {}
    for root in roots:
        if root.is_dir():
            for p in sorted(root.glob("*.yaml")):
                seen.setdefault(p.resolve(), None)
    return list(seen)
