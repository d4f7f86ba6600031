"""Sample size and minimum detectable uplift: Cohen's table, round trips, bad input."""

from __future__ import annotations

import math

import pytest

from telmark.errors import InvalidInput
from telmark.evaluation import power


def test_cohens_tabulated_sample_size_for_h_of_0_2() -> None:
    # Cohen (1988), Table 6.4.1: h = 0.20, two-sided alpha 0.05, power 0.80 → n = 392 per
    # group. At p₀ = ½ the rate p₁ = ½ + ½·sin(0.2) is exactly h = 0.2 away.
    n_treatment, n_control = power.sample_size(base_rate=0.5, uplift=0.5 * math.sin(0.2))
    assert n_treatment == n_control
    assert n_control in (392, 393)  # Cohen rounds 392.4 to the nearest, we round up


def test_detectable_uplift_and_sample_size_are_inverse() -> None:
    n_treatment, n_control = power.sample_size(base_rate=0.02, uplift=0.005)
    found = power.detectable_uplift(base_rate=0.02, n_treatment=n_treatment, n_control=n_control)
    assert found is not None
    # Rounding up the sizes lets the test see a hair more than asked, never less.
    assert 0.0049 < found <= 0.005


def test_unequal_allocation_needs_more_customers_in_total() -> None:
    t1, c1 = power.sample_size(base_rate=0.02, uplift=0.006, ratio=1.0)
    t3, c3 = power.sample_size(base_rate=0.02, uplift=0.006, ratio=3.0)
    assert t3 == pytest.approx(3 * c3, abs=1)
    assert t3 + c3 > t1 + c1
    found = power.detectable_uplift(base_rate=0.02, n_treatment=t3, n_control=c3)
    assert found is not None
    assert found <= 0.006


def test_bigger_tests_detect_smaller_uplifts() -> None:
    small = power.detectable_uplift(base_rate=0.02, n_treatment=3000, n_control=3000)
    large = power.detectable_uplift(base_rate=0.02, n_treatment=30_000, n_control=30_000)
    assert small is not None
    assert large is not None
    assert large < small
    # Arcsine scale: a 3,000-per-arm test at 2 % sees about a point (1.1 points).
    assert 0.010 < small < 0.012


def test_stricter_alpha_or_more_power_need_a_bigger_uplift() -> None:
    base = power.detectable_uplift(base_rate=0.1, n_treatment=5000, n_control=5000)
    strict = power.detectable_uplift(base_rate=0.1, n_treatment=5000, n_control=5000, alpha=0.01)
    stronger = power.detectable_uplift(base_rate=0.1, n_treatment=5000, n_control=5000, power=0.9)
    assert base is not None
    assert strict is not None
    assert stronger is not None
    assert strict > base
    assert stronger > base


def test_a_zero_base_rate_still_has_a_detectable_rise() -> None:
    found = power.detectable_uplift(base_rate=0.0, n_treatment=1000, n_control=1000)
    assert found is not None
    assert 0 < found < 0.02


def test_nothing_above_a_full_rate_is_detectable() -> None:
    assert power.detectable_uplift(base_rate=1.0, n_treatment=100, n_control=100) is None
    assert power.detectable_uplift(base_rate=0.99, n_treatment=5, n_control=5) is None


def test_a_decrease_can_be_sized_too() -> None:
    down = power.sample_size(base_rate=0.1, uplift=-0.02)
    up = power.sample_size(base_rate=0.1, uplift=0.02)
    assert down[0] > 0
    assert down != up  # the arcsine scale is not symmetric around 10 %


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"base_rate": 1.2, "uplift": 0.01}, "base_rate"),
        ({"base_rate": 0.02, "uplift": 0.0}, "uplift"),
        ({"base_rate": 0.99, "uplift": 0.05}, "uplift"),
        ({"base_rate": 0.02, "uplift": 0.01, "ratio": 0}, "ratio"),
        ({"base_rate": 0.02, "uplift": 0.01, "alpha": 1.0}, "alpha"),
        ({"base_rate": 0.02, "uplift": 0.01, "power": 0.0}, "power"),
    ],
)
def test_bad_sample_size_input_names_the_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidInput, match=field):
        power.sample_size(**kwargs)


def test_bad_arm_sizes_name_the_field() -> None:
    with pytest.raises(InvalidInput, match="n_control"):
        power.detectable_uplift(base_rate=0.02, n_treatment=10, n_control=0)
    with pytest.raises(InvalidInput, match="base_rate"):
        power.detectable_uplift(base_rate=float("nan"), n_treatment=10, n_control=10)
