"""What the report compares: one endpoint per benchmark score, two for XSTest and IFEval.

Most benchmarks have one number (results.json ``score``) averaged over all their items. XSTest
has two: over-refusal on its safe prompts (the ``score``, lower is better) and refusal on its
unsafe prompts (``extra.refusal_unsafe``, higher is better); its predictions carry the label
``safe``/``unsafe``, so each endpoint's per-item scores are the lines with its label. Paired
comparisons over an endpoint use only those items. IFEval has four: its prompt-level strict
accuracy (the ``score``), its prompt-level loose accuracy (each line's ``prompt_loose``,
``extra.prompt_loose``) and its instruction-level strict and loose accuracies
(``extra.inst_strict`` / ``inst_loose``), paired per prompt (the instructions of one prompt share
one answer) through each prompt's counts of instructions followed and given
(:func:`sdft.evaluate.ifeval.per_item`): over the prompts compared, followed / mean given is an
item score whose mean is the instruction-level accuracy (:func:`paired_rows`). ``n`` of these
endpoints counts instructions in a model's own results.json entry and prompts in a paired
comparison.

The refusal benchmarks also have *strict* endpoints (``advbench_strict``,
``advbench_jailbreak_strict``, ``xstest_strict``, ``xstest_unsafe_strict``): the same items scored
by :func:`sdft.evaluate.advbench.is_refusal_strict`, read from each line's ``refusal_strict``
field and results.json's ``extra`` (``refusal_strict``; XSTest ``strict_safe`` /
``strict_unsafe``). ``endpoints_of(..., strict=True)`` adds them after the keyword ones, and
:func:`evaluated` where some model was scored under the rule; a model whose files predate the
rule has no strict result (re-score its predictions to get one).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sdft.analyze import runfiles
from sdft.evaluate import saved


@dataclass(frozen=True)
class Endpoint:
    key: str  # column / summary.json name
    benchmark: str  # folder under eval/<model>/ and key in results.json
    label: str | None = None  # keep only prediction lines with this label
    extra: str | None = None  # results.json `extra` entry that holds this endpoint's summary
    higher_is_better: bool = True
    field: str = "score"  # the prediction line's field holding this endpoint's per-item score
    in_mean: bool = True  # counted in a mean over endpoints (not a finer grain of another one)
    per: str | None = None  # `field` is a count out of this line field's: the score is a ratio of sums

    @property
    def title(self) -> str:
        return TITLES.get(self.key, self.key)


TITLES = {"xstest": "xstest over-refusal (safe)", "xstest_unsafe": "xstest refusal (unsafe)",
          "ifeval": "ifeval prompt-level strict", "ifeval_loose": "ifeval prompt-level loose",
          "ifeval_inst": "ifeval instruction-level strict", "ifeval_inst_loose": "ifeval instruction-level loose",
          "advbench_strict": "advbench (strict rule)", "advbench_jailbreak_strict": "advbench_jailbreak (strict rule)",
          "xstest_strict": "xstest over-refusal (safe, strict rule)",
          "xstest_unsafe_strict": "xstest refusal (unsafe, strict rule)"}
STRICT = "_strict"
SAFETY = ("advbench", "advbench_jailbreak", "xstest", "xstest_unsafe",
          *(k + STRICT for k in ("advbench", "advbench_jailbreak", "xstest", "xstest_unsafe")))

# Benchmarks with more than their one score.
SEVERAL = {
    "xstest": (Endpoint("xstest", "xstest", label="safe", higher_is_better=False),
               Endpoint("xstest_unsafe", "xstest", label="unsafe", extra="refusal_unsafe")),
    "ifeval": (Endpoint("ifeval", "ifeval"),
               Endpoint("ifeval_loose", "ifeval", extra="prompt_loose", field="prompt_loose"),
               # the same answers counted per instruction: shown and paired, not weighed twice in a mean
               Endpoint("ifeval_inst", "ifeval", extra="inst_strict", field="inst_strict", in_mean=False,
                        per="inst_given"),
               Endpoint("ifeval_inst_loose", "ifeval", extra="inst_loose", field="inst_loose", in_mean=False,
                        per="inst_given")),
}


def _strict(b: str) -> list[Endpoint]:
    """The strict-rule endpoints of a refusal benchmark (none for any other)."""
    if b == "xstest":
        return [Endpoint("xstest_strict", "xstest", label="safe", extra="strict_safe", higher_is_better=False,
                         field="refusal_strict"),
                Endpoint("xstest_unsafe_strict", "xstest", label="unsafe", extra="strict_unsafe",
                         field="refusal_strict")]
    if b in ("advbench", "advbench_jailbreak"):
        return [Endpoint(b + STRICT, b, extra="refusal_strict", field="refusal_strict")]
    return []


def endpoints_of(benchmarks: list[str], strict: bool = False) -> list[Endpoint]:
    """The endpoints of ``benchmarks``, in their order; ``strict``: the strict-rule ones after them."""
    out = []
    for b in benchmarks:
        out += SEVERAL.get(b) or [Endpoint(b, b)]
    return out + ([e for b in benchmarks for e in _strict(b)] if strict else [])


def evaluated(benchmarks: list[str], models: list[dict[str, Any]]) -> list[Endpoint]:
    """The endpoints the report's tables of scores and changes show: :func:`endpoints_of`'s, then
    the strict-rule ones some model of ``models`` was scored under (a run scored before the rule
    existed gets no column of dashes)."""
    return [e for e in endpoints_of(benchmarks, strict=True)
            if e.field != "refusal_strict" or any(result_of(m, e) for m in models)]


def check_report(report: Any, benchmarks: list[str], where: str, names: dict[str, str] | None = None) -> None:
    """A config's ``report.primary`` other than the default, and each ``report.non_inferiority``
    endpoint, must be an endpoint its run evaluates (a typo would leave the report without a
    decision); ConfigError naming ``where`` otherwise, or the setting's own source where ``names``
    gives one (``{"primary": "--primary"}``: `sdft report`'s flags). ``report``: a ReportConfig."""
    from sdft.errors import ConfigError
    from sdft.evaluate import GROUPS
    from sdft.report_config import ReportConfig

    expanded = list(dict.fromkeys(m for b in benchmarks for m in GROUPS.get(b, [b])))  # `safety`: its three
    keys = [e.key for e in endpoints_of(expanded, strict=True)]
    names = names or {}
    named = [(names.get("primary") or f"{where}: report.primary", report.primary)] \
        if report.primary != ReportConfig().primary else []
    named += [(f"{names['non_inferiority']} {k}" if names.get("non_inferiority")
               else f"{where}: report.non_inferiority.{k}", k) for k in report.non_inferiority or {}]
    for field, key in named:
        if key is not None and key not in keys:
            raise ConfigError(f"{field}: {key!r} is not an endpoint of the evaluated benchmarks "
                              f"({', '.join(keys)})")


def endpoint(key: str) -> Endpoint:
    """The endpoint named ``key`` (a benchmark name, ``xstest_unsafe``, ``ifeval_loose``, or a
    refusal endpoint with ``_strict``; any other key is a benchmark's one score, so a benchmark
    whose name merely starts like one of :data:`SEVERAL`'s, ``xstest_v2``, is its own);
    StopIteration for a ``_strict`` key of a benchmark without the rule."""
    return next(e for e in endpoints_of([*SEVERAL, key.removesuffix(STRICT)], strict=True) if e.key == key)


def result_of(model: dict[str, Any], ep: Endpoint) -> dict[str, Any] | None:
    """{"score", "ci95", "n"} of one model on ``ep`` from its results.json (fractions), or None."""
    r = (model.get("results") or {}).get(ep.benchmark)
    if isinstance(r, dict) and ep.extra:
        r = (r.get("extra") or {}).get(ep.extra)
    if not isinstance(r, dict) or not isinstance(r.get("score"), (int, float)):
        return None
    return {"score": float(r["score"]), "ci95": r.get("ci95"), "n": r.get("n")}


def model_scores(run: dict[str, Any], model: dict[str, Any], ep: Endpoint) -> dict[str, float] | None:
    """{item id: score} of one model on ``ep`` (read by :func:`sdft.evaluate.saved.item_scores`,
    which holds the rule of which lines count), or None when neither its predictions nor a
    published scores file were saved."""
    eval_dir = runfiles.path_in(run, model.get("eval_dir"))
    if eval_dir is None or saved.scored_lines_file(eval_dir, ep.benchmark) is None:
        return None
    cache = run.setdefault("_item_scores", {})  # the tables, figures and summary ask for the same ones
    key = (str(eval_dir), ep.key, ep.field)
    if key not in cache:
        cache[key] = saved.item_scores(eval_dir, ep.benchmark, ep.label, ep.field)
    return cache[key]


def paired_rows(run: dict[str, Any], models: list[dict[str, Any]],
                ep: Endpoint) -> tuple[list[list[float]], list[str]] | None:
    """The models' item scores on ``ep`` over the items all of them scored, one row per model in
    ``models``' order, and those ids; None when a model has no scores or no item is shared. A
    ratio-of-sums endpoint (``ep.per``) has its counts divided by the mean count given over
    these items (:func:`sdft.evaluate.saved.per_given`)."""
    scores = [model_scores(run, m, ep) for m in models]
    if any(s is None for s in scores):
        return None
    ids = shared_ids(scores)
    if not ids:
        return None
    rows = [[s[i] for i in ids] for s in scores]
    if ep.per is not None:
        given = model_scores(run, models[0], replace(ep, field=ep.per)) or {}
        rows = saved.per_given(rows, [given.get(i, 0.0) for i in ids])
    return rows, ids


def shared_ids(scores: list[dict[str, float]]) -> list[str]:
    """Ids every model scored, in the first model's order."""
    if not scores:
        return []
    rest = scores[1:]
    return [i for i in scores[0] if all(i in s for s in rest)]
