"""`sdft analyze` and `sdft report` on the hand-made fixture run folders."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sdft.analyze.runfiles import load_run
from sdft.cli import main
from sdft.report import arms, build

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"
SEEDED = RUNS / "seeded"


def _row(table, label):
    return next(r for r in table["rows"] if r[0] == label)


def test_analyze_cli_then_report(runs, tmp_path, tiny_model_dir):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    # A freshly initialised adapter (B = 0) where the manifest says vanilla's adapter is.
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj", "v_proj"])).save_pretrained(
        runs / "demo" / "train" / "vanilla")
    assert main(["analyze", str(runs / "demo"), "--measures", "bleu4,rouge_l"]) == 0
    analysis = json.loads((runs / "demo" / "analysis" / "analysis.json").read_text())
    assert set(analysis["pairs"]) == {"vanilla", "sdft"} and analysis["benchmark"] == "advbench"
    # vanilla kept the seed's refusal on 4 of 8 prompts (BLEU 100) and rewrote the rest
    assert analysis["pairs"]["vanilla"]["n"] == 8
    assert sorted(analysis["pairs"]["vanilla"]["bleu4"]["values"])[-4:] == [pytest.approx(100.0)] * 4
    assert analysis["pairs"]["sdft"]["rouge_l"]["mean"] > analysis["pairs"]["vanilla"]["rouge_l"]["mean"]
    assert set(analysis["missing"]) == {"vanilla-n50", "sdft-n50", "sdft-r0.5"}
    assert list(analysis["param_shift"]) == ["vanilla"]  # the other train folders hold no weights
    assert analysis["param_shift"]["vanilla"]["kind"] == "lora" and analysis["param_shift"]["vanilla"]["total"] == 0.0
    assert (runs / "demo" / "analysis" / "similarity_hist.svg").read_text().lstrip().startswith("<?xml")
    # the figures of the scores (bars, sweeps) are the report's, drawn under its own folder
    assert {p.stem for p in (runs / "demo" / "analysis").glob("*.png")} == {"similarity_hist"}

    out = tmp_path / "report"
    assert main(["report", str(runs / "demo"), str(runs / "ablation"), "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert "| demo/sdft | 50.0 <sub>[20.0, 80.0]</sub> | 87.5 <sub>[52.5, 97.5]</sub> | 29.0" in md
    assert "| demo/sdft − vanilla | ↑ +30.0" in md
    assert "Template ablation" in md and "| using | ablation/sdft-using | 75.0 |" in md
    assert ("| demo: distill/sdft-using | sdft, sdft-n50, sdft-r0.5 | using | 200 | 120 | 60.0 | "
            "check_failed 50, echo 10, truncated 20 | 52.5 | 48 | 45.3 | 120.5 |") in md
    assert "tiny" in md and "Hand-written fixture for the report tests." in md
    assert "| vanilla | 8 |" in md and "| 0 (lora) |" in md  # the similarity table from analysis.json
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 4  # bars ×2, histograms, sweeps
    assert "<link" not in page and "src='figures" not in page  # self-contained


def test_report_tolerates_missing_parts(tmp_path):
    run = tmp_path / "bare"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"name": "bare", "models": [
        {"label": "seed", "method": "seed", "eval_dir": "eval/seed"},
        {"label": "vanilla", "method": "vanilla", "eval_dir": "eval/vanilla"}]}))
    paths = build.write_report([run], tmp_path / "out")
    md = paths["md"].read_text()
    assert "| seed |" in md and "Change vs vanilla" not in md


@pytest.mark.parametrize("name", ["demo", "seeded"])
def test_html_renders_in_chromium(runs, tmp_path, name):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed (apt-get install -y chromium); cannot render the HTML report")
    from PIL import Image

    page = build.write_report([runs / name], tmp_path / "report")["html"]
    shot = tmp_path / "shot.png"
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1400,2000",
           page.resolve().as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert shot.exists(), "chromium wrote no screenshot"
    img = Image.open(shot).convert("RGB")
    assert img.size == (1400, 2000)
    # A blank or error page has a handful of colours; tables, text and plots have thousands.
    assert len(img.getcolors(maxcolors=1 << 20) or []) > 500


def test_publish_script_copies_the_small_files_and_the_report_rebuilds(runs, tmp_path):
    import sys

    repo = Path(__file__).resolve().parents[2]
    build.write_report([runs / "demo"], runs / "demo" / "report", flip_items=0)  # publish_run refuses quoted items
    dest = tmp_path / "published"
    done = subprocess.run([sys.executable, str(repo / "scripts" / "publish_run.py"), str(runs / "demo"), str(dest)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    files = {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()}
    assert {"manifest.json", "report/report.md", "report/report.html", "eval/seed/results.json",
            "eval/sdft-r0.5/results.json", "distill/sdft-using/distill_report.json"} <= files
    assert not any(f.endswith("predictions.jsonl") for f in files)  # they quote the datasets
    assert "eval/seed/advbench/scores.jsonl" in files and "eval/sdft/gsm8k/scores.jsonl" in files
    for f in (f for f in files if f.endswith("scores.jsonl")):  # ids and numbers, no text
        rows = [json.loads(x) for x in (dest / f).read_text().splitlines()]
        assert rows and all("id" in r and "score" in r and not {"prompt", "predict"} & set(r) for r in rows)
        assert not any(isinstance(v, str) and " " in v for r in rows for v in r.values())
    assert (dest / "summary.json").read_text() == (runs / "demo" / "report" / "summary.json").read_text()
    # the report rebuilt from the published files has the same numbers, paired CIs included
    again = build.write_report([dest], tmp_path / "again")
    assert again["md"].read_text().count("≈") == (runs / "demo" / "report" / "report.md").read_text().count("≈")
    assert (tmp_path / "again" / "summary.json").read_text() == (dest / "summary.json").read_text()
    bad = subprocess.run([sys.executable, str(repo / "scripts" / "publish_run.py"), str(tmp_path), str(dest)],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "manifest.json" in bad.stderr


def test_verdict_is_kept_across_rebuilds(tmp_path):
    run = tmp_path / "seeded"
    shutil.copytree(SEEDED, run)
    build.write_report([run], tmp_path / "r", figures=False, verdict="No difference detected.")
    again = build.write_report([run], tmp_path / "r", figures=False)
    assert json.loads(again["summary"].read_text())["verdict"] == "No difference detected."
    assert "**Verdict.** No difference detected." in again["md"].read_text()
    assert arms.is_seeded(load_run(run))


def test_a_folder_without_per_item_predictions_says_once_how_to_get_the_paired_numbers(tmp_path):
    demo = Path(shutil.copytree(RUNS / "demo", tmp_path / "demo"))  # vanilla-n50, sdft-r0.5: results.json only
    note = build.unpaired_note(load_run(demo))
    assert note.startswith("demo: this folder lacks per-item predictions for some models, so their contrasts (≈) "
                           "are unpaired approximations; for the paired numbers, rebuild the report from the run "
                           "folder that holds them.")
    (demo / "carry").mkdir()  # a published folder that carries its stages
    note = build.unpaired_note(load_run(demo))
    assert note.endswith(f"restore the run's stages (`python scripts/carry_run.py restore {demo / 'carry'} "
                         "runs/demo`) and rebuild from there (`sdft report runs/demo`).")
    md = build.write_report([demo], tmp_path / "out", figures=False)["md"].read_text()
    assert md.count("carry_run.py restore") == 1
    for extra in ("vanilla-n50", "sdft-n50", "sdft-r0.5"):
        shutil.rmtree(demo / "eval" / extra)
    for kept in ("seed", "vanilla", "sdft"):  # and their mmlu and humaneval (results.json only) go too
        path = demo / "eval" / kept / "results.json"
        results = json.loads(path.read_text())
        results["benchmarks"] = {b: r for b, r in results["benchmarks"].items() if b in ("gsm8k", "advbench")}
        path.write_text(json.dumps(results))
    assert build.unpaired_note(load_run(demo)) is None  # every model left has its predictions
