"""Rendering the report's blocks: markdown that links figure files, and one self-contained HTML
page; every block kind, cells with CIs in small type, and escaping of text in the HTML."""

from __future__ import annotations

import base64
from pathlib import Path

from sdft.analyze import runfiles
from sdft.analyze.runfiles import load_run
from sdft.report import flips, render

SEEDED = Path(__file__).resolve().parents[1] / "fixtures" / "runs" / "seeded"

RISE = {"text": "↑ +5.0", "small": ["[+1.0, +9.0]", "s1 +4.0 · s2 +6.0"]}
TABLE = {"title": "Scores <&>", "columns": ["model", "gsm8k", "change"],
         "rows": [["a<b & c", {"text": "40.0", "small": "[10.0, 70.0]"}, RISE],
                  ["x|y\nz", "—", {"text": "↑ +2.0", "small": "", "invert": True}]],
         "note": "Note with <b> & more"}


def _blocks(tmp_path):
    png = tmp_path / "figures" / "forest.png"
    png.parent.mkdir()
    png.write_bytes(b"\x89PNG fake bytes")
    return [("h1", "Report <1> & co"), ("h2", "Scores"), ("h3", "Sub"),
            ("notes", ["first <note>", "second"]), ("verdict", "SDFT keeps <more>"),
            ("finding", ["found & said"]), ("decision", ["primary: advbench"]), ("ul", ["one", "<two>"]),
            ("p", "a paragraph & <tag>"), ("table", TABLE),
            ("figure", ([png.with_suffix(".svg"), png], "Forest <plot>")), ("code", ("summary.json", '{"a": "<b>"}'))]


def test_markdown_of_every_block_kind(tmp_path):
    md = render.to_markdown(_blocks(tmp_path), tmp_path)
    assert md.startswith("# Report <1> & co\n\n## Scores\n\n### Sub\n\n")
    assert "> **Note.** first <note>\n>\n> **Note.** second" in md
    assert "> **Verdict.** SDFT keeps <more>" in md and "> **Finding.** found & said" in md
    assert "> **Decision rule (primary endpoint).** primary: advbench" in md
    assert "- one\n- <two>" in md and "\n\na paragraph & <tag>\n\n" in md
    table = ("**Scores <&>**\n\n| model | gsm8k | change |\n|---|---|---|\n"
             "| a<b & c | 40.0 <sub>[10.0, 70.0]</sub> | "
             "↑ +5.0 <sub>[+1.0, +9.0]</sub> <sub>s1 +4.0 · s2 +6.0</sub> |\n"
             "| x\\|y z | — | ↑ +2.0 |\n\n*Note with <b> & more*")
    assert table in md  # a pipe in a cell is escaped, a newline becomes a space, an empty small is dropped
    assert "![Forest <plot>](figures/forest.png)\n\n*Forest <plot>*" in md  # the PNG, relative to the report
    assert '<details><summary>summary.json</summary>\n\n```json\n{"a": "<b>"}\n```\n</details>' in md
    assert md.endswith("</details>\n")


def test_html_escapes_text_and_embeds_the_figure(tmp_path):
    page = render.to_html(_blocks(tmp_path))
    assert page.startswith("<!doctype html>") and page.endswith("</body></html>")
    assert "<title>Report &lt;1&gt; &amp; co</title>" in page and "<h1>Report &lt;1&gt; &amp; co</h1>" in page
    assert "<h2>Scores</h2>" in page and "<h3>Sub</h3>" in page
    assert "<p><b>Note.</b> first &lt;note&gt;</p>" in page
    assert "<b>Verdict.</b> SDFT keeps &lt;more&gt;" in page and "<b>Finding.</b> found &amp; said" in page
    assert "<li>&lt;two&gt;</li>" in page and "<p>a paragraph &amp; &lt;tag&gt;</p>" in page
    assert "<caption>Scores &lt;&amp;&gt;</caption>" in page
    assert "<td class='text'>a&lt;b &amp; c</td>" in page  # words align left, escaped
    assert "<td>40.0<small>[10.0, 70.0]</small></td>" in page  # numbers align right, CI in small type
    assert ('<td><span class="up">↑ +5.0</span><small>[+1.0, +9.0]</small>'
            "<small>s1 +4.0 · s2 +6.0</small></td>") in page
    assert "<td><span class=\"down\">↑ +2.0</span></td>" in page  # inverted: a rise is bad
    assert "<td>—</td>" in page and "<p class='note'>Note with &lt;b&gt; &amp; more</p>" in page
    data = base64.b64encode(b"\x89PNG fake bytes").decode("ascii")
    assert f"<img alt='Forest &lt;plot&gt;' src='data:image/png;base64,{data}'>" in page
    assert "<pre>{&quot;a&quot;: &quot;&lt;b&gt;&quot;}</pre>" in page
    assert "<script" not in page  # only the flip browser brings script
    assert "a<b" not in page and "<tag>" not in page and "<note>" not in page


def test_html_title_defaults_without_an_h1():
    assert "<title>SDFT report</title>" in render.to_html([("p", "x")])


def test_flips_block_counts_in_markdown_and_browser_in_html(tmp_path):
    run = load_run(SEEDED)
    data = flips.browser(run, runfiles.benchmarks_of(run["models"]))
    md = render.to_markdown([("flips", (data, "flips-1"))], tmp_path)
    assert md.startswith("**Items whose score flipped**\n\n| benchmark | items scored by all | flipped |")
    for bench, v in data["benchmarks"].items():
        assert f"| {bench} | {v['items']} | {v['flipped']} | {len(v['shown'])} |" in md
    page = render.to_html([("flips", (data, "flips-1"))])
    assert "<div class='flips' id='flips-1'>" in page and "<script>" in page
