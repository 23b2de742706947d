"""The forgetting predictors (report/predictors.py): their correlations with retention. The best-method
rule, ties included, is tested in test_report_methods.py."""

from __future__ import annotations

import pytest

from sdft.report import predictors


def test_correlations_of_the_predictors_with_retention():
    table = [{"kl": k, "nll_gap": None, "retention": r} for k, r in ((0.1, 5.0), (0.2, 1.0), (0.4, -3.0), (0.3, 0.0))]
    c = predictors.correlations(table)
    assert c["kl"]["n"] == 4 and c["kl"]["spearman"] == pytest.approx(-1.0)
    assert -1.0 < c["kl"]["pearson"] < -0.9
    assert c["nll_gap"] == {"n": 0, "pearson": None, "spearman": None}
    assert predictors._ranks([3.0, 1.0, 3.0, 2.0]) == [2.5, 0.0, 2.5, 1.0]  # ties share their mean rank


def test_a_predictor_that_does_not_vary_has_no_correlation():
    """GSM8K v2's five SDFT seeds share one distillation, so one NLL gap: its spread from the mean
    is rounding error, which used to print a Pearson coefficient."""
    gap = 1.6764705882352942 - 0.8235294117647058
    table = [{"kl": None, "nll_gap": gap, "retention": r} for r in (-25.0, -20.0, -15.0, -10.0, -5.0)]
    assert predictors.correlations(table)["nll_gap"] == {"n": 5, "pearson": None, "spearman": None}
    assert predictors._pearson([1.0, 2.0, 3.0], [4.0, 4.0, 4.0]) is None


def test_the_predictor_table_writes_a_true_minus_sign(monkeypatch):
    table = [{"label": f"vanilla-s{i}", "method": "vanilla", "kl": k, "nll_gap": -0.25, "retention": r,
              "retention_name": "advbench"} for i, (k, r) in enumerate(((0.1, 5.0), (0.2, 1.0), (0.4, -3.0)), 1)]
    monkeypatch.setattr(predictors, "rows", lambda run, primary: table)
    t = predictors.predictor_table({}, "advbench")
    assert t["rows"][2][3:] == ["−0.250", "−3.0"] and "Pearson −0.9" in t["note"]
    assert not any("-" in c for r in t["rows"] for c in r[2:])


def test_the_nll_gap_is_per_fine_tune_from_the_answers_it_trained_on():
    """PLAN (GSM8K v2): the NLL gap per model. Vanilla, DFT and KL train on the original answers
    (gap 0); SDFT on the whole distilled set (its distillation's gap); a partial mix, self-replay's
    added answers and on-policy's samples were never scored (no gap, not a made-up one)."""
    gaps = {"distill/math": {"original": {"nll_per_token": 1.68},
                             "gaps": {"original_minus_distilled": {"diff": 0.853}}}}
    gap = lambda method, **kw: predictors._nll_gap_of({}, {"method": method, "distill_dir": "distill/math", **kw},  # noqa: E731
                                                      gaps)
    assert [gap(m) for m in ("vanilla", "dft", "kl")] == [0.0, 0.0, 0.0]
    assert gap("sdft", mix_ratio=1.0) == pytest.approx(0.853) and gap("sdft", mix_ratio=0.0) == 0.0
    assert gap("sdft", mix_ratio=0.5) is None and gap("replay") is None and gap("onpolicy") is None
    # a run that scored no originals has no reference to be zero against
    assert predictors._nll_gap_of({}, {"method": "vanilla"}, {}) is None


def test_kls_measured_on_answers_chosen_by_another_rule_are_marked_and_not_correlated(monkeypatch):
    """GSM8K v2 amendment 4 changed which 64 answers the KL reads; until every fine-tune is measured
    anew the column holds both rules. The recorded (newer) rule is the column's; the older values
    are marked ‡ and stay out of the correlation, which they would otherwise drive."""
    new = "the first 64 in data order"
    table = [{"label": f"m{i}", "method": "vanilla", "kl": k, "kl_items": items, "nll_gap": None, "retention": r,
              "retention_name": "advbench"}
             for i, (k, items, r) in enumerate(((0.1, new, 5.0), (0.2, new, 1.0), (0.4, new, -3.0),
                                                 (0.9, None, 9.0), (0.8, None, 8.0)))]
    assert predictors.kl_rule(table) == new
    c = predictors.correlations(table)["kl"]
    assert c["n"] == 3 and c["spearman"] == pytest.approx(-1.0) and c["items"] == new
    # the recorded rule is the column's even when fewer KLs have it yet (the plan reads the new rule's only)
    assert predictors.kl_rule(table[2:]) == new and predictors.correlations(table[2:])["kl"]["n"] == 1
    monkeypatch.setattr(predictors, "rows", lambda run, primary: table)
    t = predictors.predictor_table({}, "advbench")
    assert [r[2] for r in t["rows"]] == ["0.1000", "0.2000", "0.4000", "0.9000 ‡", "0.8000 ‡"]
    assert "‡: measured on answers chosen otherwise ('not recorded') than the column's ('the first 64 in data " \
           "order')" in t["note"]
    for r in table:  # one rule throughout, recorded or not: nothing marked
        r["kl_items"] = None
    assert predictors.correlations(table)["kl"]["n"] == 5 and "‡" not in predictors.predictor_table({}, "x")["note"]
