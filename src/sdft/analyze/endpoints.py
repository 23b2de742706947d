"""What the report compares: one endpoint per benchmark score, two for XSTest and IFEval.

Most benchmarks have one number (results.json ``score``) averaged over all their items. XSTest
has two: over-refusal on its safe prompts (the ``score``, lower is better) and refusal on its
unsafe prompts (``extra.refusal_unsafe``, higher is better); its predictions carry the label
``safe``/``unsafe``, so each endpoint's per-item scores are the lines with its label. Paired
comparisons over an endpoint use only those items. IFEval has its prompt-level strict accuracy
(the ``score``) and its prompt-level loose accuracy (each line's ``prompt_loose``,
``extra.prompt_loose``); its instruction-level numbers are shown (``sdft.analyze.tables``) but
not paired per item, since the instructions of one prompt share one answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sdft.analyze import runfiles


@dataclass(frozen=True)
class Endpoint:
    key: str  # column / summary.json name
    benchmark: str  # folder under eval/<model>/ and key in results.json
    label: str | None = None  # keep only prediction lines with this label
    extra: str | None = None  # results.json `extra` entry that holds this endpoint's summary
    higher_is_better: bool = True
    field: str = "score"  # the prediction line's field holding this endpoint's per-item score

    @property
    def title(self) -> str:
        return TITLES.get(self.key, self.key)


TITLES = {"xstest": "xstest over-refusal (safe)", "xstest_unsafe": "xstest refusal (unsafe)",
          "ifeval": "ifeval prompt-level strict", "ifeval_loose": "ifeval prompt-level loose"}
SAFETY = ("advbench", "advbench_jailbreak", "xstest", "xstest_unsafe")


# Benchmarks with more than their one score.
SEVERAL = {
    "xstest": (Endpoint("xstest", "xstest", label="safe", higher_is_better=False),
               Endpoint("xstest_unsafe", "xstest", label="unsafe", extra="refusal_unsafe")),
    "ifeval": (Endpoint("ifeval", "ifeval"),
               Endpoint("ifeval_loose", "ifeval", extra="prompt_loose", field="prompt_loose")),
}


def endpoints_of(benchmarks: list[str]) -> list[Endpoint]:
    out = []
    for b in benchmarks:
        out += SEVERAL.get(b) or [Endpoint(b, b)]
    return out


def endpoint(key: str) -> Endpoint:
    """The endpoint named ``key`` (a benchmark name, ``xstest_unsafe`` or ``ifeval_loose``)."""
    for eps in SEVERAL.values():
        for e in eps:
            if e.key == key:
                return e
    return Endpoint(key, key)


def result_of(model: dict[str, Any], ep: Endpoint) -> dict[str, Any] | None:
    """{"score", "ci95", "n"} of one model on ``ep`` from its results.json (fractions), or None."""
    r = (model.get("results") or {}).get(ep.benchmark)
    if r and ep.extra:
        r = (r.get("extra") or {}).get(ep.extra)
    if not r or not isinstance(r.get("score"), (int, float)):
        return None
    return {"score": float(r["score"]), "ci95": r.get("ci95"), "n": r.get("n")}


def item_scores(run: dict[str, Any], model: dict[str, Any], ep: Endpoint) -> dict[str, float] | None:
    """{item id: score} of one model on ``ep`` from its predictions, or None when not saved."""
    cache = run.setdefault("_predictions", {})  # the tables, figures and flips all read them
    where = (model.get("eval_dir"), ep.benchmark)
    if where not in cache:
        cache[where] = runfiles.model_predictions(run, model, ep.benchmark)
    preds = cache[where]
    if preds is None:
        return None
    out = {}
    for i, rec in preds.items():
        if ep.label is not None and (rec.get("label") or "safe") != ep.label:
            continue
        s = rec.get(ep.field)
        if isinstance(s, (int, float)):
            out[i] = float(s)
    return out


def shared_ids(scores: list[dict[str, float]]) -> list[str]:
    """Ids every model scored, in the first model's order."""
    if not scores:
        return []
    rest = scores[1:]
    return [i for i in scores[0] if all(i in s for s in rest)]
