"""Churn features of every line active at the end of a month T, from months ≤ T only.

One Ibis expression (no SQL strings), so the same code runs on DuckDB and
PySpark. The subscribers table is a snapshot at the data date, which for a
training month T lies after T: a line that renewed its contract or changed
plan in T+1 shows the *new* contract and plan there. Using that snapshot
would leak the outcome (a renewing line is, by definition, not porting out),
so for T before the latest month the plan and contract are rebuilt from the
``subscriptions`` history as of T's last day:

- plan: the plan (or bundle) subscription that started last on or before T's end;
- contract end: if a handset contract started after T's end (a later renewal),
  the natural end of the contract held at T (the end date of the latest
  contract segment that started by T, which a renewal closes at its natural
  end); otherwise the snapshot's ``contract_end``;
- handset date: the snapshot's, unless it lies after T's end (a renewal's new
  handset), then the start of the contract held at T (or unknown).

For the latest month the snapshot *is* the state at T, so the history is not
read (that keeps scoring 10M lines fast). Payment type, household and
enterprise membership are taken from the snapshot in both cases (the
generator never changes them; a real export rarely does within a month).

Usage trends compare month T with the three months before it; a month with
no usage row (a line that joined mid-window) is left out of the means, and
ratios are NULL when their denominator is zero or missing — the model
handles missing values natively.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

# Lines that left or are suspended by T's end are not at risk of porting out in T+1.
GONE_STATUSES = ("ported_out", "terminated", "suspended")
MAIN_PLAN_KINDS = ("plan", "bundle")
CONTRACT_KIND = "handset_contract"
DAYS_PER_MONTH = 30.44
# "Contract ended recently": the generator's hazard uses the same 92-day window.
RECENT_END_DAYS = 92

# Plan families in a fixed order: the model's category codes (unknown → missing).
PLAN_FAMILIES = ("5g_plan", "4g_plan", "converged", "family", "enterprise")

# Model features, in matrix column order. ``plan_family`` is categorical, the rest numeric.
FEATURES = (
    "tenure_months",
    "prepaid",
    "plan_fee_yuan",
    "plan_family",
    "plan_5g",
    "handset_5g",
    "days_to_contract_end",
    "contract_ended_recently",
    "handset_age_months",
    "arpu_last",
    "arpu_mean_3m",
    "arpu_change",
    "data_last",
    "data_mean_3m",
    "data_change",
    "voice_last",
    "voice_mean_3m",
    "voice_change",
    "overage_share_3m",
    "overage_fen_last",
    "data_fit",
    "dropped_last",
    "dropped_3m",
    "complaints_3m",
    "complaints_network_3m",
    "complaints_billing_3m",
    "household",
    "bundle",
    "enterprise",
)
CATEGORICAL = frozenset({"plan_family"})
LABEL = "ported_next_month"
TENURE = "tenure_months"


def add_months(first: date, months: int) -> date:
    """The first day of the month ``months`` after ``first`` (a first day)."""
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True, slots=True)
class Window:
    """The dates one feature month needs, computed in Python and passed as literals."""

    month: date  # T, a first day

    @property
    def end(self) -> date:
        return add_months(self.month, 1) - timedelta(days=1)

    @property
    def next_month(self) -> date:
        return add_months(self.month, 1)

    @property
    def next_end(self) -> date:
        return add_months(self.month, 2) - timedelta(days=1)

    @property
    def recent_start(self) -> date:  # first of T-2: "last 3 months" = T-2..T
        return add_months(self.month, -2)

    @property
    def prior_start(self) -> date:  # first of T-3: "previous 3 months" = T-3..T-1
        return add_months(self.month, -3)


def usage_months(con: BaseBackend) -> list[date]:
    """Months present in ``usage_monthly``, oldest first."""
    usage = con.table("usage_monthly")
    table = usage.select("month").distinct().order_by("month").to_pyarrow()
    return [m.as_py() for m in table.column("month")]


IdRange = tuple[int, int]  # first and last subscriber_id, inclusive


def _in_range(table: ir.Table, ids: IdRange | None) -> ir.Table:
    if ids is None:
        return table
    return table.filter(table.subscriber_id.between(ids[0], ids[1]))


def active_lines(con: BaseBackend, window: Window, ids: IdRange | None = None) -> ir.Table:
    """Subscribers that had joined by T's end and had not left or been suspended by then."""
    subs = _in_range(con.table("subscribers"), ids)
    end = ibis.date(window.end)
    gone = subs.status.isin(GONE_STATUSES) & (subs.status_date <= end)
    return subs.filter((subs.join_date <= end) & ~gone)


def _days_between(later: ir.DateValue | ir.DateScalar, earlier: ir.DateValue) -> ir.IntegerValue:
    # epoch_days compiles on DuckDB and Spark alike (date differences do not).
    return later.epoch_days() - earlier.epoch_days()


def _state_as_of(
    con: BaseBackend, lines: ir.Table, window: Window, ids: IdRange | None
) -> ir.Table:
    """Plan id, contract end and handset date as of T's end, rebuilt from ``subscriptions``."""
    end = ibis.date(window.end)
    subs_hist = _in_range(con.table("subscriptions"), ids)
    products = con.table("products").select("product_id", "kind")
    held = subs_hist.inner_join(products, "product_id")
    plans = held.filter(held.kind.isin(MAIN_PLAN_KINDS) & (held.start_date <= end))
    plan_at = plans.group_by("subscriber_id").agg(plan_at=plans.product_id.argmax(plans.start_date))
    contracts = held.filter(held.kind == CONTRACT_KIND)
    started = contracts.filter(contracts.start_date <= end)
    contract_at = started.group_by("subscriber_id").agg(
        held_end=started.end_date.argmax(started.start_date),
        held_start=started.start_date.max(),
    )
    later = contracts.filter(contracts.start_date > end)
    renewals = later.group_by("subscriber_id").agg(renewed_after=later.count() > 0)
    joined = (
        lines.left_join(plan_at, "subscriber_id")
        .left_join(contract_at, "subscriber_id")
        .left_join(renewals, "subscriber_id")
    )
    renewed = joined.renewed_after.fill_null(False)
    return joined.select(
        subscriber_id=joined.subscriber_id,
        plan_id=joined.plan_at.fill_null(joined.plan_id),
        contract_end=renewed.ifelse(joined.held_end, joined.contract_end),
        handset_date=(joined.handset_date > end).ifelse(joined.held_start, joined.handset_date),
    )


def _usage(con: BaseBackend, window: Window, ids: IdRange | None) -> ir.Table:
    usage = _in_range(con.table("usage_monthly"), ids)
    usage = usage.filter(
        (usage.month >= ibis.date(window.prior_start)) & (usage.month <= ibis.date(window.month))
    )
    last = usage.month == ibis.date(window.month)
    recent = usage.month >= ibis.date(window.recent_start)
    prior = usage.month < ibis.date(window.month)

    def when(condition: ir.BooleanValue, value: ir.Value) -> ir.Value:
        return ibis.cases((condition, value), else_=None)

    aggregates: dict[str, ir.Value] = {}
    for name, column in (
        ("arpu", usage.arpu_fen),
        ("data", usage.data_mb),
        ("voice", usage.voice_min),
    ):
        aggregates[f"{name}_last"] = when(last, column).sum()
        aggregates[f"{name}_mean_3m"] = when(recent, column).mean()
        aggregates[f"{name}_prior_3m"] = when(prior, column).mean()
    aggregates["overage_3m"] = when(recent, usage.overage_fen).sum()
    aggregates["arpu_3m"] = when(recent, usage.arpu_fen).sum()
    aggregates["overage_fen_last"] = when(last, usage.overage_fen).sum()
    aggregates["dropped_last"] = when(last, usage.dropped_calls).sum()
    aggregates["dropped_3m"] = when(recent, usage.dropped_calls).sum()
    return usage.group_by("subscriber_id").agg(**aggregates)


def _complaints(con: BaseBackend, window: Window, ids: IdRange | None) -> ir.Table:
    complaints = _in_range(con.table("complaints"), ids)
    day = complaints.created_at.date()
    recent = complaints.filter(
        (day >= ibis.date(window.recent_start)) & (day <= ibis.date(window.end))
    )
    return recent.group_by("subscriber_id").agg(
        complaints_3m=recent.count(),
        complaints_network_3m=(recent.category == "network").sum(),
        complaints_billing_3m=(recent.category == "billing").sum(),
    )


def _ratio(numerator: ir.NumericValue, denominator: ir.NumericValue) -> ir.FloatingValue:
    return numerator.cast("float64") / denominator.cast("float64").nullif(0.0)


def churn_features(
    con: BaseBackend,
    *,
    month: date,
    rebuild_state: bool,
    with_label: bool,
    ids: IdRange | None = None,
) -> ir.Table:
    """``subscriber_id``, ``FEATURES`` (and ``LABEL`` when asked) of lines active at T's end.

    ``rebuild_state`` rebuilds plan and contract as of T from ``subscriptions``
    (needed for any T before the snapshot's month; see the module docstring).
    ``ids`` limits everything read to one range of subscriber ids, so a large
    province can be computed a slice at a time (the query's hash tables shrink
    with the slice).
    """
    window = Window(month)
    end = ibis.date(window.end)
    lines = active_lines(con, window, ids)
    if rebuild_state:
        state = _state_as_of(con, lines, window, ids)
    else:
        state = lines.select("subscriber_id", "plan_id", "contract_end", "handset_date")
    products = con.table("products").select(
        "product_id",
        plan_fee_fen="monthly_fee_fen",
        plan_data_mb="data_mb",
        plan_family="family",
        plan_5g="is_5g",
    )
    households = con.table("households").select("household_id", "bundle_id")
    usage = _usage(con, window, ids)
    complaints = _complaints(con, window, ids)

    base = lines.select(
        "subscriber_id",
        "payment_type",
        "join_date",
        "handset_5g",
        "household_id",
        "account_id",
        "port_out_date",
    )
    t = (
        base.inner_join(state, "subscriber_id")
        .left_join(products, state.plan_id == products.product_id)
        .left_join(households, base.household_id == households.household_id)
        .left_join(usage, "subscriber_id")
        .left_join(complaints, "subscriber_id")
    )
    days_to_end = _days_between(t.contract_end, end)
    columns: dict[str, ir.Value] = {
        "subscriber_id": t.subscriber_id,
        "tenure_months": _days_between(end, t.join_date).cast("float64") / DAYS_PER_MONTH,
        "prepaid": (t.payment_type == "prepaid").cast("int64"),
        "plan_fee_yuan": t.plan_fee_fen.cast("float64") / 100.0,
        "plan_family": t.plan_family,
        "plan_5g": t.plan_5g.cast("int64"),
        "handset_5g": t.handset_5g.cast("int64"),
        # NULL when the line has no contract: "no contract" is its own (missing) branch.
        "days_to_contract_end": days_to_end,
        "contract_ended_recently": ((days_to_end < 0) & (days_to_end >= -RECENT_END_DAYS))
        .fill_null(False)
        .cast("int64"),
        "handset_age_months": _days_between(end, t.handset_date).cast("float64") / DAYS_PER_MONTH,
    }
    for name in ("arpu", "data", "voice"):
        columns[f"{name}_last"] = t[f"{name}_last"].cast("float64")
        columns[f"{name}_mean_3m"] = t[f"{name}_mean_3m"].cast("float64")
        columns[f"{name}_change"] = _ratio(t[f"{name}_last"], t[f"{name}_prior_3m"])
    columns["overage_share_3m"] = _ratio(t.overage_3m, t.arpu_3m)
    columns["overage_fen_last"] = t.overage_fen_last.cast("float64")
    columns["data_fit"] = _ratio(t.data_last, t.plan_data_mb)
    columns["dropped_last"] = t.dropped_last.cast("float64")
    columns["dropped_3m"] = t.dropped_3m.cast("float64")
    for name in ("complaints_3m", "complaints_network_3m", "complaints_billing_3m"):
        columns[name] = t[name].fill_null(0).cast("int64")
    columns["household"] = t.household_id.notnull().cast("int64")
    columns["bundle"] = t.bundle_id.notnull().cast("int64")
    columns["enterprise"] = t.account_id.notnull().cast("int64")
    if with_label:
        ported = t.port_out_date.between(ibis.date(window.next_month), ibis.date(window.next_end))
        columns[LABEL] = ported.fill_null(False).cast("int64")
    return t.select(**columns)
