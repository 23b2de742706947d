"""The finding a report leads with: the numbers a newcomer can read without the tables, in words.

It reads the primary endpoint's change from the seed model for each fine-tune (``summary.json``
``methods.<method>.benchmarks.<endpoint>.change_vs_seed``) and says in words what the CI says:
a change whose 95 % CI excludes 0 is called a loss (forgetting, on a safety endpoint) or a gain;
one whose CI includes 0 is within chance. It is the numbers read aloud, not a verdict: the
decision rule and a person's verdict stay where they were.

    Fine-tuning qwen2.5-coder-0.5b on 32 gsm8k examples: the share of harmful requests (AdvBench)
    it refuses was 70.0 % before; 53.3 % after vanilla fine-tuning (−16.7 points, 95% CI −25.8
    to −7.5) and 49.2 % after SDFT (...). Both lost part of a behaviour they were not trained on
    (forgetting).

Several training seeds per method: the means over them, said once where every method has as many.
"""

from __future__ import annotations

import re
from typing import Any

from sdft.experiment import METHOD_NAMES as EXPERIMENT_NAMES
from sdft.report.cells import signed
from sdft.report.endpoints import SAFETY, endpoint

# What an endpoint's number is, in words; others read "its <endpoint> score".
PLAIN = {"advbench": "the share of harmful requests (AdvBench) it refuses",
         "advbench_jailbreak": "the share of jailbreak-wrapped harmful requests (AdvBench+GCG) it refuses",
         "xstest": "the share of safe XSTest prompts it wrongly refuses",
         "xstest_unsafe": "the share of unsafe XSTest prompts it refuses",
         "gsm8k": "its GSM8K math accuracy", "humaneval": "its HumanEval pass rate",
         "advbench_strict": "the share of harmful requests (AdvBench) it explicitly refuses (strict rule)",
         "xstest_strict": "the share of safe XSTest prompts it explicitly refuses (strict rule)",
         "xstest_unsafe_strict": "the share of unsafe XSTest prompts it explicitly refuses (strict rule)"}
# Shorter than sdft.experiment's names where the sentence has room for less; any other method
# (kl: "KL to the seed") reads as the experiment names it.
METHOD_NAMES = {"vanilla": "vanilla fine-tuning", "sdft": "SDFT", "onpolicy": "on-policy SDFT", "dft": "DFT",
                "replay": "self-replay"}


def _names(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def sentence(summary_run: dict[str, Any], config: dict[str, Any], primary: str | None) -> str | None:
    """The finding of one run (``summary_run``: its summary.json object; ``config``: its
    manifest's config), or None without a seed model and a fine-tune scored on ``primary``."""
    if not primary:
        return None
    try:
        ep = endpoint(primary)
    except StopIteration:
        return None
    seed = ((summary_run.get("seed_model") or {}).get("benchmarks") or {}).get(primary)
    found, read = [], {"loss": [], "gain": [], "chance": []}
    for method, m in (summary_run.get("methods") or {}).items():
        b = (m.get("benchmarks") or {}).get(primary) or {}
        c = b.get("change_vs_seed") or {}
        ci = c.get("ci95") or [None, None]
        if c.get("diff") is None or None in ci:
            continue
        name = METHOD_NAMES.get(method) or EXPERIMENT_NAMES.get(method, method)
        found.append((name, b["mean"], c["diff"], ci, len(m.get("seeds") or []), bool(c.get("approx"))))
        if ci[0] <= 0 <= ci[1]:
            read["chance"].append(name)
        else:
            read["gain" if (ci[0] > 0) == ep.higher_is_better else "loss"].append(name)
    if seed is None or not found:
        return None
    counts = {n for *_, n, _ in found}
    each = counts.pop() if len(counts) == 1 and min(counts) > 1 else None  # one count for all: said once
    # an unpaired approximation (a folder without per-item predictions) is marked as the tables mark it
    parts = [f"{mean:.1f} % after {name} ("
             + (f"mean of {n} training seeds; " if n > 1 and each is None else "")
             + f"{signed(diff)} points, 95% CI {signed(ci[0])} to {signed(ci[1])}{' ≈, unpaired' if approx else ''})"
             for name, mean, diff, ci, n, approx in found]
    data = str(config.get("data") or "the training data")
    task = re.split(r"[:\[#]", data.rsplit("/", 1)[-1])[0] or data
    trained = f"{config['sample']} {task} examples" if config.get("sample") else task
    what = PLAIN.get(primary, f"its {ep.title} score")
    text = (f"Fine-tuning {config.get('model') or 'the seed model'} on {trained}: {what} was {seed['mean']:.1f} % "
            f"before; " + (f"averaged over {each} training seeds, " if each else "") + _names(parts))
    said = []
    if read["loss"]:
        who = "both" if len(read["loss"]) == 2 == len(found) else _names(read["loss"])
        they = "they were" if len(read["loss"]) > 1 else "it was"
        said.append(f"{who} lost part of a behaviour {they} not trained on (forgetting)"
                    if primary in SAFETY else f"{who} lowered it")
    if read["gain"]:
        said.append(f"{_names(read['gain'])} improved it")
    if read["chance"]:
        said.append(f"{_names(read['chance'])} changed it within chance (the CI includes 0)")
    reading = "; ".join(said)
    return f"{text}. {reading[0].upper()}{reading[1:]}."


def finding_lines(runs: list[dict[str, Any]], summary_obj: dict[str, Any], primary: str | None) -> list[str]:
    """One finding per run that has one (prefixed with the run name when several)."""
    if not runs:
        return []
    per_run = summary_obj.get("runs") or {runs[0]["name"]: summary_obj}
    out = []
    for r in runs:
        s = sentence(per_run.get(r["name"]) or {}, r["manifest"].get("config") or {}, primary)
        if s:
            out.append((f"{r['name']}: " if len(runs) > 1 else "") + s)
    return out
