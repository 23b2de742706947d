"""How the report writes a number: the cells of its tables.

A cell is a string or ``{"text": main, "small": secondary or [lines], "invert": bool}`` (the CI,
and for a method trained with several seeds each seed's value, shown in small type; ``invert``
colours a rise red, for endpoints where lower is better). Scores are percentages with one
decimal, changes percentage points with their sign (a true minus sign); missing values are "—".
"""

from __future__ import annotations

import math
from typing import Any

DASH = "—"


def _snap(x: float) -> float:
    """``x`` without the float noise of the way it was computed, so that one quantity reached two
    ways prints the same: 100 * (0.2275 - 0.27) is −4.250000000000001 and 22.75 - 27.0 is −4.25,
    and without this the first rounds to −4.3 and the second to −4.2."""
    return round(x, 9) if math.isfinite(x) else x


def pct(x: float | None) -> str:
    """A fraction as a percentage, one decimal."""
    return DASH if x is None or (isinstance(x, float) and math.isnan(x)) else f"{_snap(100 * x):.1f}"


def number(x: float | None, spec: str = "+.1f") -> str:
    """``x`` formatted by ``spec`` with a true minus sign; a value that rounds to zero carries no
    minus ("+0.000", not "−0.000"); None is "—"."""
    if x is None:
        return DASH
    text = format(_snap(x) if isinstance(x, float) else x, spec)
    if text.startswith("-") and not any(c in "123456789" for c in text):
        text = ("+" if "+" in spec else "") + text[1:]
    return text.replace("-", "−")


def signed(pp: float) -> str:
    """A change with its sign and a true minus sign, one decimal: +1.5, −0.3; a change that rounds
    to zero reads +0.0 whichever side of it it fell (not "−0.0")."""
    return number(pp, "+.1f")


def arrow(pp: float) -> str:
    return "↑" if pp > 0.05 else "↓" if pp < -0.05 else "="


def score_cell(r: dict[str, Any] | None) -> Any:
    if not r or r.get("score") is None:
        return DASH
    ci = r.get("ci95")
    small = f"[{pct(ci[0])}, {pct(ci[1])}]" if ci and None not in ci else ""
    return {"text": pct(r["score"]), "small": small} if small else pct(r["score"])


def per_seed(values: dict[str, float], form) -> str:
    """Each training seed's value, ``form``-atted: "s1 40.0 · s2 45.0"."""
    return " · ".join(f"s{k} {form(v)}" if k.isdigit() else f"{k} {form(v)}" for k, v in values.items())


def mean_cell(s: dict[str, Any] | None) -> Any:
    """An arm's mean score (percent) with its CI and, for several seeds, each seed's score."""
    if s is None:
        return DASH
    ci = s.get("ci95")
    def one(v: float) -> str:
        return number(v, ".1f")

    approx = " ≈" if s.get("approx") else ""
    small = [f"[{one(ci[0])}, {one(ci[1])}]{approx}"] if ci and not math.isnan(ci[0]) else []
    if len(s["per_seed"]) > 1:
        small.append(per_seed(s["per_seed"], one))
    return {"text": one(s["mean"]), "small": small} if small else one(s["mean"])


def model_label(run: dict[str, Any], m: dict[str, Any], multi: bool) -> str:
    return f"{run['name']}/{m['label']}" if multi else m["label"]


def delta_cell(d: dict[str, Any] | None, invert: bool = False) -> Any:
    if d is None:
        return DASH
    lo, hi = d["ci95"]
    ci = f"[{signed(lo)}, {signed(hi)}]" if not math.isnan(lo) else ""
    small: Any = ci + (" ≈" if d.get("approx") else "")
    if len(d.get("per_seed") or {}) > 1:
        small = [small, per_seed(d["per_seed"], signed)]
    cell = {"text": f"{arrow(d['diff'])} {signed(d['diff'])}", "small": small}
    return {**cell, "invert": True} if invert else cell


def fmt(x: Any) -> str:
    """A count, a time or a rate, short."""
    if x is None:
        return DASH
    if isinstance(x, float):
        return f"{x:.4g}" if abs(x) < 1000 else f"{x:,.0f}"
    return str(x)
