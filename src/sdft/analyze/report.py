"""Build ``report.md`` and a self-contained ``report.html`` from run folders' saved files.

No model is loaded: everything comes from manifests, results.json, predictions, distillation
and training summaries, and ``analysis/analysis.json`` when ``sdft analyze`` has run. The
report is a list of blocks (heading, paragraph, list, table, figure, code) rendered twice:
markdown that links the figure files, and HTML with inline CSS and figures embedded as
base64 PNG, so the one file can be mailed or archived.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from typing import Any

from sdft.analyze import figures as figs
from sdft.analyze import runfiles, tables

Block = tuple[str, Any]


def tiny_model_note(run: dict[str, Any]) -> str | None:
    """A warning when the seed model's name says it is under a billion parameters."""
    seed = runfiles.find_model(run, "seed") or {}
    spec = str(seed.get("model") or (run["manifest"].get("config") or {}).get("model") or "")
    m = re.search(r"(\d+(?:\.\d+)?)\s*([mb])(?![a-z])", spec.lower())
    if not m or (m.group(2) == "b" and float(m.group(1)) >= 1):
        return None
    size = f"{m.group(1)}{m.group(2).upper()}"
    return (f"{run['name']}: the seed model ({spec}, about {size} parameters) is tiny. Absolute scores are low "
            "and many differences between methods are within the confidence intervals; read the CIs, "
            "not just the point estimates.")


def notes(run: dict[str, Any]) -> list[str]:
    man = run["manifest"]
    out = [str(n) for n in man.get("notes") or []]
    note = (man.get("config") or {}).get("note")
    if note:
        out.append(str(note))
    tiny = tiny_model_note(run)
    if tiny and not any("tiny" in n.lower() or "135m" in n.lower() for n in out):
        out.append(tiny)
    return out


def _manifest_blocks(run: dict[str, Any]) -> list[Block]:
    man, prov = run["manifest"], run["manifest"].get("provenance") or {}
    seed = runfiles.find_model(run, "seed") or {}
    cfg = man.get("config") or {}
    items = [f"run folder: {run['dir']}", f"seed model: {seed.get('model') or cfg.get('model') or tables.DASH}"]
    for key in ("data", "task", "train_data", "sample_size", "seed"):
        if key in cfg and not isinstance(cfg[key], (dict, list)):
            items.append(f"{key}: {cfg[key]}")
    items.append("models: " + "; ".join(
        f"{m['label']} ({m['method']}" + "".join(f", {k}={m[k]}" for k in ("sample_size", "mix_ratio", "template")
                                                  if m.get(k) is not None) + ")" for m in run["models"]))
    items.append(f"git: {prov.get('git') or tables.DASH}; time: {prov.get('time') or tables.DASH}")
    versions = prov.get("versions") or {}
    if versions:
        items.append("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    blocks: list[Block] = [("h3", f"Run {run['name']}"), ("ul", items)]
    for t in (tables.stage_table(run), tables.training_table(run)):
        if t:
            blocks.append(("table", t))
    if cfg:
        blocks.append(("code", ("resolved config (hyper-parameters)", json.dumps(cfg, indent=2, default=str))))
    return blocks


def build_blocks(runs: list[dict[str, Any]], fig_dir: Path | None, title: str | None = None) -> list[Block]:
    benchmarks = runfiles.benchmarks_of([m for r in runs for m in r["models"]])
    blocks: list[Block] = [("h1", title or "SDFT report: " + ", ".join(r["name"] for r in runs))]
    all_notes = [n for r in runs for n in notes(r)]
    if all_notes:
        blocks.append(("notes", all_notes))
    blocks.append(("h2", "Results"))
    for t in (tables.score_table(runs, benchmarks), tables.delta_table(runs, benchmarks),
              tables.seed_delta_table(runs, benchmarks), tables.forgetting_table(runs, benchmarks)):
        if t:
            blocks.append(("table", t))
    analyses = {r["name"]: runfiles.load_analysis(r) for r in runs}
    run_figs = {}
    if fig_dir is not None:
        for r in runs:
            sub = fig_dir / re.sub(r"[^A-Za-z0-9_.-]+", "_", r["name"]) if len(runs) > 1 else fig_dir
            run_figs[r["name"]] = figs.all_figures(r["models"], runfiles.benchmarks_of(r["models"]),
                                                   analyses[r["name"]], sub)
    for r in runs:
        if "benchmarks" in run_figs.get(r["name"], {}):
            blocks.append(("figure", (run_figs[r["name"]]["benchmarks"], f"{r['name']}: scores per benchmark, 95% CI")))
    if any(analyses.values()):
        blocks.append(("h2", "Distribution shift"))
    for r in runs:
        a = analyses[r["name"]]
        if not a:
            continue
        t = tables.similarity_table(a)
        if t:
            t["title"] = (f"{r['name']}: " if len(runs) > 1 else "") + t["title"]
            blocks.append(("table", t))
        if "similarity" in run_figs.get(r["name"], {}):
            caption = f"{r['name']}: similarity to the seed's answers, means dashed (cf. paper Fig. 9)"
            blocks.append(("figure", (run_figs[r["name"]]["similarity"], caption)))
    sweeps = [(r["name"], k, v) for r in runs for k, v in run_figs.get(r["name"], {}).items() if k.startswith("sweep_")]
    if sweeps:
        blocks.append(("h2", "Sweeps"))
        for name, key, paths in sweeps:
            axis = figs.SWEEP_AXES[key.removeprefix("sweep_")]
            blocks.append(("figure", (paths, f"{name}: scores and shift measures vs {axis} (cf. paper Figs. 5-8)")))
    distill = [t for t in (tables.acceptance_table(runs), tables.template_table(runs, benchmarks)) if t]
    if distill:
        blocks.append(("h2", "Distillation"))
        blocks.extend(("table", t) for t in distill)
    blocks.append(("h2", "Run manifest"))
    for r in runs:
        blocks.extend(_manifest_blocks(r))
    return blocks


# ---- markdown ---------------------------------------------------------------------------------

def _md_cell(c: Any) -> str:
    if isinstance(c, dict):
        text = c["text"] + (f" <sub>{c['small']}</sub>" if c.get("small") else "")
    else:
        text = str(c)
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block], base: Path) -> str:
    out: list[str] = []
    for kind, val in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + val)
        elif kind == "notes":
            out.append("\n>\n".join(f"> **Note.** {n}" for n in val))
        elif kind == "ul":
            out.append("\n".join(f"- {i}" for i in val))
        elif kind == "table":
            lines = [f"**{val['title']}**", "", "| " + " | ".join(map(_md_cell, val["columns"])) + " |",
                     "|" + "---|" * len(val["columns"])]
            lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in val["rows"]]
            if val.get("note"):
                lines += ["", f"*{val['note']}*"]
            out.append("\n".join(lines))
        elif kind == "figure":
            paths, caption = val
            png = next(p for p in paths if p.suffix == ".png")
            out.append(f"![{caption}]({png.relative_to(base).as_posix()})\n\n*{caption}*")
        elif kind == "code":
            summary, text = val
            out.append(f"<details><summary>{summary}</summary>\n\n```json\n{text}\n```\n</details>")
    return "\n\n".join(out) + "\n"


# ---- HTML -------------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1300px;
padding:0 16px;color:#1d2125;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #ccd;padding-bottom:6px}h2{margin-top:1.8em;color:#23395d}
.scroll{overflow-x:auto;margin:10px 0 4px}table{border-collapse:collapse;font-size:13px}
caption{text-align:left;font-weight:600;padding:4px 0;white-space:nowrap}
th,td{border:1px solid #d4d8de;padding:4px 8px;text-align:right;vertical-align:top}
th{background:#eef1f5}td:first-child,th:first-child{text-align:left;white-space:nowrap}
tr:nth-child(even) td{background:#fafbfc}small{color:#666;display:block;font-size:10.5px;white-space:nowrap}
.note{color:#555;font-size:12px;font-style:italic;margin:2px 0 14px}
.notes{background:#fff8e1;border-left:4px solid #f0b400;padding:8px 14px;margin:12px 0}
figure{margin:14px 0}figure img{max-width:100%;height:auto;border:1px solid #e3e6ea}
figcaption{font-size:12px;color:#555}pre{background:#f5f6f8;padding:10px;overflow:auto;max-height:420px;font-size:12px}
td.text,th.text{text-align:left}.up{color:#1a7f37}.down{color:#b42318}
"""


def _html_cell(c: Any, tag: str = "td") -> str:
    if isinstance(c, dict):
        text, small = c["text"], c.get("small")
    else:
        text, small = str(c), None
    cls = ' class="up"' if text.startswith("↑") else ' class="down"' if text.startswith("↓") else ""
    inner = f"<span{cls}>{html.escape(text)}</span>" if cls else html.escape(text)
    if small:
        inner += f"<small>{html.escape(small)}</small>"
    # Numbers line up on the right; words read better from the left.
    left = "" if _NUMERIC.match(text) else " class='text'"
    return f"<{tag}{left}>{inner}</{tag}>"


_NUMERIC = re.compile(r"^([↑↓=]\s*)?[−+\-]?[\d.,eE+\-]+(\s*\(\w+\))?$|^—$")


def to_html(blocks: list[Block]) -> str:
    title = next((v for k, v in blocks if k == "h1"), "SDFT report")
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
           f"<style>{CSS}</style></head><body>"]
    for kind, val in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append(f"<{kind}>{html.escape(val)}</{kind}>")
        elif kind == "notes":
            out.append("<div class='notes'>" + "".join(f"<p><b>Note.</b> {html.escape(n)}</p>" for n in val) + "</div>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{html.escape(str(i))}</li>" for i in val) + "</ul>")
        elif kind == "table":
            head = "".join(_html_cell(c, "th") for c in val["columns"])
            body = "".join("<tr>" + "".join(_html_cell(c) for c in row) + "</tr>" for row in val["rows"])
            out.append(f"<div class='scroll'><table><caption>{html.escape(val['title'])}</caption>"
                       f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")
            if val.get("note"):
                out.append(f"<p class='note'>{html.escape(val['note'])}</p>")
        elif kind == "figure":
            paths, caption = val
            png = next(p for p in paths if p.suffix == ".png")
            data = base64.b64encode(png.read_bytes()).decode("ascii")
            out.append(f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
                       f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        elif kind == "code":
            summary, text = val
            out.append(f"<details><summary>{html.escape(summary)}</summary><pre>{html.escape(text)}</pre></details>")
    out.append("</body></html>")
    return "\n".join(out)


def build_report(run_dirs: list[str | Path], out_dir: str | Path, title: str | None = None,
                 figures: bool = True) -> dict[str, Path]:
    """Write ``report.md``, ``report.html`` and ``figures/`` under ``out_dir``; return the paths."""
    runs = [runfiles.load_run(d) for d in run_dirs]
    names = [r["name"] for r in runs]
    for r in runs:  # two runs with one name would make their table rows indistinguishable
        if names.count(r["name"]) > 1:
            r["name"] = f"{r['name']} ({r['dir']})"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    blocks = build_blocks(runs, out / "figures" if figures else None, title)
    md, page = out / "report.md", out / "report.html"
    md.write_text(to_markdown(blocks, out), encoding="utf-8")
    page.write_text(to_html(blocks), encoding="utf-8")
    return {"md": md, "html": page}
