#!/usr/bin/env python3
"""Copy the small, text-free files of a finished `sdft run` folder into DEST (e.g. docs/results/).

    python scripts/publish_run.py runs/cpu_repro docs/results/cpu_repro

DEST keeps the run folder's layout, so `sdft report DEST --out ...` rebuilds the report from it
with the same paired CIs and seed-level tests. What is copied: the manifest, the report and its
figures, the analysis, each model's results.json, each fine-tune's summary, config, log and loss
curve (and ``identity.json``, where it was trained again and checked) and its KL to the seed,
each distillation's report and its per-example NLL (``nll.jsonl``: ids and numbers, from which
the NLL gap's paired CI is computed); each benchmark's predictions
become a ``scores.jsonl`` without their text (:func:`sdft.evaluate.saved.scores_only`: ids, per-item scores, flags),
which is all the paired statistics read. A stage that ran again since DEST was last published (a
fine-tune trained again after its weights were lost, a predictor measured under a new rule) keeps the
finished record it replaced in its ``earlier`` list, so the published manifest still says where the
evaluated weights came from. The report's ``summary.json`` (the numbers a verdict is
written from) is also put at DEST's top level, where an experiment's results folder names it
(``docs/results/<experiment>/summary.json``). The predictions' text, distilled answers, adapters
and checkpoints stay behind: they are large, and they quote the datasets (AdvBench goals,
jailbroken answers) that this repository does not redistribute. For the same reason a report whose
HTML page holds the per-item flip browser (prompts and answers quoted verbatim; `sdft run` builds
it by default) is not published: rebuild it first with `sdft report RUN --flip-items 0`.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from sdft.evaluate.saved import SCORES_FILE, scores_only
from sdft.report.flips import HEADING as FLIPS_HEADING
from sdft.runs import read_jsonl, write_json

PER_DIR = {
    "eval_dir": ["results.json"],
    # identity.json: scripts/kl_identity.py's check of a fine-tune trained again (a retrained sibling?)
    "train_dir": ["train_summary.json", "train_config.json", "train_log.jsonl", "loss.png", "identity.json"],
    "distill_dir": ["distill_report.json", "nll.jsonl"],  # nll.jsonl: ids and numbers, the NLL gap's paired CI
    "kl_dir": ["kl_to_seed.json"],  # the KL-to-seed predictor: ids and numbers, no text
}


def with_earlier(manifest: dict, published: dict | None) -> dict:
    """``manifest`` with each stage record that differs from ``published``'s keeping the latter's
    finished records under ``earlier`` (oldest first); a record still running is not kept, only
    what it kept. A ``published`` manifest of another experiment (another name) keeps nothing."""
    same = published and published.get("name") == manifest.get("name")
    before = (published.get("stages") or {}) if same else {}
    stages = {}
    for name, record in (manifest.get("stages") or {}).items():
        old = before.get(name) or {}
        earlier = list(old.get("earlier", []))
        was, now = ({k: v for k, v in r.items() if k != "earlier"} for r in (old, record))
        if was.get("status") == "done" and was != now:
            earlier.append(was)
        stages[name] = {**now, "earlier": earlier} if earlier else now
    return {**manifest, "stages": stages}


def publish(run: Path, dest: Path) -> list[Path]:
    manifest = json.loads((run / "manifest.json").read_text())
    rels = ["analysis/analysis.json"]  # the analysis figures are in report/figures
    rels += [str(p.relative_to(run)) for p in sorted((run / "report").rglob("*")) if p.is_file()]
    for m in manifest["models"]:
        for key, names in PER_DIR.items():
            # a fine-tune being trained again has a partial log, not the evaluated one's, and no summary yet
            if m.get(key) and (key != "train_dir" or (run / m[key] / "train_summary.json").is_file()):
                rels += [f"{m[key]}/{n}" for n in names]
    copied = []
    for rel in dict.fromkeys(r for r in rels if (run / r).is_file()):  # absent parts are skipped
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(run / rel, target)
        copied.append(target)
    for m in manifest["models"]:
        for preds in sorted((run / m["eval_dir"]).glob("*/predictions.jsonl")) if m.get("eval_dir") else []:
            target = dest / preds.parent.relative_to(run) / SCORES_FILE
            if target in copied:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("".join(json.dumps(r) + "\n" for r in scores_only(list(read_jsonl(preds)))))
            copied.append(target)
    published = dest / "manifest.json"
    merged = with_earlier(manifest, json.loads(published.read_text()) if published.is_file() else None)
    write_json(published, merged)  # as `sdft run` writes it
    copied.append(published)
    if (run / "report" / "summary.json").is_file():
        shutil.copy2(run / "report" / "summary.json", dest / "summary.json")
        copied.append(dest / "summary.json")
    return copied


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    run, dest = Path(argv[0]), Path(argv[1])
    if not (run / "manifest.json").is_file():
        print(f"{run}: no manifest.json (not an `sdft run` folder)", file=sys.stderr)
        return 2
    quoting = [p for p in (run / "report" / "report.md", run / "report" / "report.html")
               if p.is_file() and FLIPS_HEADING in p.read_text(encoding="utf-8")]
    if quoting:
        print(f"{quoting[0]}: its per-item flip browser quotes prompts and answers verbatim, which are not published; "
              f"rebuild the report without it first: sdft report {run} --flip-items 0", file=sys.stderr)
        return 2
    copied = publish(run, dest)
    size = sum(p.stat().st_size for p in copied)
    print(f"copied {len(copied)} files ({size / 1024:.0f} KiB) from {run} to {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
