#!/usr/bin/env python3
"""Print the results README's secondary-method rows from the published report/summary.json.

    rows.py interp      the interpolation table: each vanilla seed -> its alpha = 0.5 point,
                        point - seed, point - its own fine-tune (with the seed-level tests)
    rows.py dft|replay  a trained method: per seed, change vs the seed, contrast vs vanilla,
                        its training cost, Pareto point and whether the comparison is complete
    rows.py summary     one row per endpoint, every method side by side: its mean over its seeds,
                        minus the seed, minus vanilla (two-level bootstrap CI; Welch over the
                        seeds; exact permutation p and how many relabelings it had); then each
                        interpolation arm minus its own fine-tunes (paired t; sign-flip p)
    rows.py table M     a trained method over its seeds, as the README's DFT table: each seed's score
                        and their mean, change vs the seed, contrast vs vanilla, Welch, exact p
    rows.py closing     the closing comparison, compact: per endpoint each method's mean over its
                        seeds and its contrast (trained methods against vanilla, with the exact
                        permutation p; the interpolation arm against its own fine-tunes)

Numbers go through the report's own cell formatting (`sdft.report.cells`), so every value prints
as the report prints it (float noise snapped, a true minus sign, no "−0.0").
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[3] / "src"))  # the repository's package, without installing it

from sdft.experiment import METHOD_NAMES as LONG_NAMES  # noqa: E402
from sdft.report.cells import number, signed  # noqa: E402
from sdft.report.finding import METHOD_NAMES  # noqa: E402

SUMMARY = HERE.parent / "report" / "summary.json"
ENDPOINTS = ["advbench_strict", "advbench", "xstest", "xstest_unsafe", "gsm8k", "humaneval", "ifeval"]


def plain(x: float) -> str:
    return number(x, ".1f")


def ci(c: list) -> str:
    return f"[{signed(c[0])}, {signed(c[1])}]"


def interp_rows(s: dict) -> None:
    seed, van = s["seed_model"]["benchmarks"], s["methods"]["vanilla"]["benchmarks"]
    arm = s["methods_comparison"]["interpolation"]["vanilla \u03b1=0.5"]
    pts, own = arm["benchmarks"], arm["change_vs_fine_tunes"]
    for ep in ENDPOINTS:
        before, after = van[ep]["per_seed"], pts[ep]["per_seed"]
        cells = [f"{plain(before[str(k)])} \u2192 {plain(after[str(k)])}" for k in arm["seeds"]]
        vs, d = pts[ep]["change_vs_seed"], own[ep]
        per = ", ".join(f"s{k} {signed(v)}" for k, v in d["per_seed"].items())
        level = d["seed_level"]
        print(
            f"| {ep} | {plain(seed[ep]['mean'])} | "
            + " | ".join(cells)
            + f" | {signed(vs['diff'])} {ci(vs['ci95'])} | {signed(d['diff'])} {ci(d['ci95'])} ({per}) |"
            + f" t {ci(level['paired_t_ci95'])} p {level['sign_flip_p']}"
        )
        if ep.startswith("advbench"):
            lost = {k: seed[ep]["mean"] - before[str(k)] for k in arm["seeds"]}
            kept = {k: round(100 * (after[str(k)] - before[str(k)]) / lost[k]) for k in arm["seeds"]}
            print("   share of the loss kept (%):", kept)
    print("kl correlation:", json.dumps(s.get("predictors", {}).get("correlations", {}).get("kl"))[:400])


def method_rows(s: dict, m: str) -> None:
    seed, van = s["seed_model"]["benchmarks"], s["methods"]["vanilla"]["benchmarks"]
    sd, mb = s["methods"]["sdft"]["benchmarks"], s["methods"][m]["benchmarks"]
    print("seeds", s["methods"][m]["seeds"], "contrasts:", list(s["contrasts"]))
    for ep in ENDPOINTS:
        b, c = mb[ep], mb[ep]["change_vs_seed"]
        print(
            f"| {ep} | {plain(seed[ep]['mean'])} | vanilla {plain(van[ep]['mean'])} ({van[ep]['per_seed']}) |"
            f" sdft {plain(sd[ep]['mean'])} | {m} {plain(b['mean'])} {ci(b['ci95'])} per seed {b['per_seed']} |"
            f" vs seed {signed(c['diff'])} {ci(c['ci95'])} |"
        )
        d = s["contrasts"].get(f"{m}_minus_vanilla", {}).get(ep)
        if d:
            print(
                f"     {m} - vanilla: {signed(d['diff'])} {ci(d['ci95'])} per seed {d.get('per_seed')}"
                f" seed_level {d.get('seed_level')}"
            )
    comparison = s["methods_comparison"]
    print(json.dumps(comparison["costs"].get(m)))
    print(json.dumps([p for p in comparison["pareto"] if p["method"] == m]))
    print(json.dumps(comparison["complete"]))


ENDPOINT_LABELS = {
    "advbench_strict": "AdvBench strict (primary's endpoint)",
    "advbench": "AdvBench keyword",
    "xstest": "XSTest safe, over-refusal (lower better)",
    "xstest_unsafe": "XSTest unsafe, refusal",
    "gsm8k": "GSM8K",
    "humaneval": "HumanEval",
    "ifeval": "IFEval prompt-level strict",
}


def seed_change(b: dict) -> str:
    return f"{plain(b['mean'])}; \u2212 seed {signed(b['change_vs_seed']['diff'])}"


def comparison_cell(b: dict, against: str, d: dict, test: tuple, compact: bool) -> str:
    """One method's cell: its mean; (in full) the change vs the seed; the contrast with its bootstrap
    CI and its seed-level test (``test``: the interval's name and key, the p value's name and key,
    the count's key; compact keeps the p value alone, and only for trained methods)."""
    interval_name, interval, p_name, p, count = test
    level = d.get("seed_level") or {}
    if compact:
        cell = f"{plain(b['mean'])}; {signed(d['diff'])} {ci(d['ci95'])}"
        return cell + (f", {level[p]:.3f}" if p == "permutation_p" and level.get(p) is not None else "")
    cell = seed_change(b) + f"; \u2212 {against} {signed(d['diff'])} {ci(d['ci95'])}"
    if level.get(interval):
        cell += f", {interval_name} {ci(level[interval])}"
    if level.get(p) is not None:
        cell += f", {p_name} = {level[p]:.3f} ({level[count]})"
    return cell


def name(m: str) -> str:
    return METHOD_NAMES.get(m) or LONG_NAMES.get(m, m)


def comparison_rows(s: dict, compact: bool) -> None:
    """Every method side by side per endpoint: trained methods against vanilla (seeds unpaired),
    each interpolation arm against its own fine-tunes (paired by seed)."""
    seed = s["seed_model"]["benchmarks"]
    methods = [m for m in s["methods"] if m != "vanilla"]
    arms = s.get("methods_comparison", {}).get("interpolation", {})
    n = {m: len(s["methods"][m]["seeds"]) for m in s["methods"]}
    if compact:
        heads = [f"vanilla ({n['vanilla']} seeds)"]
        heads += [f"{name(m)} ({n[m]} seeds): mean; \u2212 vanilla, p" for m in methods]
        heads += [f"{label} ({len(arm['seeds'])} points): mean; \u2212 its fine-tune" for label, arm in arms.items()]
    else:
        heads = ["vanilla"] + [f"{m} ({n[m]} seeds)" for m in methods]
        heads += [f"{label} ({len(arm['seeds'])} points)" for label, arm in arms.items()]
    print("| endpoint | seed | " + " | ".join(heads) + " |")
    print("|---" * (2 + len(heads)) + "|")
    trained = ("Welch", "welch_ci95", "p", "permutation_p", "relabelings")
    paired = ("paired t", "paired_t_ci95", "sign-flip p", "sign_flip_p", "flips")
    for ep in ENDPOINTS:
        cells = [
            comparison_cell(s["methods"][m]["benchmarks"][ep], "vanilla", d, trained, compact)
            if (d := s["contrasts"].get(f"{m}_minus_vanilla", {}).get(ep))
            else seed_change(s["methods"][m]["benchmarks"][ep])  # no contrast with vanilla
            for m in methods
        ]
        cells += [
            comparison_cell(arm["benchmarks"][ep], "its fine-tune", arm["change_vs_fine_tunes"][ep], paired, compact)
            for arm in arms.values()
        ]
        van = plain(s["methods"]["vanilla"]["benchmarks"][ep]["mean"])
        label = ENDPOINT_LABELS[ep] if compact else ep
        print(f"| {label} | {plain(seed[ep]['mean'])} | {van} | " + " | ".join(cells) + " |")


def seed_table(s: dict, m: str) -> None:
    seed, van, mb = s["seed_model"]["benchmarks"], s["methods"]["vanilla"]["benchmarks"], s["methods"][m]["benchmarks"]
    label, seeds = name(m), s["methods"][m]["seeds"]
    n = len(s["methods"]["vanilla"]["seeds"])
    print(
        f"| endpoint | seed | vanilla ({n} seeds) | {label} "
        + " \u00b7 ".join(f"s{k}" for k in seeds)
        + f" (mean) | {label} \u2212 seed | {label} \u2212 vanilla | Welch over seeds | permutation p |"
    )
    print("|---" * 8 + "|")
    for ep in ENDPOINTS:
        b, d = mb[ep], s["contrasts"][f"{m}_minus_vanilla"][ep]
        level, c = d.get("seed_level") or {}, b["change_vs_seed"]
        per = " \u00b7 ".join(plain(b["per_seed"][str(k)]) for k in seeds)
        welch = ci(level["welch_ci95"]) if level.get("welch_ci95") else "\u2014"
        p = f"{level['permutation_p']:.3f}" if level.get("permutation_p") is not None else "\u2014"
        print(
            f"| {ENDPOINT_LABELS[ep]} | {plain(seed[ep]['mean'])} | {plain(van[ep]['mean'])} |"
            f" {per} ({plain(b['mean'])}) |"
            f" {signed(c['diff'])} {ci(c['ci95'])} | {signed(d['diff'])} {ci(d['ci95'])} | {welch} | {p} |"
        )


COMMANDS = {
    "interp": interp_rows,
    "summary": lambda s: comparison_rows(s, compact=False),
    "closing": lambda s: comparison_rows(s, compact=True),
}

if __name__ == "__main__":
    args = sys.argv[1:]
    if not (len(args) == 1 or (len(args) == 2 and args[0] == "table")):
        sys.exit(__doc__)
    summary = json.loads(SUMMARY.read_text())
    if args[0] == "table":
        seed_table(summary, args[1])
    else:
        COMMANDS.get(args[0], lambda s: method_rows(s, args[0]))(summary)
