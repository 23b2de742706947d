"""The Hugging Face hub: push a folder (and its merged copy), and the cards that go with it.

A pushed adapter (or merged model, or full checkpoint) folder carries a ``README.md`` model card
written from its saved files: the base model's public hub id, the method, the data, the
training settings and, once the model has been evaluated, the evaluation table. A pushed
distilled set is a datasets-style folder (``data/train-00000-of-00001.parquet``, a ``README.md``
dataset card, and a LLaMA-Factory ``dataset_info.json`` entry pointing at the hub repo).

Pushing is ``HfApi().create_repo`` (new repos private unless told otherwise; an existing repo
keeps its visibility) then one ``upload_folder`` commit; the token is huggingface_hub's own
(``hf auth login`` or ``$HF_TOKEN``). The merged copy that ``push_merged`` sends (the base model
with the adapter folded in, ``DIR/merged``) is written here too (:func:`merge_saved`), at training
time or, for a folder trained before the push was asked for, just before the push. Module-level
imports are light: huggingface_hub and the model load only on call.

    sdft train --data gsm8k --out runs/a --push-to-hub me/smollm2-gsm8k-lora
    sdft distill --data gsm8k --out runs/d --push-to-hub me/gsm8k-sdft-distilled
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from sdft.errors import SdftError
from sdft.runs import write_text

# Left out of a pushed training folder: resume state, the snapshots along training, the merged
# copy (pushed to its own repo) and our stage marker.
TRAIN_IGNORE = ["checkpoints/*", "snapshots/*", "merged/*", "tensorboard/*", ".done", "*.tmp", ".lock", ".lock.holder"]

METHODS = {
    "vanilla": "supervised fine-tuning on the dataset's reference answers (the vanilla baseline)",
    "sdft": "SDFT (Yang et al., ACL 2024): supervised fine-tuning on the seed model's own rewrites of the "
            "reference answers, each kept only when faithful (else the original answer)",
    "onpolicy": "on-policy self-distillation with TRL's experimental SDFTTrainer",
    "sft": "supervised fine-tuning (TRL SFTTrainer) on the given data",
}


class HubError(SdftError, RuntimeError):
    """The hub refused or could not be reached; the message says which repo and why."""


def push_folder(folder: str | Path, repo_id: str, *, repo_type: str = "model", private: bool = True,
                commit_message: str, ignore_patterns: list[str] | None = None) -> str:
    """Create ``repo_id`` if needed and upload ``folder`` in one commit; returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
        info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type=repo_type,
                                 commit_message=commit_message, ignore_patterns=ignore_patterns)
    except Exception as e:  # offline, no token, no rights: huggingface_hub raises many types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise HubError(f"push to {repo_type} repo {repo_id} failed (offline, not logged in, or no write "
                       f"access?): {first}") from None
    return str(getattr(info, "commit_url", info))


# ---------------------------------------------------------------- model cards

def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def eval_table(results: dict[str, Any]) -> str:
    """A results.json's benchmarks as a markdown table (score and 95% CI in %)."""
    rows = ["| benchmark | metric | score (%) | 95% CI | n |", "| --- | --- | --- | --- | --- |"]
    for name, e in results.get("benchmarks", {}).items():
        lo, hi = (e.get("ci95") or [None, None])[:2]
        ci = f"[{100 * lo:.1f}, {100 * hi:.1f}]" if lo is not None and hi is not None else "-"
        rows.append(f"| {name} | {e.get('metric', '')} | {100 * e['score']:.1f} | {ci} | {e.get('n', '')} |")
    return "\n".join(rows)


def model_card(train_dir: str | Path, *, results: dict[str, Any] | None = None, title: str | None = None,
               method: str | None = None, merged: bool = False, notes: list[str] = ()) -> str:
    """The README.md of a training folder (or of its merged/ copy with ``merged``), from
    train_config.json and train_summary.json, plus ``results`` (a results.json) when evaluated."""
    from sdft import models

    d = Path(train_dir)
    tc, summary = _read(d / "train_config.json"), _read(d / "train_summary.json")
    cfg = tc.get("config", {})
    base = models.hub_id(cfg.get("model")) if cfg.get("model") else None
    full = bool(cfg.get("full"))
    method = method or summary.get("method_label") or cfg.get("method") or "sft"
    kind = "merged model" if merged else ("fully fine-tuned model" if full else "LoRA adapter")
    front = ["---", "library_name: " + ("transformers" if merged or full else "peft")]
    if base:
        front.append(f"base_model: {base}")
    front += ["pipeline_tag: text-generation", "tags:", "- sdft", "- self-distillation", f"- {method}",
              *([] if merged or full else ["- lora"]), "---", ""]
    lines = [f"# {title or d.name}", "",
             f"A {kind} trained with [sdft-toolkit](https://pypi.org/project/sdft-toolkit/): "
             f"{METHODS.get(method, method)}.", ""]
    lines += ["| | |", "| --- | --- |",
              f"| base model | `{base}` |" if base
              else f"| base model | `{cfg.get('model')}` (no public hub id known) |"]
    if base and cfg.get("model") != base:
        lines.append(f"| trained from | `{cfg.get('model')}` (sdft alias or local copy of the base) |")
    lines += [f"| method | {method} |", f"| data | `{cfg.get('data')}` ({summary.get('n_examples', '?')} examples, "
              f"task {tc.get('task') or '-'}) |"]
    if not full:
        lines.append(f"| LoRA | r={cfg.get('lora_r')}, alpha {cfg.get('lora_alpha')}, dropout "
                     f"{cfg.get('lora_dropout')}, on {', '.join(cfg.get('lora_targets') or [])} |")
    lines += [f"| optimisation | lr {cfg.get('lr')}, {cfg.get('scheduler')}, batch {cfg.get('batch_size')} x "
              f"accum {cfg.get('grad_accum')}, {summary.get('epochs', '?')} epochs, {summary.get('steps', '?')} steps, "
              f"max length {cfg.get('max_length')} |",
              f"| final training loss | {summary.get('final_loss', '?')} |", ""]
    for note in notes:
        lines += [f"> {' '.join(note.split())}", ""]
    lines += ["## Evaluation", ""]
    lines += [eval_table(results), ""] if results else \
        ["Not evaluated yet (`sdft run`, or `sdft eval --adapter` on this folder, writes the table here).", ""]
    load = base or "BASE_MODEL"
    lines += ["## Use", "", "```python"]
    if merged or full:
        lines += ["from transformers import AutoModelForCausalLM, AutoTokenizer",
                  'model = AutoModelForCausalLM.from_pretrained("REPO_ID")',
                  'tok = AutoTokenizer.from_pretrained("REPO_ID")']
    else:
        lines += ["from peft import AutoPeftModelForCausalLM  # reads base_model_name_or_path",
                  'model = AutoPeftModelForCausalLM.from_pretrained("REPO_ID")']
    lines += ["```", "", f"or `sdft eval --model {load} --adapter REPO_ID --benchmarks ...`" if not (merged or full)
              else "or `sdft eval --model REPO_ID --benchmarks ...`", ""]
    prov = tc.get("provenance", {})
    lines += ["## Provenance", "", f"sdft git {prov.get('git')}; versions "
              + ", ".join(f"{k} {v}" for k, v in (prov.get("versions") or {}).items()) + ".", ""]
    return "\n".join(front + lines)


def write_model_card(train_dir: str | Path, **kw: Any) -> Path:
    path = Path(train_dir) / "README.md"
    write_text(path, model_card(train_dir, **kw))
    return path


def publish_training(train_dir: str | Path, repo_id: str | None, merged_repo_id: str | None = None, *,
                     private: bool = True, **card: Any) -> dict[str, str]:
    """Write the model card(s) and push the adapter/checkpoint to ``repo_id`` and DIR/merged to
    ``merged_repo_id`` (each when given); returns {"adapter"|"merged": commit URL}."""
    d = Path(train_dir)
    out = {}
    write_model_card(d, **card)
    if repo_id:
        method = card.get("method") or _read(d / "train_summary.json").get("method_label", "sft")
        out["adapter"] = push_folder(d, repo_id, private=private, ignore_patterns=TRAIN_IGNORE,
                                     commit_message=f"sdft: {method} fine-tune of {_base_name(d)}")
    if merged_repo_id:
        if not (d / "merged" / "config.json").exists():
            raise HubError(f"{d}/merged: no merged model to push (train with merge: true)")
        write_text(d / "merged" / "README.md", model_card(d, merged=True, **card))
        out["merged"] = push_folder(d / "merged", merged_repo_id, private=private,
                                    commit_message=f"sdft: merged fine-tune of {_base_name(d)}")
    return out


def push_training(train_dir: str | Path, model_spec: str, dtype: str, repo_id: str | None,
                  merged_repo_id: str | None = None, *, private: bool = True, **card: Any) -> dict[str, str]:
    """:func:`publish_training`, merging the adapter first where a merged copy is to be pushed and
    the folder has none (trained before ``push_merged`` was set)."""
    if merged_repo_id and not (Path(train_dir) / "merged" / "config.json").exists():
        merge_saved(model_spec, train_dir, dtype)
    return publish_training(train_dir, repo_id, merged_repo_id, private=private, **card)


def merge_saved(model_spec: str, out: str | Path, dtype: str = "auto") -> Path:
    """Write OUT/merged for a finished training folder that has none (trained without merge):
    the base model loaded in ``dtype`` with OUT's adapter folded in, on the device training
    used (CUDA where available). Not pinned to the CPU: there ``dtype: auto`` follows the host
    CPU's bf16 instructions, so a GPU machine's merged copy was float32 (twice the size) or
    bf16 depending on its processor, not on the precision the adapter was trained in."""
    from sdft import models

    out = Path(out)
    model, tok = models.load(model_spec, adapter=str(out), device=models.default_device(), dtype=dtype,
                             merge_adapter=True)
    tmp = out / "merged.tmp"
    shutil.rmtree(tmp, ignore_errors=True)  # a killed earlier attempt
    save_merged(model, tok, tmp, full=True)  # merged on load already (or a full checkpoint)
    shutil.rmtree(out / "merged", ignore_errors=True)
    tmp.rename(out / "merged")
    return out / "merged"


def save_merged(model, tok, path: Path, full: bool) -> None:
    """The base weights with the LoRA update folded in: a plain model any tool can load."""
    if full:
        merged = model
    else:
        merged = model.merge_and_unload()
    merged.save_pretrained(str(path), safe_serialization=True)
    tok.save_pretrained(str(path))


def _base_name(d: Path) -> str:
    return str(_read(d / "train_config.json").get("config", {}).get("model", "a model"))


# ---------------------------------------------------------------- dataset cards

def dataset_card(report: dict[str, Any], *, repo_id: str | None, name: str, entry: str) -> str:
    """README.md of an exported distilled set, from its distill_report.json."""
    from sdft import models

    cfg = report.get("cfg", {})
    base = models.hub_id(cfg.get("model"))
    reasons = ", ".join(f"{k} {v}" for k, v in (report.get("reasons") or {}).items())
    lines = ["---", "configs:", "- config_name: default", "  data_files:", "  - split: train",
             "    path: data/train-*.parquet", "tags:", "- sdft", "- self-distillation", "---", "",
             f"# {name}: a distilled set for SDFT", "",
             "Each reference answer of the source data rewritten by the seed model itself (SDFT, Yang et al., "
             "ACL 2024); `output` is the rewrite when it passed the faithfulness check, else the original answer "
             "(`kept` says which; `reason` why a rewrite was dropped; `original` keeps the reference).", "",
             "| | |", "| --- | --- |",
             f"| source data | `{cfg.get('data')}` |",
             f"| seed model | `{base or cfg.get('model')}` |",
             f"| template / check | {', '.join(report.get('templates') or []) or '-'} / "
             f"{', '.join(report.get('checks') or []) or '-'} |",
             f"| kept | {report.get('kept')} of {report.get('distilled')} rewrites "
             f"({100 * report.get('kept_rate', 0):.1f} %) |",
             f"| reasons | {reasons} |",
             f"| decoding | max_new_tokens {cfg.get('max_new_tokens')}, temperature {cfg.get('temperature')} |", "",
             "## Use", "", "```python", "import datasets",
             f'ds = datasets.load_dataset("{repo_id or "REPO_ID"}", split="train")', "```", "",
             f"LLaMA-Factory: add the `{entry}` entry of `dataset_info.json` to your registry "
             f"(`dataset: {entry}`); with sdft: `--data hf:{repo_id or 'REPO_ID'}`.", ""]
    return "\n".join(lines)
