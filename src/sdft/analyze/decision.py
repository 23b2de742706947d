"""The decision rule on the primary endpoint, applied to the numbers rather than by hand.

A pre-registered experiment fixes, before any test-set result, one endpoint and one rule: the
method's contrast with vanilla (``summary.json`` ``contrasts``) *is better* when its 95 % CI lies
wholly on the better side of 0, *is worse* when wholly on the other side, and otherwise *no
difference is detected*. On a retention endpoint (safety) better reads as "forgets less".

The rule is applied to whatever has been evaluated, so the result also says whether the run is
**complete**: every model its config plans in the main arms (the seed model, and each method
once per training seed, as ``sdft run`` plans them) has results. A reading of an incomplete run
is provisional, and the report says so. A CI that is only an unpaired approximation (a published
folder without per-item predictions) is not what the rule was fixed on: there the outcome is
null. The verdict (a person's sentence) stays separate; this is the rule's mechanical half.
"""

from __future__ import annotations

from typing import Any

from sdft.analyze.endpoints import SAFETY, endpoint

OUTCOMES = ("better", "worse", "no difference detected")
RULE = ("better if the 95% CI lies wholly on the better side of 0, worse if wholly on the other, else no "
        "difference detected")


def outcome(ci: list[float | None] | None, higher_is_better: bool = True) -> str | None:
    """``better`` / ``worse`` / ``no difference detected`` for a contrast's CI; None without one."""
    if not ci or len(ci) != 2 or None in ci:
        return None
    lo, hi = ci
    if lo > 0 or hi < 0:
        return "better" if (lo > 0) == higher_is_better else "worse"
    return OUTCOMES[2]


def planned(run: dict[str, Any]) -> list[str] | None:
    """Labels of the models the run's config plans in its main arms (the seed model, each method
    once per training seed), as :func:`sdft.planning.plan` names them; None when the manifest's
    config cannot be read as an experiment config (a manifest of an older layout)."""
    from sdft.config import ConfigError
    from sdft.experiment import from_record
    from sdft.planning import plan

    try:
        cfg = from_record(run["manifest"].get("config") or {})
    except ConfigError:
        return None
    return [v.label for v in plan(cfg, cfg.sample or 1)[: 1 + len(cfg.train_seeds) * len(cfg.methods)]]


def completeness(run: dict[str, Any]) -> dict[str, Any]:
    """{"complete", "planned", "evaluated", "missing"}: which planned models have results
    (``complete`` None when the manifest does not say what was planned)."""
    plan = planned(run)
    done = {m["label"] for m in run["models"] if m.get("results")}
    if plan is None:
        return {"complete": None, "planned": None, "evaluated": len(done), "missing": []}
    missing = [p for p in plan if p not in done]
    return {"complete": not missing, "planned": len(plan), "evaluated": len(plan) - len(missing), "missing": missing}


def _pp(x: float) -> str:
    return f"{x:+.1f}".replace("-", "−")


def _sentence(method: str, key: str, c: dict[str, Any], result: str, status: dict[str, Any]) -> str:
    better, worse = ("forgets less than", "forgets more than") if key in SAFETY else ("scores higher than",
                                                                                     "scores lower than")
    lo, hi = c["ci95"]
    said = {"better": f"{method} {better} vanilla", "worse": f"{method} {worse} vanilla",
            OUTCOMES[2]: f"no difference detected between {method} and vanilla"}[result]
    where = "wholly above 0" if lo > 0 else "wholly below 0" if hi < 0 else "includes 0"
    text = f"{endpoint(key).title}, {method} − vanilla: {_pp(c['diff'])} pp, 95% CI [{_pp(lo)}, {_pp(hi)}]"
    if c.get("approx"):
        return (text + " (an unpaired approximation: the folder lacks the per-item predictions): the rule is "
                "not applied.")
    text += f" ({where}): {said}."
    if status["complete"] is False:
        text += (f" Provisional: {status['evaluated']} of {status['planned']} planned models evaluated "
                 f"(missing: {', '.join(status['missing'])}).")
    return text


def decisions(run: dict[str, Any], summary: dict[str, Any], primary: str | None) -> dict[str, Any]:
    """{contrast name: {"endpoint", "diff", "ci95", "outcome", "statement", "complete", ...}}
    on the primary endpoint, for every method contrasted with vanilla; {} without one."""
    if not primary:
        return {}
    try:
        ep = endpoint(primary)
    except StopIteration:
        return {}
    status = completeness(run)
    out = {}
    for name, by_ep in (summary.get("contrasts") or {}).items():
        c = by_ep.get(primary)
        result = outcome(c.get("ci95"), ep.higher_is_better) if c else None
        if result is None:
            continue
        method = name.removesuffix("_minus_vanilla")
        approx = bool(c.get("approx"))
        out[name] = {"endpoint": primary, "diff": c["diff"], "ci95": c["ci95"], "approx": approx,
                     "outcome": None if approx else result, "rule": RULE, **status,
                     "statement": _sentence(method, primary, c, result, status),
                     **({"seed_level": c["seed_level"]} if c.get("seed_level") else {})}
    return out

