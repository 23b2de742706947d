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
