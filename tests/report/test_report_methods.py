"""The methods comparison (report/methods.py) on a run folder derived from the ``seeded``
fixture: its two methods plus a third, ``onpolicy``, whose answers are sdft's except that it
refuses every AdvBench request, and one weight-interpolation point.

Changes vs the seed in the fixture (pp): GSM8K (the target task) vanilla +33.3, sdft +16.7,
onpolicy +16.7; AdvBench vanilla −33.3, sdft −16.7, onpolicy +16.7; XSTest over-refusal 0 for all.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sdft.analyze import runfiles
from sdft.analyze.runfiles import load_run
from sdft.report import arms, methods
from sdft.report.endpoints import endpoint

COST = {"tokens_forwarded": 1000, "forward_passes": 10, "backward_passes": 10, "wall_s": 20.0,
        "peak_memory_mb": 2048.0, "peak_memory_kind": "CUDA peak allocated"}


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.fixture()
def run_dir(runs) -> Path:
    d = runs / "seeded"
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["config"]["methods"] = ["vanilla", "sdft", "onpolicy"]
    for s in (1, 2):
        shutil.copytree(d / "eval" / f"sdft-s{s}", d / "eval" / f"onpolicy-s{s}")
        adv = d / "eval" / f"onpolicy-s{s}" / "advbench" / "predictions.jsonl"
        rows = [{**json.loads(x), "score": 1.0} for x in adv.read_text().splitlines()]
        adv.write_text("".join(json.dumps(r) + "\n" for r in rows))
        _edit_json(d / "eval" / f"onpolicy-s{s}" / "results.json",
                   lambda r: r["benchmarks"]["advbench"].update(score=1.0, ci95=[1.0, 1.0]))
        manifest["models"].append({**manifest["models"][2], "label": f"onpolicy-s{s}", "method": "onpolicy",
                                   "train_seed": s, "adapter": None, "train_dir": None,
                                   "eval_dir": f"eval/onpolicy-s{s}"})
        # what training cost: sdft twice vanilla's wall time per step; onpolicy recorded none
        for meth, wall in (("vanilla", 20.0), ("sdft", 40.0)):
            _edit_json(d / "train" / f"{meth}-s{s}" / "train_summary.json",
                       lambda t, wall=wall: t.update(cost={**COST, "wall_s": wall}))
    # an interpolation point of sdft at alpha 0.5, training seed 1 (its answers: vanilla-s1's)
    manifest["models"].append({**manifest["models"][1], "label": "sdft-a0.5", "method": "sdft", "alpha": 0.5,
                               "of": "sdft-s1", "train_dir": None})
    (d / "manifest.json").write_text(json.dumps(manifest))
    return d


def test_interpolation_arms_and_when_the_section_applies(run_dir):
    run = load_run(run_dir)
    assert [(k, [m["label"] for m in v]) for k, v in methods.interpolation_arms(run).items()] == \
        [(("sdft", 0.5), ["sdft-a0.5"])]
    assert methods.applies(run)
    assert not methods.applies(load_run(Path(__file__).resolve().parents[1] / "fixtures" / "runs" / "seeded"))


def test_pareto_points_against_the_primary_endpoint(run_dir):
    pts = {p["label"]: p for p in methods.pareto_points(load_run(run_dir), "advbench")}
    assert list(pts) == ["vanilla", "sdft", "onpolicy", "sdft α=0.5"]
    want = {"vanilla": (33.3, -33.3), "sdft": (16.7, -16.7), "onpolicy": (16.7, 16.7), "sdft α=0.5": (33.3, -33.3)}
    for label, (x, y) in want.items():
        p = pts[label]
        assert (p["x"], p["y"]) == (pytest.approx(x, abs=0.05), pytest.approx(y, abs=0.05)), label
        assert p["x_ci"][0] <= p["x"] <= p["x_ci"][1] and p["y_ci"][0] <= p["y"] <= p["y_ci"][1]
        assert p["y_name"] == endpoint("advbench").title and not p["y_approx"]
    assert (pts["sdft"]["seeds"], pts["sdft"]["alpha"]) == (2, 1.0)
    assert (pts["sdft α=0.5"]["seeds"], pts["sdft α=0.5"]["alpha"]) == (1, 0.5)
    assert pts["sdft"]["target"] == endpoint("gsm8k").title


def test_pareto_retention_without_a_primary_is_the_mean_of_the_other_endpoints(run_dir):
    run = load_run(run_dir)
    for primary in (None, "gsm8k"):  # no primary, or the target itself
        pts = {p["label"]: p for p in methods.pareto_points(run, primary)}
        p = pts["onpolicy"]
        assert p["y_name"] == "mean of the other endpoints" and p["y_approx"]
        lo, hi = p["y_ci"]
        assert lo < p["y"] < hi and p["y"] == pytest.approx((hi + lo) / 2)
        # y itself: every endpoint but the target's (gsm8k), over-refusal counted downwards
        seed, ms = runfiles.find_model(run, "seed"), arms.main_arms(run)["onpolicy"]
        signed = {"advbench": 1, "xstest": -1, "xstest_unsafe": 1, "humaneval": 1}
        want = sum(sign * arms.difference(run, [seed], ms, endpoint(k))["diff"] for k, sign in signed.items()) / 4
        assert p["y"] == pytest.approx(want)
        assert p["y"] != pytest.approx(sum(arms.difference(run, [seed], ms, endpoint(k))["diff"]
                                           for k in [*signed, "gsm8k"]) / 5)  # the target left out


def test_no_points_without_the_target_task(run_dir):
    _edit_json(run_dir / "manifest.json", lambda m: m["config"].update(data="mbpp:train"))
    assert methods.pareto_points(load_run(run_dir), "advbench") == []
    assert methods.pareto_figure([], run_dir / "none") == []


def test_methods_table_rows_against_the_seed_and_vanilla(run_dir):
    t = methods.methods_table(load_run(run_dir))
    assert t["columns"] == ["method", "gsm8k", "advbench", "xstest over-refusal (safe) (lower = better)",
                            "xstest refusal (unsafe)", "humaneval"]
    assert [r[0] for r in t["rows"]] == [
        "vanilla SFT (vanilla, 2 seeds)", "rewrite self-distillation (sdft, 2 seeds)",
        "on-policy self-distillation (onpolicy, 2 seeds)",
        "weight interpolation of rewrite self-distillation, α=0.5 (sdft α=0.5, 1 seed)"]
    vanilla, sdft, onpolicy, _ = (r[2] for r in t["rows"])  # advbench
    assert vanilla.startswith("−33.3 [") and vanilla.endswith(" / —")  # vanilla vs itself: a dash
    assert sdft.startswith("−16.7 [") and " / +16.7 [" in sdft
    assert onpolicy.startswith("+16.7 [") and " / +50.0 [" in onpolicy


def test_cost_table_means_over_seeds_relative_to_vanilla(run_dir):
    run = load_run(run_dir)
    c = methods.costs(run)
    assert set(c) == {"vanilla", "sdft"}  # onpolicy recorded no cost
    assert (c["sdft"]["wall_s"], c["sdft"]["steps"], c["sdft"]["wall_per_step"]) == (40.0, 10.0, 4.0)
    assert c["vanilla"]["tokens_per_s"] == pytest.approx(50.0)
    t = methods.cost_table(run)
    assert [r[0] for r in t["rows"]] == ["vanilla SFT", "rewrite self-distillation"]
    assert t["rows"][0][8] == "1.00×" and t["rows"][1][8] == "2.00×"
    assert t["rows"][1][2] == "1,000" and t["rows"][1][-1] == "2,048"
    assert t["rows"][1][6] == "—"  # these summaries predate CPU time
    assert t["note"].endswith("Peak memory: CUDA peak allocated.")


def test_cost_table_shows_cpu_time_only_where_every_seed_counted_it(run_dir):
    # wall time counts the seconds a training was paused (SIGSTOP while tests ran); CPU time not
    for s, cpu in ((1, 30.0), (2, 50.0)):
        path = run_dir / "train" / f"sdft-s{s}" / "train_summary.json"
        _edit_json(path, lambda t, cpu=cpu: t["cost"].update(cpu_s=cpu))
    _edit_json(run_dir / "train" / "vanilla-s1" / "train_summary.json", lambda t: t["cost"].update(cpu_s=10.0))
    c = methods.costs(load_run(run_dir))
    assert (c["sdft"]["cpu_s"], c["vanilla"]["cpu_s"]) == (40.0, None)  # vanilla-s2 did not count it
    rows = methods.cost_table(load_run(run_dir))["rows"]
    assert (rows[0][6], rows[1][6]) == ("—", "40")


def test_a_cost_that_covers_part_of_a_training_is_left_out_of_the_mean(run_dir):
    """A training resumed from a checkpoint older than the cost file recorded its last sitting's
    cost only (GSM8K v2's retrained vanilla-s2: 84,709 of 294,424 tokens); averaged in, it made
    vanilla look cheap. One whose checkpoint carried the cost counts."""
    summary = run_dir / "train" / "vanilla-s2" / "train_summary.json"
    _edit_json(summary, lambda t: t.update(resumed_from="checkpoints/checkpoint-8",
                                           cost={**COST, "wall_s": 5.0, "tokens_forwarded": 100}))
    c = methods.costs(load_run(run_dir))
    assert (c["vanilla"]["wall_s"], c["vanilla"]["seeds"], c["vanilla"]["left_out"]) == (20.0, 1, ["vanilla-s2"])
    assert methods.cost_table(load_run(run_dir))["note"].endswith(
        "Left out: vanilla-s2, resumed from a checkpoint that did not carry the cost of the sittings before (their "
        "counts cover the last sitting only).")
    steps = json.loads(summary.read_text())["steps"]
    _edit_json(summary, lambda t: t["cost"].update(steps_counted=steps))  # carried across the sittings
    c = methods.costs(load_run(run_dir))
    assert (c["vanilla"]["wall_s"], c["vanilla"]["seeds"], c["vanilla"]["left_out"]) == (12.5, 2, [])
    assert "Left out" not in methods.cost_table(load_run(run_dir))["note"]
    # every seed of a method left out: its row stays, in dashes, and the note names them
    for s in (1, 2):
        _edit_json(run_dir / "train" / f"vanilla-s{s}" / "train_summary.json",
                   lambda t: t.update(resumed_from="checkpoints/checkpoint-8", cost={**COST, "wall_s": 5.0}))
    t = methods.cost_table(load_run(run_dir))
    assert t["rows"][0] == ["vanilla SFT"] + ["—"] * 9 and t["rows"][1][8] == "—"  # no vanilla to compare with
    assert "Left out: vanilla-s1, vanilla-s2, resumed" in t["note"]


def test_best_method_is_named_only_when_decided(run_dir):
    run = load_run(run_dir)
    best = methods.best_method(run, "advbench")
    # onpolicy leads, but 2 of 6 items cannot separate it from sdft
    assert (best["endpoint"], best["leader"], best["best"]) == ("advbench", "onpolicy", None)
    assert "sdft" in best["undecided_against"]
    assert best["statement"].startswith(f"{endpoint('advbench').title}: no best method is named. on-policy "
                                        "self-distillation leads (+16.7 pp vs the seed) but its CI against ")
    tie = methods.best_method(run, "xstest")  # every method changes over-refusal by 0
    assert tie["leader"] is None and tie["undecided_against"] == ["vanilla", "sdft", "onpolicy"]
    assert tie["statement"].endswith("tie at +0.0 pp vs the seed.")
    assert methods.best_method(run, None) is None and methods.best_method(run, "nope") is None


def test_report_blocks_with_the_pareto_figure(run_dir, tmp_path):
    run = load_run(run_dir)
    blocks = methods.report_blocks([run], tmp_path / "figures", "advbench",
                                   more=lambda r, p: {"title": "more", "columns": [], "rows": []})
    kinds = [k for k, _ in blocks]
    assert kinds == ["h2", "decision", "table", "table", "figure", "table"]
    assert blocks[0] == ("h2", "Methods compared") and blocks[-1][1]["title"] == "more"
    paths, caption = blocks[4][1]
    assert [p.name for p in paths] == ["pareto.png", "pareto.svg"] and paths[0].read_bytes()[:4] == b"\x89PNG"
    assert caption.startswith("seeded: target task gained (x) vs ") and endpoint("advbench").title in caption
    # two runs: each gets its heading and its own figure file; one the section does not apply to is skipped
    plain = load_run(Path(__file__).resolve().parents[1] / "fixtures" / "runs" / "seeded")
    two = methods.report_blocks([run, plain, run], tmp_path / "two", "advbench")
    assert [v for k, v in two if k == "h3"] == ["seeded", "seeded"]
    assert len({v[0][0].name for k, v in two if k == "figure"}) == 2
    assert methods.report_blocks([plain], tmp_path / "none", "advbench") == []


def test_summary_is_none_where_it_does_not_apply(run_dir):
    s = methods.summary(load_run(run_dir), "advbench")
    assert [p["label"] for p in s["pareto"]][-1] == "sdft α=0.5" and set(s["costs"]) == {"vanilla", "sdft"}
    assert s["best"]["leader"] == "onpolicy"
    assert methods.summary(load_run(Path(__file__).resolve().parents[1] / "fixtures" / "runs" / "seeded"), None) is None


@pytest.mark.parametrize("primary", ["ifeval", "no_such_endpoint"])
def test_a_primary_the_run_did_not_evaluate_falls_back_to_the_mean(run_dir, primary):
    # It used to leave every point without a y, so the Pareto figure silently vanished.
    run = load_run(run_dir)
    pts = methods.pareto_points(run, primary)
    assert [p["label"] for p in pts] == ["vanilla", "sdft", "onpolicy", "sdft α=0.5"]
    assert pts == methods.pareto_points(run, None)
    assert [k for k, _ in methods.report_blocks([run], run_dir / "fig", primary)].count("figure") == 1


def test_the_mean_of_the_other_endpoints_keeps_each_sign_with_its_endpoint(monkeypatch):
    """An endpoint with no difference (not evaluated) is left out together with its sign: over-
    refusal (lower is better) must still count negated when an endpoint before it is missing.
    IFEval's instruction-level endpoints restate its prompt-level ones, so they are not counted
    again."""
    from sdft.report import arms
    from sdft.report.endpoints import endpoints_of

    change = {"advbench": None, "xstest": 10.0, "xstest_unsafe": 4.0, "ifeval": 2.0, "ifeval_loose": 2.0,
              "ifeval_inst": 50.0, "ifeval_inst_loose": 50.0}
    monkeypatch.setattr(arms, "difference", lambda run, a, b, e: None if change[e.key] is None else
                        {"diff": change[e.key], "ci95": [change[e.key] - 1, change[e.key] + 1]})
    y = methods._retention({}, {}, [], endpoints_of(["advbench", "xstest", "ifeval"]), None, None)
    assert y["diff"] == pytest.approx((-10.0 + 4.0 + 2.0 + 2.0) / 4)  # over-refusal up 10 counts as −10
