"""Render a report's blocks twice: markdown that links the figure files, and one self-contained
HTML page (inline CSS, figures as base64 PNG, the flip browser's few lines of inline script),
so the page can be mailed or archived and opens without a network.

A block is ``(kind, value)``: ``h1``/``h2``/``h3`` (text), ``notes``, ``finding``, ``decision`` and
``ul`` (lists of text), ``p`` and ``verdict`` (a paragraph), ``table`` (see :mod:`tables`),
``figure`` ((paths, caption)), ``code`` ((summary, text)) and ``flips`` ((browser data, DOM id);
see :mod:`flips`; markdown shows only its counts).
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Any

from sdft.report import flips

Block = tuple[str, Any]


# ---- markdown ---------------------------------------------------------------------------------

def _smalls(c: dict[str, Any]) -> list[str]:
    small = c.get("small")
    return [x for x in (small if isinstance(small, list) else [small]) if x]


def _md_cell(c: Any) -> str:
    if isinstance(c, dict):
        text = c["text"] + "".join(f" <sub>{x}</sub>" for x in _smalls(c))
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
        elif kind == "verdict":
            out.append(f"> **Verdict.** {val}")
        elif kind == "finding":
            out.append("\n>\n".join(f"> **Finding.** {f}" for f in val))
        elif kind == "decision":
            out.append("\n>\n".join(f"> **Decision rule (primary endpoint).** {d}" for d in val))
        elif kind == "non_inferiority":
            out.append("\n>\n".join(f"> **Non-inferiority (secondary).** {d}" for d in val))
        elif kind == "ul":
            out.append("\n".join(f"- {i}" for i in val))
        elif kind == "p":
            out.append(val)
        elif kind == "flips":
            data, _ = val
            t = flips.summary_table(data, "Items whose score flipped")
            out.append(to_markdown([("table", t)], base).rstrip())
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
.verdict{background:#e8f3ec;border-left:4px solid #1a7f37;padding:8px 14px;margin:12px 0}
.flips .controls{margin:8px 0;font-size:13px}.flips table{table-layout:fixed;width:100%}
.flips td{width:22%}.flips td:first-child{width:9%;white-space:normal}
.flips .txt{white-space:pre-wrap;word-break:break-word;max-height:16em;overflow:auto;font-size:12px;
text-align:left;font-family:ui-monospace,Menlo,Consolas,monospace;background:#fbfbfd;padding:3px}
.flips small{white-space:normal}.flips .chg,.flips td.chg{background:#fff4cc}
"""


def _html_cell(c: Any, tag: str = "td") -> str:
    if isinstance(c, dict):
        text, smalls, invert = c["text"], _smalls(c), c.get("invert", False)
    else:
        text, smalls, invert = str(c), [], False
    up, down = ("down", "up") if invert else ("up", "down")  # invert: lower is better
    cls = f' class="{up}"' if text.startswith("↑") else f' class="{down}"' if text.startswith("↓") else ""
    inner = f"<span{cls}>{html.escape(text)}</span>" if cls else html.escape(text)
    inner += "".join(f"<small>{html.escape(x)}</small>" for x in smalls)
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
        elif kind == "verdict":
            out.append(f"<div class='verdict'><p><b>Verdict.</b> {html.escape(val)}</p></div>")
        elif kind == "finding":
            found = "".join(f"<p><b>Finding.</b> {html.escape(f)}</p>" for f in val)
            out.append(f"<div class='verdict'>{found}</div>")
        elif kind in ("decision", "non_inferiority"):
            rule = "<b>Decision rule (primary endpoint).</b>" if kind == "decision" else \
                "<b>Non-inferiority (secondary).</b>"
            out.append("<div class='verdict'>" + "".join(f"<p>{rule} {html.escape(d)}</p>" for d in val) + "</div>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{html.escape(str(i))}</li>" for i in val) + "</ul>")
        elif kind == "p":
            out.append(f"<p>{html.escape(val)}</p>")
        elif kind == "flips":
            out.append(flips.to_html(*val))
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
