"""Run a list of benchmarks against one model into a results folder, re-score saved files, and
compare two results folders item by item.

Layout of ``--out DIR``::

    DIR/results.json               {"model", "adapter", "provenance", "benchmarks": {name: entry}}
                                   (each entry has the provenance of the command that ran it)
    DIR/<benchmark>/predictions.jsonl   id, prompt, predict, label, score (+ extras)
    DIR/<benchmark>/settings.json  what the predictions were generated with
    DIR/<benchmark>/scores.jsonl   (a published folder, instead of predictions.jsonl) the same
                                   lines without their text: :func:`scores_only`

Resumable: ``results.json`` is rewritten atomically after each benchmark; a benchmark whose
entry was made with the same settings and limit is skipped; otherwise its predictions resume
line by line. Predictions made with other settings (model, variant, tokens, ...) are never
mixed with new ones: that is an error asking for another ``--out``.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from sdft import evaluate as battery
from sdft.config import ConfigError
from sdft.evaluate.benchmark import Benchmark
from sdft.evaluate.context import EvalContext, bench_folder
from sdft.evaluate.knowledge import KnowledgeOptions
from sdft.evaluate.stats import paired_difference
from sdft.generation.base import GenerationConfig
from sdft.generation.endpoint import DEFAULT_KEY_ENV
from sdft.models import DEFAULT_MODEL
from sdft.runs import package_versions, provenance, read_jsonl, write_json

# EvalConfig fields that are also benchmark options: each sets the option of the same name in
# every benchmark that has one (the benchmark's own `options` entry beats it).
SHARED_OPTIONS = ("allow_code_execution", "num_fewshot", "judge", "refusal_judge", "judge_base_url",
                  "judge_model", "judge_api_key_env")
# Options that change neither predictions nor scores, so they are not part of a benchmark's settings.
_NOT_SETTINGS = ("allow_code_execution", "workers", "judge_concurrency")
# EvalConfig's tables keyed by benchmark name: each name must be known, and be evaluated to count.
PER_BENCHMARK = ("variants", "answer_lengths", "benchmark_data", "options")


@dataclass
class EvalConfig:
    """Evaluate one model on a list of benchmarks.

    model: model spec (alias, local dir, .gguf, hub id) or, for backend openai, the served name
    adapter: PEFT adapter or full fine-tuned checkpoint dir (default: the seed model)
    benchmarks: benchmark names or groups (math, safety, knowledge, paper), comma-separated;
        lm_eval:TASK runs an lm-eval task by name (only one whose data is local)
    out: results folder
    limit: evaluate only the first N items of each benchmark (unset: all)
    benchmark_data: items of a benchmark from other data: a task slice or a user's CSV/JSON/JSONL
        table (prompt column found by name, or FILE#column), e.g. {gsm8k: "gsm8k:train[-300:]",
        advbench: my_redteam.csv}; flag: --benchmark-data advbench=my_redteam.csv#Behavior
    data_dir: data folder (default: $SDFT_DATA_DIR or ../shared/data)
    generation: backend, dtype and speed settings (see GenerationConfig; flags --backend, --dtype, ...)
    seed: sampling seed (greedy decoding ignores it)
    variants: prompt variant per benchmark, e.g. {gsm8k: paper} in YAML or --variant gsm8k=paper
    max_new_tokens: override every generative benchmark's default answer length
    answer_lengths: answer length for named benchmarks, beating max_new_tokens, e.g. advbench=128
    allow_code_execution: let humaneval run model-written code in the sandbox
    num_fewshot: shots for the knowledge tasks (default: the Open LLM Leaderboard's per task)
    judge: alpaca_eval judge: local (a small local model, weak), openai (an OpenAI-compatible endpoint), or a model spec
    refusal_judge: also judge advbench / advbench_jailbreak / xstest answers (refused / complied /
        useless) with local, openai or a model spec, beside the keyword score (default: off)
    judge_base_url: judge endpoint for judge openai, e.g. http://localhost:8000/v1
    judge_model: model name the judge endpoint serves
    judge_api_key_env: environment variable holding the judge endpoint's API key
    options: typed settings per benchmark (YAML), e.g.
        {humaneval: {samples: 5, temperature: 0.8}, mmlu: {batch_size: 8}}
    """

    model: str = DEFAULT_MODEL
    adapter: str | None = None
    benchmarks: list[str] = field(default_factory=lambda: ["math", "openfunction", "safety"])
    out: str = "eval"
    limit: int | None = None
    benchmark_data: dict[str, str] = field(default_factory=dict)
    data_dir: str | None = None
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    seed: int = 0
    variants: dict[str, str] = field(default_factory=dict)
    max_new_tokens: int | None = None
    answer_lengths: dict[str, int] = field(default_factory=dict)
    allow_code_execution: bool = False
    num_fewshot: int | None = None
    judge: str = "local"
    refusal_judge: str | None = None
    judge_base_url: str | None = None
    judge_model: str | None = None
    judge_api_key_env: str = DEFAULT_KEY_ENV
    options: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self):
        # Every name, variant and option is checked here, so a typo fails when the config is
        # read rather than after the first benchmarks have run.
        if self.limit is not None and self.limit < 1:  # (-1 would slice "all but one", 0 nothing)
            raise ConfigError(f"limit: must be a positive number of items (or null for all), got {self.limit}")
        lengths = {"max_new_tokens": self.max_new_tokens,
                   **{f"answer_lengths.{k}": v for k, v in self.answer_lengths.items()}}
        for what, n in lengths.items():  # (a negative cap was planned as "~-1 s")
            if n is not None and n < 1:
                raise ConfigError(f"{what}: must be a positive number of tokens, got {n}")
        names = battery.expand(self.benchmarks)
        for what in PER_BENCHMARK:
            unknown = sorted(n for n in getattr(self, what) if not battery.known(n))
            if unknown:
                raise ConfigError(f"{what}: unknown benchmark(s) {', '.join(unknown)}")
        for name, variant in self.variants.items():
            battery.get(name).variant(variant)
        for name in self.benchmark_data:
            if not battery.get(name).data:
                raise ConfigError(f"benchmark_data: {name} cannot read other items (lm-eval builds its own)")
        for name in {*names, *self.options}:
            self.benchmark_options(name)

    def ignored(self) -> list[str]:
        """One line per table (variants, answer_lengths, benchmark_data, options) naming benchmarks
        that are not evaluated: their entries are ignored (a shared YAML may hold entries for
        benchmarks a given command does not run, so this is a warning, not an error)."""
        names = battery.expand(self.benchmarks)
        lines = []
        for what in PER_BENCHMARK:
            unused = [n for n in getattr(self, what) if n not in names]
            if unused:
                lines.append(f"{what}: {', '.join(unused)} {'is' if len(unused) == 1 else 'are'} not among the "
                             f"benchmarks evaluated ({', '.join(names)}); ignored")
        return lines

    def answer_length(self, name: str) -> int | None:
        """New-token cap for one benchmark; None leaves the benchmark's own default."""
        return self.answer_lengths.get(name, self.max_new_tokens)

    def benchmark_options(self, name: str):
        """One benchmark's typed options: its ``options`` entry over the shared named fields."""
        return battery.get(name).parse_options(self.options.get(name), {k: getattr(self, k) for k in SHARED_OPTIONS})


def evaluated_generator(cfg: EvalConfig):
    """The generator of the model under evaluation (``cfg.model`` + ``cfg.adapter`` on
    ``cfg.generation``'s backend), shared by all benchmarks and built on first use."""
    from sdft.generation import make_generator

    return make_generator(cfg.generation, cfg.model, cfg.adapter)


def _decisive(opts, predictions: bool = False) -> dict[str, Any]:
    """The options that decide scores (``predictions``: only the predictions, leaving out the
    options class's ``SCORE_ONLY``, e.g. the refusal judge); those at their default are left
    out, so adding an option later does not invalidate finished results."""
    skip = set(_NOT_SETTINGS) | (set(getattr(opts, "SCORE_ONLY", ())) if predictions else set())
    return {f.name: getattr(opts, f.name) for f in fields(opts)
            if f.name not in skip and getattr(opts, f.name) != f.default}


def _settings(cfg: EvalConfig, name: str) -> dict[str, Any]:
    """What decides a benchmark's results (the limit only decides how many), as saved JSON."""
    settings = {"model": cfg.model, "adapter": cfg.adapter, "backend": cfg.generation.backend,
                "dtype": cfg.generation.dtype, "seed": cfg.seed, "data": cfg.benchmark_data.get(name),
                "variant": cfg.variants.get(name), "max_new_tokens": cfg.answer_length(name),
                "options": _decisive(cfg.benchmark_options(name))}
    # Generated answers only: lm-eval's log-likelihoods always use a merged model (knowledge.py).
    if not isinstance(cfg.benchmark_options(name), KnowledgeOptions):
        settings.update(cfg.generation.merge_record(cfg.adapter))
    return json.loads(json.dumps(settings, default=str))


def _saved_settings(saved: dict, bench: Benchmark, predictions: bool = False) -> dict:
    """Saved settings with their options read as this benchmark's; folders written before options
    were typed hold every benchmark's judge fields in each one's options, which do not count."""
    own = {f.name for f in fields(bench.options)}
    opts = bench.parse_options({k: v for k, v in (saved.get("options") or {}).items() if k in own})
    return {**saved, "options": _decisive(opts, predictions)}


def _check_settings(bench_dir: Path, bench: Benchmark, settings: dict) -> None:
    """settings.json guards the predictions: options that decide only scores do not count."""
    path = bench_dir / "settings.json"
    settings = _saved_settings(settings, bench, predictions=True)
    if path.exists():
        old = _saved_settings(json.loads(path.read_text(encoding="utf-8")), bench, predictions=True)
        if old != settings:
            diff = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
            raise ConfigError(f"{bench_dir}: predictions there were made with other settings "
                              f"({', '.join(diff)} differ); use another --out or delete that folder")
    else:
        write_json(path, settings)


def run_eval(cfg: EvalConfig, get_generator: Callable[[], Any] | None = None,
             progress: bool = True) -> dict[str, Any]:
    """Run the benchmarks of ``cfg``; returns (and writes) the results.json content."""
    from sdft.data.tasks import data_dir as default_data_dir

    out = Path(cfg.out)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text(encoding="utf-8")) if results_path.exists() else {}
    # the top level is this invocation's; each entry keeps the provenance of the one that ran it
    results.update(model=cfg.model, adapter=cfg.adapter, config=asdict(cfg), provenance=(prov := provenance()))
    entries = results.setdefault("benchmarks", {})
    data_dir = default_data_dir(cfg.data_dir)

    generator = None

    def shared_generator():
        nonlocal generator
        if generator is None:
            generator = (get_generator or (lambda: evaluated_generator(cfg)))()
        return generator

    for name in battery.expand(cfg.benchmarks):
        bench, settings = battery.get(name), _settings(cfg, name)
        old = entries.get(name)
        if old and old.get("limit") == cfg.limit and _saved_settings(old.get("settings") or {}, bench) == settings:
            continue
        bench_dir = bench_folder(out, name)
        _check_settings(bench_dir, bench, settings)
        ctx = EvalContext(model=cfg.model, adapter=cfg.adapter, out_dir=bench_dir, data_dir=data_dir,
                          get_generator=shared_generator, options=cfg.benchmark_options(name), limit=cfg.limit,
                          data=cfg.benchmark_data.get(name), variant=cfg.variants.get(name), seed=cfg.seed,
                          max_new_tokens=cfg.answer_length(name), dtype=cfg.generation.dtype, progress=progress)
        t0 = time.perf_counter()
        entry = bench.run(bench, ctx)
        entry.setdefault("wall_s", round(time.perf_counter() - t0, 2))
        entry.update(benchmark=name, model=cfg.model, adapter=cfg.adapter, limit=cfg.limit,
                     settings=settings, versions=package_versions(), dtype=_dtype_used(generator, cfg),
                     provenance=prov)
        entries[name] = entry
        write_json(results_path, results)
    write_json(results_path, results)
    return results


def _dtype_used(generator, cfg: EvalConfig) -> str:
    """The concrete dtype the model ran in (``auto`` resolved), where the backend knows it."""
    model = getattr(generator, "model", None)
    return getattr(model, "sdft_dtype", None) or getattr(generator, "dtype_used", None) or cfg.generation.dtype


def _read_predictions(path: str | Path) -> list[dict]:
    """Our predictions.jsonl or LLaMA-Factory's generated_predictions.jsonl (no ids: line numbers).
    Every scorer reads ``predict`` and ``label`` as text (IFEval's label is a JSON string; null,
    as in older AdvBench files, is empty text), so another type is an error naming the line; so
    is an id given twice (which line's score is it?)."""
    from sdft.data.records import DataError

    path = Path(path)
    if path.is_dir():
        inside = next((p for p in (path / "predictions.jsonl", path / "generated_predictions.jsonl") if p.is_file()),
                      None)
        raise DataError(f"{path}: is a folder, not a predictions file"
                        + (f"; did you mean {inside}?" if inside else ""))
    if not path.is_file():
        raise DataError(f"{path}: no such predictions file")
    records, seen = [], {}
    for i, rec in enumerate(read_jsonl(path), 1):
        for key in ("predict", "label"):
            if key not in rec:
                raise DataError(f"{path}:{i}: a prediction needs `predict` and `label` fields")
            if rec[key] is not None and not isinstance(rec[key], str):
                raise DataError(f"{path}:{i}: field `{key}`: expected text, got {type(rec[key]).__name__} "
                                f"{str(rec[key])[:60]!r}")
        rec.setdefault("id", str(i - 1))
        if str(rec["id"]) in seen:
            raise DataError(f"{path}:{i}: id {rec['id']!r} is also on line {seen[str(rec['id'])]}; "
                            "each prediction needs its own id")
        seen[str(rec["id"])] = i
        records.append(rec)
    if not records:  # a score of nan over n=0 is no result: most likely the wrong file
        raise DataError(f"{path}: no predictions in the file (it is empty)")
    return records


def score_file(benchmark: str, path: str | Path, options: dict | None = None, data_dir: str | None = None,
               seed: int = 0, allow_code_execution: bool = False, progress: bool = True,
               write: bool = False) -> dict[str, Any]:
    """Score a predictions file; existing ``score`` fields are recomputed. ``options`` are the
    benchmark's own (as in ``EvalConfig.options``). No model is needed, except a judge that
    ``options`` asks for (``refusal_judge``): its verdicts are then written into the file (the
    other fields left as they were), so scoring it again judges nothing.

    ``write``: also write the recomputed per-item fields into the file, and the new ``extra``
    into the benchmark's entry of the folder's results.json (``<dir>/<benchmark>/predictions.jsonl``
    next to ``<dir>/results.json``), so files scored before a metric existed (the strict refusal
    rule) gain it. The score itself must come out as saved: a line or an entry whose score
    would change is a DataError, and nothing is written. The result then has ``written``: the file,
    the per-item fields it gained, the results.json updated (None without an entry) and its new
    ``extra`` keys."""
    from sdft.data.tasks import data_dir as default_data_dir
    from sdft.evaluate.generative import rewrite, score_records, summarize

    bench = battery.get(benchmark)
    if not bench.scores_files:
        raise ConfigError(f"{benchmark} is not a generative benchmark; it cannot score a file")
    lines = _read_predictions(path)
    _check_labels(bench, path, lines)
    # scored as text: null is empty (the file keeps its null: _write_scores adds fields only)
    records = [{**{k: v for k, v in r.items() if k != "score"}, "predict": r["predict"] or "",
                "label": r["label"] or ""} for r in lines]
    # Only a batch scorer (humaneval's tests) reads the data folder, so only it needs one.
    ctx = EvalContext(model="", adapter=None, out_dir=Path(path).parent, get_generator=lambda: None,
                      data_dir=default_data_dir(data_dir) if bench.score_many else None, progress=progress,
                      options=bench.parse_options(options, {"allow_code_execution": allow_code_execution}))
    score_records(bench, records, ctx)
    if bench.judge is not None:
        before = [dict(r) for r in records]
        if bench.judge(records, ctx, Path(path)):
            for line, old, new in zip(lines, before, records):
                line.update({k: v for k, v in new.items() if old.get(k) != v})
            rewrite(Path(path), lines)
    res = {"benchmark": benchmark, "file": str(path), **summarize(bench, records, seed)}
    if res.get("n") == 0:  # nan over no item is no result: the lines are not what this benchmark counts
        from sdft.data.records import DataError

        raise DataError(f"{path}: no line counts toward {benchmark}'s {res.get('metric')} (n=0 after scoring); "
                        f"is it another benchmark's predictions?")
    if write:
        res["written"] = _write_scores(Path(path), lines, records, res)
    return res


def _check_labels(bench: Benchmark, path: str | Path, lines: list[dict]) -> None:
    """Every line's label must be one ``bench`` scores: a file of another benchmark's predictions
    would otherwise score (0.0 or nan) as if it were a result."""
    from sdft.data.records import DataError

    bad = [(i, why) for i, r in enumerate(lines, 1) if (why := bench.check_label(r["label"] or "")) is not None]
    if bad:
        i, why = bad[0]
        which = (f"no line has a {bench.name} label; is it another benchmark's predictions?" if len(bad) == len(lines)
                 else f"{len(bad)} of {len(lines)} lines have no {bench.name} label")
        raise DataError(f"{path}:{i}: field `label`: {why} ({which})")


def _write_scores(path: Path, lines: list[dict], records: list[dict], res: dict[str, Any]) -> dict[str, Any]:
    """:func:`score_file`'s ``write``: the per-item fields into ``path``, ``extra`` into results.json.
    Returns what was written: {"file", "fields_added", "results" (None: no entry), "extra_added"}."""
    from sdft.data.records import DataError
    from sdft.evaluate.generative import rewrite

    for i, (line, new) in enumerate(zip(lines, records), 1):
        if "score" in line and not (_number(line["score"]) and float(line["score"]) == float(new["score"])):
            raise DataError(f"{path}:{i}: score {line['score']!r} would become {new['score']}; not written")
    results_path = path.parent.parent / "results.json"
    results = json.loads(results_path.read_text(encoding="utf-8")) if results_path.is_file() else None
    entry = ((results or {}).get("benchmarks") or {}).get(res["benchmark"])
    if entry is not None and not (_number(saved := entry.get("score", float("nan")))
                                  and abs(float(saved) - res["score"]) < 1e-12):
        raise DataError(f"{results_path}: {res['benchmark']} score {entry.get('score')!r} would become "
                        f"{res['score']}; not written")
    added = sorted({k for line, new in zip(lines, records) for k in new if k not in line})
    rewrite(path, [{**line, **{k: v for k, v in new.items() if k not in ("predict", "label")}}
                   for line, new in zip(lines, records)])
    written = {"file": str(path), "fields_added": added, "results": None, "extra_added": []}
    if entry is not None:
        written.update(results=str(results_path), extra_added=sorted(set(res["extra"]) - set(entry.get("extra") or {})))
        entry["extra"] = res["extra"]
        write_json(results_path, results)
    return written


SCORES_FILE = "scores.jsonl"
TEXT_FIELDS = ("prompt", "predict", "request", "error")  # what a published scores file never keeps
_TOKEN = re.compile(r"[\w:/.@+-]{0,80}")  # an id, a status, an instruction name: no spaces


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float)):
        return True
    if isinstance(value, str):
        return bool(_TOKEN.fullmatch(value))
    return isinstance(value, list) and all(_plain(v) for v in value)


def scores_only(records: list[dict]) -> list[dict]:
    """The lines of a predictions file without their text, for publishing (``scores.jsonl``):
    numbers, flags and short tokens (ids, statuses, IFEval's instruction names) stay, the prompt,
    answer, request and error go, and so does every other string with a space. ``label`` stays
    only when every line's is such a token (XSTest's safe/unsafe, HumanEval's task ids; not
    GSM8K's reference solutions), so the per-item rules of :func:`item_scores` read the file as
    they read the predictions."""
    labels = all(_plain(r.get("label", "")) and isinstance(r.get("label", ""), str) for r in records)
    return [{k: v for k, v in r.items() if k not in TEXT_FIELDS and (k != "label" or labels) and _plain(v)}
            for r in records]


def scored_lines_file(results_dir: str | Path, benchmark: str) -> Path | None:
    """The file a benchmark's per-item scores are read from: its predictions, else (a published
    folder) its :data:`SCORES_FILE`; None when neither exists."""
    folder = bench_folder(results_dir, benchmark)
    return next((p for p in (folder / "predictions.jsonl", folder / SCORES_FILE) if p.is_file()), None)


def item_scores(results_dir: str | Path, benchmark: str, label: str | None = None,
                field: str = "score") -> dict[str, float]:
    """Per-item scores of one benchmark in a results folder (per task for humaneval): the one rule
    for which lines an item score is read from, used by `sdft compare` and the report. ``label``:
    only the lines with that label (XSTest's ``unsafe`` prompts; a line without one counts as
    ``safe``) instead of the benchmark's own per-item selection; ``field``: the per-item field read
    (IFEval's ``prompt_loose``, its instruction counts ``inst_strict`` / ``inst_loose`` /
    ``inst_given``, ``refusal_strict``: the strict rule); lines without it, and lines not yet
    scored, are left out.
    Read from the predictions, or from a published folder's scores file (:func:`scores_only`)."""
    from sdft.data.records import DataError

    path = scored_lines_file(results_dir, benchmark)
    if path is None:
        raise DataError(f"{bench_folder(results_dir, benchmark) / 'predictions.jsonl'}: no predictions for "
                        f"{benchmark} in {results_dir}")
    records = list(read_jsonl(path))
    for i, r in enumerate(records, 1):
        if "id" not in r:
            raise DataError(f"{path}: record {i} has no `id`")
        if r.get("score") is not None and not _number(r["score"]):  # else dropped unseen, and n shrinks
            raise DataError(f"{path}:{i}: field `score`: expected a number, got {r['score']!r}")
    records = [r for r in records if _number(r.get("score"))]  # a line generated, not yet scored, is no item
    if label is not None:
        records = [r for r in records if (r.get("label") or "safe") == label]
    else:  # may add fields (IFEval's instruction counts), so `field` is looked for after it
        records = battery.get(benchmark).per_item(records)
    return {str(r["id"]): float(r[field]) for r in records if _number(r.get(field))}


def _number(x: Any) -> bool:
    return isinstance(x, (int, float))


def per_given(rows: list[list[float]], given: list[float]) -> list[list[float]]:
    """Counts over items (IFEval's instructions followed per prompt) as item scores whose mean is
    a ratio of sums: each divided by the mean of ``given`` (the instructions each prompt gives,
    the same for every model) over these items, so a row's mean is its followed over given."""
    scale = sum(given) / len(given) if given else 0.0
    return [[v / scale for v in row] for row in rows] if scale else rows


def compare_results(dir_a: str | Path, dir_b: str | Path, benchmark: str, seed: int = 0,
                    label: str | None = None, field: str = "score", per: str | None = None) -> dict[str, Any]:
    """Paired difference B - A on the items both folders scored, with a bootstrap CI (``label``,
    ``field``: as :func:`item_scores`; ``per``: the field of each item's count that ``field``
    counts out of, for a ratio of sums, see :func:`per_given`)."""
    a, b = item_scores(dir_a, benchmark, label, field), item_scores(dir_b, benchmark, label, field)
    shared = sorted(set(a) & set(b))
    sa, sb = [a[i] for i in shared], [b[i] for i in shared]
    if per is not None:  # counts: the ratio of sums over the shared items
        given = item_scores(dir_a, benchmark, label, per)
        sa, sb = per_given([sa, sb], [given[i] for i in shared])
    n = len(shared)
    return {"benchmark": benchmark, "label": label, "field": field, "a": str(dir_a), "b": str(dir_b), "n": n,
            "only_a": len(a) - n, "only_b": len(b) - n,
            "mean_a": sum(sa) / n if n else float("nan"), "mean_b": sum(sb) / n if n else float("nan"),
            **{k: v for k, v in paired_difference(sa, sb, seed=seed).items() if k != "n"}}
