"""sBG, BG/NBD and Gamma-Gamma reproduce their papers' published estimates."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from telmark.analysis.value import bgnbd, clv, gamma_gamma, sbg
from telmark.errors import InvalidInput

# Fader & Hardie (2007), "How to Project Customer Retention", J. Interactive Marketing
# 21(1), Table 1 (years 0-12, of which 0-7 calibrate) and the estimates in its text.
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394]
CDNOW = Path(__file__).parents[1] / "fixtures" / "cdnow_sample_summary.csv"


@pytest.mark.parametrize(
    ("survivors", "alpha", "beta"),
    [(REGULAR, 0.704, 1.182), (HIGH_END, 0.668, 3.806)],
    ids=["regular", "high-end"],
)
def test_sbg_reproduces_the_paper(survivors: list[int], alpha: float, beta: float) -> None:
    model = sbg.fit(survivors[:8])
    assert model.converged
    assert (round(model.alpha, 3), round(model.beta, 3)) == (alpha, beta)
    # The paper's point: years 8-12 are projected within 5% of what happened.
    for row in sbg.project(model, periods=12, observed=survivors)[7:]:
        assert row.observed_survivors is not None
        assert row.expected_survivors == pytest.approx(row.observed_survivors, rel=0.05)


def test_sbg_log_likelihood_is_the_maximum() -> None:
    model = sbg.fit(HIGH_END[:8])
    assert model.log_likelihood == pytest.approx(-1611.2, abs=0.05)  # the paper's LL
    nearby = sbg.fit(HIGH_END[:8])  # deterministic
    assert nearby == model


def test_sbg_retention_rises_and_survival_chains() -> None:
    model = sbg.fit(REGULAR[:8])
    rates = [sbg.retention_rate(model.alpha, model.beta, t) for t in range(1, 13)]
    assert rates == sorted(rates)
    for t in range(1, 13):
        assert sbg.survival(model.alpha, model.beta, t) == pytest.approx(
            sbg.survival(model.alpha, model.beta, t - 1) * rates[t - 1]
        )


@pytest.mark.parametrize("renewals", [0, 4])
def test_derl_equals_the_discounted_sum_of_survival(renewals: int) -> None:
    alpha, beta, d = 0.704, 1.182, 0.1
    n = renewals + 1
    start = sbg.survival(alpha, beta, n - 1)
    direct = sum(sbg.survival(alpha, beta, n + k) / start / (1 + d) ** k for k in range(2_000))
    assert sbg.discounted_residual_lifetime(
        alpha, beta, renewals=renewals, discount_rate=d
    ) == pytest.approx(direct, rel=1e-6)


@pytest.mark.parametrize(
    "survivors", [[1000], [1000, 1001], [1000, 500, -1], [0, 0], [500, 500, 500]]
)
def test_sbg_rejects_what_is_not_a_cohort(survivors: list[int]) -> None:
    with pytest.raises(InvalidInput):
        sbg.fit(survivors)


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(CDNOW)


def test_bgnbd_reproduces_cdnow(cdnow: pd.DataFrame) -> None:
    # Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", Marketing
    # Science 24(2), section 4: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4.
    x, t_x, big_t = (cdnow[c].to_numpy(dtype=float) for c in ("x", "t_x", "T"))
    model = bgnbd.fit(x, t_x, big_t)
    assert len(cdnow) == model.customers == 2357
    got = [round(v, 3) for v in (model.r, model.alpha, model.a, model.b)]
    assert got == [0.243, 4.414, 0.793, 2.426]
    assert model.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    # The paper's worked example: x = 2, t_x = 30.43, T = 38.86 expects 1.226 purchases
    # in the next 39 weeks.
    one = bgnbd.expected_purchases(
        model, np.array([2.0]), np.array([30.43]), np.array([38.86]), horizon=39
    )
    assert one[0] == pytest.approx(1.226, abs=0.001)
    alive = bgnbd.probability_alive(model, x, t_x, big_t)
    assert np.all(alive[x == 0] == 1.0)
    assert 0 < alive.min() < 0.1


def test_gamma_gamma_reproduces_cdnow(cdnow: pd.DataFrame) -> None:
    # Fader, Hardie & Lee (2005), "RFM and CLV", J. Marketing Research 42(4), on the
    # 946 repeat buyers: p = 6.25, q = 3.74, gamma = 15.44.
    x, mx = cdnow["x"].to_numpy(dtype=float), cdnow["zbar"].to_numpy(dtype=float)
    model = gamma_gamma.fit(x, mx)
    assert model.customers == 946
    assert model.p == pytest.approx(6.25, abs=0.005)
    assert model.q == pytest.approx(3.74, abs=0.01)
    assert model.gamma == pytest.approx(15.44, abs=0.01)
    spend = gamma_gamma.expected_spend(model, x, mx)
    # A customer without repeat purchases gets the population mean.
    assert spend[x == 0][0] == pytest.approx(gamma_gamma.population_mean_spend(model))
    # Many repeat purchases pull the estimate toward the customer's own average.
    heavy = np.argmax(x)
    assert abs(spend[heavy] - mx[heavy]) < abs(gamma_gamma.population_mean_spend(model) - mx[heavy])


def _transactions() -> pd.DataFrame:
    rows = [
        ("A", "2024-01-01 09:00", 10.0),
        ("A", "2024-01-01 18:00", 5.0),  # same day: one purchase of 15
        ("A", "2024-01-15", 20.0),
        ("A", "2024-01-29", 30.0),
        ("A", "2024-03-01", 99.0),  # after the observation end
        ("B", "2024-01-08", 7.0),
    ]
    return pd.DataFrame(
        {
            "cust": [r[0] for r in rows],
            "day": pd.to_datetime([r[1] for r in rows], format="ISO8601"),
            "amount": [r[2] for r in rows],
        }
    )


def test_summary_counts_days_in_fractional_periods() -> None:
    summary = clv.summarise(
        _transactions(),
        customer="cust",
        date_column="day",
        value="amount",
        observation_end=date(2024, 2, 12),
        period_days=7,
    )
    assert summary.customer == ["A", "B"]
    assert summary.frequency.tolist() == [2, 0]
    assert summary.recency.tolist() == [4.0, 0.0]
    assert summary.age.tolist() == pytest.approx([6.0, 5.0])
    assert summary.monetary.tolist() == [25.0, 0.0]
    halves = clv.summarise(
        _transactions(),
        customer="cust",
        date_column="day",
        value="amount",
        observation_end=date(2024, 2, 12),
        period_days=28,
    )
    assert halves.age.tolist() == pytest.approx([1.5, 1.25])


def test_clv_values_active_customers_above_lapsed_ones(cdnow: pd.DataFrame) -> None:
    summary = clv.CustomerSummary(
        customer=[str(i) for i in cdnow["ID"]],
        frequency=cdnow["x"].to_numpy(dtype=float),
        recency=cdnow["t_x"].to_numpy(dtype=float),
        age=cdnow["T"].to_numpy(dtype=float),
        monetary=cdnow["zbar"].to_numpy(dtype=float),
    )
    result = clv.value_customers(summary, horizon=39, discount_rate=0.0)
    by_id = {c.customer: c for c in result.customers}
    assert [round(result.purchases.r, 3), round(result.spend.p, 2)] == [0.243, 6.25]
    # Undiscounted, CLV is expected purchases times expected spend.
    first = by_id["1"]
    assert first.clv == pytest.approx(first.expected_purchases * first.expected_spend)
    clvs = [c.clv for c in result.customers]
    assert clvs == sorted(clvs, reverse=True)
    discounted = clv.value_customers(summary, horizon=39, discount_rate=0.01)
    assert {c.customer: c.clv for c in discounted.customers}["1"] < first.clv


def test_clv_needs_a_horizon() -> None:
    empty = clv.CustomerSummary(["a"], np.ones(1), np.ones(1), np.ones(1), np.ones(1))
    with pytest.raises(InvalidInput):
        clv.value_customers(empty, horizon=0, discount_rate=0)


def test_fast_bgnbd_fit_also_reproduces_cdnow(cdnow: pd.DataFrame) -> None:
    # The same published values (Fader, Hardie & Lee 2005) with the bounded L-BFGS-B fit
    # the warehouse refresh uses.
    x, t_x, big_t = (cdnow[c].to_numpy(dtype=float) for c in ("x", "t_x", "T"))
    model = bgnbd.fit(x, t_x, big_t, fast=True)
    got = [round(v, 3) for v in (model.r, model.alpha, model.a, model.b)]
    assert got == [0.243, 4.414, 0.793, 2.426]
    assert model.log_likelihood == pytest.approx(-9582.4, abs=0.05)
