"""Build report.md and a self-contained report.html from one or more run folders.

Reads saved files only (manifest, results, predictions, distillation and training summaries,
analysis.json), so any report can be rebuilt without a model. Several runs stack their rows,
each label prefixed with the run name.

    sdft report runs/demo                      # -> runs/demo/report
    sdft report runs/exp-a runs/exp-b --out reports/ab --title "Template ablation"
    sdft report runs/gsm8k_forgetting --out runs/gsm8k_forgetting/report --verdict "No difference detected: ..."

One run folder's report takes the settings its config's ``report`` section fixed (the primary
endpoint and decision rule of a plan), under ``--config`` and the flags.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from sdft.config import add_arguments as add_config_arguments
from sdft.config import from_dict, merge_mappings, read_config
from sdft.errors import ConfigError
from sdft.report_config import ReportConfig, check_decide


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folders written by `sdft run`")
    parser.add_argument("--config", help="YAML file with ReportConfig fields, or an experiment config "
                        "(`sdft run`'s), whose report section is read")
    add_config_arguments(parser, ReportConfig)


def check_args(args: argparse.Namespace) -> ReportConfig:
    """The report's settings (the run's own ``report`` section, ``--config`` over it, the flags
    over both), checked against the runs: called before run.log is opened, so a refused setting
    writes nothing (no log line in the run folder, no ``--out`` folder). Kept on ``args``."""
    resolved = [Path(d).resolve() for d in args.run_dirs]
    if twice := sorted({str(d) for d, r in zip(args.run_dirs, resolved) if resolved.count(r) > 1}):
        raise ConfigError(f"run folder given more than once: {', '.join(twice)} (its models would be listed twice)")
    cfg, source = _settings(args)
    _check_runs(cfg, source, args.run_dirs)
    args.report_config = cfg
    return cfg


def run(args: argparse.Namespace) -> int:
    from sdft.report.build import write_configured

    cfg = getattr(args, "report_config", None) or check_args(args)
    out = cfg.out or (Path(args.run_dirs[0]) / "report" if len(args.run_dirs) == 1 else Path("report"))
    paths = write_configured(args.run_dirs, out, cfg)
    print(f"wrote {paths['md']}, {paths['html']} and {paths['summary']}")
    for line in paths["decisions"]:
        print(f"decision rule (primary endpoint): {line}")
    for line in paths["non_inferiority"]:
        print(f"non-inferiority (secondary): {line}")
    return 0


def _settings(args: argparse.Namespace) -> tuple[ReportConfig, dict[str, str]]:
    """The layered settings and, per field set, the name its error should carry (``--decide``,
    ``X.yaml: decide``, ``RUN/manifest.json: report.decide``). Each layer is read on its own, so
    a bad value names the layer it is in; ``--config``'s mappings merge key by key over the run's
    (as a ``base:`` chain's do), a flag replaces the whole value."""
    layers = []
    if len(args.run_dirs) == 1 and (own := _run_settings(Path(args.run_dirs[0]))):
        layers.append((own, f"{Path(args.run_dirs[0]) / 'manifest.json'}: report", "."))
    if args.config:
        data = read_config(args.config)
        if "report" in data:  # an experiment config (not a ReportConfig field): its report section
            section = data["report"]
            if not isinstance(section, dict):
                raise ConfigError(f"{args.config}: report: expected a mapping of report settings, got {section!r}")
            layers.append((section, f"{args.config}: report", "."))
        elif set(data) & _EXPERIMENT_ONLY:
            raise ConfigError(f"{args.config}: an experiment config with no report section "
                              f"(it sets {', '.join(sorted(set(data) & _EXPERIMENT_ONLY))}); give a "
                              "report settings file, or add `report:` to it")
        else:
            layers.append((data, args.config, ""))  # "": a file's own keys
    flags = {f.name: getattr(args, f.name) for f in dataclasses.fields(ReportConfig)
             if getattr(args, f.name, None) is not None}
    layers.append((flags, "flags", "--"))
    merged: dict = {}
    source: dict[str, str] = {}
    for data, where, prefix in layers:
        try:
            layer = from_dict(ReportConfig, data, where)
        except ConfigError as e:  # a range check of the class itself does not name the layer
            raise ConfigError(str(e) if str(e).startswith(f"{where}: ") else f"{where}: {e}") from None
        values = {k: getattr(layer, k) for k in data}
        merged = {**merged, **values} if prefix == "--" else merge_mappings(merged, values)
        for k in data:
            source[k] = {"--": f"--{k.replace('_', '-')}", "": f"{where}: {k}"}.get(prefix, f"{where}.{k}")
    return from_dict(ReportConfig, merged, "sdft report settings"), source


# Keys that mark a file as an experiment config (`sdft run`'s), none of them a report setting.
_EXPERIMENT_ONLY = {"name", "model", "data", "seeds", "methods", "train", "eval", "distill", "sample"}


def _run_settings(run_dir: Path) -> dict | None:
    """The ``report`` section the run's config set (its manifest records what differs from the
    defaults), or None."""
    from sdft.analyze.runfiles import read_json_opt

    manifest = read_json_opt(run_dir / "manifest.json")
    section = (manifest.get("config") or {}).get("report") if isinstance(manifest, dict) else None
    return dict(section) if isinstance(section, dict) and section else None


def _check_runs(cfg: ReportConfig, source: dict[str, str], run_dirs: list[str]) -> None:
    """``primary`` and the non-inferiority endpoints must be endpoints of what the runs evaluate
    (their results, and the benchmarks their configs plan): a typo would leave no decision; and
    ``decide`` must name methods the runs fine-tuned, by `sdft validate`'s rule."""
    from sdft.analyze.runfiles import benchmarks_of, load_run
    from sdft.experiment import METHODS, from_record
    from sdft.report.endpoints import check_report

    runs = [load_run(d) for d in run_dirs]  # not a run folder: its error, before anything is written
    benchmarks = benchmarks_of([m for r in runs for m in r["models"]])
    for r in runs:
        try:  # a half-finished run has no results yet for what its config planned
            benchmarks += from_record(r["manifest"].get("config") or {}).eval.benchmarks
        except (ConfigError, TypeError, AttributeError):
            pass  # a manifest an older version wrote: its results alone
    if benchmarks:
        check_report(cfg, benchmarks, ", ".join(map(str, run_dirs)),
                     {k: source[k] for k in ("primary", "non_inferiority") if k in source})
    tuned = [m["method"] for r in runs for m in r["models"] if m["method"] in METHODS]
    check_decide(cfg.decide, tuned, source.get("decide", "decide"), of="the fine-tunes reported")
