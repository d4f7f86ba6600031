"""From a transaction log to per-customer expected purchases, spend and CLV.

Transactions on the same calendar day count as one purchase of their summed
value, as in the CDNOW data the models were published on, so a recharge
split over several payments is not read as loyalty. Time is measured in
periods of ``period_days`` days (fractional) from each customer's first
purchase. Monetary value is the mean of the repeat purchases only: the first
purchase is often different in kind (a SIM with its first top-up).

CLV is the expected purchases of each future period times the expected spend,
discounted per period: sum_k (E[Y(k)] - E[Y(k-1)]) * E[M] / (1 + d)^k for
k = 1..horizon. Because E[Y] already weighs in P(alive), the value of a
customer decays with the time since their last purchase.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from telmark.analysis.value import bgnbd, gamma_gamma
from telmark.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class CustomerSummary:
    customer: list[str]
    frequency: np.ndarray  # repeat purchase days
    recency: np.ndarray  # periods from the first to the last purchase
    age: np.ndarray  # periods from the first purchase to the observation end (T)
    monetary: np.ndarray  # mean value of the repeat purchases (0 without any)


@dataclass(frozen=True, slots=True)
class CustomerValue:
    customer: str
    frequency: int
    recency: float
    age: float
    monetary: float
    probability_alive: float
    expected_purchases: float
    expected_spend: float
    clv: float


@dataclass(frozen=True, slots=True)
class ClvResult:
    purchases: bgnbd.BgNbdFit
    spend: gamma_gamma.GammaGammaFit
    customers: list[CustomerValue]  # highest CLV first


def summarise(
    frame: pd.DataFrame,
    *,
    customer: str,
    date_column: str,
    value: str,
    observation_end: date,
    period_days: float,
) -> CustomerSummary:
    """Frequency, recency, T and monetary value per customer from checked transactions.

    ``frame`` holds a string customer column, a datetime64 date column and a float value
    column; rows after ``observation_end`` are ignored.
    """
    if period_days <= 0:
        raise InvalidInput("period_days must be positive")
    end = pd.Timestamp(observation_end)
    days = frame[date_column].dt.normalize()
    kept = frame.assign(_day=days).loc[days <= end]
    if kept.empty:
        raise InvalidInput(f"no transactions on or before {observation_end.isoformat()}")
    daily = kept.groupby([customer, "_day"], sort=True)[value].sum().reset_index()
    grouped = daily.groupby(customer, sort=True)
    first = grouped["_day"].min()
    last = grouped["_day"].max()
    count = grouped["_day"].count()
    total = grouped[value].sum()
    first_value = daily.loc[grouped["_day"].idxmin(), [customer, value]].set_index(customer)[value]
    repeats = count - 1
    repeat_total = total - first_value
    monetary = (repeat_total / repeats.where(repeats > 0)).fillna(0.0)
    period = pd.Timedelta(days=period_days)
    return CustomerSummary(
        customer=[str(c) for c in first.index],
        frequency=repeats.to_numpy(dtype=float),
        recency=((last - first) / period).to_numpy(dtype=float),
        age=((end - first) / period).to_numpy(dtype=float),
        monetary=monetary.to_numpy(dtype=float),
    )


def value_customers(summary: CustomerSummary, *, horizon: int, discount_rate: float) -> ClvResult:
    """Fit BG/NBD and Gamma-Gamma on ``summary`` and value every customer over ``horizon``."""
    if horizon < 1:
        raise InvalidInput("the horizon must be at least one period")
    if discount_rate < 0:
        raise InvalidInput("the discount rate cannot be negative")
    x, t_x, big_t, mx = summary.frequency, summary.recency, summary.age, summary.monetary
    purchases = bgnbd.fit(x, t_x, big_t)
    spend = gamma_gamma.fit(x, mx)
    # Without enough variation between customers the likelihood keeps rising as the
    # parameters run off to infinity (a homogeneous population); the predictions are
    # then NaN, so say so instead of returning them.
    for name, converged in (("BG/NBD", purchases.converged), ("Gamma-Gamma", spend.converged)):
        if not converged:
            raise InvalidInput(
                f"the {name} fit did not converge: the customers differ too little in how "
                "often they buy or spend; use more customers or a longer history"
            )
    alive = bgnbd.probability_alive(purchases, x, t_x, big_t)
    expected = bgnbd.expected_purchases(purchases, x, t_x, big_t, horizon=float(horizon))
    mean_spend = gamma_gamma.expected_spend(spend, x, mx)
    clv = forecast_value(purchases, spend, summary, horizon=horizon, discount_rate=discount_rate)
    if not (np.all(np.isfinite(expected)) and np.all(np.isfinite(clv))):
        raise InvalidInput("the fitted models give no finite forecast for these customers")
    rows = [
        CustomerValue(
            customer=summary.customer[i],
            frequency=int(x[i]),
            recency=float(t_x[i]),
            age=float(big_t[i]),
            monetary=float(mx[i]),
            probability_alive=float(alive[i]),
            expected_purchases=float(expected[i]),
            expected_spend=float(mean_spend[i]),
            clv=float(np.asarray(clv)[i]),
        )
        for i in range(len(x))
    ]
    rows.sort(key=lambda row: (-row.clv, row.customer))
    return ClvResult(purchases=purchases, spend=spend, customers=rows)


def forecast_value(
    purchases: bgnbd.BgNbdFit,
    spend: gamma_gamma.GammaGammaFit,
    summary: CustomerSummary,
    *,
    horizon: int,
    discount_rate: float,
) -> np.ndarray:
    """Discounted expected value over ``horizon`` periods of each customer in ``summary``
    under already fitted models (so a fit on a sample can value everyone)."""
    x, t_x, big_t, mx = summary.frequency, summary.recency, summary.age, summary.monetary
    mean_spend = gamma_gamma.expected_spend(spend, x, mx)
    cumulative = [np.zeros(len(x))] + [
        bgnbd.expected_purchases(purchases, x, t_x, big_t, horizon=float(k))
        for k in range(1, horizon + 1)
    ]
    total = np.zeros(len(x))
    for k in range(1, horizon + 1):
        total += (cumulative[k] - cumulative[k - 1]) * mean_spend / (1 + discount_rate) ** k
    return total
