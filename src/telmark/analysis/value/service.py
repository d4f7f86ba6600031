"""Use cases of the value fits: read the caller's data, fit, shape the answer.

Nothing is stored: the fits act on the numbers or the file the caller sends.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pandas as pd

from telmark.analysis.value import clv, sbg
from telmark.analysis.value.schemas import (
    ClvFitRead,
    CustomerValueRead,
    PurchaseModelRead,
    RetentionFitRead,
    RetentionPeriod,
    SpendModelRead,
)
from telmark.errors import InvalidInput

_SHOWN_PROBLEMS = 20


def fit_retention(*, survivors: Sequence[int], periods: int | None = None) -> RetentionFitRead:
    """sBG fit of one cohort and its projected survival and retention."""
    model = sbg.fit(survivors)
    horizon = periods if periods is not None else 2 * model.observed_periods
    projection = sbg.project(model, periods=horizon, observed=survivors)
    return RetentionFitRead(
        alpha=model.alpha,
        beta=model.beta,
        log_likelihood=model.log_likelihood,
        cohort_size=model.cohort_size,
        observed_periods=model.observed_periods,
        converged=model.converged,
        projection=[
            RetentionPeriod(
                period=p.period,
                survival=p.survival,
                retention=p.retention,
                expected_survivors=p.expected_survivors,
                observed_survivors=p.observed_survivors,
            )
            for p in projection
        ],
    )


def read_transactions(
    source: Path | bytes, *, name: str, customer: str, date_column: str, value: str
) -> pd.DataFrame:
    """Load a CSV or Parquet transaction file and check its three columns.

    ``name`` is the file name shown in errors (and tells CSV from Parquet for bytes).
    Row numbers in errors count the header as row 1, as a spreadsheet shows them.
    """
    data = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        if name.lower().endswith(".parquet"):
            frame = pd.read_parquet(data)
        else:
            frame = pd.read_csv(data, dtype={customer: "string"}, keep_default_na=True)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise InvalidInput(f"{name}: cannot read it as CSV or Parquet ({error})") from error
    missing = [c for c in (customer, date_column, value) if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"{name}: no column {', '.join(missing)}",
            details=[{"file": name, "columns": ", ".join(map(str, frame.columns))}],
        )
    raw_dates = frame[date_column]
    dates = pd.to_datetime(raw_dates, errors="coerce", format="mixed")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    values = pd.to_numeric(frame[value], errors="coerce")
    ids = frame[customer].astype("string").str.strip()
    problems: list[dict[str, object]] = []
    for column, bad in (
        (customer, ids.isna() | (ids == "")),
        (date_column, dates.isna()),
        (value, values.isna()),
    ):
        for index in bad[bad].index[:_SHOWN_PROBLEMS]:
            problems.append(
                {
                    "file": name,
                    "row": int(index) + 2,
                    "column": column,
                    "value": str(frame.at[index, column]),
                }
            )
    if problems:
        problems.sort(key=lambda p: (int(str(p["row"])), str(p["column"])))
        raise InvalidInput(
            f"{name}: {len(problems)} cell(s) are blank or not a valid id, date or number",
            details=problems[:_SHOWN_PROBLEMS],
        )
    if bool((values < 0).any()):
        row = int(values[values < 0].index[0]) + 2
        raise InvalidInput(
            f"{name}: negative {value} at row {row}; remove refunds before fitting",
            details=[{"file": name, "row": row, "column": value}],
        )
    return pd.DataFrame({customer: ids, date_column: dates, value: values.astype(float)})


def fit_clv(
    *,
    transactions: pd.DataFrame,
    customer: str,
    date_column: str,
    value: str,
    observation_end: date,
    period_days: float,
    horizon: int,
    discount_rate: float = 0.0,
) -> ClvFitRead:
    """BG/NBD + Gamma-Gamma on checked transactions; per-customer purchases, spend and CLV."""
    summary = clv.summarise(
        transactions,
        customer=customer,
        date_column=date_column,
        value=value,
        observation_end=observation_end,
        period_days=period_days,
    )
    result = clv.value_customers(summary, horizon=horizon, discount_rate=discount_rate)
    p, s = result.purchases, result.spend
    return ClvFitRead(
        period_days=period_days,
        horizon=horizon,
        discount_rate=discount_rate,
        purchases=PurchaseModelRead(
            r=p.r,
            alpha=p.alpha,
            a=p.a,
            b=p.b,
            log_likelihood=p.log_likelihood,
            customers=p.customers,
            converged=p.converged,
        ),
        spend=SpendModelRead(
            p=s.p,
            q=s.q,
            gamma=s.gamma,
            log_likelihood=s.log_likelihood,
            repeat_buyers=s.customers,
            converged=s.converged,
        ),
        customers=[
            CustomerValueRead.model_validate(c, from_attributes=True) for c in result.customers
        ],
    )
