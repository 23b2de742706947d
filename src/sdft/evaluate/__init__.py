"""The evaluation battery of the paper (§3.2): one small module per benchmark family.

``BENCHMARKS`` maps a benchmark name to its :class:`~sdft.evaluate.benchmark.Benchmark`, whose
``run(bench, ctx) -> dict`` produces its ``results.json`` entry. The modules hold only their
scorers and data hooks; heavy dependencies (lm-eval, torch, the sandbox) are imported inside the
hooks that need them, so importing this package stays light. ``GROUPS`` are names for sets of
benchmarks usable wherever a list is expected. ``lm_eval:TASK`` names any lm-eval task (a rule
in :func:`get`, not an entry per task).
"""

from __future__ import annotations

from sdft.evaluate import (
    advbench,
    alpaca_eval,
    humaneval,
    ifeval,
    knowledge,
    math_reasoning,
    openfunction,
    xstest,
)
from sdft.evaluate.benchmark import Benchmark

BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in (
    math_reasoning.GSM8K, math_reasoning.MULTIARITH, openfunction.OPENFUNCTION, humaneval.HUMANEVAL,
    advbench.ADVBENCH, advbench.ADVBENCH_JAILBREAK, xstest.XSTEST, ifeval.IFEVAL, alpaca_eval.ALPACA_EVAL,
    *knowledge.BENCHMARKS,
)}

GROUPS: dict[str, list[str]] = {
    "math": ["gsm8k", "multiarith"],
    "safety": ["advbench", "advbench_jailbreak", "xstest"],
    "knowledge": [b.name for b in knowledge.BENCHMARKS],
    "paper": list(BENCHMARKS),
}


def get(name: str) -> Benchmark:
    """The benchmark called ``name``: an entry of BENCHMARKS, or ``lm_eval:TASK`` for an lm-eval
    task by name (:func:`sdft.evaluate.knowledge.named`); an unknown name is a ConfigError that
    lists the known ones."""
    if name.startswith(knowledge.PREFIX):
        return knowledge.named(name)
    if name not in BENCHMARKS:
        from sdft.config import ConfigError

        raise ConfigError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}, "
                          f"{knowledge.PREFIX}TASK (an lm-eval task whose data is local); groups: {', '.join(GROUPS)}")
    return BENCHMARKS[name]


def known(name: str) -> bool:
    """Whether ``name`` is a benchmark (without building anything)."""
    return name in BENCHMARKS or name.startswith(knowledge.PREFIX)


def expand(names: list[str] | str) -> list[str]:
    """Benchmark names with groups expanded, in order, without duplicates; unknown names are a
    ConfigError that lists the known ones."""
    if isinstance(names, str):
        names = [n for n in (s.strip() for s in names.split(",")) if n]
    out: list[str] = []
    for n in names:
        for m in GROUPS.get(n, [n]):
            if get(m).name not in out:
                out.append(m)
    return out
