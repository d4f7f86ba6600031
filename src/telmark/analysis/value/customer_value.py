"""The ``customer_value`` warehouse table: RFM tier, decayed value and CLV of every line.

Built in one ``create_table(..., overwrite=True)`` from the RFM expressions
(``rfm``), the decay (``decay``), the per-cohort sBG factors and the prepaid
recharge values (``lifetime``), so readers (customer 360, segments) see the
old table or the new one, never a half-written one. Reads of it go through the
org scope like any subscriber-keyed table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from telmark.analysis.value import cohorts, decay, lifetime, rfm, sbg
from telmark.errors import DomainError

TABLE = "customer_value"

COLUMNS: tuple[tuple[str, str], ...] = (
    ("subscriber_id", "int64"),
    ("as_of_month", "date"),
    ("recency_months", "int64"),
    ("frequency", "int64"),
    ("monetary_fen", "int64"),
    ("r_score", "int64"),
    ("f_score", "int64"),
    ("m_score", "int64"),
    ("rfm_score", "int64"),
    ("value_tier", "string"),
    ("decayed_value_fen", "int64"),
    ("clv_fen", "int64"),  # NULL: no CLV model for the line
    ("clv_model", "string"),  # "sbg", "bgnbd_gg" or NULL
)

# CLV histogram edges in yuan (the last bucket is open).
CLV_EDGES_YUAN = (0, 50, 100, 200, 500, 1000, 2000, 5000)
# Recency buckets: 0..RECENCY_CAP-1 months, then RECENCY_CAP or more.
RECENCY_CAP = 12


@dataclass(slots=True)
class BuildReport:
    as_of: date
    window: int
    subscribers: int
    pooled: sbg.SbgFit | None = None
    pooled_cohorts: int = 0
    cohorts_fitted: int = 0
    recharge: lifetime.RechargeValue | None = None
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def data_start_month(con: BaseBackend) -> date:
    """The first month of ``usage_monthly`` (where the warehouse's history begins)."""
    value = con.table("usage_monthly").month.min().to_pyarrow().as_py()
    assert isinstance(value, date)
    return value


def build(
    con: BaseBackend,
    *,
    as_of: date,
    half_life_months: float,
    horizon: int,
    discount_rate: float,
    cohort_months: int,
) -> BuildReport:
    """Compute every line's value and replace the ``customer_value`` table."""
    started = time.perf_counter()
    window = rfm.window_months(con, as_of=as_of)
    total = int(con.table("subscribers").count().to_pyarrow().as_py())
    report = BuildReport(as_of=as_of, window=window, subscribers=total)
    scores = rfm.rfm_scores(con, as_of=as_of, window=window, total=max(total, 1))

    all_cohorts = cohorts.read_cohorts(con, data_start=data_start_month(con), as_of=as_of)
    factors: ir.Table | None = None
    if all_cohorts:
        try:
            report.pooled = cohorts.fit_pooled(all_cohorts)
        except DomainError as error:
            report.problems.append(f"sBG (contract lines): {error.message}")
    else:
        report.problems.append("sBG (contract lines): no contract lines in the warehouse")
    if report.pooled is not None:
        report.pooled_cohorts = len(all_cohorts)
        fits = cohorts.fit_each(all_cohorts, latest=cohort_months)
        report.cohorts_fitted = sum(1 for f in fits if f.model is not None)
        factors = ibis.memtable(
            lifetime.sbg_factors(
                fits=fits,
                pooled=report.pooled,
                join_indices=[c.join_idx for c in all_cohorts],
                as_of=as_of,
                horizon=horizon,
                discount_rate=discount_rate,
            )
        )

    recharge_rows = lifetime.recharge_summary(con, as_of=as_of)
    recharge: ir.Table | None = None
    if recharge_rows.empty:
        report.problems.append("BG/NBD (prepaid lines): no recharges of prepaid lines")
    else:
        try:
            report.recharge = lifetime.recharge_values(
                recharge_rows, as_of=as_of, horizon=horizon, discount_rate=discount_rate
            )
        except DomainError as error:
            report.problems.append(f"BG/NBD (prepaid lines): {error.message}")
        else:
            recharge = ibis.memtable(report.recharge.values)

    expr = _table_expr(
        con,
        scores=scores,
        as_of=as_of,
        half_life_months=half_life_months,
        factors=factors,
        recharge=recharge,
    )
    con.create_table(TABLE, expr, overwrite=True)
    report.seconds = time.perf_counter() - started
    return report


def _table_expr(
    con: BaseBackend,
    *,
    scores: ir.Table,
    as_of: date,
    half_life_months: float,
    factors: ir.Table | None,
    recharge: ir.Table | None,
) -> ir.Table:
    subs = con.table("subscribers")
    lines = subs.select(
        line_id=subs.subscriber_id,
        join_idx=rfm.month_index(subs.join_date),
        contract=subs.contract_end.notnull(),
        prepaid=subs.payment_type == "prepaid",
        exited=subs.status.isin(cohorts.EXIT_STATUSES),
    )
    joined = scores.inner_join(lines, scores.subscriber_id == lines.line_id)
    if factors is not None:
        joined = joined.left_join(factors, joined.join_idx == factors.join_idx)
        sbg_factor = joined.sbg_factor
    else:
        sbg_factor = ibis.null("float64")
    if recharge is not None:
        joined = joined.left_join(recharge, joined.subscriber_id == recharge.subscriber_id)
        bg_value = joined.bgnbd_clv_fen
    else:
        bg_value = ibis.null("int64")
    is_sbg = joined.contract & sbg_factor.notnull()
    is_bg = (~joined.contract) & joined.prepaid & (bg_value.notnull() | joined.exited)
    if recharge is None:
        is_bg = ibis.literal(False)
    sbg_value = (joined.monetary_fen.cast("float64") * sbg_factor + 0.5).floor().cast("int64")
    clv_fen = ibis.cases(
        (is_sbg & joined.exited, 0),
        (is_sbg, sbg_value),
        (is_bg & joined.exited, 0),
        (is_bg, bg_value),
        else_=ibis.null("int64"),
    )
    clv_model = ibis.cases((is_sbg, "sbg"), (is_bg, "bgnbd_gg"), else_=ibis.null("string"))
    return joined.select(
        subscriber_id=joined.subscriber_id,
        as_of_month=ibis.literal(as_of, "date"),
        recency_months=joined.recency_months,
        frequency=joined.frequency,
        monetary_fen=joined.monetary_fen,
        r_score=joined.r_score,
        f_score=joined.f_score,
        m_score=joined.m_score,
        rfm_score=joined.rfm_score,
        value_tier=joined.value_tier,
        decayed_value_fen=decay.decayed_value_expr(
            joined.monetary_fen, joined.recency_months, half_life_months=half_life_months
        ),
        clv_fen=clv_fen.cast("int64"),
        clv_model=clv_model.cast("string"),
    )


# --- reads of the built table (through the caller's scope) ---------------------------------


def tier_counts(table: ir.Table) -> ir.Table:
    """Lines and summed monthly revenue per tier (``value_tier``, ``lines``, ``revenue_fen``)."""
    return table.group_by("value_tier").agg(
        lines=table.count(), revenue_fen=table.monetary_fen.sum().cast("int64")
    )


def unit_tier_counts(con: BaseBackend, table: ir.Table, *, children: list[str]) -> ir.Table:
    """``tier_counts`` per child unit (``org_id``) of the scope, by the lines' home unit."""
    subs = con.table("subscribers").select(line_id="subscriber_id", home="org_id")
    closure = con.table("org_closure")
    under = closure.filter(closure.ancestor_id.isin(children)).select(
        unit="ancestor_id", member="descendant_id"
    )
    joined = table.inner_join(subs, table.subscriber_id == subs.line_id).inner_join(
        under, subs.home == under.member
    )
    return joined.group_by(org_id=joined.unit, value_tier=joined.value_tier).agg(
        lines=joined.count(), revenue_fen=joined.monetary_fen.sum().cast("int64")
    )


def recency_buckets(table: ir.Table) -> ir.Table:
    """Lines, monthly value and decayed value by months since the last activity (capped)."""
    bucket = ibis.least(table.recency_months, RECENCY_CAP)
    return table.group_by(recency=bucket).agg(
        lines=table.count(),
        monetary_fen=table.monetary_fen.sum().cast("int64"),
        decayed_value_fen=table.decayed_value_fen.sum().cast("int64"),
    )


def clv_buckets(table: ir.Table) -> ir.Table:
    """Lines per CLV model and yuan bucket (``model``, ``bucket`` = lower edge, ``lines``)."""
    valued = table.filter(table.clv_fen.notnull())
    yuan = valued.clv_fen / 100
    branches = [
        (yuan >= lower, lower) for lower in sorted(CLV_EDGES_YUAN, reverse=True) if lower > 0
    ]
    bucket = ibis.cases(*branches, else_=0)
    return valued.group_by(model=valued.clv_model, bucket=bucket.cast("int64")).agg(
        lines=valued.count()
    )


def clv_totals(table: ir.Table) -> ir.Table:
    """Lines and summed CLV per model (NULL model: lines without a CLV)."""
    return table.group_by(model=table.clv_model).agg(
        lines=table.count(), clv_fen=table.clv_fen.sum().fill_null(0).cast("int64")
    )
