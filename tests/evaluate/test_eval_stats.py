"""The two-level bootstrap and the seed-level tests of sdft.evaluate.stats, on cases worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from sdft.evaluate.stats import hierarchical_difference, hierarchical_mean, paired_difference


def test_hierarchical_mean():
    rows = [[1, 0, 1, 1], [0, 0, 1, 1], [1, 1, 1, 0]]
    h = hierarchical_mean(rows)
    assert h["mean"] == pytest.approx(np.mean(rows)) and h["n"] == 4 and h["seeds"] == 3
    assert h["ci95"][0] < h["mean"] < h["ci95"][1]
    assert hierarchical_mean([[0.5] * 5, [0.5] * 5])["ci95"] == [0.5, 0.5]
    # Seed-to-seed spread widens the interval over one seed's item bootstrap.
    one = hierarchical_mean([[1, 0, 1, 0, 1, 0, 1, 0]])
    two = hierarchical_mean([[1, 1, 1, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0, 1, 0]])
    assert two["ci95"][1] - two["ci95"][0] > one["ci95"][1] - one["ci95"][0]


def test_the_two_level_bootstrap_on_cases_worked_by_hand():
    rng = np.random.default_rng(7)
    a, b = rng.integers(0, 2, 40).tolist(), rng.integers(0, 2, 40).tolist()
    paired = paired_difference(a, b)
    # One seed per method, or seeds that agree item for item: only the items vary, as in the paired bootstrap.
    assert hierarchical_difference([a], [b])["ci95"] == pytest.approx(paired["ci95"])
    assert hierarchical_difference([a, a], [b, b, b])["ci95"] == pytest.approx(paired["ci95"])
    assert paired["ci95"][0] < paired["diff"] < paired["ci95"][1]
    # Every item alike, two seeds apart (all 0, all 1): only the seed draw varies. Two draws from {0, 1}
    # average 0, 0.5 or 1 (1/4, 1/2, 1/4), so the 2.5 % and 97.5 % quantiles are 0 and 1.
    h = hierarchical_difference([[0] * 10, [1] * 10], [[1] * 10])
    assert h["diff"] == pytest.approx(0.5) and h["ci95"] == pytest.approx([0.0, 1.0])
    assert hierarchical_mean([[0] * 10, [1] * 10])["ci95"] == pytest.approx([0.0, 1.0])


def test_exact_permutation_p_over_training_seeds():
    from math import comb

    from sdft.evaluate.stats import permutation_p

    # Complete separation: only the observed labeling and its mirror are as extreme.
    assert permutation_p([1, 2, 3], [4, 5, 6])["p"] == pytest.approx(0.10)
    r = permutation_p([0.1, 0.2, 0.3, 0.4, 0.5], [0.6, 0.7, 0.8, 0.9, 1.0])
    assert r["p"] == pytest.approx(2 / 252) and r["relabelings"] == comb(10, 5) == 252
    # No difference at all: every relabeling is at least as extreme.
    assert permutation_p([1, 2, 3], [3, 2, 1])["p"] == 1.0
    # 1 2 4 vs 3 5 6: diff = (21 - 2 * sum(A)) / 3 = 7/3; |diff| >= 7/3 when sum(A) <= 7 ({1,2,3},
    # {1,2,4}) or >= 14 ({3,5,6}, {4,5,6}): p = 4/20.
    assert permutation_p([1, 2, 4], [3, 5, 6])["p"] == pytest.approx(4 / 20)
    assert permutation_p([1.0, 2.0], [3.0])["diff"] == pytest.approx(1.5)


def test_welch_interval_against_a_t_table_value():
    from sdft.evaluate.stats import welch_interval

    # Equal spread and size: df = 2(n-1) = 4, t(0.975, 4) = 2.776445 (a printed table's value).
    w = welch_interval([1, 2, 3], [4, 5, 6])
    half = 2.776445 * (2 / 3) ** 0.5
    assert w["df"] == pytest.approx(4.0) and w["diff"] == pytest.approx(3.0)
    assert w["ci95"] == pytest.approx([3 - half, 3 + half], abs=1e-5)
    # Unequal spread: Welch-Satterthwaite df = (1/3 + 4/3)^2 / ((1/3)^2/2 + (4/3)^2/2) = 50/17.
    assert welch_interval([1, 2, 3], [4, 6, 8])["df"] == pytest.approx(50 / 17)
    assert welch_interval([1], [2, 3])["ci95"][0] != welch_interval([1], [2, 3])["ci95"][0]  # NaN: one seed
