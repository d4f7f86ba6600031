"""Uplift metrics on hand-computed examples: Qini and uplift curves, coefficients, uplift@k."""

from __future__ import annotations

import numpy as np
import pytest

from telmark.analysis.uplift import domain
from telmark.errors import Forbidden, InvalidInput

# Six holdout rows, already in score order (highest first).
Y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
T = np.array([1.0, 1.0, 0.0, 0.0, 1.0, 0.0])
S = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])


def test_qini_curve_counts_incremental_responders_at_each_cut() -> None:
    curve = domain.qini_curve(Y, T, S)
    # n=3: 1 treated responder of 2 treated, 1 control responder of 1 control: 1 - 1·2/1.
    # n=5: 2 of 3 treated, 1 of 2 control: 2 - 1·3/2. A cut with no control row counts
    # its control responders as 0.
    assert curve.x.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert curve.y.tolist() == [0, 1, 1, -1, 0, 0.5, 1]


def test_uplift_curve_is_the_rate_difference_times_the_rows() -> None:
    curve = domain.uplift_curve(Y, T, S)
    assert curve.y == pytest.approx([0, 1, 1, -1.5, 0, 5 / 6, 2])


def test_qini_coefficient_against_random_and_perfect_rankings() -> None:
    # Model area 2.0; random line 0.5·6·1 = 3; perfect ranking (treated responders first,
    # the control responder last; ties one step) x=[0,2,5,6], y=[0,2,2,1]: area 9.5.
    assert domain.qini_coefficient(Y, T, S) == pytest.approx((2.0 - 3.0) / (9.5 - 3.0))
    perfect = Y * T - Y * (1 - T)
    assert domain.qini_coefficient(Y, T, perfect) == pytest.approx(1.0)


def test_tied_scores_form_one_step_whatever_the_row_order() -> None:
    tied = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    swapped = [1, 0, 5, 4, 3, 2]
    first = domain.qini_curve(Y, T, tied)
    second = domain.qini_curve(Y[swapped], T[swapped], tied[swapped])
    assert first.x.tolist() == second.x.tolist() == [0, 2, 6]
    assert first.y.tolist() == second.y.tolist()
    assert domain.auuc(Y, T, tied) == domain.auuc(Y[swapped], T[swapped], tied[swapped])


def test_random_scores_average_a_coefficient_near_zero() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(4_000) < 0.3).astype(float)
    t = rng.integers(0, 2, 4_000).astype(float)
    values = [domain.qini_coefficient(y, t, rng.random(4_000)) for _ in range(40)]
    assert abs(float(np.mean(values))) < 0.02


def test_uplift_at_k_and_overall_uplift() -> None:
    # Top half: treated rows (1, 0) rate 1/2; control row (1) rate 1: -0.5.
    assert domain.uplift_at_k(Y, T, S, 0.5) == pytest.approx(-0.5)
    assert domain.overall_uplift(Y, T) == pytest.approx(2 / 3 - 1 / 3)
    assert domain.uplift_at_k(Y, T, S, 1.0) == pytest.approx(domain.overall_uplift(Y, T))
    assert domain.top_rows(S, 0.01).tolist() == [0]
    with pytest.raises(InvalidInput, match="k is a share"):
        domain.uplift_at_k(Y, T, S, 0.0)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(InvalidInput, match="same length"):
        domain.qini_curve(Y, T[:3], S)
    with pytest.raises(InvalidInput, match="treated must be 0 or 1"):
        domain.qini_curve(Y, T * 2, S)
    with pytest.raises(InvalidInput, match="cannot tell any ranking from random"):
        domain.qini_coefficient(np.zeros(4), np.array([1.0, 0, 1, 0]), np.arange(4.0))


def test_sampled_curve_keeps_the_ends() -> None:
    curve = domain.sample_curve(domain.qini_curve(Y, T, S), points=4)
    assert curve.x.tolist() == [0, 2, 4, 6]
    assert curve.y.tolist() == [0, 1, 0, 1]


def test_ranks_deciles_and_top_share() -> None:
    ranks = domain.uplift_ranks(np.array([0.1, 0.3, 0.3, -0.2]), np.array([4, 3, 1, 2]))
    # Ties go to the lower subscriber id: id 1 before id 3.
    assert ranks.tolist() == [3, 2, 1, 4]
    assert domain.uplift_deciles(ranks).tolist() == [5, 8, 10, 3]
    assert domain.uplift_deciles(np.arange(1, 11)).tolist() == list(range(10, 0, -1))
    assert domain.in_top_pct(2, 10, 20)
    assert not domain.in_top_pct(3, 10, 20)
    assert not domain.in_top_pct(1, 3, 20)  # 20% of 3 lines is less than one line


def test_cells_need_responders_in_both_groups() -> None:
    y = np.array([1.0] * 30 + [0.0] * 30 + [0.0] * 60)
    t = np.array([1.0] * 60 + [0.0] * 60)
    with pytest.raises(InvalidInput, match="0 control responders") as error:
        domain.check_cells(y, t, what="the case")
    assert error.value.details[0]["control responders"] == 0
    domain.check_cells(np.r_[y[:60], [1.0] * 20, [0.0] * 40], t, what="the case")


def test_only_province_users_train() -> None:
    domain.check_province_scope(None, is_root=True)
    domain.check_province_scope("/P00/", is_root=True)
    with pytest.raises(Forbidden, match="province-level"):
        domain.check_province_scope("/P00/C01/", is_root=False)
