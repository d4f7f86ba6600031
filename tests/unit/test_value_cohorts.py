"""Contract cohorts: survivor series from exit counts, and the sBG fit of truncated cohorts."""

from __future__ import annotations

import numpy as np
import pytest

from telmark.analysis.value import cohorts, sbg
from telmark.analysis.value.sbg import ObservedCohort
from telmark.errors import InvalidInput

# Fader & Hardie (2007), "How to Project Customer Retention", Journal of Interactive
# Marketing 21(1), the "regular" customers of Table 1: alpha = 0.704, beta = 1.182.
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]


def test_survivors_count_lines_not_gone_by_the_end_of_each_month() -> None:
    # Join month 100: 10 lines; 2 leave in month 100 (their join month), 1 in month 102.
    flows = [(100, None, 7), (100, 100, 2), (100, 102, 1)]
    [cohort] = cohorts.build_cohorts(flows, data_start_idx=90, as_of_idx=103)
    assert cohort.first_period == 0
    # survivors[t] = active at the end of month 100 + t - 1 (t = 0 is the cohort size).
    assert cohort.survivors == (10, 8, 8, 7, 7)


def test_a_cohort_older_than_the_data_is_seen_from_its_tenure_then() -> None:
    flows = [(80, None, 5), (80, 91, 2)]
    [cohort] = cohorts.build_cohorts(flows, data_start_idx=90, as_of_idx=92)
    assert cohort.first_period == 10  # joined 10 months before the data begins
    assert cohort.survivors == (7, 7, 5, 5)  # after 10, 11, 12, 13 months of life
    assert cohort.join_month.isoformat() == "0006-09-01"


def test_a_cohort_seen_from_the_start_fits_like_the_published_model() -> None:
    one = sbg.fit_cohorts([ObservedCohort(0, tuple(REGULAR))])
    assert [round(one.alpha, 3), round(one.beta, 3)] == [0.704, 1.182]
    assert one.log_likelihood == pytest.approx(sbg.fit(REGULAR).log_likelihood, abs=1e-6)


def test_truncated_cohorts_recover_the_churn_distribution() -> None:
    # Simulate a province: cohorts joining each month for 60 months, seen only in the last 12.
    rng = np.random.default_rng(5)
    alpha, beta = 1.2, 8.0
    observed = []
    for age in range(1, 61):
        theta = rng.beta(alpha, beta, size=4000)
        lifetimes = rng.geometric(theta)  # churns at the end of period T
        first = max(0, age - 12)
        survivors = tuple(int((lifetimes > t).sum()) for t in range(first, age + 1))
        if survivors[0] > 0:
            observed.append(ObservedCohort(first, survivors))
    fit = sbg.fit_cohorts(observed)
    assert fit.converged
    assert fit.alpha == pytest.approx(alpha, rel=0.15)
    assert fit.beta == pytest.approx(beta, rel=0.15)


def test_expected_remaining_months_shrink_with_discounting_and_grow_with_tenure() -> None:
    plain = sbg.expected_remaining_periods(0.704, 1.182, tenure=1, horizon=12)
    assert 0 < plain < 12
    direct = sum(
        sbg.survival(0.704, 1.182, 1 + k) / sbg.survival(0.704, 1.182, 1) for k in range(1, 13)
    )
    assert plain == pytest.approx(direct)
    assert (
        sbg.expected_remaining_periods(0.704, 1.182, tenure=1, horizon=12, discount_rate=0.01)
        < plain
    )
    # Loyal survivors are less churn-prone (the heterogeneity the sBG captures).
    assert sbg.expected_remaining_periods(0.704, 1.182, tenure=24, horizon=12) > plain


def test_cohorts_that_do_not_shrink_monotonically_are_refused() -> None:
    with pytest.raises(InvalidInput):
        sbg.fit_cohorts([ObservedCohort(0, (10, 11))])
    with pytest.raises(InvalidInput, match="nobody churned"):
        sbg.fit_cohorts([ObservedCohort(3, (10, 10, 10))])


def test_small_cohorts_are_left_to_the_pooled_fit() -> None:
    small = cohorts.Cohort(join_idx=5, first_period=0, survivors=(10, 8, 7))
    big = cohorts.Cohort(join_idx=6, first_period=0, survivors=tuple(REGULAR))
    fits = cohorts.fit_each([small, big], latest=12)
    assert fits[0].model is None
    assert "fewer than" in str(fits[0].problem)
    assert fits[1].model is not None
    assert round(fits[1].model.alpha, 3) == 0.704
