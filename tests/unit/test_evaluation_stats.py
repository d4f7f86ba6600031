"""The interval estimates and tests against published worked examples and hand calculations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats  # type: ignore[import-untyped]

from telmark.evaluation import stats

Z = 1.959963984540054


@pytest.mark.parametrize(
    ("x", "n", "low", "high"),
    [
        # Newcombe (1998a), Statistics in Medicine 17:857, Table I, method 3 (Wilson).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombes_table(x: int, n: int, low: float, high: float) -> None:
    lower, upper = stats.wilson(x, n)
    assert float(lower) == pytest.approx(low, abs=5e-5)
    assert float(upper) == pytest.approx(high, abs=5e-5)


def test_wilson_at_zero_and_all_successes_is_pinned_to_the_bounds() -> None:
    lower, upper = stats.wilson(np.array([0, 10]), np.array([10, 10]))
    assert lower[0] == 0.0
    assert upper[1] == 1.0
    # The other limit is z²/(n+z²) from the bound: 3.8415/13.8415 for n = 10.
    assert upper[0] == pytest.approx(Z**2 / (10 + Z**2))
    assert lower[1] == pytest.approx(1 - Z**2 / (10 + Z**2))


def test_wilson_of_a_single_customer_spans_most_of_the_range() -> None:
    lower, upper = stats.wilson(1, 1)
    assert float(upper) == 1.0
    assert float(lower) == pytest.approx(1 / (1 + Z**2))


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2", "difference", "low", "high"),
    [
        # Newcombe (1998b), Statistics in Medicine 17:873, Table II, method 10.
        (56, 70, 48, 80, 0.2000, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.6000, 0.1705, 0.8090),
        (5, 56, 0, 29, 0.0893, -0.0381, 0.1926),
        (0, 10, 0, 20, 0.0, -0.1611, 0.2775),
        (0, 10, 0, 10, 0.0, -0.2775, 0.2775),
        (10, 10, 0, 20, 1.0, 0.6791, 1.0),
        (10, 10, 0, 10, 1.0, 0.6075, 1.0),
    ],
)
def test_newcombe_matches_the_published_table(
    x1: int, n1: int, x2: int, n2: int, difference: float, low: float, high: float
) -> None:
    d, lower, upper = stats.newcombe_difference(x1, n1, x2, n2)
    assert float(d) == pytest.approx(difference, abs=5e-5)
    assert float(lower) == pytest.approx(low, abs=5e-5)
    assert float(upper) == pytest.approx(high, abs=5e-5)


def test_newcombe_works_on_arrays_elementwise() -> None:
    d, lower, upper = stats.newcombe_difference([56, 9], [70, 10], [48, 3], [80, 10])
    assert lower.round(4).tolist() == [0.0524, 0.1705]
    assert upper.round(4).tolist() == [0.3339, 0.8090]
    assert d.round(4).tolist() == [0.2, 0.6]


def test_katz_ratio_by_hand() -> None:
    ratio, lower, upper = stats.katz_ratio(30, 1000, 20, 1000)
    se = math.sqrt(1 / 30 - 1 / 1000 + 1 / 20 - 1 / 1000)
    assert float(ratio) == pytest.approx(1.5)
    assert float(lower) == pytest.approx(1.5 * math.exp(-Z * se))
    assert float(upper) == pytest.approx(1.5 * math.exp(Z * se))


def test_katz_with_no_treatment_successes_uses_the_half_correction() -> None:
    ratio, lower, upper = stats.katz_ratio(0, 100, 5, 100)
    assert float(ratio) == 0.0
    centre = math.log((0.5 / 101) / (5.5 / 101))
    se = math.sqrt(1 / 0.5 - 1 / 101 + 1 / 5.5 - 1 / 101)
    assert float(lower) == pytest.approx(math.exp(centre - Z * se))
    assert float(upper) == pytest.approx(math.exp(centre + Z * se))


def test_katz_ratio_is_undefined_without_control_successes() -> None:
    ratio, lower, upper = stats.katz_ratio(3, 100, 0, 100)
    assert math.isnan(float(ratio))
    assert math.isnan(float(lower))
    assert math.isnan(float(upper))


def test_z_test_by_hand_for_large_counts() -> None:
    test, p = stats.proportion_test(260, 10_000, 200, 10_000)
    pooled = 460 / 20_000
    z = (0.026 - 0.02) / math.sqrt(pooled * (1 - pooled) * 2 / 10_000)
    assert test == "z"
    assert p == pytest.approx(math.erfc(z / math.sqrt(2)))


def test_fisher_exact_for_small_expected_counts() -> None:
    # 3/10 against 0/10: expected successes 1.5 per arm, so the exact test is used.
    test, p = stats.proportion_test(3, 10, 0, 10)
    assert test == "fisher"
    # Hypergeometric: P(X = k) for k treatment successes among 3, arms of 10 and 10.
    probabilities = [math.comb(10, k) * math.comb(10, 3 - k) / math.comb(20, 3) for k in range(4)]
    observed = probabilities[3]
    expected = sum(q for q in probabilities if q <= observed * (1 + 1e-7))
    assert p == pytest.approx(expected)


def test_no_successes_anywhere_gives_p_one() -> None:
    assert stats.proportion_test(0, 100, 0, 100) == ("fisher", 1.0)


def test_holm_adjusts_step_down_and_keeps_order() -> None:
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.5, None, 0.01]) == [pytest.approx(0.5), None, pytest.approx(0.02)]
    assert stats.holm([0.9, 0.8]) == [1.0, 1.0]  # 2 × 0.8 capped at 1, then monotone
    assert stats.holm([0.04, 0.02]) == pytest.approx([0.04, 0.04])  # 0.04 would undercut
    assert stats.holm([]) == []


def test_welch_matches_scipy_on_raw_values() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.gamma(2.0, 30.0, size=400), rng.gamma(2.0, 25.0, size=250)
    difference, low, high, p = stats.welch(
        float(a.mean()), float(a.var(ddof=1)), a.size, float(b.mean()), float(b.var(ddof=1)), b.size
    )
    reference = scipy_stats.ttest_ind(a, b, equal_var=False)
    interval = reference.confidence_interval(0.95)
    assert difference == pytest.approx(a.mean() - b.mean())
    assert p == pytest.approx(reference.pvalue)
    assert (low, high) == pytest.approx((interval.low, interval.high))
    lows, highs = stats.welch_arrays(
        [a.mean()], [a.var(ddof=1)], [a.size], [b.mean()], [b.var(ddof=1)], [b.size]
    )
    assert (lows[0], highs[0]) == pytest.approx((low, high))


def test_welch_without_variance_is_exact() -> None:
    assert stats.welch(5.0, 0.0, 10, 5.0, 0.0, 10) == (0.0, 0.0, 0.0, 1.0)
    assert stats.welch(6.0, 0.0, 10, 5.0, 0.0, 10) == (1.0, 1.0, 1.0, 0.0)
