"""How the report writes a number: percentages, signed changes with a true minus sign, CIs in
small type, per-seed values, and a dash for anything missing."""

from __future__ import annotations

import math

import pytest

from sdft.report import cells
from sdft.report.cells import DASH


def test_pct_and_signed():
    assert (cells.pct(0.1234), cells.pct(1.0), cells.pct(0.0)) == ("12.3", "100.0", "0.0")
    assert cells.pct(None) == DASH and cells.pct(math.nan) == DASH
    assert (cells.signed(1.5), cells.signed(-0.34), cells.signed(0.0)) == ("+1.5", "−0.3", "+0.0")
    assert "-" not in cells.signed(-12.0)  # a true minus sign, not a hyphen
    assert (cells.signed(-0.04), cells.signed(-0.0)) == ("+0.0", "+0.0")  # no "−0.0"


def test_one_change_reached_two_ways_prints_the_same():
    # dft-s1's GSM8K change was −4.2 in one table and −4.3 in the next: the same −4.25, once as a
    # difference of percentages and once as 100 × a difference of fractions
    assert cells.signed(100 * (0.2275 - 0.27)) == cells.signed(22.75 - 27.0) == "−4.2"
    assert cells.signed(100 * (0.6575 - 0.65)) == cells.signed(65.75 - 65.0) == "+0.8"
    assert cells.pct(0.2275) == "22.8" and cells.number(math.inf) == "+inf"


def test_a_mean_reached_two_ways_prints_the_same():
    # 100 × 0.0055 is 0.5499999999999999: unsnapped it printed 0.5 where the same mean as 0.55 prints 0.6
    seeds = {"1": 0.55, "2": 0.55}
    assert cells.mean_cell({"mean": 100 * 0.0055, "ci95": [100 * 0.0045, 0.65], "per_seed": seeds}) == \
        cells.mean_cell({"mean": 0.55, "ci95": [0.45, 0.65], "per_seed": seeds}) == \
        {"text": "0.6", "small": ["[0.5, 0.7]", "s1 0.6 · s2 0.6"]}


def test_number_any_precision_with_a_true_minus():
    assert (cells.number(-0.1234, "+.3f"), cells.number(-0.0004, "+.3f"), cells.number(-0.0004, ".3f")) == \
        ("−0.123", "+0.000", "0.000")
    assert (cells.number(-12.5, ".4f"), cells.number(None), cells.number(0.25, "+.2f")) == ("−12.5000", "—", "+0.25")


@pytest.mark.parametrize(("pp", "mark"), [(0.06, "↑"), (0.05, "="), (0.0, "="), (-0.05, "="), (-0.06, "↓")])
def test_arrow_ignores_changes_that_round_to_zero(pp, mark):
    assert cells.arrow(pp) == mark


def test_score_cell_shows_the_ci_only_when_complete():
    assert cells.score_cell(None) == DASH and cells.score_cell({"score": None}) == DASH
    assert cells.score_cell({"score": 0.4}) == "40.0"
    assert cells.score_cell({"score": 0.4, "ci95": [0.1, None]}) == "40.0"
    assert cells.score_cell({"score": 0.4, "ci95": [0.1, 0.7]}) == {"text": "40.0", "small": "[10.0, 70.0]"}


def test_mean_cell_with_ci_approximation_and_seeds():
    assert cells.mean_cell(None) == DASH
    assert cells.mean_cell({"mean": 40.0, "ci95": [math.nan, math.nan], "per_seed": {"1": 40.0}}) == "40.0"
    one = cells.mean_cell({"mean": 40.0, "ci95": [30.0, 50.04], "per_seed": {"1": 40.0}, "approx": True})
    assert one == {"text": "40.0", "small": ["[30.0, 50.0] ≈"]}
    two = cells.mean_cell({"mean": 42.5, "ci95": [30.0, 55.0], "per_seed": {"1": 40.0, "2": 45.0}})
    assert two == {"text": "42.5", "small": ["[30.0, 55.0]", "s1 40.0 · s2 45.0"]}
    assert cells.per_seed({"1": 0.5, "pooled": 0.25}, str) == "s1 0.5 · pooled 0.25"


def test_delta_cell_signs_ci_seeds_and_invert():
    assert cells.delta_cell(None) == DASH
    d = {"diff": -2.0, "ci95": [-5.0, 1.0]}
    assert cells.delta_cell(d) == {"text": "↓ −2.0", "small": "[−5.0, +1.0]"}
    assert cells.delta_cell({**d, "approx": True})["small"] == "[−5.0, +1.0] ≈"
    assert cells.delta_cell({"diff": 3.0, "ci95": [math.nan, math.nan]})["small"] == ""
    seeds = cells.delta_cell({**d, "per_seed": {"1": -1.0, "2": -3.0}})
    assert seeds["small"] == ["[−5.0, +1.0]", "s1 −1.0 · s2 −3.0"]
    assert cells.delta_cell(d, invert=True) == {"text": "↓ −2.0", "small": "[−5.0, +1.0]", "invert": True}


def test_fmt_counts_times_and_rates():
    assert (cells.fmt(None), cells.fmt(12), cells.fmt("x")) == (DASH, "12", "x")
    assert (cells.fmt(0.123456), cells.fmt(999.94), cells.fmt(12345.6)) == ("0.1235", "999.9", "12,346")


def test_model_label_names_the_run_only_when_there_are_several():
    run, m = {"name": "r1"}, {"label": "sdft-s1"}
    assert cells.model_label(run, m, multi=False) == "sdft-s1" and cells.model_label(run, m, multi=True) == "r1/sdft-s1"
