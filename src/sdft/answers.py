"""Answer extraction and comparison shared by distillation (selection) and evaluation (scoring).

Three kinds of answers appear in the SDFT tasks:

* **math** (GSM8K, MultiArith): the final integer of a response. :func:`last_number` follows the
  SDFT authors' rule (their ``find_last_integer``): take the *last* number-like match in the
  text, whatever precedes it; if that match has a non-zero fractional part the response has no
  integer answer (we do not look further left).
* **function calls** (OpenFunctions): :func:`paper_function_match` is the paper's score (a
  normalised substring test); :func:`call_matches` is a stricter-but-fairer AST comparison that
  ignores keyword order, quote style and spacing.
* **code**: :func:`has_code_block` only says a fenced block exists; running code is the
  evaluation sandbox's job.

Limits: the math rule inherits the paper's quirks on purpose (see :func:`last_number`); the call
parser finds calls written as Python expressions only (not JSON tool calls), and compares
argument values as literals, so ``x=1`` and ``x=1.0`` differ.
"""

from __future__ import annotations

import ast
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

# -------------------------------------------------------------------------------------- math

# Same shape as the SDFT authors' pattern: optional minus, digits, then groups of digits joined
# by a comma or whitespace (thousands separators), then an optional fractional part. ``\s``
# includes newlines, so digits split only by whitespace merge ("12 15" -> 1215); we keep that
# to score exactly as the paper did.
_NUMBER = re.compile(r"-?\d+(?:[,\s]\d+)*(?:\.\d+)?")


def last_number(text: str) -> str | None:
    """The final integer answer in ``text`` as a normalised integer string, or None.

    The last number-like match wins; separators are dropped; a fractional part is allowed only
    if it is all zeros. Examples::

        "The answer is 1,080."        -> "1080"
        "That is 1 000 000 steps"     -> "1000000"
        "It was -7 degrees"           -> "-7"
        "costs 12.0 dollars"          -> "12"
        "5 apples cost 12.5 dollars"  -> None   (last number is not an integer; no look-back)
        "The answer is 018"           -> "18"   (compared as integers, as the paper does)
        "no digits here"              -> None
    """
    matches = _NUMBER.findall(text or "")
    if not matches:
        return None
    # \d matches every script's decimal digits (full-width １２, Arabic-Indic ١٢); int() read them
    # as their values, and so does this (ASCII from here on)
    number = "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in re.sub(r"[,\s]", "", matches[-1]))
    whole, _, frac = number.partition(".")
    if frac.strip("0"):
        return None
    return _integer_text(whole)


def _integer_text(digits: str) -> str:
    """``str(int(digits))`` without int's 4,300-digit cap, which a degenerate answer ("0 0 0 ...",
    merged by the separator rule) can pass."""
    sign, body = ("-", digits[1:]) if digits.startswith("-") else ("", digits)
    body = body.lstrip("0") or "0"
    return body if body == "0" else sign + body


def math_answers_equal(pred_text: str, ref_text: str) -> bool:
    """Both texts' final integers (by :func:`last_number`) exist and are equal."""
    pred, ref = last_number(pred_text), last_number(ref_text)
    return pred is not None and pred == ref


# ------------------------------------------------------------------------------ function calls


class Source(str):
    """A non-literal argument kept as its (``ast.unparse``-normalised) source text.

    It never equals a plain string, so ``x=arr1`` and ``x='arr1'`` stay different."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Source) and str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return f"Source({str.__repr__(self)})"


@dataclass
class Call:
    """One call expression: dotted ``name`` (or the callee's source for ``f(a)(b)``), literal
    positional ``args`` and keyword ``kwargs`` (non-literals as :class:`Source`)."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    source: str = ""


def _value(node: ast.AST) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return Source(ast.unparse(node))


def _dotted(func: ast.AST) -> str:
    parts, node = [], func
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return ast.unparse(func)  # e.g. ``f(a)(b)``: the callee is itself a call


def _to_call(node: ast.Call) -> Call:
    kwargs = {}
    for kw in node.keywords:
        # ``**opts`` has no name; key it by its source so it still takes part in comparison.
        key = kw.arg if kw.arg is not None else "**" + ast.unparse(kw.value)
        kwargs[key] = _value(kw.value)
    return Call(_dotted(node.func), tuple(_value(a) for a in node.args), kwargs, ast.unparse(node))


_CALL_START = re.compile(r"(?<![\w.])[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*\(")


def _balanced_end(text: str, open_at: int) -> int | None:
    """Index just past the ``)`` matching ``text[open_at] == "("``, skipping string literals;
    calls chained as ``f(a)(b)`` are taken whole."""
    depth, i, quote = 0, open_at, None
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif text.startswith(quote, i):
                i += len(quote) - 1
                quote = None
        elif ch in "\"'":
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            i += len(quote) - 1
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                if i + 1 < len(text) and text[i + 1] == "(":
                    i += 1
                    continue
                return i + 1
        i += 1
    return None


def parse_calls(text: str) -> list[Call]:
    """Every call expression in ``text`` that Python's ``ast`` accepts, outermost first.

    Works on prose, inline backticks and fenced blocks alike: each ``name(`` or
    ``dotted.name(`` start is extended to its balanced ``)`` and parsed; calls nested inside a
    parsed call (``print(f(x=1))``) are returned too, after their parent.
    """
    text = text or ""
    out: list[Call] = []
    pos = 0
    while True:
        m = _CALL_START.search(text, pos)
        if not m:
            break
        end = _balanced_end(text, m.end() - 1)
        if end is None:
            pos = m.end()
            continue
        try:
            tree = ast.parse(text[m.start():end], mode="eval")
        except (SyntaxError, ValueError, RecursionError):
            pos = m.end()  # an inner call may still parse on its own
            continue
        out.extend(_to_call(n) for n in ast.walk(tree) if isinstance(n, ast.Call))
        pos = end
    return out


def _canon(v: Any) -> Any:
    """A comparable key: type-aware (1 != 1.0 != True), order-free for dicts and sets."""
    if isinstance(v, Source):
        return ("src", str(v))
    if isinstance(v, dict):
        return ("dict", tuple(sorted((repr(_canon(k)), _canon(x)) for k, x in v.items())))
    if isinstance(v, (set, frozenset)):
        return ("set", tuple(sorted(repr(_canon(x)) for x in v)))
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, tuple(_canon(x) for x in v))
    return (type(v).__name__, v)


def calls_equal(a: Call, b: Call) -> bool:
    """Same dotted name, same positional values, same keyword names and values (any order,
    any quote style or spacing, since values are compared after parsing)."""
    if a.name != b.name or len(a.args) != len(b.args) or set(a.kwargs) != set(b.kwargs):
        return False
    if any(_canon(x) != _canon(y) for x, y in zip(a.args, b.args)):
        return False
    return all(_canon(a.kwargs[k]) == _canon(b.kwargs[k]) for k in a.kwargs)


def call_matches(pred_text: str, ref_call: str) -> bool:
    """``pred_text`` contains a call equal (:func:`calls_equal`) to the reference call.

    The reference is its outermost parsed call. A reference that does not parse (3 of the
    2,323 OpenFunctions records use placeholders like ``token=<session_token>``) falls back to
    :func:`paper_function_match`.
    """
    refs = parse_calls(ref_call)
    if not refs:
        return paper_function_match(pred_text, ref_call)
    ref = refs[0]
    return any(calls_equal(c, ref) for c in parse_calls(pred_text))


def _standardize_call(s: str) -> str:
    s = re.sub(r"\s+", " ", (s or "").strip())
    return s.replace("'", '"').replace(", ", ",")


_REF_CALL = re.compile(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\((.*)\)", re.S)


def paper_function_match(pred_text: str, ref_call: str) -> bool:
    """The paper's OpenFunctions score: after collapsing whitespace, mapping ``'`` to ``"``
    and ``", "`` to ``","`` in both texts, the reference ``name(args)`` must occur in the
    prediction, starting at a word boundary. Keyword order matters here (it does not in
    :func:`call_matches`)."""
    ref, pred = _standardize_call(ref_call), _standardize_call(pred_text)
    m = _REF_CALL.match(ref)
    if not m:
        return bool(ref) and ref in pred
    name, params = m.groups()
    return re.search(r"\b" + re.escape(name) + r"\(" + re.escape(params) + r"\)", pred) is not None


# ------------------------------------------------------------------------------------- code

_FENCE = re.compile(r"```[^\n`]*\n.*?```", re.S)


def has_code_block(text: str) -> bool:
    """A closed fenced code block (```` ```lang ... ``` ````) is present."""
    return _FENCE.search(text or "") is not None
