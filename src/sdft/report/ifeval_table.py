"""The report's IFEval tables: its four numbers per model or method, and which instructions each follows.

lm-eval reports IFEval as four accuracies (prompt- and instruction-level, strict and loose); the
change tables show them as four endpoints among the others. Here they stand together, a row per
row of the score table (a model, or a method's mean over its training seeds) with all four, their
CIs (instruction-level CIs resample prompts; see :mod:`sdft.evaluate.ifeval`) and the answers cut
at the length limit; a second table gives the strict share followed per instruction id, row by
row, so a drop can be traced to the instructions it comes from (lengths, formats, languages, ...).
"""

from __future__ import annotations

from typing import Any

from sdft.report import tables
from sdft.report.cells import DASH, pct
from sdft.report.endpoints import endpoint

NUMBERS = (("prompt-level strict", "ifeval"), ("instruction-level strict", "ifeval_inst"),
           ("prompt-level loose", "ifeval_loose"), ("instruction-level loose", "ifeval_inst_loose"))


def _groups(runs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str, list[dict[str, Any]]]]:
    """(run, row label, models) per row of the score table (a seeded method: its seeds together)
    whose every model was evaluated on IFEval."""
    multi = len(runs) > 1
    return [(run, tables.group_label(run, name, models, multi), models)
            for run in runs for name, models in tables.row_groups(run)
            if all((m.get("results") or {}).get("ifeval") for m in models)]


def tables_of(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The two tables, or none when no model was evaluated on IFEval."""
    groups = _groups(runs)
    if not groups:
        return []
    entries = [[m["results"]["ifeval"] for m in models] for _, _, models in groups]
    rows = [[label] + tables.score_cells(run, models, [endpoint(key) for _, key in NUMBERS])
            + [str(sum(res.get("truncated") or 0 for res in group)) if all("truncated" in res for res in group)
               else DASH]
            for (run, label, models), group in zip(groups, entries)]
    lengths = sorted({(res.get("generation") or {}).get("max_new_tokens") for g in entries for res in g} - {None})
    seeded = any(len(models) > 1 for _, _, models in groups)
    numbers = {"title": "IFEval: instruction following (%, 95% CI)",
               "columns": ["model"] + [name for name, _ in NUMBERS] + ["answers cut"], "rows": rows,
               "note": "Scored by lm-evaluation-harness's IFEval checkers. Prompt-level: every instruction of a "
                       "prompt followed; instruction-level: the share of all instructions followed, its CI "
                       "resampling prompts. Loose also accepts the answer without its first/last line or its "
                       "'*'. Answers cut: those that reached the answer length "
                       f"({', '.join(map(str, lengths)) or DASH} new tokens)"
                       + (", summed over a method's seeds. " + tables.SEEDS_NOTE if seeded else ".")}
    per = [[res.get("by_instruction") or {} for res in g] for g in entries]
    ids = sorted({iid for g in per for p in g for iid in p})
    count = {iid: next(p[iid]["n"] for g in per for p in g if iid in p) for iid in ids}

    def strict(group: list[dict[str, Any]], iid: str) -> float | None:
        shares = [p[iid]["strict"] for p in group if iid in p]
        return sum(shares) / len(shares) if shares else None

    breakdown = {"title": "IFEval by instruction (% followed, strict)",
                 "columns": ["instruction", "n"] + [label for _, label, _ in groups],
                 "rows": [[iid, str(count[iid])] + [pct(strict(g, iid)) for g in per] for iid in ids]}
    if seeded:
        breakdown["note"] = "A method trained with several seeds: the mean of its seeds' shares."
    return [numbers, breakdown] if ids else [numbers]
