"""RFM value tiers of every subscriber, as backend-neutral Ibis expressions.

Scoring (documented for users in docs/user-guide.md, "Customer value"):

* The **as-of month** is the latest month of ``usage_monthly``; the **window**
  is the last ``WINDOW_MONTHS`` (6) usage months up to it (fewer if the
  warehouse holds fewer).
* A subscriber is **active** in a month with usage revenue (``arpu_fen > 0``),
  a recharge or an order other than a cancellation (timestamps are taken by
  their UTC month). Joining counts as activity, so a line never active since it
  joined is as old as its join month.
* **R** (``recency_months``) = months from the last active month to the as-of
  month (0 = active in the as-of month).
* **F** (``frequency``) = active usage months in the window + recharges +
  orders in the window: a line billed every month scores 6, each top-up or
  order adds one.
* **M** (``monetary_fen``) = usage revenue in the window divided by the window's
  months (months without usage count as 0), whole fen rounded half up.
* **Scores 1..5** by quintile: score = ceil(5 · c / n), where n is the number
  of subscribers and c the number doing no better (for R: recency at least as
  long; for F and M: a value at most as high). Tied values therefore share one
  score, that of the top of their group, so the best value always scores 5 and
  a value shared by many never splits arbitrarily. There are no NULLs: every
  subscriber has a row, and missing activity counts as 0 (F, M) or as the join
  month (R).
* **Tier** (the seed's membership levels) from rfm_score = R + F + M (3..15):
  ``vip`` 贵宾 14–15, ``gold`` 金卡 11–13, ``star`` 星级 8–10, ``non_member``
  非会员 3–7; a subscriber with no purchase in the window (F = 0) is a
  non-member whatever the total, as the seed makes purchase the condition of
  membership.

Quintile cut-offs come from a group-by of the distinct values and a running
sum over them, not from a window over all subscribers, so Spark never has to
sort the whole base in one partition.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

WINDOW_MONTHS = 6
SCORE_LEVELS = 5


class ValueTier(StrEnum):
    NON_MEMBER = "non_member"
    STAR = "star"
    GOLD = "gold"
    VIP = "vip"


# Lowest rfm_score of each tier, highest tier first.
TIER_CUTOFFS: tuple[tuple[ValueTier, int], ...] = (
    (ValueTier.VIP, 14),
    (ValueTier.GOLD, 11),
    (ValueTier.STAR, 8),
)


def tier_for(rfm_score: int, frequency: int) -> ValueTier:
    """The membership tier of a total score (pure; the warehouse uses ``tier_expr``)."""
    if frequency <= 0:
        return ValueTier.NON_MEMBER
    for tier, lowest in TIER_CUTOFFS:
        if rfm_score >= lowest:
            return tier
    return ValueTier.NON_MEMBER


def quintile_score(no_better: int, total: int) -> int:
    """ceil(5 · no_better / total) in integers (pure; see ``_scores``)."""
    return (SCORE_LEVELS * no_better + total - 1) // total


def month_index(value: ir.DateValue | ir.TimestampValue) -> ir.IntegerValue:
    """Months since year 0 (year · 12 + month − 1), so month differences are subtractions."""
    return value.year().cast("int64") * 12 + value.month().cast("int64") - 1


def index_of(month: date) -> int:
    """``month_index`` of a Python date."""
    return month.year * 12 + month.month - 1


def as_of_month(con: BaseBackend) -> date | None:
    """The latest month in ``usage_monthly`` (None when it has no rows)."""
    usage = con.table("usage_monthly")
    value = usage.month.max().to_pyarrow().as_py()
    return value if isinstance(value, date) else None


def window_months(con: BaseBackend, *, as_of: date) -> int:
    """How many usage months the window holds (up to ``WINDOW_MONTHS``)."""
    usage = con.table("usage_monthly")
    start = index_of(as_of) - WINDOW_MONTHS + 1
    idx = month_index(usage.month)
    months = usage.filter(idx >= start, idx <= index_of(as_of)).month.nunique()
    return int(months.to_pyarrow().as_py())


def activity(con: BaseBackend, *, as_of: date) -> ir.Table:
    """One row per activity up to the as-of month: ``subscriber_id``, ``month_idx``.

    Usage gives at most one row per month (the table is keyed by subscriber and month);
    recharges and orders give one row each.
    """
    end = index_of(as_of)
    usage = con.table("usage_monthly")
    used = usage.filter(usage.arpu_fen > 0).select(
        subscriber_id=usage.subscriber_id, month_idx=month_index(usage.month)
    )
    recharges = con.table("recharges")
    topped = recharges.select(
        subscriber_id=recharges.subscriber_id, month_idx=month_index(recharges.recharged_at)
    )
    orders = con.table("orders")
    ordered = orders.filter(orders.action != "cancel").select(
        subscriber_id=orders.subscriber_id, month_idx=month_index(orders.ordered_at)
    )
    events = ibis.union(used, topped, ordered, distinct=False)
    return events.filter(events.month_idx <= end)


def rfm_values(con: BaseBackend, *, as_of: date, window: int) -> ir.Table:
    """Every subscriber's ``recency_months``, ``frequency`` and ``monetary_fen``."""
    end = index_of(as_of)
    start = end - WINDOW_MONTHS + 1
    events = activity(con, as_of=as_of)
    per_sub = events.group_by("subscriber_id").agg(
        last_idx=events.month_idx.max(),
        frequency=(events.month_idx >= start).ifelse(1, 0).sum().cast("int64"),
    )
    usage = con.table("usage_monthly")
    idx = month_index(usage.month)
    in_window = usage.filter(idx >= start, idx <= end)
    revenue = in_window.group_by("subscriber_id").agg(
        revenue_fen=in_window.arpu_fen.sum().cast("int64")
    )
    subs = con.table("subscribers")
    joined = subs.left_join(per_sub, subs.subscriber_id == per_sub.subscriber_id).left_join(
        revenue, subs.subscriber_id == revenue.subscriber_id
    )
    last = per_sub.last_idx.fill_null(month_index(subs.join_date))
    months = max(window, 1)
    total = revenue.revenue_fen.fill_null(0)
    return joined.select(
        subscriber_id=subs.subscriber_id,
        recency_months=ibis.greatest(ibis.literal(end, "int64") - last, 0).cast("int64"),
        frequency=per_sub.frequency.fill_null(0).cast("int64"),
        # Whole fen, half up, in integers: floor((2·sum + w) / 2w).
        monetary_fen=((total * 2 + months) // (2 * months)).cast("int64"),
    )


def _scores(
    values: ir.Table, column: str, *, name: str, lower_is_better: bool, total: int
) -> ir.Table:
    """(``{name}_value``, ``{name}_score``) for each distinct value of ``column``.

    The columns are renamed so joining them back to ``values`` (from which they derive)
    is not a self-join Ibis would resolve to one side.
    """
    counts = values.group_by(column).agg(lines=values.count())
    key = counts[column]
    # Running count of subscribers doing no better than this value.
    order = key.desc() if lower_is_better else key.asc()
    no_better = counts.lines.cumsum(order_by=order)
    score = (no_better * SCORE_LEVELS + (total - 1)) // total
    return counts.select(**{f"{name}_value": key, f"{name}_score": score.cast("int64")})


def tier_expr(rfm_score: ir.IntegerValue, frequency: ir.IntegerValue) -> ir.StringValue:
    """``tier_for`` as an Ibis expression."""
    branches = [(frequency <= 0, str(ValueTier.NON_MEMBER))]
    branches += [(rfm_score >= lowest, str(tier)) for tier, lowest in TIER_CUTOFFS]
    return ibis.cases(*branches, else_=str(ValueTier.NON_MEMBER))


def rfm_scores(con: BaseBackend, *, as_of: date, window: int, total: int) -> ir.Table:
    """RFM values, the three quintile scores, their sum and the tier of every subscriber.

    ``total`` is the number of subscribers (the quintiles' denominator).
    """
    values = rfm_values(con, as_of=as_of, window=window)
    r = _scores(values, "recency_months", name="r", lower_is_better=True, total=total)
    f = _scores(values, "frequency", name="f", lower_is_better=False, total=total)
    m = _scores(values, "monetary_fen", name="m", lower_is_better=False, total=total)
    # A view: the score tables derive from ``values``, and joining a table to its own
    # descendants without one makes Ibis resolve both sides of a predicate to one table.
    left = values.view()
    joined = (
        left.inner_join(r, left.recency_months == r.r_value)
        .inner_join(f, left.frequency == f.f_value)
        .inner_join(m, left.monetary_fen == m.m_value)
    )
    rfm = joined.r_score + joined.f_score + joined.m_score
    return joined.select(
        "subscriber_id",
        "recency_months",
        "frequency",
        "monetary_fen",
        "r_score",
        "f_score",
        "m_score",
        rfm_score=rfm.cast("int64"),
        value_tier=tier_expr(rfm, joined.frequency),
    )
