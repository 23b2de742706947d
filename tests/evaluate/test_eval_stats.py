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


def test_exact_sign_flip_p_over_paired_seeds():
    from sdft.evaluate.stats import sign_flip_p

    # All of one sign: only the observed signs and their mirror are as extreme, 2 / 2^k.
    assert sign_flip_p([1, 2, 3])["p"] == pytest.approx(2 / 8)
    r = sign_flip_p([0.30, 0.25, 0.25, 0.20, 0.20])
    assert (r["p"], r["flips"], r["pairs"], r["diff"]) == (pytest.approx(2 / 32), 32, 5, pytest.approx(0.24))
    # 3, 1, -1: |mean| >= 1 for the flips with signed sums of 3 or more in magnitude: (±3, ±1, ±1)
    # gives sums 5, 3, 3, 1, -1, -3, -3, -5: six of eight.
    assert sign_flip_p([3, 1, -1])["p"] == pytest.approx(6 / 8)
    assert sign_flip_p([1, -1])["p"] == 1.0 and sign_flip_p([0, 0])["p"] == 1.0
    assert sign_flip_p([])["flips"] == 0


def test_paired_t_interval_against_a_t_table_value():
    from sdft.evaluate.stats import paired_t_interval

    # 30 25 25 20 20: mean 24, sd sqrt(70 / 4), df 4, t(0.975, 4) = 2.776445.
    t = paired_t_interval([30, 25, 25, 20, 20])
    half = 2.776445 * (70 / 4 / 5) ** 0.5
    assert t["ci95"] == pytest.approx([24 - half, 24 + half], abs=1e-4) and (t["df"], t["pairs"]) == (4, 5)
    assert paired_t_interval([5, 5])["ci95"] == [5.0, 5.0]  # no spread: the mean itself
    assert all(x != x for x in paired_t_interval([5])["ci95"])  # one pair: no interval


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


def _exact_permutation_p(a, b):
    """The permutation p in rational arithmetic: no rounding, so ties are exact."""
    from fractions import Fraction
    from itertools import combinations
    from math import comb

    x = list(a) + list(b)
    n, m, total = len(a), len(b), sum(x)
    observed = abs(sum(b) / m - sum(a) / n)
    hits = 0
    for idx in combinations(range(n + m), n):
        sa = sum(x[i] for i in idx)
        hits += abs((total - sa) / m - sa / n) >= observed
    return Fraction(hits, comb(n + m, n))


def test_permutation_p_counts_tied_differences_however_their_sums_round():
    """GSM8K v2's primary test: per-seed refusal rates k/400 (each seed's mean of 0/1 items), 5 vs 5.
    A relabeling whose mean difference equals the observed one counts, even when summing in
    another order leaves it a last bit below: compared with the same rates as exact fractions."""
    from fractions import Fraction

    from sdft.evaluate.stats import permutation_p

    def rate(k: int) -> float:  # a seed's mean over 400 0/1 items, as the report computes it
        return float(np.mean([1.0] * k + [0.0] * (400 - k)))

    # By hand: complete separation 2/252; one swapped pair (vanilla's best above SDFT's worst): the
    # observed labeling, the separated one and their mirrors, 4/252; a value shared across the groups
    # (150 on both sides) counts the observed grouping twice and its mirror twice, 4/252.
    for van, sd, hits in (([100, 110, 120, 130, 140], [150, 160, 170, 180, 190], 2),
                          ([100, 110, 120, 130, 150], [140, 160, 170, 180, 190], 4),
                          ([100, 110, 120, 130, 150], [150, 160, 170, 180, 190], 4)):
        r = permutation_p([rate(k) for k in van], [rate(k) for k in sd])
        assert r["p"] == pytest.approx(hits / 252, abs=1e-12) and r["diff"] > 0
        mirrored = permutation_p([rate(k) for k in sd], [rate(k) for k in van])  # SDFT below: same p, diff < 0
        assert mirrored["p"] == r["p"] and mirrored["diff"] == pytest.approx(-r["diff"])
    # Many ties (rates drawn from three values): ties are where rounding would drop a relabeling.
    rng = np.random.default_rng(3)
    for _ in range(40):
        ks = rng.choice([133, 134, 200, 80], size=10).tolist()
        want = _exact_permutation_p([Fraction(k, 400) for k in ks[:5]], [Fraction(k, 400) for k in ks[5:]])
        got = permutation_p([rate(k) for k in ks[:5]], [rate(k) for k in ks[5:]])["p"]
        assert got == pytest.approx(float(want), abs=1e-12), ks
        # in percent (the unit of the report's tables) the test is the same
        assert permutation_p([100 * rate(k) for k in ks[:5]], [100 * rate(k) for k in ks[5:]])["p"] == got


def test_welch_interval_matches_scipys_welch_t_test():
    from scipy.stats import ttest_ind

    from sdft.evaluate.stats import welch_interval

    vanilla, sdft = [40.0, 42.5, 38.0, 45.0, 41.0], [55.0, 60.0, 52.5, 58.0, 61.0]
    w = welch_interval(vanilla, sdft)
    ref = ttest_ind(sdft, vanilla, equal_var=False)  # sdft − vanilla
    ci = ref.confidence_interval(0.95)
    assert w["diff"] == pytest.approx(16.0) and w["df"] == pytest.approx(ref.df)
    assert w["ci95"] == pytest.approx([ci.low, ci.high])


def test_the_two_level_bootstrap_is_a_replicate_by_replicate_resampling():
    """Each of the 2,000 replicates (seed 0): one draw of the items, shared by every model of both
    methods, and a draw of each method's seeds; the replicate is the mean over the drawn seeds of
    each seed's mean over the drawn items, B minus A. Written out as a loop over replicates."""
    from sdft.evaluate.stats import N_BOOT

    rng = np.random.default_rng(11)
    a = (rng.random((5, 30)) < 0.4).astype(float)  # vanilla: 5 seeds x 30 items
    b = (rng.random((5, 30)) < 0.6).astype(float)
    draw = np.random.default_rng(0)
    items = draw.integers(0, 30, size=(N_BOOT, 30))
    seeds_a, seeds_b = draw.integers(0, 5, size=(N_BOOT, 5)), draw.integers(0, 5, size=(N_BOOT, 5))
    reps = [np.mean([b[s, items[r]].mean() for s in seeds_b[r]]) - np.mean([a[s, items[r]].mean() for s in seeds_a[r]])
            for r in range(N_BOOT)]
    h = hierarchical_difference(a, b)
    assert N_BOOT == 2000 and h["diff"] == pytest.approx(b.mean() - a.mean())
    assert h["ci95"] == pytest.approx(np.quantile(reps, [0.025, 0.975]).tolist())
    assert h["seeds"] == [5, 5] and h["n"] == 30
