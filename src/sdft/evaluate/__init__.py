"""The evaluation battery of the paper (§3.2): one small module per benchmark family.

``BENCHMARKS`` maps a benchmark name to the module whose ``run(ctx) -> dict`` produces its
``results.json`` entry; modules are imported only when their benchmark runs. One module may
serve several names: the evaluator passes the name as ``ctx.options["benchmark"]``.
``GROUPS`` are names for sets of benchmarks usable wherever a list is expected.
"""

from __future__ import annotations

BENCHMARKS: dict[str, str] = {
    "gsm8k": "sdft.evaluate.math_reasoning",
    "multiarith": "sdft.evaluate.math_reasoning",
    "openfunction": "sdft.evaluate.openfunction",
    "humaneval": "sdft.evaluate.humaneval",
    "advbench": "sdft.evaluate.advbench",
    "advbench_jailbreak": "sdft.evaluate.advbench",
    "xstest": "sdft.evaluate.xstest",
    "alpaca_eval": "sdft.evaluate.alpaca_eval",
    "mmlu": "sdft.evaluate.knowledge",
    "truthfulqa": "sdft.evaluate.knowledge",
    "arc_easy": "sdft.evaluate.knowledge",
    "arc_challenge": "sdft.evaluate.knowledge",
    "hellaswag": "sdft.evaluate.knowledge",
    "winogrande": "sdft.evaluate.knowledge",
}

GROUPS: dict[str, list[str]] = {
    "math": ["gsm8k", "multiarith"],
    "safety": ["advbench", "advbench_jailbreak", "xstest"],
    "knowledge": ["mmlu", "truthfulqa", "arc_easy", "arc_challenge", "hellaswag", "winogrande"],
    "paper": list(BENCHMARKS),
}


def expand(names: list[str] | str) -> list[str]:
    """Benchmark names with groups expanded, in order, without duplicates; unknown names are a
    ConfigError that lists the known ones."""
    from sdft.config import ConfigError

    if isinstance(names, str):
        names = [n for n in (s.strip() for s in names.split(",")) if n]
    out: list[str] = []
    for n in names:
        members = GROUPS.get(n, [n])
        for m in members:
            if m not in BENCHMARKS:
                raise ConfigError(f"unknown benchmark {m!r}; known: {', '.join(BENCHMARKS)}; "
                                  f"groups: {', '.join(GROUPS)}")
            if m not in out:
                out.append(m)
    return out


def module(name: str):
    import importlib

    expand([name])
    return importlib.import_module(BENCHMARKS[name])
