#!/usr/bin/env python3
"""Is a finished run's report the one its plan's verdict may be read from? Prints no score.

    python scripts/verdict_ready.py runs/gsm8k_forgetting_v2 configs/gsm8k_forgetting_v2.yaml [--n 400]

Checks, one line each, before anyone opens the report of a pre-registered run:
1. the run folder's manifest is CONFIG's (its name): a dev config that writes to the same folder
   rewrites the manifest, and a report built then reads the dev evaluations;
2. the report (``report/summary.json``) is newer than every evaluation's results.json (a report
   left from an earlier run, a dev one say, reads other numbers), and has a decision for every
   contrast the config's ``report.decide`` names: on the config's primary endpoint (a
   ``--primary`` flag overrides it), complete (every planned model evaluated), naming the exact
   permutation test over training seeds in its rule, with the config's non-inferiority calls;
3. with ``--n``: each decision's primary endpoint and each non-inferiority endpoint is paired over
   that many items (the test slice, not a dev one);
4. every model CONFIG plans (each method per training seed, the weight-interpolation points) is in
   the manifest with its results.json.
Exits 1 when any check fails. Only names, counts and pass/fail are printed: the numbers stay unread
until these hold.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sdft.analyze.runfiles import load_run, path_in
from sdft.errors import SdftError
from sdft.experiment import load_experiment
from sdft.planning import main_labels, point_labels


def checks(run_dir: Path, config: Path, n: int | None) -> list[tuple[bool, str]]:
    cfg = load_experiment(config)
    run = load_run(run_dir)
    name = run["manifest"].get("name")
    out = [(name == cfg.name, f"manifest name {name!r}, the config's {cfg.name!r}")]
    summary_file = run_dir / "report" / "summary.json"
    if not summary_file.exists():
        return [*out, (False, f"{summary_file}: no report yet (sdft report {run_dir} --flip-items 0)")]
    summary = json.loads(summary_file.read_text())
    results = [path_in(run, m.get("eval_dir")) for m in run["models"] if m.get("eval_dir")]
    newer = [p.name for p in results if (p / "results.json").exists()
             and (p / "results.json").stat().st_mtime > summary_file.stat().st_mtime]
    out.append((not newer, f"{summary_file} newer than every results.json (older than: {', '.join(newer) or 'none'})"))
    decisions = summary.get("decision") or {}
    names = [f"{m}_minus_vanilla" for m in cfg.report.decide] if cfg.report.decide else list(decisions)
    if not names:
        out.append((False, f"{summary_file}: the report has no decision (is its primary endpoint set?)"))
    margins = cfg.report.non_inferiority or {}
    for contrast in names:
        d = decisions.get(contrast)
        if d is None:
            out.append((False, f"{contrast}: no decision in the report"))
            continue
        out.append((d.get("endpoint") == cfg.report.primary,
                    f"{contrast}: decided on {d.get('endpoint')!r}, the config's primary {cfg.report.primary!r}"))
        absent = ", ".join(d.get("missing") or []) or "none"
        counts = f"{d.get('evaluated')} of {d.get('planned')}"
        out.append((d.get("complete") is True, f"{contrast}: {counts} planned models evaluated (missing: {absent})"))
        out.append(("permutation" in (d.get("rule") or ""), f"{contrast}: the rule names the permutation test"))
        called = sorted((summary.get("non_inferiority") or {}).get(contrast) or {})
        if margins:
            wanted = ", ".join(sorted(margins))
            out.append((set(margins) <= set(called), f"{contrast}: non-inferiority called on "
                                                     f"{', '.join(called) or 'nothing'} (the config's: {wanted})"))
        if n is not None:
            for ep in [d.get("endpoint"), *margins]:
                got = ((summary.get("contrasts") or {}).get(contrast) or {}).get(ep, {}).get("n")
                out.append((got == n, f"{contrast}, {ep}: paired over {got} items (expected {n})"))
    evaluated = {m["label"] for m in run["models"] if m.get("results")}
    plan = main_labels(cfg) + point_labels(cfg)
    missing = [label for label in plan if label not in evaluated]
    out.append((not missing, f"every planned model: {len(plan) - len(missing)} of {len(plan)} evaluated "
                             f"(missing: {', '.join(missing) or 'none'})"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("config", type=Path)
    ap.add_argument("--n", type=int, default=None, help="items each decision's contrast must pair (the test slice)")
    args = ap.parse_args(argv)
    try:
        results = checks(args.run, args.config, args.n)
    except (SdftError, OSError, ValueError) as e:  # a config or run file that cannot be read: one line, no traceback
        print(f"verdict_ready: {e}", file=sys.stderr)
        return 2
    for ok, line in results:
        print(f"{'ok  ' if ok else 'FAIL'} {line}")
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
