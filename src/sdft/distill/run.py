"""The distillation stage: rewrite each reference answer with the seed model, then select.

Two files in the output folder carry the work:

* ``rewrites.jsonl``: one generated rewrite per distilled example, appended as generated
  (resumable: a re-run generates only missing ids and loads no model when none are missing);
* ``distilled.jsonl``: recomputed from the rewrites on every run (cheap), one record per input
  example in input order, with the ``response`` training uses.

``distill_config.json`` pins the settings that shape generation; resuming a folder with
different ones is an error rather than a silent mix of two configurations.

    sdft distill --model smollm2-135m --data gsm8k:train --out runs/gsm8k-distill --sample 2000
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from sdft.data.records import Example
from sdft.distill import output
from sdft.distill.select import check_for, rejection_reason
from sdft.distill.templates import Template, load_template, template_for
from sdft.errors import ConfigError, DataError
from sdft.generation.base import GenerationConfig, Generator, LocalModel, SamplingParams
from sdft.models import DEFAULT_MODEL
from sdft.runs import done_ids, read_jsonl, write_json

REWRITES = "rewrites.jsonl"
DISTILLED = "distilled.jsonl"
REPORT = "distill_report.json"
PINNED = "distill_config.json"
# Fields that change what is generated: resuming with other values would mix two runs.
_GENERATION_FIELDS = ("model", "adapter", "template", "max_new_tokens", "temperature", "top_p", "seed")


@dataclass
class DistillConfig:
    """Settings of ``sdft distill``.

    What to distil:
    model: seed model that rewrites the answers (alias, local dir, .gguf, or a server model name)
    adapter: optional PEFT adapter dir loaded on top of the model
    data: dataset spec: task name, task:split, or a file path
    data_dir: folder of the shared datasets (default: $SDFT_DATA_DIR or ../shared/data)
    out: output folder (rewrites.jsonl, distilled.jsonl, distill_report.json)
    How:
    template: using, refer, math (or using_system, refer_system, math_system: the instruction replaces
        the model's own system prompt), or a template file (default: the paper's choice per task)
    check: faithfulness check: math, function_call, code, none (default: per task)
    sample: seeded random subsample of N examples, kept in input order (the paper uses 2000)
    limit: keep only the first N examples (after sampling), for quick trials
    mix_ratio: fraction of examples that use the distilled response (1 = SDFT, 0 = vanilla)
    seed: seed for sampling, mixing and generation
    Generation:
    generation: backend, dtype and speed settings (see GenerationConfig; flags --backend, --dtype, ...)
    max_new_tokens: generation limit; rewrites that hit it are rejected as truncated
    temperature: 0 is greedy decoding (our default; the authors sampled with LLaMA-Factory's T=0.95, top-p 0.7)
    top_p: nucleus sampling when temperature > 0
    Gap:
    nll_sample: examples whose responses' NLL under the seed model is measured, original vs rewrite
        (0 = skip; hf backend)
    nll_max_length: longest prompt+response scored (as the training max_length)
    Output:
    export: also write, comma-separated: alpaca (the paper's distilled_<name>.json), llamafactory
        (that file + a dataset_info.json entry), hf (OUT/hf: parquet + dataset card)
    push_to_hub: dataset repo id to push the hf export to (implies export hf), e.g. me/gsm8k-sdft
    hub_private: create a new hub repo private
    progress: show a progress bar
    """

    model: str = DEFAULT_MODEL
    adapter: str | None = None
    data: str = ""
    data_dir: str | None = None
    out: str = ""
    template: str | None = None
    check: str | None = None
    sample: int | None = None
    limit: int | None = None
    mix_ratio: float = 1.0
    seed: int = 42
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    nll_sample: int = 200
    nll_max_length: int = 2048
    export: str | None = None
    push_to_hub: str | None = None
    hub_private: bool = True
    progress: bool = True

    def __post_init__(self):
        # Checked when the config is read (the `sdft distill` flags, an experiment's section,
        # `sdft validate`), not when the first rewrite is due.
        if not 0.0 <= self.mix_ratio <= 1.0:
            raise ConfigError(f"`mix_ratio` must be within [0, 1], got {self.mix_ratio}")
        for name in ("sample", "limit", "max_new_tokens"):
            v = getattr(self, name)
            if v is not None and v <= 0:
                raise ConfigError(f"`{name}` must be positive, got {v}")
        bad = sorted(set(export_kinds(self)) - set(output.EXPORTS))
        if bad:
            raise ConfigError(f"`export`: {', '.join(bad)} is not one of {', '.join(output.EXPORTS)}")
        if self.check is not None:
            check_for(None, self.check)
        # (a template file is read by sdft.experiment.load_experiment and run_distill, not here:
        # a manifest read back elsewhere names a file it need not find)


def _validate(cfg: DistillConfig) -> None:
    """The fields an experiment fills in (the rest are checked when the config is made)."""
    if not cfg.data:
        raise ConfigError("distill: `data` is required (a task name, task:split or file)")
    if not cfg.out:
        raise ConfigError("distill: `out` is required (the output folder)")
    if cfg.template:  # before the data is read
        load_template(cfg.template)


def export_kinds(cfg: DistillConfig) -> list[str]:
    """The exports asked for (``export`` is comma-separated; a push needs the hf one)."""
    kinds = [k.strip() for k in (cfg.export or "").split(",") if k.strip()]
    return kinds + ["hf"] if cfg.push_to_hub and "hf" not in kinds else kinds


def choose(examples: Sequence[Example], cfg: DistillConfig) -> tuple[list[Example], set[str]]:
    """Subsample (seeded, input order kept), cut to ``limit``, and pick the ids whose rewrite
    may be used (a seeded ``mix_ratio`` fraction, exactly ``round(ratio * n)`` of them)."""
    seen: set[str] = set()
    for i, ex in enumerate(examples):
        if ex.id in seen:
            raise DataError(f"{cfg.data}: record {i}: duplicate id {ex.id!r}")
        seen.add(ex.id)
        if not (ex.response or "").strip():
            raise DataError(f"{cfg.data}: record {ex.id}: empty `response`; there is no reference to rewrite")
    chosen = sample_examples(examples, cfg.sample, cfg.seed)
    if cfg.limit:
        chosen = chosen[: cfg.limit]
    return chosen, mixed_ids([ex.id for ex in chosen], cfg.mix_ratio, cfg.seed)


def sample_examples(examples: Sequence[Example], n: int | None, seed: int) -> list[Example]:
    """A seeded random subsample of ``n`` examples in input order (all of them when ``n`` is
    unset or not smaller): distillation and every fine-tune's training set draw the same one."""
    chosen = list(examples)
    if n and n < len(chosen):
        keep = sorted(random.Random(seed).sample(range(len(chosen)), n))
        chosen = [chosen[i] for i in keep]
    return chosen


def mixed_ids(ids: Sequence[str], ratio: float, seed: int) -> set[str]:
    """The seeded ``round(ratio * n)`` ids that use the distilled response. A separate random
    stream from sampling, so changing the ratio never changes which examples were sampled."""
    return set(random.Random(f"{seed}-mix").sample(list(ids), round(ratio * len(ids))))


def _pin_config(cfg: DistillConfig, out: Path) -> dict[str, Any]:
    """Pin the settings the rewrites are generated with (``dtype_resolved``: ``auto`` resolved on
    this machine, so a resume elsewhere cannot mix bf16 and float32 rewrites); returns them."""
    pinned_path = out / PINNED
    now = {k: getattr(cfg, k) for k in _GENERATION_FIELDS}
    now["backend"], now["dtype"] = cfg.generation.backend, cfg.generation.dtype
    now.update(cfg.generation.merge_record(cfg.adapter))
    if cfg.generation.backend != "openai":
        from sdft import models

        now["dtype_resolved"] = models.resolve_here(cfg.generation.dtype, cfg.generation.device)
    if pinned_path.exists() and (out / REWRITES).exists():
        import json

        before = json.loads(pinned_path.read_text(encoding="utf-8"))
        # folders pinned before dtype_resolved existed are checked on the rest only
        diff = [k for k in now if before.get(k) != now[k] and (k in before or k != "dtype_resolved")]
        if diff:
            raise ConfigError(f"{out}: rewrites were generated with other settings ("
                              + ", ".join(f"{k}: {before.get(k)!r} -> {now[k]!r}" for k in diff)
                              + "); use a new --out folder or delete rewrites.jsonl")
    write_json(pinned_path, now)
    return now


def _gap(cfg: DistillConfig, records: list[dict], gen, out: Path, given: bool) -> dict[str, Any]:
    """The NLL gap (see :mod:`sdft.distill.gap`), measured once and resumed from nll.jsonl."""
    from sdft.distill import gap

    if cfg.nll_sample <= 0:
        return {"skipped": "nll_sample is 0"}
    path = out / gap.NLL_FILE
    chosen = gap.pick(records, cfg.nll_sample, cfg.seed)
    if {r["id"] for r in chosen} - done_ids(path):
        model = tok = None
        if isinstance(gen, LocalModel) and not cfg.adapter:
            model, tok = gen.local_model()  # the in-process generator's seed model
        elif given:
            return {"skipped": "the generator passed in has no local model"}
        elif cfg.generation.backend == "hf":
            from sdft import models

            model, tok = models.load(cfg.model, adapter=cfg.adapter, merge_adapter=True,
                                     device=cfg.generation.device, dtype=cfg.generation.dtype)
        else:
            return {"skipped": f"backend {cfg.generation.backend} gives no local log-likelihoods"}
        gap.measure(chosen, model, tok, path, cfg.nll_max_length, progress=cfg.progress)
    return {"sample": len(chosen), **gap.summarize(path, seed=cfg.seed)}


def run_distill(cfg: DistillConfig, generator: Generator | None = None,
                examples: Sequence[Example] | None = None) -> dict[str, Any]:
    """Distil ``cfg.data`` into ``cfg.out`` and return the report (also saved as JSON).

    ``generator`` and ``examples`` replace the configured model and dataset (tests, notebooks).
    """
    _validate(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    if examples is None:
        from sdft.data.tasks import load_data

        examples = load_data(cfg.data, data_dir=cfg.data_dir)
    chosen, mixed = choose(examples, cfg)

    templates: dict[str, Template] = {}
    checks: dict[str, str] = {}
    requests = []
    for ex in chosen:
        tname = template_for(ex.task, cfg.template)
        if tname not in templates:
            templates[tname] = load_template(tname)
        checks[ex.id] = check_for(ex.task, cfg.check)
        if ex.id in mixed:
            requests.append(templates[tname].request(ex))

    pinned = _pin_config(cfg, out)
    sampling = SamplingParams(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature,
                              top_p=cfg.top_p, seed=cfg.seed)
    by_id = {ex.id: ex for ex in chosen}
    gen_stats: dict[str, Any] = {"generated": 0, "skipped": len(requests)}
    gen = generator
    if {r.id for r in requests} - done_ids(out / REWRITES):
        from sdft.generation import make_generator
        from sdft.generation.runner import generate_jsonl

        gen = gen if gen is not None else make_generator(cfg.generation, cfg.model, cfg.adapter)
        stats = generate_jsonl(gen, requests, sampling, out / REWRITES, desc="distill",
                               progress=cfg.progress,
                               record=lambda req, comp: {"label": by_id[req.id].response,
                                                         "prefill": req.prefill})
        gen_stats = stats.as_dict()

    rewrites = {r["id"]: r for r in read_jsonl(out / REWRITES)} if (out / REWRITES).exists() else {}
    records = []
    for ex in chosen:
        rw = rewrites.get(ex.id) if ex.id in mixed else None
        rewrite = None if rw is None else (rw.get("predict") or "").strip()
        if ex.id not in mixed:
            reason = "not_mixed"
        elif rw is None:
            reason = "missing"  # the backend yielded nothing for it; a re-run retries
        else:
            reason = rejection_reason(rewrite, rw.get("finish_reason"), ex.response, checks[ex.id])
        records.append(output.distilled_record(ex, rewrite, reason, checks[ex.id],
                                               prompt=rw.get("prompt", "") if rw else ""))
    output.write_distilled(out / DISTILLED, records)

    report = output.build_report(records, rewrites, gen_stats, cfg=asdict(cfg),
                                 templates=sorted(templates))
    report["dtype"] = pinned.get("dtype_resolved")
    report["nll"] = _gap(cfg, records, gen, out, given=generator is not None)
    kinds = export_kinds(cfg)
    if kinds:
        report["exports"] = {k: str(output.EXPORTS[k](records, out, cfg.data, report=report, repo_id=cfg.push_to_hub))
                             for k in kinds}
        report["export"] = ", ".join(report["exports"].values())
    write_json(out / REPORT, report)
    if cfg.push_to_hub:
        report["pushed"] = publish(out, cfg.push_to_hub, cfg)
        write_json(out / REPORT, report)
    return report


def publish(out: str | Path, repo_id: str, cfg: DistillConfig) -> str:
    """Export a finished distillation folder as a hub dataset (OUT/hf, with ``repo_id`` in its
    card and LLaMA-Factory entry) and push it; returns the commit URL."""
    import json

    from sdft import hub

    out = Path(out)
    records = list(read_jsonl(out / DISTILLED))
    report = json.loads((out / REPORT).read_text(encoding="utf-8"))
    output.export_hf(records, out, cfg.data, report=report, repo_id=repo_id)
    return hub.push_folder(out / output.HF_DIR, repo_id, repo_type="dataset", private=cfg.hub_private,
                           commit_message=f"sdft: distilled {cfg.data} with {cfg.model}")

