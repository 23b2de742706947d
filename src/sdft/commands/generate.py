"""Generate answers for a dataset into a resumable JSONL file.

    sdft generate --model smollm2-135m --data gsm8k:test --out preds.jsonl --limit 16

Each line holds ``id``, ``prompt``, ``predict``, ``label`` (the dataset's reference answer),
``num_tokens``, ``finish_reason``, ``task`` and ``prompt_tokens`` (LLaMA-Factory's
``generated_predictions.jsonl`` plus a few fields). A re-run with the same ``--out`` skips the
ids already there; a killed run loses only the completions in flight. ``<out>.meta.json``
records the config (from the start, so an interrupted file has it), the run's statistics and
provenance (versions, git hash). A re-run whose settings would change the answers (model,
adapter, data, system message, decoding) is refused rather than mixed into the same file.

Stop strings: ``--stop`` takes one or more strings; to pass a newline use the shell's
``$'\\n'`` or a YAML file (``--config gen.yaml``).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sdft import config as C
from sdft.errors import ConfigError, DataError
from sdft.generation.base import GenerationConfig
from sdft.locks import add_wait_argument, output_lock
from sdft.models import DEFAULT_MODEL

# GenerateConfig fields that change the answers: a file's lines must agree on them.
ANSWER_SETTINGS = ("model", "adapter", "data", "system", "max_new_tokens", "temperature", "top_p", "seed", "stop")


@dataclass
class GenerateConfig:
    """Flags and YAML keys of ``sdft generate``.

    What to run
    model: model alias, local model dir or .gguf file (hf); the served model name (openai)
    adapter: PEFT adapter dir (or full fine-tuned checkpoint dir) applied to the model (hf, vllm)
    generation: backend, dtype and speed settings (see GenerationConfig; flags --backend, --dtype, ...)

    Data
    data: task name, task:split, or a dataset file
    data_dir: data folder (default: $SDFT_DATA_DIR, else shared/data beside the checkout)
    limit: only the first N examples (unset: all)
    system: system message replacing the records' own (default: the chat template decides)
    out: output JSONL file (appended to; finished ids are skipped)

    Decoding
    max_new_tokens: most tokens generated per answer
    temperature: 0 for greedy decoding, else sampling temperature
    top_p: nucleus sampling mass (with temperature > 0)
    seed: sampling seed (a request's sample depends only on the seed and its id)
    stop: strings that end an answer (cut off from the text)
    """

    model: str = DEFAULT_MODEL
    adapter: str | None = None
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    data: str = ""
    data_dir: str | None = None
    limit: int | None = None
    system: str | None = None
    out: str = ""
    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    stop: list[str] = field(default_factory=list)

    def __post_init__(self):
        if self.limit is not None and self.limit < 1:  # (-1 would slice "all but one", 0 nothing)
            raise ConfigError(f"limit: must be a positive number of examples (or unset for all), got {self.limit}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="YAML file with GenerateConfig keys (flags override it)")
    C.add_arguments(parser, GenerateConfig, skip=("stop",))
    add_wait_argument(parser)
    parser.add_argument("--stop", nargs="+", default=None, metavar="STR", help=C.field_help(GenerateConfig)["stop"])


def run(args: argparse.Namespace) -> int:
    from sdft.data.tasks import load_data
    from sdft.generation import make_generator
    from sdft.generation.base import Request, SamplingParams
    from sdft.generation.runner import generate_jsonl
    from sdft.runs import done_ids, provenance, write_json

    yaml_data = C.read_config(args.config) if args.config else None
    cfg = C.from_args(GenerateConfig, args, yaml_data, where=args.config or "flags")
    for name in ("data", "out"):
        if not getattr(cfg, name):
            raise ConfigError(f"sdft generate: `{name}` is required (--{name})")

    examples = load_data(cfg.data, cfg.data_dir)
    if cfg.limit is not None:
        examples = examples[: cfg.limit]
    if not examples:
        raise DataError(f"{cfg.data}: no examples to generate for")
    by_id = {}
    for ex in examples:
        if ex.id in by_id:
            raise DataError(f"{cfg.data}: record id {ex.id!r} occurs twice; ids must be unique to resume")
        by_id[ex.id] = ex
    requests = [Request(ex.id, ex.messages(system=cfg.system)) for ex in examples]
    sampling = SamplingParams(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature,
                              top_p=cfg.top_p, seed=cfg.seed, stop=tuple(cfg.stop))

    def record(req, comp):
        ex = by_id[req.id]
        return {"label": ex.response, "task": ex.task, **comp.extras}

    with output_lock(cfg.out, folder=False, wait=args.wait):  # before reading what is done: one writer
        done = done_ids(cfg.out)
        if all(r.id in done for r in requests):  # nothing to do: do not load the model
            print(f"{cfg.out}: all {len(requests)} records already generated")
            return 0
        dtype = None
        meta_path = Path(cfg.out + ".meta.json")
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if done and meta_path.exists() else {}
        _check_same_settings(cfg, meta.get("config") or {}, len(done))
        if cfg.generation.backend != "openai":  # a resumed file keeps the precision its first lines had
            from sdft import models

            dtype = models.check_dtype(f"{cfg.out} (its .meta.json)", meta.get("dtype"), cfg.generation.dtype,
                                       cfg.generation.device)
        if not done:  # the settings first, so an interrupted file is checked on its resume too
            write_json(meta_path, {"config": asdict(cfg), "dtype": dtype, "stats": None, "provenance": provenance()})
        generator = make_generator(cfg.generation, cfg.model, adapter=cfg.adapter)
        stats = generate_jsonl(generator, requests, sampling, cfg.out, record=record, desc=f"generate {cfg.data}")
        write_json(Path(cfg.out + ".meta.json"), {"config": asdict(cfg), "dtype": dtype, "stats": stats.as_dict(),
                                                  "provenance": provenance()})
    print(f"{cfg.out}: {stats.generated} generated, {stats.skipped} already there, {stats.total} in all; "
          f"{stats.tokens} tokens in {stats.wall_s:.1f} s ({stats.tokens_per_s:.1f} tokens/s); "
          f"{stats.truncated} hit max_new_tokens")
    return 0


def _check_same_settings(cfg: GenerateConfig, before: dict, n_done: int) -> None:
    """A resumed file's settings (its .meta.json ``config``) must match where they change answers."""
    now = asdict(cfg)
    differ = [k for k in ANSWER_SETTINGS if k in before and before[k] != now[k]]
    if differ:
        said = "; ".join(f"{k} {before[k]!r} there, {now[k]!r} now" for k in differ)
        raise ConfigError(f"{cfg.out}: its {n_done} records were made with other settings ({said}); use another "
                          "--out or delete that file (and its .meta.json)")
