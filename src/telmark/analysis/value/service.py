"""Use cases of the value fits: read the caller's data, fit, shape the answer.

Nothing is stored: the fits act on the numbers or the file the caller sends.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from ibis.backends import BaseBackend

from telmark.analysis.service import EMPTY_WAREHOUSE_HINT
from telmark.analysis.value import (
    bgnbd,
    clv,
    cohorts,
    customer_value,
    gamma_gamma,
    rfm,
    sbg,
)
from telmark.analysis.value.decay import DEFAULT_HALF_LIFE_MONTHS
from telmark.analysis.value.rfm import ValueTier
from telmark.analysis.value.schemas import (
    ClvBucket,
    ClvFitRead,
    ClvTotals,
    CohortRead,
    CohortsRead,
    CustomerValueRead,
    PurchaseModelRead,
    RecencyBucket,
    RechargeModelRead,
    RetentionFitRead,
    RetentionPeriod,
    SbgPooledRead,
    SpendModelRead,
    TierCount,
    UnitTiers,
    ValueRefreshRead,
    ValueSummaryRead,
)
from telmark.auth.domain import Principal
from telmark.errors import DomainError, InvalidInput, WarehouseEmpty
from telmark.org.domain import is_root_path

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


# --- Customer value in the warehouse ---------------------------------------------------------

NOT_BUILT_HINT = (
    "Customer value has not been computed yet: run `telmark analysis value refresh` "
    "(or POST /api/analysis/value/refresh as a province analyst)."
)
TIER_ORDER = tuple(reversed(list(ValueTier)))  # vip first


def _check_value_options(
    *, half_life_months: float, horizon: int, discount_rate: float, cohort_months: int
) -> None:
    problems: list[dict[str, object]] = []
    if not (0 < half_life_months <= 1200):
        problems.append({"field": "half_life_months", "value": half_life_months})
    if not (1 <= horizon <= 120):
        problems.append({"field": "horizon", "value": horizon})
    if not (0 <= discount_rate < 1):
        problems.append({"field": "discount_rate", "value": discount_rate})
    if not (1 <= cohort_months <= 600):
        problems.append({"field": "cohort_months", "value": cohort_months})
    if problems:
        raise InvalidInput(
            "half-life must be in (0, 1200] months, horizon 1..120 months, discount rate "
            "in [0, 1) per month and cohort months 1..600",
            details=problems,
        )


def _as_of(con: BaseBackend) -> date:
    present = set(con.list_tables())
    missing = [
        t for t in ("subscribers", "usage_monthly", "recharges", "orders") if t not in present
    ]
    as_of = None if missing else rfm.as_of_month(con)
    if as_of is None:
        details: list[dict[str, object]] = [{"table": t, "reason": "missing"} for t in missing]
        raise WarehouseEmpty(
            EMPTY_WAREHOUSE_HINT,
            details=details or [{"table": "usage_monthly", "reason": "no rows"}],
        )
    return as_of


def _pooled_read(model: sbg.SbgFit, cohorts_count: int) -> SbgPooledRead:
    return SbgPooledRead(
        alpha=model.alpha,
        beta=model.beta,
        log_likelihood=model.log_likelihood,
        cohorts=cohorts_count,
        lines=model.cohort_size,
        converged=model.converged,
    )


def refresh_customer_value(
    *,
    con: BaseBackend,
    half_life_months: float = DEFAULT_HALF_LIFE_MONTHS,
    horizon: int = 12,
    discount_rate: float = 0.0,
    cohort_months: int = cohorts.DEFAULT_COHORT_MONTHS,
) -> ValueRefreshRead:
    """Rebuild the province's ``customer_value`` table (RFM tier, decayed value, CLV)."""
    _check_value_options(
        half_life_months=half_life_months,
        horizon=horizon,
        discount_rate=discount_rate,
        cohort_months=cohort_months,
    )
    as_of = _as_of(con)
    report = customer_value.build(
        con,
        as_of=as_of,
        half_life_months=half_life_months,
        horizon=horizon,
        discount_rate=discount_rate,
        cohort_months=cohort_months,
    )
    table = con.table(customer_value.TABLE)
    counts = {
        r["value_tier"]: r for r in customer_value.tier_counts(table).to_pyarrow().to_pylist()
    }
    recharge = report.recharge
    return ValueRefreshRead(
        as_of_month=as_of,
        window_months=report.window,
        subscribers=report.subscribers,
        half_life_months=half_life_months,
        horizon=horizon,
        discount_rate=discount_rate,
        tiers=_tier_list(counts),
        sbg=None if report.pooled is None else _pooled_read(report.pooled, report.pooled_cohorts),
        sbg_cohorts_fitted=report.cohorts_fitted,
        recharge_model=None
        if recharge is None
        else RechargeModelRead(
            purchases=_purchases_read(recharge.purchases),
            spend=_spend_read(recharge.spend),
            fitted_on=recharge.fitted_on,
            lines=recharge.lines,
            dropout_free=recharge.dropout_free,
        ),
        problems=report.problems,
        seconds=round(report.seconds, 3),
    )


def _purchases_read(p: bgnbd.BgNbdFit) -> PurchaseModelRead:
    return PurchaseModelRead(
        r=p.r,
        alpha=p.alpha,
        a=p.a,
        b=p.b,
        log_likelihood=p.log_likelihood,
        customers=p.customers,
        converged=p.converged,
    )


def _spend_read(s: gamma_gamma.GammaGammaFit) -> SpendModelRead:
    return SpendModelRead(
        p=s.p,
        q=s.q,
        gamma=s.gamma,
        log_likelihood=s.log_likelihood,
        repeat_buyers=s.customers,
        converged=s.converged,
    )


def _tier_list(counts: dict[str, dict[str, Any]]) -> list[TierCount]:
    return [
        TierCount(
            tier=str(tier),
            subscribers=int(counts.get(tier, {}).get("lines", 0)),
            revenue_fen=int(counts.get(tier, {}).get("revenue_fen", 0) or 0),
        )
        for tier in TIER_ORDER
    ]


def scope_unit(principal: Principal) -> str | None:
    """The unit whose children a summary lists: None (the warehouse's province) at the top."""
    return None if is_root_path(principal.org_path) else principal.org_code


def value_built(*, con: BaseBackend) -> bool:
    """Whether the ``customer_value`` table exists."""
    return customer_value.TABLE in set(con.list_tables())


def value_summary(*, con: BaseBackend, org_code: str | None = None) -> ValueSummaryRead:
    """Tier shares, per child unit, recency/decay and CLV distribution in ``con``'s scope.

    ``org_code`` is the scope's unit (its children are listed); None means the province.
    Raises WarehouseEmpty when the table has not been built.
    """
    if not value_built(con=con):
        raise WarehouseEmpty(NOT_BUILT_HINT, details=[{"table": customer_value.TABLE}])
    table = con.table(customer_value.TABLE)
    as_of = table.as_of_month.max().to_pyarrow().as_py()
    if as_of is None:
        raise WarehouseEmpty(NOT_BUILT_HINT, details=[{"table": customer_value.TABLE}])
    counts = {
        r["value_tier"]: r for r in customer_value.tier_counts(table).to_pyarrow().to_pylist()
    }
    units = con.table("org_units")
    if org_code is None:
        root = units.filter(units.parent_id.isnull()).org_id.to_pyarrow().to_pylist()
        org_code = root[0] if root else None
    children = (
        units.filter(units.parent_id == org_code)
        .select("org_id", "name", "name_en")
        .order_by("org_id")
        .to_pyarrow()
        .to_pylist()
        if org_code is not None
        else []
    )
    by_unit: dict[str, dict[str, dict[str, Any]]] = {}
    if children:
        rows = customer_value.unit_tier_counts(con, table, children=[c["org_id"] for c in children])
        for row in rows.to_pyarrow().to_pylist():
            by_unit.setdefault(row["org_id"], {})[row["value_tier"]] = row
    recency = sorted(
        customer_value.recency_buckets(table).to_pyarrow().to_pylist(), key=lambda r: r["recency"]
    )
    buckets = customer_value.clv_buckets(table).to_pyarrow().to_pylist()
    edges = customer_value.CLV_EDGES_YUAN
    totals = customer_value.clv_totals(table).to_pyarrow().to_pylist()
    return ValueSummaryRead(
        as_of_month=as_of,
        subscribers=sum(int(r["lines"]) for r in counts.values()),
        tiers=_tier_list(counts),
        units=[
            UnitTiers(
                org_id=c["org_id"],
                name=c["name"],
                name_en=c["name_en"],
                tiers=_tier_list(by_unit.get(c["org_id"], {})),
            )
            for c in children
        ],
        recency=[
            RecencyBucket(
                recency_months=int(r["recency"]),
                subscribers=int(r["lines"]),
                monetary_fen=int(r["monetary_fen"]),
                decayed_value_fen=int(r["decayed_value_fen"]),
            )
            for r in recency
        ],
        clv_buckets=[
            ClvBucket(
                model=str(b["model"]),
                lower_yuan=int(b["bucket"]),
                upper_yuan=next((e for e in edges if e > int(b["bucket"])), None),
                subscribers=int(b["lines"]),
            )
            for b in sorted(buckets, key=lambda b: (str(b["model"]), int(b["bucket"])))
        ],
        clv_totals=[
            ClvTotals(model=t["model"], subscribers=int(t["lines"]), clv_fen=int(t["clv_fen"]))
            for t in sorted(totals, key=lambda t: str(t["model"]))
        ],
    )


def _retention_curve(model: sbg.SbgFit, cohort: cohorts.Cohort) -> list[float]:
    start = sbg.survival(model.alpha, model.beta, cohort.first_period)
    return [
        sbg.survival(model.alpha, model.beta, cohort.first_period + i) / start
        for i in range(len(cohort.survivors))
    ]


def retention_cohorts(
    *, con: BaseBackend, cohort_months: int = cohorts.DEFAULT_COHORT_MONTHS
) -> CohortsRead:
    """sBG fits of the latest join-month contract cohorts in ``con``'s scope, and a pooled fit."""
    if not 1 <= cohort_months <= 600:
        raise InvalidInput(
            "cohort months must be 1..600",
            details=[{"field": "cohort_months", "value": cohort_months}],
        )
    as_of = _as_of(con)
    start = customer_value.data_start_month(con)
    all_cohorts = cohorts.read_cohorts(con, data_start=start, as_of=as_of)
    pooled: sbg.SbgFit | None = None
    pooled_problem = None
    try:
        pooled = cohorts.fit_pooled(all_cohorts)
    except DomainError as error:
        pooled_problem = error.message
    fits = cohorts.fit_each(all_cohorts, latest=cohort_months)
    return CohortsRead(
        as_of_month=as_of,
        data_start_month=start,
        min_cohort_lines=cohorts.MIN_COHORT_LINES,
        cohorts=[
            CohortRead(
                join_month=f.cohort.join_month,
                first_period=f.cohort.first_period,
                survivors=list(f.cohort.survivors),
                alpha=None if f.model is None else f.model.alpha,
                beta=None if f.model is None else f.model.beta,
                log_likelihood=None if f.model is None else f.model.log_likelihood,
                problem=f.problem,
                observed_retention=[s / f.cohort.survivors[0] for s in f.cohort.survivors],
                fitted_retention=None if f.model is None else _retention_curve(f.model, f.cohort),
                pooled_retention=None if pooled is None else _retention_curve(pooled, f.cohort),
            )
            for f in fits
        ],
        pooled=None if pooled is None else _pooled_read(pooled, len(all_cohorts)),
        pooled_problem=pooled_problem,
    )
