"""Lifetime value of every line: sBG for contract lines, BG/NBD + Gamma-Gamma for prepaid.

* **Contract lines** (``contract_end`` set): the line's join-month cohort has
  an sBG fit of its own when it is one of the latest cohorts and can be fitted
  (``cohorts.fit_each``), otherwise the pooled fit of all cohorts is used. A
  line active after n months is expected to stay active in month n + k with
  probability S(n + k) / S(n); its CLV is its monthly revenue (``monetary_fen``
  of the RFM) times the sum of those probabilities over the horizon, each
  discounted by (1 + d)^k.
* **Prepaid lines without a contract**: BG/NBD + Gamma-Gamma on their
  recharges (same-day top-ups are one purchase), time in months of 365.25/12
  days, observation ending with the as-of month. When there are more than
  ``FIT_SAMPLE`` such lines the models are fitted on a seeded random sample of
  them and then applied to all. A prepaid line with no recharge on record has
  no purchase history for the model: its CLV is NULL. When the BG/NBD fit
  finds no dropout at all (a / (a + b) → 0, as on data where nobody stops
  recharging) it is valued with the model's limit, the NBD.
* Lines that have left (ported out or terminated) are worth 0; postpaid lines
  without a contract have no CLV model here (NULL).

The recharge summary (first and last day, purchase days, totals) is computed
in the warehouse; only one row per prepaid line comes back to Python.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend

from telmark.analysis.value import bgnbd, clv, gamma_gamma, sbg
from telmark.analysis.value.cohorts import CohortFit
from telmark.analysis.value.rfm import index_of, month_index
from telmark.errors import InvalidInput

MONTH_DAYS = 365.25 / 12
FIT_SAMPLE = 50_000
SAMPLE_SEED = 20_260_101
# Mean dropout probability a / (a + b) below which the BG/NBD fit has found no dropout.
NO_DROPOUT = 1e-6


def _no_dropout_value(
    purchases: bgnbd.BgNbdFit,
    spend: gamma_gamma.GammaGammaFit,
    summary: clv.CustomerSummary,
    horizon: int,
    discount_rate: float,
) -> np.ndarray:
    """CLV when the BG/NBD fit runs off to a -> 0 (nobody drops out).

    The model then reduces to the NBD, whose conditional purchase rate is
    (r + x) / (alpha + T) per period; the BG/NBD formulas lose all precision there
    (their parameters run to 1e50 and beyond), so the limit is computed directly.
    """
    rate = (purchases.r + summary.frequency) / (purchases.alpha + summary.age)
    mean_spend = gamma_gamma.expected_spend(spend, summary.frequency, summary.monetary)
    periods = sum(1 / (1 + discount_rate) ** k for k in range(1, horizon + 1))
    result: np.ndarray = rate * mean_spend * periods
    return result


def sbg_factors(
    *,
    fits: list[CohortFit],
    pooled: sbg.SbgFit,
    join_indices: list[int],
    as_of: date,
    horizon: int,
    discount_rate: float,
) -> pa.Table:
    """Expected discounted active months per join month (``join_idx``, ``sbg_factor``)."""
    own = {f.cohort.join_idx: f.model for f in fits if f.model is not None}
    end = index_of(as_of)
    factors = []
    for join_idx in join_indices:
        model = own.get(join_idx) or pooled
        tenure = max(end - join_idx + 1, 0)
        factors.append(
            sbg.expected_remaining_periods(
                model.alpha,
                model.beta,
                tenure=tenure,
                horizon=horizon,
                discount_rate=discount_rate,
            )
        )
    return pa.table(
        {
            "join_idx": pa.array(join_indices, pa.int64()),
            "sbg_factor": pa.array(factors, pa.float64()),
        }
    )


def month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def recharge_summary(con: BaseBackend, *, as_of: date) -> pd.DataFrame:
    """Per prepaid non-contract line with recharges up to the as-of month: ``subscriber_id``,
    ``first_day``, ``last_day``, ``days`` (purchase days), ``total`` and ``first_value``."""
    subs = con.table("subscribers")
    prepaid = subs.filter(subs.payment_type == "prepaid", subs.contract_end.isnull()).select(
        "subscriber_id"
    )
    recharges = con.table("recharges")
    kept = recharges.filter(month_index(recharges.recharged_at) <= index_of(as_of)).semi_join(
        prepaid, "subscriber_id"
    )
    daily = kept.group_by(subscriber_id=kept.subscriber_id, day=kept.recharged_at.date()).agg(
        value=kept.amount_fen.sum().cast("int64")
    )
    per = daily.group_by("subscriber_id").agg(
        first_day=daily.day.min(),
        last_day=daily.day.max(),
        days=daily.count(),
        total=daily.value.sum().cast("int64"),
    )
    first_rows = daily.view()
    joined = per.inner_join(
        first_rows,
        [per.subscriber_id == first_rows.subscriber_id, per.first_day == first_rows.day],
    )
    result = joined.select(
        per.subscriber_id,
        per.first_day,
        per.last_day,
        per.days,
        per.total,
        first_value=first_rows.value,
    )
    frame: pd.DataFrame = result.to_pyarrow().to_pandas()
    # A fixed order: the warehouse returns groups in any order, and both the seeded sample
    # and the fit's floating-point sums must not depend on it.
    return frame.sort_values("subscriber_id", ignore_index=True)


def summary_of(frame: pd.DataFrame, *, as_of: date) -> clv.CustomerSummary:
    """``clv.CustomerSummary`` (time in months) of ``recharge_summary`` rows."""
    end = pd.Timestamp(month_end(as_of))
    first = pd.to_datetime(frame["first_day"])
    last = pd.to_datetime(frame["last_day"])
    period = pd.Timedelta(days=MONTH_DAYS)
    repeats = frame["days"].to_numpy(dtype=float) - 1
    repeat_total = frame["total"].to_numpy(dtype=float) - frame["first_value"].to_numpy(dtype=float)
    monetary = np.divide(
        repeat_total, repeats, out=np.zeros(len(frame), dtype=float), where=repeats > 0
    )
    return clv.CustomerSummary(
        customer=[str(v) for v in frame["subscriber_id"]],
        frequency=repeats,
        recency=((last - first) / period).to_numpy(dtype=float),
        age=((end - first) / period).to_numpy(dtype=float),
        monetary=monetary,
    )


def _subset(summary: clv.CustomerSummary, index: np.ndarray) -> clv.CustomerSummary:
    return clv.CustomerSummary(
        customer=[summary.customer[i] for i in index],
        frequency=summary.frequency[index],
        recency=summary.recency[index],
        age=summary.age[index],
        monetary=summary.monetary[index],
    )


@dataclass(frozen=True, slots=True)
class RechargeValue:
    purchases: bgnbd.BgNbdFit
    spend: gamma_gamma.GammaGammaFit
    fitted_on: int  # lines the models were fitted on
    dropout_free: bool  # the BG/NBD fit found no dropout: valued with its NBD limit
    lines: int  # lines valued
    values: pa.Table  # subscriber_id, bgnbd_clv_fen


def recharge_values(
    frame: pd.DataFrame,
    *,
    as_of: date,
    horizon: int,
    discount_rate: float,
    sample: int = FIT_SAMPLE,
    seed: int = SAMPLE_SEED,
) -> RechargeValue:
    """Fit BG/NBD + Gamma-Gamma (on a seeded sample of ``sample`` lines if there are more)
    and value every line's recharges over ``horizon`` months, in whole fen."""
    summary = summary_of(frame, as_of=as_of)
    n = len(summary.customer)
    fit_on = summary
    if n > sample:
        chosen = np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False))
        fit_on = _subset(summary, chosen)
    purchases = bgnbd.fit(fit_on.frequency, fit_on.recency, fit_on.age, fast=True)
    spend = gamma_gamma.fit(fit_on.frequency, fit_on.monetary)
    dropout_free = purchases.a / (purchases.a + purchases.b) < NO_DROPOUT
    if dropout_free:
        values = _no_dropout_value(purchases, spend, summary, horizon, discount_rate)
    else:
        values = clv.forecast_value(
            purchases, spend, summary, horizon=horizon, discount_rate=discount_rate
        )
    if not bool(np.all(np.isfinite(values))) or bool(np.any(values < 0)):
        raise InvalidInput("the fitted recharge models give no finite, non-negative forecast")
    fen = np.floor(values + 0.5)
    return RechargeValue(
        purchases=purchases,
        spend=spend,
        fitted_on=len(fit_on.customer),
        dropout_free=dropout_free,
        lines=n,
        values=pa.table(
            {
                "subscriber_id": pa.array(frame["subscriber_id"].to_numpy(), pa.int64()),
                "bgnbd_clv_fen": pa.array(fen.astype(np.int64), pa.int64()),
            }
        ),
    )
