"""HumanEval: pass@1 of the model's function, run against the benchmark's tests in the sandbox.

The chat model is shown the signature + docstring and asked for the whole function (variant
``complete``). From its answer we take the first fenced code block that defines the entry
point (else the first block, else the raw text), then build the program: if the code defines
the entry point, the prompt's import lines + the code; otherwise it is taken as the body and
appended to the prompt. The program is then sanitized the way EvalPlus does: top-level code
other than imports, definitions and assignments (the model's own prints and asserts) is
dropped, and an answer cut off by the token limit loses its unfinished last lines, so a
complete function followed by a half-written test call is not failed as a SyntaxError.
``program + test + check(entry_point)`` runs in
:mod:`sdft.evaluate.sandbox` (separate limited process; read its docstring for what is not
isolated), where ``check`` sees the function's results only as plain data: a completion
returning an object whose ``__eq__`` always answers True fails (it passes in OpenAI's
human-eval harness). Model-written code is executed, so this benchmark refuses to run without
``--allow-code-execution`` or ``SDFT_ALLOW_CODE_EXECUTION=1``.

Options (:class:`HumanEvalOptions`): with ``samples: n > 1`` (and a temperature > 0) each task
gets n samples, the task's score is c/n (the unbiased pass@1 estimate) and pass@k for k in
(5, 10) ≤ n is reported with the estimator of Chen et al. (2021); ``timeout_s`` and ``workers``
set the sandbox's wall time per program and parallel runs. The label written per line is the
task id; the tests are looked up again from the data when scoring, so saved files re-score
exactly.
"""

from __future__ import annotations

import ast
import math
import re
from collections import defaultdict
from dataclasses import dataclass

from sdft.data.records import DataError
from sdft.evaluate.benchmark import Benchmark, Sampling
from sdft.evaluate.context import EvalContext
from sdft.evaluate.generative import run_generative

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)


@dataclass(frozen=True)
class HumanEvalOptions(Sampling):
    """Sampling, plus the sandbox's settings.

    timeout_s: wall seconds one program may run
    workers: programs run in parallel
    allow_code_execution: run the model's code at all (EvalConfig's field of the same name sets it)
    """

    timeout_s: float = 10.0
    workers: int = 2
    allow_code_execution: bool = False


def extract_code(text: str, entry_point: str | None = None) -> str:
    blocks = [b for lang, b in _FENCE.findall(text or "") if lang.lower() in ("", "python", "py", "python3")]
    if entry_point:
        for b in blocks:
            if re.search(rf"^\s*def\s+{re.escape(entry_point)}\s*\(", b, re.M):
                return b
    return blocks[0] if blocks else (text or "")


def build_program(prompt: str, completion: str, entry_point: str) -> str:
    code = extract_code(completion, entry_point)
    if re.search(rf"^\s*def\s+{re.escape(entry_point)}\s*\(", code, re.M):
        imports = [ln for ln in prompt.splitlines() if re.match(r"(import|from)\s+\w", ln)]
        return sanitize("\n".join(imports) + "\n\n" + code)
    return sanitize(prompt + code)


_KEEP = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign,
         ast.AnnAssign)


def sanitize(program: str) -> str:
    """Imports, definitions and assignments of ``program``, after cutting unfinished last lines.

    The longest prefix of whole lines that parses is kept (an answer cut off mid-statement);
    a program with no parsing prefix that holds a definition is returned unchanged, to fail
    honestly in the sandbox.
    """
    lines = program.splitlines()
    for end in range(len(lines), 0, -1):
        try:
            tree = ast.parse("\n".join(lines[:end]))
        except (SyntaxError, ValueError):
            continue
        kept = [n for n in tree.body if isinstance(n, _KEEP)]
        if not any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in kept):
            break
        out = []
        for n in kept:
            first = min([n.lineno] + [d.lineno for d in getattr(n, "decorator_list", [])])
            out.extend(lines[first - 1: n.end_lineno])
        return "\n".join(out) + "\n"
    return program


def test_program(program: str, test: str, entry_point: str) -> str:
    """The program the sandbox runs: the tests get the function with its results turned into plain
    data (:mod:`sdft.evaluate.sandbox`), so an object whose ``__eq__`` always says True fails."""
    return f"{program}\n\n{test}\n\ncheck(_sdft_plain_results({entry_point}))\n"


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimator of pass@k from n samples with c correct: 1 - C(n-c, k) / C(n, k)."""
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def score_many(records: list[dict], ctx: EvalContext) -> None:
    """Run every record's program in the sandbox (``workers`` at a time); fills score, status, error."""
    from sdft.data.tasks import load_task
    from sdft.evaluate import sandbox

    opts = ctx.options
    sandbox.require_opt_in(opts.allow_code_execution, "humaneval")
    tasks = {ex.id: ex for ex in load_task("humaneval", "test", ctx.data_dir)}
    programs = []
    for r in records:
        ex = tasks.get(r.get("label", ""))
        if ex is None:
            raise DataError(f"humaneval prediction {r.get('id')!r}: label {r.get('label')!r} is not a "
                            f"HumanEval task id")
        m = ex.meta
        programs.append(test_program(build_program(m["prompt"], r.get("predict", ""), m["entry_point"]),
                                     m["test"], m["entry_point"]))
    results = sandbox.run_many(programs, sandbox.Limits(timeout_s=opts.timeout_s), workers=opts.workers)
    for r, res in zip(records, results):
        r.update(score=float(res.passed), status=res.status, error=res.stderr[-500:] if not res.passed else "")


def per_item(records: list[dict]) -> list[dict]:
    by_task: dict[str, list[float]] = defaultdict(list)
    for r in records:
        by_task[r["label"]].append(float(r["score"]))
    out = []
    for task, scores in by_task.items():
        n, c = len(scores), int(sum(scores))
        item = {"id": task, "score": c / n}
        for k in (5, 10):
            if n >= k:
                item[f"pass@{k}"] = pass_at_k(n, c, k)
        out.append(item)
    return out


def run(bench: Benchmark, ctx: EvalContext) -> dict:
    from sdft.evaluate import sandbox

    # Refuse before generating anything: a run that cannot be scored is wasted time.
    sandbox.require_opt_in(ctx.options.allow_code_execution, "humaneval")
    return {**run_generative(bench, ctx), "samples_per_task": ctx.options.samples, "sandbox": sandbox.isolation()}


HUMANEVAL = Benchmark("humaneval", "pass@1", data="humaneval:test", prompt="humaneval", variants=("complete",),
                      max_new_tokens=512, options=HumanEvalOptions, extra_metrics=("pass@5", "pass@10"),
                      label=lambda ex: ex.id, score_many=score_many, per_item=per_item, run=run)
