"""The decision rule on the primary endpoint, applied to the numbers rather than by hand.

A pre-registered experiment fixes, before any test-set result, one endpoint and one rule: the
method's contrast with vanilla (``summary.json`` ``contrasts``) *is better* when its 95 % CI lies
wholly on the better side of 0, *is worse* when wholly on the other side, and otherwise *no
difference is detected*. On a retention endpoint (safety) better reads as "forgets less". A plan
may add a seed-level test (``seed_test_alpha``): then better or worse also needs the exact
permutation test over training seeds (``seed_level`` in the contrast) at that level, and a
contrast without at least two training seeds a side has no outcome (the rule cannot be applied).

The rule is applied to whatever has been evaluated, so each contrast also says whether it is
**complete**: every model its config plans for the two arms compared (the seed model, and vanilla
and the method once per training seed, as ``sdft run`` plans them) has results. A reading of an
incomplete contrast is provisional, and the report says so; a method the contrast does not
involve (GSM8K v2's secondary methods, trained after the primary arms) does not hold it open.
A CI that is only an unpaired approximation (a published folder without per-item predictions)
is not what the rule was fixed on: there the outcome is null. The verdict (a person's sentence)
stays separate; this is the rule's mechanical half.
"""

from __future__ import annotations

from typing import Any

from sdft.report.arms import planned
from sdft.report.cells import number, signed
from sdft.report.endpoints import SAFETY, endpoint

OUTCOMES = ("better", "worse", "no difference detected")
RULE = ("better if the 95% CI lies wholly on the better side of 0, worse if wholly on the other, else no "
        "difference detected")


def rule(seed_test_alpha: float | None = None) -> str:
    """The rule in words, with the seed-level test where the plan adds one."""
    if seed_test_alpha is None:
        return RULE
    return (f"better if the exact permutation test over training seeds gives p ≤ {seed_test_alpha:g} and the 95% "
            f"CI lies wholly on the better side of 0, worse if p ≤ {seed_test_alpha:g} and the CI lies wholly on "
            "the other, else no difference detected")


def seed_test(result: str | None, c: dict[str, Any], alpha: float | None) -> str | None:
    """The CI's ``result`` once the seed-level test at ``alpha`` is applied: no difference where its
    p is above ``alpha``; None where the contrast has no seed-level inference to apply it to."""
    if alpha is None or result is None:
        return result
    level = c.get("seed_level")
    if not level or level.get("permutation_p") is None:
        return None
    return result if level["permutation_p"] <= alpha else OUTCOMES[2]


def outcome(ci: list[float | None] | None, higher_is_better: bool = True) -> str | None:
    """``better`` / ``worse`` / ``no difference detected`` for a contrast's CI; None without one."""
    if not ci or len(ci) != 2 or None in ci:
        return None
    lo, hi = ci
    if lo > 0 or hi < 0:
        return "better" if (lo > 0) == higher_is_better else "worse"
    return OUTCOMES[2]


def completeness(run: dict[str, Any], methods: set[str] | None = None, points: bool = False) -> dict[str, Any]:
    """{"complete", "planned", "evaluated", "missing"}: which planned models have results
    (``complete`` None when the manifest does not say what was planned); ``methods``: only the
    seed model and those methods' fine-tunes count; ``points``: the weight-interpolation points too."""
    plan = planned(run, methods, points)  # the seed model, each method once per training seed[, the points]
    done = {m["label"] for m in run["models"] if m.get("results")}
    if plan is None:
        return {"complete": None, "planned": None, "evaluated": len(done), "missing": []}
    missing = [p for p in plan if p not in done]
    return {"complete": not missing, "planned": len(plan), "evaluated": len(plan) - len(missing), "missing": missing}


def bound(x: float, limit: float = 0.0) -> str:
    """A CI bound read against ``limit`` (0 for the rule, the margin for non-inferiority): one
    decimal, or as many more (up to four) as it takes for a bound off the limit not to print as the
    limit ("+0.0" beside "wholly above 0" for a bound of 0.04)."""
    for digits in range(1, 5):
        text = number(x, f"+.{digits}f")
        if x == limit or float(text.replace("−", "-")) != limit:
            break
    return text


def _sentence(method: str, key: str, c: dict[str, Any], result: str | None, status: dict[str, Any],
              alpha: float | None = None) -> str:
    better, worse = ("forgets less than", "forgets more than") if key in SAFETY else ("scores higher than",
                                                                                     "scores lower than")
    lo, hi = c["ci95"]
    said = {"better": f"{method} {better} vanilla", "worse": f"{method} {worse} vanilla",
            OUTCOMES[2]: f"no difference detected between {method} and vanilla"}.get(result)
    where = "wholly above 0" if lo > 0 else "wholly below 0" if hi < 0 else "includes 0"
    text = f"{endpoint(key).title}, {method} − vanilla: {signed(c['diff'])} pp, 95% CI [{bound(lo)}, {bound(hi)}]"
    if c.get("approx"):
        text += " (an unpaired approximation: the folder lacks the per-item predictions): the rule is not applied."
    elif alpha is not None and result is None:
        text += (f" ({where}); the seed-level test needs at least two training seeds a side: the rule is not "
                 "applied.")
    else:
        if alpha is not None:
            level = c["seed_level"]
            n_base, n_other = len(level["base_per_seed"]), len(level["other_per_seed"])
            where += (f"; exact permutation p = {level['permutation_p']:.3f} over {n_other} + {n_base} training "
                      f"seeds, ≤ {alpha:g} needed")
        text += f" ({where}): {said}."
    if status["complete"] is False:
        text += " " + provisional(status)
    return text


def provisional(status: dict[str, Any], including: str = "") -> str:
    """The caveat of a reading made before every planned model (:func:`completeness`) has results."""
    return (f"Provisional: {status['evaluated']} of {status['planned']} planned models evaluated{including} "
            f"(missing: {', '.join(status['missing'])}).")


def decisions(run: dict[str, Any], summary: dict[str, Any], primary: str | None,
              seed_test_alpha: float | None = None, decide: list[str] | None = None) -> dict[str, Any]:
    """{contrast name: {"endpoint", "diff", "ci95", "outcome", "statement", "complete", ...}}
    on the primary endpoint, for every method contrasted with vanilla (``decide``: those
    methods only); {} without one. ``seed_test_alpha``: the plan's level for the permutation test
    over training seeds, which better and worse then also need."""
    if not primary:
        return {}
    try:
        ep = endpoint(primary)
    except StopIteration:
        return {}
    out = {}
    for name, by_ep in (summary.get("contrasts") or {}).items():
        c = by_ep.get(primary)
        result = outcome(c.get("ci95"), ep.higher_is_better) if c else None
        if result is None:
            continue
        result = seed_test(result, c, seed_test_alpha)
        method = name.removesuffix("_minus_vanilla")
        if decide is not None and method not in decide:
            continue
        status = completeness(run, {"vanilla", method})
        approx = bool(c.get("approx"))
        out[name] = {"endpoint": primary, "diff": c["diff"], "ci95": c["ci95"], "approx": approx,
                     "outcome": None if approx else result, "rule": rule(seed_test_alpha), **status,
                     "statement": _sentence(method, primary, c, result, status, seed_test_alpha),
                     **({"seed_level": c["seed_level"]} if c.get("seed_level") else {})}
    return out



def non_inferiority(run: dict[str, Any], summary: dict[str, Any], margins: dict[str, float] | None,
                    decide: list[str] | None = None) -> dict[str, Any]:
    """{contrast name: {endpoint: {"margin", "diff", "ci95", "non_inferior", "statement", "complete", ...}}}
    for each method contrasted with vanilla (``decide``: those only) on each endpoint of
    ``margins`` (points): non-inferior when the 95% CI stays above −margin (below +margin where
    lower is better); null on an unpaired approximation. A plan's secondary call beside the
    decision rule (GSM8K v2: GSM8K accuracy, 5 points), never part of it."""
    out: dict[str, Any] = {}
    for name, by_ep in (summary.get("contrasts") or {}).items():
        method = name.removesuffix("_minus_vanilla")
        if decide is not None and method not in decide:
            continue
        for key, margin in (margins or {}).items():
            c = by_ep.get(key)
            if not c or not c.get("ci95") or None in c["ci95"]:
                continue
            ep = endpoint(key)
            lo, hi = c["ci95"]
            edge, side = (lo, "lower") if ep.higher_is_better else (hi, "upper")
            ok = lo > -margin if ep.higher_is_better else hi < margin
            status = completeness(run, {"vanilla", method})
            limit = f"{'−' if ep.higher_is_better else '+'}{margin:g}"
            text = (f"{ep.title}, {method} − vanilla: {signed(c['diff'])} pp, 95% CI [{signed(lo)}, {signed(hi)}]; "
                    f"non-inferiority margin {margin:g} pp: ")
            if c.get("approx"):
                text += "an unpaired approximation (the folder lacks the per-item predictions): not applied."
            else:
                where = ("above" if ep.higher_is_better else "below") if ok else \
                    ("not above" if ep.higher_is_better else "not below")
                text += (f"the {side} bound {bound(edge, -margin if ep.higher_is_better else margin)} is {where} "
                         f"{limit}: {method} is "
                         + ("non-inferior to vanilla." if ok else "not shown non-inferior to vanilla."))
            if status["complete"] is False:
                text += " " + provisional(status)
            out.setdefault(name, {})[key] = {
                "margin": margin, "diff": c["diff"], "ci95": c["ci95"], "approx": bool(c.get("approx")),
                "non_inferior": None if c.get("approx") else ok, "statement": text, **status}
    return out
