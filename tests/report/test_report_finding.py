"""The finding a report leads with: the primary endpoint's change from the seed, in words."""

from __future__ import annotations

from pathlib import Path

from sdft.report import build
from sdft.report.finding import sentence

SEEDED = Path(__file__).resolve().parents[1] / "fixtures" / "runs" / "seeded"
CONFIG = {"model": "qwen2.5-coder-0.5b", "data": "gsm8k:train[:-300]", "sample": 32}


def _summary(changes: dict[str, tuple[float, float, float]], seeds: int = 1, key: str = "advbench") -> dict:
    return {"seed_model": {"benchmarks": {key: {"mean": 70.0}}},
            "methods": {m: {"seeds": list(range(seeds)), "benchmarks": {key: {
                "mean": 70.0 + d, "change_vs_seed": {"diff": d, "ci95": [lo, hi]}}}}
                for m, (d, lo, hi) in changes.items()}}


def test_a_loss_whose_ci_excludes_0_is_called_forgetting_and_one_that_includes_0_chance():
    s = sentence(_summary({"vanilla": (-16.7, -25.8, -7.5), "sdft": (-4.2, -11.7, 3.3)}), CONFIG, "advbench")
    assert s.startswith("Fine-tuning qwen2.5-coder-0.5b on 32 gsm8k examples: the share of harmful requests "
                        "(AdvBench) it refuses was 70.0 % before; 53.3 % after vanilla fine-tuning "
                        "(−16.7 points, 95% CI −25.8 to −7.5) and 65.8 % after SDFT")
    assert s.endswith(". Vanilla fine-tuning lost part of a behaviour it was not trained on (forgetting); "
                      "SDFT changed it within chance (the CI includes 0).")


def test_both_fine_tunes_losing_and_a_gain_on_another_endpoint():
    both = sentence(_summary({"vanilla": (-16.7, -25.8, -7.5), "sdft": (-20.8, -30.8, -10.0)}), CONFIG, "advbench")
    assert both.endswith(". Both lost part of a behaviour they were not trained on (forgetting).")
    gain = sentence(_summary({"vanilla": (5.0, 1.0, 9.0)}, seeds=3, key="gsm8k"), CONFIG, "gsm8k")
    assert "before; averaged over 3 training seeds, 75.0 % after vanilla fine-tuning (+5.0 points" in gain
    assert gain.endswith(". Vanilla fine-tuning improved it.")


def test_an_unchanged_mean_is_not_said_to_change_and_the_seed_count_is_said_once():
    # the walk-through's openfunction run: "changed ... from 73.0 % to 73.0 % with vanilla fine-tuning (mean of
    # 3 training seeds) (+0.0 points ...) ...: vanilla fine-tuning (mean of 3 training seeds) and SDFT (mean of 3
    # training seeds) changed it within chance"
    s = sentence(_summary({"vanilla": (0.0, -6.0, 6.0), "sdft": (-0.7, -7.4, 5.9)}, seeds=3), CONFIG, "advbench")
    assert "from 70.0 % to 70.0 %" not in s and "was 70.0 % before; averaged over 3 training seeds, 70.0 % after " \
        "vanilla fine-tuning (+0.0 points" in s
    assert s.count("training seeds") == 1
    assert s.endswith(". Vanilla fine-tuning and SDFT changed it within chance (the CI includes 0).")
    uneven = _summary({"vanilla": (0.0, -6.0, 6.0), "sdft": (-0.7, -7.4, 5.9)}, seeds=3)
    uneven["methods"]["sdft"]["seeds"] = [1, 2]  # a plan's method_seeds: each count where it is read
    s = sentence(uneven, CONFIG, "advbench")
    assert "after vanilla fine-tuning (mean of 3 training seeds; +0.0 points" in s
    assert "after SDFT (mean of 2 training seeds; −0.7 points" in s and "averaged" not in s


def test_kl_reads_as_the_experiment_names_it():
    s = sentence(_summary({"vanilla": (-16.7, -25.8, -7.5), "kl": (1.0, -2.0, 4.0)}), CONFIG, "advbench")
    assert "71.0 % after KL to the seed (+1.0 points" in s and "with kl" not in s and " kl " not in s
    assert s.endswith("; KL to the seed changed it within chance (the CI includes 0).")


def test_an_unpaired_change_is_marked_as_the_tables_mark_it():
    """A folder without per-item predictions (a published one) gives an unpaired approximation; the
    finding quoted its CI as if paired."""
    summary = _summary({"vanilla": (-16.7, -25.8, -7.5), "sdft": (-4.2, -11.7, 3.3)})
    summary["methods"]["vanilla"]["benchmarks"]["advbench"]["change_vs_seed"]["approx"] = True
    s = sentence(summary, CONFIG, "advbench")
    assert "(−16.7 points, 95% CI −25.8 to −7.5 ≈, unpaired)" in s and "−11.7 to +3.3)" in s


def test_no_finding_without_a_seed_score_a_change_or_a_primary_endpoint():
    s = _summary({"vanilla": (-16.7, -25.8, -7.5)})
    assert sentence({**s, "seed_model": None}, CONFIG, "advbench") is None
    assert sentence(s, CONFIG, "gsm8k") is None  # nothing scored on it
    assert sentence(s, CONFIG, None) is None


def test_the_report_leads_with_the_finding(tmp_path):
    md = build.write_report([SEEDED], tmp_path, figures=False)["md"].read_text()
    title, first = md.split("\n\n")[:2]
    assert title.startswith("# ") and first.startswith("> **Finding.** Fine-tuning qwen2.5-coder-0.5b on 6 gsm8k")
    assert "before; averaged over 2 training seeds, " in first and first.count("training seeds") == 1
