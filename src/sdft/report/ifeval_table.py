"""The report's IFEval tables: its four numbers per model, and which instructions each follows.

lm-eval reports IFEval as four accuracies (prompt- and instruction-level, strict and loose); the
score and change tables show them as four endpoints among the others. Here they stand together,
a row per evaluated model with all four, their CIs (instruction-level CIs resample prompts; see
:mod:`sdft.evaluate.ifeval`) and the answers cut at the length limit, and a second table
gives the strict share followed per instruction id, model by model, so a drop can be traced to
the instructions it comes from (lengths, formats, languages, ...).
"""

from __future__ import annotations

from typing import Any

from sdft.report.cells import DASH, pct, score_cell

NUMBERS = (("prompt-level strict", None), ("instruction-level strict", "inst_strict"),
           ("prompt-level loose", "prompt_loose"), ("instruction-level loose", "inst_loose"))


def _entries(runs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    multi = len(runs) > 1
    return [(f"{r['name']}/{m['label']}" if multi else m["label"], res)
            for r in runs for m in r["models"] if (res := (m.get("results") or {}).get("ifeval"))]


def tables(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The two tables, or none when no model was evaluated on IFEval."""
    entries = _entries(runs)
    if not entries:
        return []
    rows = [[label] + [score_cell(res if key is None else (res.get("extra") or {}).get(key)) for _, key in NUMBERS]
            + [str(res.get("truncated", DASH))] for label, res in entries]
    lengths = sorted({(res.get("generation") or {}).get("max_new_tokens") for _, res in entries} - {None})
    numbers = {"title": "IFEval: instruction following (%, 95% CI)",
               "columns": ["model"] + [name for name, _ in NUMBERS] + ["answers cut"], "rows": rows,
               "note": "Scored by lm-evaluation-harness's IFEval checkers. Prompt-level: every instruction of a "
                       "prompt followed; instruction-level: the share of all instructions followed, its CI "
                       "resampling prompts. Loose also accepts the answer without its first/last line or its "
                       "'*'. Answers cut: those that reached the answer length "
                       f"({', '.join(map(str, lengths)) or DASH} new tokens)."}
    per = [res.get("by_instruction") or {} for _, res in entries]
    ids = sorted({iid for p in per for iid in p})
    count = {iid: next(p[iid]["n"] for p in per if iid in p) for iid in ids}
    breakdown = {"title": "IFEval by instruction (% followed, strict)",
                 "columns": ["instruction", "n"] + [label for label, _ in entries],
                 "rows": [[iid, str(count[iid])] + [pct((p.get(iid) or {}).get("strict")) for p in per] for iid in ids]}
    return [numbers, breakdown] if ids else [numbers]
