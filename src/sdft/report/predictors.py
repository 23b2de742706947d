"""Forgetting predictors per fine-tune, and how well they track what was kept.

Two predictors, both measured before anyone reads a retention score:

- the **NLL gap** of the answers each fine-tune trained on (:mod:`nll`): how much closer to the
  seed they are than the dataset's original answers, per token under the seed model. Rewrite
  self-distillation's is its distillation's gap; a method that trains on the original answers
  (vanilla, DFT, KL to the seed) has a gap of zero by definition; self-replay's added answers and
  on-policy's own samples are not scored, so they have none;
- the **KL between fine-tune and seed on held-out task prompts**, the predictor of "RL's Razor"
  (Shenfeld et al. 2025): the fine-tune's own answers to the target benchmark's prompts (its
  saved predictions: held out from training), scored token by token as the mean over answer
  tokens of KL(fine-tune || seed) over the whole vocabulary, the seed being the same model with
  its LoRA adapter disabled (:func:`sdft.analyze.kl.kl_on_answers`, run by the pipeline's ``predict``
  stage).

:func:`predictor_table` lists them per fine-tune beside its retention change (the Pareto y of
:mod:`methods`) with the Pearson and Spearman correlations across methods and training seeds.
"""

from __future__ import annotations

import math
from typing import Any

from sdft.analyze import nll_gap, runfiles
from sdft.analyze.kl import KL_FILE
from sdft.report import arms, methods
from sdft.report.cells import number
from sdft.report.endpoints import endpoints_of


def _kl_of(run: dict[str, Any], m: dict[str, Any]) -> tuple[float | None, str | None]:
    """(KL per token, the rule that chose its answers: the result's ``items``; None in a result
    written before the rule was recorded)."""
    d = runfiles.path_in(run, m.get("kl_dir"))
    r = runfiles.read_json_opt(d / KL_FILE) if d else None
    return (r or {}).get("kl_per_token"), (r or {}).get("items")


def kl_rule(table: list[dict[str, Any]]) -> str | None:
    """The item rule of the KL column: where the fine-tunes' KLs were measured on answers chosen by
    different rules (a KL stage whose items changed between sittings, GSM8K v2 amendment 4), the
    KL values are not comparable; the column's rule is the most common *recorded* one, even when
    fewer results have it (a result that records none predates the record and the rule it names:
    GSM8K v2's plan uses the new rule's KLs only, which fill the column as they are measured), and
    the others are marked and left out of the correlation."""
    rules = [r.get("kl_items") for r in table if r["kl"] is not None]
    pool = [x for x in rules if x is not None] or rules
    return max(dict.fromkeys(pool), key=pool.count) if pool else None


def _comparable(r: dict[str, Any], rule: str | None) -> bool:
    return r["kl"] is not None and r.get("kl_items") == rule


def _kl_from_sibling(run: dict[str, Any], m: dict[str, Any], siblings: dict[str, Any]) -> bool:
    """Whether ``m``'s KL was measured on a retrained sibling's weights, not the evaluated ones."""
    return runfiles.kl_from_sibling(run, siblings.get(m["label"]), m.get("kl_dir"))


# methods whose task rows are the dataset's original answers: their training responses are the
# ones the gap is measured from, so their gap is zero by definition (self-replay is not among
# them: it adds the seed's own answers to other prompts, which no NLL stage scores)
ON_ORIGINALS = ("vanilla", "dft", "kl")


def _nll_gap_of(run: dict[str, Any], m: dict[str, Any], gaps: dict[str, Any]) -> float | None:
    """The NLL gap of the answers ``m`` trained on: original − distilled for a fine-tune on the
    whole distilled set, 0 for one on the original answers (where the run measured the originals
    at all), None where its training answers were not scored (a partial mix, self-replay,
    on-policy's own samples)."""
    if m.get("method") in ON_ORIGINALS or (m.get("method") == "sdft" and m.get("mix_ratio") == 0):
        return 0.0 if any((g.get("original") or {}).get("nll_per_token") is not None
                          for g in gaps.values()) else None
    if m.get("method") != "sdft" or m.get("mix_ratio") not in (None, 1, 1.0):
        return None
    g = gaps.get(m.get("distill_dir") or "") or {}
    return ((g.get("gaps") or {}).get("original_minus_distilled") or {}).get("diff")


def _pearson(x: list[float], y: list[float]) -> float | None:
    # a constant (the one NLL gap all seeds of a distillation share) correlates with nothing; its
    # spread from the mean is rounding error, which would print a number
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sx = math.sqrt(sum((a - mx) ** 2 for a in x))
    sy = math.sqrt(sum((b - my) ** 2 for b in y))
    return None if not sx or not sy else sum((a - mx) * (b - my) for a, b in zip(x, y)) / (sx * sy)


def _ranks(v: list[float]) -> list[float]:
    order = sorted(range(len(v)), key=lambda i: v[i])
    r = [0.0] * len(v)
    i = 0
    while i < len(v):  # ties share their mean rank
        j = i
        while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2
        i = j + 1
    return r


def rows(run: dict[str, Any], primary: str | None) -> list[dict[str, Any]]:
    """Per main fine-tune: {"label", "method", "kl", "kl_items", "kl_comparable", "kl_of_sibling",
    "nll_gap", "retention"}
    (retention: the Pareto y of :mod:`methods`, percentage points; ``kl_of_sibling``: the KL was
    measured on a retrained sibling's weights, :func:`sdft.analyze.runfiles.retrained`; ``kl_items``:
    the rule that chose the KL's answers, ``kl_comparable``: measured under the column's rule,
    :func:`kl_rule`, so read by the correlation)."""
    seed = runfiles.find_model(run, "seed")
    if seed is None:
        return []
    endpoints = endpoints_of(runfiles.benchmarks_of(run["models"]))
    target = methods.target_endpoint(run, endpoints)
    prim = methods.endpoint_or_none(primary)
    gaps, siblings = nll_gap.gaps(run), runfiles.retrained(run)
    out = []
    for meth, models in arms.main_arms(run).items():
        for m in models:
            y = methods._retention(run, seed, [m], endpoints, target, prim)
            kl, items = _kl_of(run, m)
            out.append({"label": m["label"], "method": meth, "kl": kl, "kl_items": items,
                        "kl_of_sibling": _kl_from_sibling(run, m, siblings),
                        "nll_gap": _nll_gap_of(run, m, gaps), "retention": y and y["diff"],
                        "retention_name": y and y["name"]})
    rule = kl_rule(out)
    for r in out:  # summary.json says which KLs the correlation read
        r["kl_comparable"] = _comparable(r, rule)
    return out


def correlations(table: list[dict[str, Any]]) -> dict[str, Any]:
    """Pearson and Spearman of each predictor with the retention change; the KL's over the
    fine-tunes whose KL was measured under the column's item rule (:func:`kl_rule`)."""
    out, rule = {}, kl_rule(table)
    for key in ("kl", "nll_gap"):
        pts = [(r[key], r["retention"]) for r in table if r[key] is not None and r["retention"] is not None
               and (key != "kl" or _comparable(r, rule))]
        x, y = [a for a, _ in pts], [b for _, b in pts]
        out[key] = {"n": len(pts), "pearson": _pearson(x, y), "spearman": _pearson(_ranks(x), _ranks(y))
                    if len(pts) >= 3 else None}
    out["kl"]["items"] = rule
    return out


def predictor_table(run: dict[str, Any], primary: str | None) -> dict[str, Any] | None:
    table = rows(run, primary)
    if not any(r["kl"] is not None or r["nll_gap"] is not None for r in table):
        return None
    corr, rule = correlations(table), kl_rule(table)
    other = [r for r in table if r["kl"] is not None and not _comparable(r, rule)]
    body = [[r["label"], r["method"], number(r["kl"], ".4f") + (" ‡" if r in other else "")
             + (" †" if r.get("kl_of_sibling") else ""), number(r["nll_gap"], "+.3f"), number(r["retention"], "+.1f")]
            for r in table]
    rule_note = ""
    if other:
        theirs = ", ".join(sorted({repr(r.get("kl_items") or "not recorded") for r in other}))
        rule_note = (f" ‡: measured on answers chosen otherwise ({theirs}) than the column's "
                     f"({rule or 'not recorded'!r}): not comparable with the rest, and left out of the correlation.")
    sibling = (" †: measured on a retrained sibling of the evaluated fine-tune (trained again after a machine "
               "change; not the same weights to the last digit), beside the evaluated one's retention."
               if any(r.get("kl_of_sibling") for r in table) else "")
    said = "; ".join(f"{name}: n={c['n']}, Pearson {number(c['pearson'], '+.2f')}, "
                     f"Spearman {number(c['spearman'], '+.2f')}"
                     for name, c in (("KL to the seed", corr["kl"]), ("NLL gap", corr["nll_gap"])))
    return {"title": "Forgetting predictors per fine-tune", "rows": body,
            "columns": ["model", "method", "KL(fine-tune ‖ seed) per token, task answers", "NLL gap (nats/token)",
                        f"retention change (pp, {table[0]['retention_name'] or '—'})"],
            "note": f"NLL gap: the per-token NLL under the seed of the dataset's original answers minus that of the "
                    "answers the fine-tune trained on (0 for methods trained on the original answers; — where "
                    "they were not scored: self-replay's added answers, on-policy's own samples). Correlation with "
                    f"the retention change across methods and training seeds: {said}. A correlation needs at least "
                    "3 fine-tunes; with a handful it is a description, not a test." + sibling + rule_note}
