"""The per-item flip browser: items whose score changed between the seed and the fine-tunes.

For each benchmark every compared model has predictions for, an item *flips* when the models'
scores on it are not all equal. The compared models are the seed and one model per main method
(for a run with several training seeds, each method's first seed: the browser shows one
consistent set of answers, not a mix). Items where the fine-tunes disagree with each other come
first; at most ``cap`` per benchmark are shown, and the header says how many were left out.

The HTML is a plain table plus a few lines of inline script to filter it (by benchmark, by
"fine-tunes disagree", by text); no network, no external files. It quotes prompts and answers
verbatim, harmful AdvBench requests and jailbroken answers among them: it is for inspecting a
run locally, not for redistribution.
"""

from __future__ import annotations

import html
import json
from typing import Any

from sdft.analyze import runfiles
from sdft.report import arms
from sdft.report.endpoints import endpoint

HEADING = "Per-item flips"  # the report section that quotes prompts and answers (publish_run refuses it)
MAX_CHARS = 1500  # per prompt or answer: enough to judge an answer, and the page stays small


def compared_models(run: dict[str, Any]) -> list[dict[str, Any]]:
    seed = runfiles.find_model(run, "seed")
    firsts = [min(ms, key=lambda m: (m.get("train_seed") is None, m.get("train_seed") or 0))
              for ms in arms.main_arms(run).values()]
    return ([seed] if seed else []) + firsts


def _clip(text: Any) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS] + f" … [{len(text) - MAX_CHARS} more characters]"


def flipped_items(run: dict[str, Any], benchmark: str, models: list[dict[str, Any]]) -> tuple[list[dict], int] | None:
    """(flipped items, items all models scored) on one benchmark, or None without predictions.
    An item: {"id", "label", "prompt", "scores": [...], "answers": [...], "disagree"}."""
    preds = [runfiles.model_predictions(run, m, benchmark) for m in models]
    if len(models) < 2 or any(p is None for p in preds):
        return None
    num = lambda rec: rec.get("score") if isinstance(rec.get("score"), (int, float)) else None  # noqa: E731
    ids = [i for i in preds[0] if all(i in p and num(p[i]) is not None for p in preds)]
    out = []
    for i in ids:
        scores = [float(num(p[i])) for p in preds]
        if len(set(scores)) == 1:
            continue
        recs = [p[i] for p in preds]
        out.append({"id": i, "label": recs[0].get("label"), "prompt": recs[0].get("prompt"), "scores": scores,
                    "answers": [r.get("predict") for r in recs], "disagree": len(set(scores[1:])) > 1})
    return out, len(ids)


def browser(run: dict[str, Any], benchmarks: list[str], cap: int = 20) -> dict[str, Any] | None:
    """{"models": labels, "benchmarks": {name: {"items", "flipped", "shown": [...]}}} or None."""
    models = compared_models(run)
    out: dict[str, Any] = {"models": [m["label"] for m in models], "benchmarks": {}}
    for b in benchmarks:
        found = flipped_items(run, b, models)
        if found is None:
            continue
        items, n = found
        ordered = sorted(items, key=lambda it: not it["disagree"])  # stable: file order otherwise
        out["benchmarks"][b] = {"items": n, "flipped": len(items), "shown": ordered[:cap]}
    return out if out["benchmarks"] else None


def _score(x: float) -> str:
    return f"{x:g}"


def _what(benchmark: str) -> str:
    """What a score of 1 means, for the answer headers."""
    ep = endpoint(benchmark)
    return {"advbench": "1 = refused", "advbench_jailbreak": "1 = refused",
            "xstest": "1 = fully refused"}.get(ep.benchmark, "1 = correct")


SCRIPT = """(function(){var root=document.getElementById(%(id)s),b=root.querySelector('select'),
d=root.querySelector('input[type=checkbox]'),q=root.querySelector('input[type=search]'),c=root.querySelector('.count');
function f(){var n=0,t=q.value.toLowerCase();root.querySelectorAll('tbody tr').forEach(function(r){
var ok=(!b.value||r.dataset.bench===b.value)&&(!d.checked||r.dataset.disagree==='1')
  &&(!t||r.textContent.toLowerCase().indexOf(t)>=0);
r.style.display=ok?'':'none';if(ok)n++;});c.textContent=n+' shown';}
b.onchange=f;d.onchange=f;q.oninput=f;f();})();"""


def to_html(data: dict[str, Any], dom_id: str) -> str:
    models = data["models"]
    esc = html.escape
    opts = "".join(f"<option value='{esc(b)}'>{esc(b)} ({len(v['shown'])} of {v['flipped']} flipped)</option>"
                   for b, v in data["benchmarks"].items())
    head = "".join(f"<th class='text'>{esc(m)}</th>" for m in models)
    rows = []
    for b, v in data["benchmarks"].items():
        for it in v["shown"]:
            # Marked: the answers whose score differs from the seed's (no good/bad colour: on
            # XSTest's safe prompts a refusal, score 1, is the wrong answer).
            cells = "".join(
                f"<td class='text{' chg' if s != it['scores'][0] else ''}'><b>score {_score(s)}</b>"
                f"<div class='txt'>{esc(_clip(a))}</div></td>" for s, a in zip(it["scores"], it["answers"]))
            label = f" · {esc(str(it['label']))}" if it.get("label") and b == "xstest" else ""
            rows.append(f"<tr data-bench='{esc(b)}' data-id='{esc(it['id'])}' data-disagree='{int(it['disagree'])}'>"
                        f"<td class='text'>{esc(b)}<small>{esc(it['id'])}{label}</small>"
                        f"<small>{esc(_what(b))}</small></td>"
                        f"<td class='text'><div class='txt'>{esc(_clip(it['prompt']))}</div></td>{cells}</tr>")
    return (f"<div class='flips' id='{esc(dom_id)}'><div class='controls'>"
            f"<label>benchmark <select><option value=''>all</option>{opts}</select></label> "
            "<label><input type='checkbox'> only where the fine-tunes disagree</label> "
            "<input type='search' placeholder='filter text'> <span class='count'></span> "
            "<span class='chg'>&nbsp;score differs from the seed's&nbsp;</span></div>"
            f"<div class='scroll'><table><thead><tr><th>benchmark / item</th><th class='text'>prompt</th>{head}"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
            f"<script>{SCRIPT % {'id': json.dumps(dom_id)}}</script></div>")


def summary_table(data: dict[str, Any], title: str) -> dict[str, Any]:
    """The counts, for report.md (which does not quote the items)."""
    rows = [[b, str(v["items"]), str(v["flipped"]), str(len(v["shown"]))] for b, v in data["benchmarks"].items()]
    return {"title": title, "columns": ["benchmark", "items scored by all", "flipped", "shown in report.html"],
            "rows": rows, "note": f"Compared: {', '.join(data['models'])}. The items themselves are in report.html."}
