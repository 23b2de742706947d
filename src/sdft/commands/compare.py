"""Paired comparison of two results folders: B - A on the items both scored, with a CI.

XSTest gives two rows, as in the report: over-refusal of its safe prompts (lower is better) and
refusal of its unsafe prompts (higher is better); IFEval four: prompt- and instruction-level,
strict and loose (paired over prompts). The refusal benchmarks add their strict-rule rows
(``advbench_strict``, ``xstest_strict``, ...) when both folders' predictions carry the per-item
``refusal_strict`` field (files scored before the rule existed do not: re-score them).

    sdft compare runs/seed-eval runs/sdft-eval                    # every shared benchmark
    sdft compare runs/seed-eval runs/sdft-eval --benchmarks gsm8k,advbench

Folders evaluated with other settings (answer length, seed, dtype, variant, limit, ...; the model
aside) are still compared, with a warning naming the settings; ``--json`` gives them in each
row's ``settings_differ`` ({setting: [A's, B's]}). Where one evaluation is unfinished (no
results.json entry yet), the settings asked for are compared on both sides. Folders that scored
only some of each other's items are compared on the shared ones, with a warning giving how many
each side has that the other lacks (``only_a`` / ``only_b`` in ``--json``).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from sdft.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", help="baseline results folder")
    parser.add_argument("b", help="results folder compared against it")
    parser.add_argument("--benchmarks", default=None, help="comma-separated (default: all in both)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from sdft import evaluate as battery
    from sdft.evaluate.saved import compare_results, scored_lines_file
    from sdft.report.endpoints import endpoints_of
    from sdft.runs import finite

    for d in (args.a, args.b):
        _check_folder(d)
    if args.benchmarks:
        names = battery.expand(args.benchmarks)
    else:
        names = [n for n in battery.BENCHMARKS if all(scored_lines_file(d, n) for d in (args.a, args.b))]
        if not names:
            raise ConfigError(f"no benchmark has predictions in both {args.a} and {args.b}")
    differ = {}
    for n in names:
        differ[n], asked_only = _settings_differences(args.a, args.b, n)
        if differ[n]:  # still compared: comparing two settings can be the point
            log.warning("%s: %s and %s were made with other settings%s: %s", n, args.a, args.b,
                        " (as asked for: an evaluation is unfinished)" if asked_only else "",
                        "; ".join(f"{k} {a!r} vs {b!r}" for k, (a, b) in differ[n].items()))
    rows, warned = [], set()
    for ep in endpoints_of(names, strict=True):  # the report's endpoints: XSTest's safe and unsafe halves
        row = compare_results(args.a, args.b, ep.benchmark, label=ep.label, field=ep.field, per=ep.per)
        if not row["n"]:
            if ep.key != ep.benchmark:  # a second endpoint neither folder has items of (strict rule, ...)
                continue
            why = ("they scored different items (other data?)" if row["only_a"] and row["only_b"] else
                   "is an evaluation unfinished? Run its `sdft eval` again to finish it")
            raise DataError(f"{ep.benchmark}: no item scored in both {args.a} ({row['only_a']} scored) and "
                            f"{args.b} ({row['only_b']} scored); {why}")
        overlap = (ep.benchmark, ep.label, row["n"], row["only_a"], row["only_b"])
        if (row["only_a"] or row["only_b"]) and overlap not in warned:  # else n passes for the whole benchmark
            warned.add(overlap)  # (IFEval's four endpoints share their items: one warning)
            log.warning("%s: compared on the %d items both scored; %d scored only in %s, %d only in %s",
                        ep.title, row["n"], row["only_a"], args.a, row["only_b"], args.b)
        rows.append({"endpoint": ep.key, "title": ep.title, "better": "higher" if ep.higher_is_better else "lower",
                     **row, "settings_differ": differ[ep.benchmark]})
    if args.json:
        print(json.dumps(finite(rows), indent=2, allow_nan=False))
        return 0
    width = max([len("endpoint")] + [len(r["title"]) for r in rows])
    print(f"{'endpoint':<{width}} {'A':>7} {'B':>7} {'B-A':>7}  {'95% CI':<18} {'n':>5}  better if")
    for r in rows:
        print(f"{r['title']:<{width}} {r['mean_a']:7.3f} {r['mean_b']:7.3f} {r['diff']:+7.3f}  "
              f"[{r['ci95'][0]:+.3f}, {r['ci95'][1]:+.3f}] {r['n']:>5}  {r['better']}")
    return 0


def _check_folder(folder: str) -> None:
    """A results folder: results.json, or the predictions of an evaluation still running."""
    from sdft import evaluate as battery
    from sdft.evaluate.saved import scored_lines_file

    path = Path(folder)
    if not path.is_dir():
        raise ConfigError(f"{folder}: no such folder")
    if not (path / "results.json").is_file() and not any(scored_lines_file(path, n) for n in battery.BENCHMARKS):
        hint = "; it is a run folder: compare its eval/LABEL folders" if (path / "manifest.json").is_file() else ""
        raise ConfigError(f"{folder}: not an evaluation results folder (no results.json){hint}")


# Settings that name the model under evaluation: two folders compared are meant to differ there.
_MODEL_SETTINGS = ("model", "adapter", "merge_adapter")
_SAMPLING = ("max_new_tokens", "temperature", "top_p", "seed", "stop")


def _saved_settings(results_dir: str | Path, benchmark: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """What one benchmark's results in a folder were made with, the model aside: (the settings
    asked for: results.json entry's, else the settings.json beside the predictions of an
    unfinished evaluation; the values actually used: the entry's sampling, variant, dtype and
    limit, None without an entry). ({}, None) when neither was saved."""
    from sdft.evaluate.context import bench_folder

    path, entry = Path(results_dir) / "results.json", {}
    try:
        if path.is_file():
            entry = (json.loads(path.read_text(encoding="utf-8")).get("benchmarks") or {}).get(benchmark) or {}
        saved = entry.get("settings")
        if saved is None and (path := bench_folder(results_dir, benchmark) / "settings.json").is_file():
            saved = json.loads(path.read_text(encoding="utf-8"))
        for field, value in (("settings", saved), ("generation", entry.get("generation"))):
            if not isinstance(value or {}, dict):
                raise DataError(f"{path}: {benchmark}'s {field}: expected an object, got {value!r}"[:300])
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as e:
        raise DataError(f"{path}: not a results file ({e})") from None
    asked = {k: v for k, v in (saved or {}).items() if k not in _MODEL_SETTINGS}
    if not entry:
        return asked, None
    used = {k: v for k, v in (entry.get("generation") or {}).items() if k in _SAMPLING}
    used.update({k: entry[k] for k in ("variant", "dtype", "limit") if k in entry})
    return asked, used


def _settings_differences(dir_a: str | Path, dir_b: str | Path, benchmark: str) -> tuple[dict[str, list], bool]:
    """({setting: [A's, B's]} for the settings both folders saved for ``benchmark`` that differ,
    whether those are the settings asked for only). Like is compared with like: where both have a
    results.json entry, the values used (``auto`` dtype resolved, the default variant named) over
    those asked for; where one is unfinished (settings.json only), the settings asked for on both
    sides, as A's resolved ``bfloat16`` against B's asked ``auto`` is no difference."""
    (asked_a, used_a), (asked_b, used_b) = _saved_settings(dir_a, benchmark), _saved_settings(dir_b, benchmark)
    both = used_a is not None and used_b is not None
    a, b = ({**asked_a, **used_a}, {**asked_b, **used_b}) if both else (asked_a, asked_b)
    return {k: [a[k], b[k]] for k in sorted(set(a) & set(b)) if a[k] != b[k]}, not both
