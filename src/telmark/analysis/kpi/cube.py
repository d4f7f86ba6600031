"""The KPI cube as Ibis expressions: build at the finest grain, roll up through org_closure.

Grain: (org_id = the subscriber's home unit, month, plan_family, payment_type),
with only additive integer measures (``domain.MEASURES``), so any unit,
family or payment type is a plain sum of cube rows and no ratio is ever an
average of averages. Ratios are derived in Python (``domain.ratios``).

Build design, extending the overview's *flows*: asking "in the base at the
end of month m" of every subscriber for every month would cross-join the
subscribers with the months, the biggest table of the query at tens of
millions of lines. Instead the subscribers are first counted per flow key —
(org, plan, payment type, bundle member, join month, exit month, terminated,
port-out month) — and only those few-thousand-per-month flows meet the months.
Join and exit months are clamped to the month before the first cube month
(every earlier month behaves the same for the months reported), so the number
of flows stays bounded by the cube's length, not the history's. The plan is
mapped to its family and 5G flag after that reduction, and usage is summed
per (org, plan, payment type, month) before the plan is mapped, so the big
joins carry only short keys.

Attributes are the subscriber's *current* plan and payment type (as of the
data date); see docs/user-guide.md "KPI cube" for why.

Everything is backend-neutral Ibis (no SQL strings): the same functions run on
DuckDB and PySpark.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from telmark.analysis.kpi.domain import MEASURES, add_months
from telmark.analysis.overview import EXIT_STATUSES
from telmark.warehouse.derived import ORG_CLOSURE

CUBE_TABLE = "kpi_cube"
GRAIN: tuple[str, ...] = ("org_id", "month", "plan_family", "payment_type")
CUBE_COLUMNS: tuple[str, ...] = (*GRAIN, *MEASURES, "built_at")

# Tables the build reads; the service reports any that are missing.
SOURCE_TABLES = ("org_units", "products", "subscribers", "usage_monthly")
# Tables whose measures are 0 when absent (bundle_lines, complaints); refresh reports them.
OPTIONAL_TABLES = ("households", "complaints")

# Family given to lines whose plan_id is not in products (the importer's reference
# check prevents it; kept so such lines still count in the totals).
UNKNOWN_FAMILY = "unknown"

_FLOW_KEYS = ("org_id", "plan_id", "payment_type", "in_bundle", "join_key", "exit_key")


def usage_months(con: BaseBackend) -> ir.Table:
    """Months present in ``usage_monthly`` (column ``month``): the cube's months."""
    return con.table("usage_monthly").select("month").distinct()


def subscriber_flows(
    con: BaseBackend, months: Sequence[date], *, households: bool = True
) -> ir.Table:
    """Lines per flow key, with join/exit months clamped to the cube's horizon.

    ``months`` are the cube's months (first days, ascending). ``join_key`` and
    ``exit_key`` are clamped up to the month before the first (earlier values
    answer every question about the reported months the same way); an exit after
    the last month counts as no exit. ``port_key`` and ``terminated_key`` are the
    month of a port-out / termination inside the horizon, else NULL.
    """
    first, last = months[0], months[-1]
    before = ibis.literal(add_months(first, -1), "date")
    subs = con.table("subscribers")
    if households:
        bundled = con.table("households")
        bundled = bundled.filter(bundled.bundle_id.notnull()).select(
            bundle_household=bundled.household_id
        )
        lines = subs.left_join(bundled, subs.household_id == bundled.bundle_household)
        in_bundle = lines.bundle_household.notnull()
    else:
        lines, in_bundle = subs, ibis.literal(False)

    def clamp(month: ir.DateValue) -> ir.DateValue:
        return ibis.greatest(month, before)

    def inside(month: ir.DateValue) -> ir.DateValue:
        in_range = (month >= ibis.literal(first, "date")) & (month <= ibis.literal(last, "date"))
        return ibis.cases((in_range, month), else_=ibis.null("date"))

    exit_month = subs.status_date.truncate("M")
    exited = subs.status.isin(EXIT_STATUSES) & (exit_month <= ibis.literal(last, "date"))
    keyed = lines.select(
        org_id=subs.org_id,
        plan_id=subs.plan_id,
        payment_type=subs.payment_type,
        in_bundle=in_bundle,
        join_key=clamp(subs.join_date.truncate("M")),
        exit_key=ibis.cases((exited, clamp(exit_month)), else_=ibis.null("date")),
        terminated_key=ibis.cases(
            (subs.status == "terminated", inside(exit_month)), else_=ibis.null("date")
        ),
        port_key=inside(subs.port_out_date.truncate("M")),
    )
    return keyed.group_by(*_FLOW_KEYS, "terminated_key", "port_key").agg(lines=keyed.count())


def _plans(con: BaseBackend) -> ir.Table:
    products = con.table("products")
    return products.select(
        product_id=products.product_id, family=products.family, is_5g=products.is_5g
    )


def base_measures(con: BaseBackend, months: Sequence[date], *, households: bool = True) -> ir.Table:
    """Per grain: base at month end and previous month end, adds, exits, 5G and bundle lines."""
    flows = subscriber_flows(con, months, households=households)
    plans = _plans(con)
    flows = flows.left_join(plans, flows.plan_id == plans.product_id)
    grid = flows.cross_join(usage_months(con))
    at_end = (grid.join_key <= grid.month) & (grid.exit_key.isnull() | (grid.exit_key > grid.month))
    at_previous_end = (grid.join_key < grid.month) & (
        grid.exit_key.isnull() | (grid.exit_key >= grid.month)
    )

    def lines_where(condition: ir.BooleanValue) -> ir.IntegerScalar:
        return condition.ifelse(grid.lines, 0).sum()

    is_5g = grid.is_5g.fill_null(False)
    return grid.group_by(
        org_id=grid.org_id,
        month=grid.month,
        plan_family=grid.family.fill_null(UNKNOWN_FAMILY),
        payment_type=grid.payment_type,
    ).agg(
        subscribers=lines_where(at_end),
        opening_subscribers=lines_where(at_previous_end),
        gross_adds=lines_where(grid.join_key == grid.month),
        port_outs=lines_where(grid.port_key == grid.month),
        terminations=lines_where(grid.terminated_key == grid.month),
        lines_5g=lines_where(at_end & is_5g),
        bundle_lines=lines_where(at_end & grid.in_bundle),
    )


def _to_family(con: BaseBackend, table: ir.Table) -> ir.Table:
    """Replace ``plan_id`` by ``plan_family`` (a small join after the big reduction)."""
    plans = _plans(con)
    joined = table.left_join(plans, table.plan_id == plans.product_id)
    return joined.mutate(plan_family=joined.family.fill_null(UNKNOWN_FAMILY)).drop(
        "plan_id", "product_id", "family", "is_5g"
    )


def usage_measures(con: BaseBackend) -> ir.Table:
    """Per grain: revenue, billed lines, data and voice of the month's usage rows."""
    usage = con.table("usage_monthly")
    subs = con.table("subscribers")
    billed = usage.inner_join(subs, usage.subscriber_id == subs.subscriber_id).select(
        org_id=subs.org_id,
        plan_id=subs.plan_id,
        payment_type=subs.payment_type,
        month=usage.month,
        arpu_fen=usage.arpu_fen,
        data_mb=usage.data_mb,
        voice_min=usage.voice_min,
    )
    by_plan = billed.group_by("org_id", "plan_id", "payment_type", "month").agg(
        revenue_fen=billed.arpu_fen.sum(),
        billed_lines=billed.count(),
        data_mb=billed.data_mb.sum(),
        voice_min=billed.voice_min.sum(),
    )
    return _to_family(con, by_plan)


def complaint_measures(con: BaseBackend, months: Sequence[date]) -> ir.Table:
    """Per grain: complaints lodged in each cube month, by the subscriber's home unit."""
    complaints = con.table("complaints")
    subs = con.table("subscribers")
    lodged = complaints.inner_join(subs, complaints.subscriber_id == subs.subscriber_id).select(
        org_id=subs.org_id,
        plan_id=subs.plan_id,
        payment_type=subs.payment_type,
        month=complaints.created_at.truncate("M").cast("date"),
    )
    lodged = lodged.filter(lodged.month.isin([ibis.literal(m, "date") for m in months]))
    counted = lodged.group_by("org_id", "plan_id", "payment_type", "month").agg(
        complaints=lodged.count()
    )
    return _to_family(con, counted)


def cube(
    con: BaseBackend,
    *,
    months: Sequence[date],
    built_at: datetime,
    households: bool = True,
    complaints: bool = True,
) -> ir.Table:
    """The finest-grain cube (columns ``CUBE_COLUMNS``) over ``months`` (all usage months).

    Rows whose measures are all zero are left out; a missing row reads as zeros.
    ``households``/``complaints`` False: those tables are absent, their measures 0.
    """
    parts = [base_measures(con, months, households=households), usage_measures(con)]
    if complaints:
        parts.append(complaint_measures(con, months))
    zero = ibis.literal(0, "int64")
    aligned = [
        part.select(
            *GRAIN,
            **{
                name: part[name].cast("int64") if name in part.columns else zero
                for name in MEASURES
            },
        )
        for part in parts
    ]
    stacked = ibis.union(*aligned, distinct=False)
    summed = stacked.group_by(*GRAIN).agg(**{name: stacked[name].sum() for name in MEASURES})
    nonzero = ibis.or_(*(summed[name] != 0 for name in MEASURES))
    return (
        summed.filter(nonzero)
        .mutate(built_at=ibis.literal(built_at, "timestamp"))
        .select(*CUBE_COLUMNS)
    )


# --- roll-ups of the materialised cube ---------------------------------------------------


def filtered_cube(
    con: BaseBackend, *, plan_family: str | None = None, payment_type: str | None = None
) -> ir.Table:
    """``kpi_cube`` (already org-scoped by ``con``) with the optional attribute filters."""
    table = con.table(CUBE_TABLE)
    if plan_family is not None:
        table = table.filter(table.plan_family == plan_family)
    if payment_type is not None:
        table = table.filter(table.payment_type == payment_type)
    return table


def _sums(table: ir.Table) -> dict[str, ir.IntegerScalar]:
    return {name: table[name].sum() for name in MEASURES}


def unit_rollup(
    con: BaseBackend, unit: str, *, by: str | None = None, cube_table: ir.Table | None = None
) -> ir.Table:
    """Measures of ``unit`` (all units below it) per month, and per ``by`` column if given."""
    table = filtered_cube(con) if cube_table is None else cube_table
    closure = con.table(ORG_CLOSURE)
    below = closure.filter(closure.ancestor_id == unit).select(org_id=closure.descendant_id)
    rows = table.semi_join(below, "org_id")
    keys = ["month"] if by is None else [by, "month"]
    return rows.group_by(*keys).agg(**_sums(rows)).order_by(*keys)


def children_rollup(con: BaseBackend, unit: str, *, cube_table: ir.Table | None = None) -> ir.Table:
    """Measures per child unit of ``unit`` (column ``unit_id``) and month."""
    table = filtered_cube(con) if cube_table is None else cube_table
    closure = con.table(ORG_CLOSURE)
    children = closure.filter((closure.ancestor_id == unit) & (closure.depth == 1)).select(
        child_id=closure.descendant_id
    )
    pairs = closure.inner_join(children, closure.ancestor_id == children.child_id).select(
        unit_id=closure.ancestor_id, org_id=closure.descendant_id
    )
    rows = table.inner_join(pairs, "org_id")
    return rows.group_by("unit_id", "month").agg(**_sums(rows)).order_by("unit_id", "month")
