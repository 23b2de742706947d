"""Run a list of benchmarks against one model into a results folder (re-scoring saved files and
comparing two folders item by item: :mod:`sdft.evaluate.saved`).

Layout of ``--out DIR``::

    DIR/results.json               {"model", "adapter", "provenance", "benchmarks": {name: entry}}
                                   (each entry has the provenance of the command that ran it)
    DIR/<benchmark>/predictions.jsonl   id, prompt, predict, label, score (+ extras)
    DIR/<benchmark>/settings.json  what the predictions were generated with
    DIR/<benchmark>/weights.json   which weights of a local --adapter folder made them (sizes and
                                   a hash of each weights file's ends: :func:`weights_fingerprint`)
    DIR/<benchmark>/scores.jsonl   (a published folder, instead of predictions.jsonl) the same
                                   lines without their text: :func:`sdft.evaluate.saved.scores_only`

Resumable: ``results.json`` is rewritten atomically after each benchmark; a benchmark whose
entry was made with the same settings and limit is skipped; otherwise its predictions resume
line by line. Predictions made with other settings (model, variant, tokens, ...) are never
mixed with new ones, nor are those of an adapter folder retrained in place since: that is an
error asking for another ``--out``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from sdft import evaluate as battery
from sdft.config import ConfigError
from sdft.evaluate.benchmark import Benchmark
from sdft.evaluate.context import EvalContext, bench_folder
from sdft.evaluate.knowledge import KnowledgeOptions
from sdft.generation.base import GenerationConfig
from sdft.generation.endpoint import DEFAULT_KEY_ENV
from sdft.models import DEFAULT_MODEL
from sdft.runs import package_versions, provenance, write_json

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


WEIGHTS_FILE = "weights.json"  # beside settings.json: which weights of a local --adapter the answers came from


def _holds_outputs(bench_dir: Path) -> bool:
    """Anything beside settings.json (predictions, samples; not a lock, a temp file or an empty
    file): a run that stopped before its first answer (a typo in a data file, a model that would
    not load, a failed first batch) leaves settings.json alone, which guards nothing, so the
    corrected command may replace it."""
    return any(p.name not in ("settings.json", WEIGHTS_FILE) and not p.name.startswith(".")
               and not p.name.endswith(".tmp") and (p.is_dir() or p.stat().st_size > 0)
               for p in bench_dir.iterdir())


def _check_settings(bench_dir: Path, bench: Benchmark, settings: dict) -> None:
    """settings.json guards the predictions: options that decide only scores do not count."""
    path = bench_dir / "settings.json"
    settings = _saved_settings(settings, bench, predictions=True)
    if path.exists() and _holds_outputs(bench_dir):
        old = _saved_settings(json.loads(path.read_text(encoding="utf-8")), bench, predictions=True)
        if old != settings:
            diff = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
            raise ConfigError(f"{bench_dir}: predictions there were made with other settings "
                              f"({', '.join(diff)} differ); use another --out or delete that folder")
    else:
        write_json(path, settings)


def weights_fingerprint(adapter: str | None) -> dict[str, Any] | None:
    """{file: [size, sha256 of its first and last MiB]} of a local adapter (or fine-tuned
    checkpoint) folder's weights, or None (no adapter, a hub id, no weights file). Enough to tell a
    retrained folder (its weights differ throughout) without reading gigabytes."""
    import hashlib

    folder = Path(adapter) if adapter else None
    if folder is None or not folder.is_dir():
        return None
    out = {}
    for f in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("pytorch_model*.bin")) + \
            sorted(folder.glob("adapter_model*.bin")):
        size, h = f.stat().st_size, hashlib.sha256()
        with f.open("rb") as fh:
            h.update(fh.read(1 << 20))
            if size > 2 << 20:
                fh.seek(-(1 << 20), 2)
                h.update(fh.read())
        out[f.name] = [size, h.hexdigest()[:16]]
    return out or None


def _check_weights(bench_dir: Path, weights: dict[str, Any] | None, adapter: str | None) -> None:
    """The answers in ``bench_dir`` came from these weights: a folder retrained in place (``sdft
    train --overwrite``) would otherwise get its old scores reported (a finished benchmark is
    skipped) or old and new answers mixed (an unfinished one resumes)."""
    path = bench_dir / WEIGHTS_FILE
    if weights is None or not bench_dir.is_dir():
        return
    if path.exists() and _holds_outputs(bench_dir):
        if json.loads(path.read_text(encoding="utf-8")) != weights:
            raise ConfigError(f"{bench_dir}: its answers came from other weights of {adapter} (retrained since "
                              f"they were made); use another --out or delete that folder")
    else:  # a first start, or a folder written before this check (the weights now are taken as its)
        write_json(path, weights)


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

    weights = weights_fingerprint(cfg.adapter)
    for name in battery.expand(cfg.benchmarks):
        bench, settings = battery.get(name), _settings(cfg, name)
        bench_dir = bench_folder(out, name)
        old = entries.get(name)
        if old and old.get("limit") == cfg.limit and _saved_settings(old.get("settings") or {}, bench) == settings:
            _check_weights(bench_dir, weights, cfg.adapter)  # the same adapter folder: the same weights?
            continue
        _check_settings(bench_dir, bench, settings)  # another adapter folder is named here, as a setting
        _check_weights(bench_dir, weights, cfg.adapter)
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
