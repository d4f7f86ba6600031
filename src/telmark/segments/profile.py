"""Segment analytics: profile against the base, overlap between segments, size over time.

Everything is an Ibis expression over the (possibly org-scoped) warehouse, so
it runs unchanged on DuckDB and Spark. The base is the scoped ``subscribers``
table — the universe a rule selects from — and a members table is any table
with a ``subscriber_id`` column (``compile_rule``'s output, a snapshot).
Members outside the scope are not counted.

A profile is one warehouse query: the base left-joined with the distinct
members gives each line a 0/1 flag, every dimension's key is computed beside
it, and one group-by over all the keys yields a small cube of (keys → lines,
members). Each distribution is a marginal of that cube, summed in Arrow; the
segment is evaluated once, not once per dimension.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from functools import reduce

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend
from pydantic import BaseModel

from telmark.analysis.churn.domain import RiskBand
from telmark.analysis.overview import UNASSIGNED_CITY
from telmark.analysis.value.rfm import ValueTier
from telmark.errors import InvalidInput
from telmark.segments.compile import index_of, month_index, resolve_as_of
from telmark.segments.fields import CHURN_TABLE, VALUE_TABLE
from telmark.translation import N_

# ARPU bands in yuan over the as-of month's revenue: [low, high) with high None = open.
ARPU_BANDS_YUAN: tuple[tuple[str, int, int | None], ...] = (
    ("0-30", 0, 30),
    ("30-60", 30, 60),
    ("60-100", 60, 100),
    ("100-200", 100, 200),
    ("200+", 200, None),
)
# Tenure bands in whole months at the as-of month (as the ``tenure_months`` condition counts).
TENURE_BANDS_MONTHS: tuple[tuple[str, int, int | None], ...] = (
    ("0-11", 0, 12),
    ("12-35", 12, 36),
    ("36-59", 36, 60),
    ("60-119", 60, 120),
    ("120+", 120, None),
)
# Keys of lines a dimension has no value for.
NO_USAGE = "no_usage"  # no usage row in the as-of month
JOINED_LATER = "joined_later"  # joined after the as-of month
NO_VALUE = "none"  # no customer_value / churn_scores row

Dimension = str
DIMENSIONS: tuple[Dimension, ...] = (
    "city",
    "plan_family",
    "payment_type",
    "arpu_band",
    "tenure_band",
    "value_tier",
    "churn_risk_band",
    "handset_5g",
)
# Bucket order of the banded dimensions (others: largest base first).
_ORDER: dict[Dimension, tuple[str, ...]] = {
    "arpu_band": (*(b[0] for b in ARPU_BANDS_YUAN), NO_USAGE),
    "tenure_band": (*(b[0] for b in TENURE_BANDS_MONTHS), JOINED_LATER),
    "value_tier": (*(t.value for t in reversed(ValueTier)), NO_VALUE),
    "churn_risk_band": (*(b.value for b in RiskBand), NO_VALUE),
    "handset_5g": ("true", "false"),
}


class Bucket(BaseModel):
    """One value of a dimension: counts and shares in the segment and in the base."""

    key: str
    segment: int
    base: int
    segment_share: float
    base_share: float
    # segment share / base share × 100 (100 = as common as in the base); None if undefined.
    index: float | None


class Distribution(BaseModel):
    """One dimension's buckets: banded dimensions in band order, others largest first."""

    dimension: Dimension
    buckets: list[Bucket]


class SegmentProfile(BaseModel):
    """A segment against the (scoped) base it was drawn from."""

    as_of: date
    size: int
    base_size: int
    share_of_base: float
    distributions: list[Distribution]
    notes: list[str]


class OverlapMatrix(BaseModel):
    """Pairwise overlap of segments; row/column i is ``names[i]``."""

    names: list[str]
    sizes: list[int]
    intersections: list[list[int]]
    jaccard: list[list[float | None]]


class TrendPoint(BaseModel):
    """The member count of a rule as of one month."""

    month: date
    count: int


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def _banded(value: ir.IntegerValue, bands: Sequence[tuple[str, int, int | None]]) -> ir.Value:
    cases = [
        (value < high if high is not None else value >= low, ibis.literal(label, type="string"))
        for label, low, high in bands
    ]
    return ibis.cases(*cases)


def _flagged(con: BaseBackend, members: ir.Table) -> ir.Table:
    """The scoped base with ``in_segment`` 0/1 (members outside the base are dropped)."""
    subs = con.table("subscribers")
    ids = members.select(m_id=members.subscriber_id).distinct()
    joined = subs.left_join(ids, subs.subscriber_id == ids.m_id)
    return joined.mutate(in_segment=ibis.ifelse(joined.m_id.notnull(), 1, 0)).drop("m_id")


def _cube(con: BaseBackend, as_of: date, base: ir.Table, dimensions: list[Dimension]) -> ir.Table:
    """Line counts per combination of every dimension's key, with the segment's share.

    One pass over the base gives every distribution: each dimension is a marginal
    of this cube, which has at most a few thousand rows (cities × families × bands).
    """
    closure = con.table("org_closure")
    cities = closure.filter(closure.ancestor_kind == "city").select(
        c_org=closure.descendant_id, c_city=closure.ancestor_id
    )
    products = con.table("products").select(p_id="product_id", p_family="family")
    usage = con.table("usage_monthly")
    month = usage.filter(usage.month == ibis.literal(as_of, type="date")).select(
        u_id=usage.subscriber_id, u_arpu=usage.arpu_fen
    )
    wide = base.left_join(cities, base.org_id == cities.c_org)
    wide = wide.left_join(products, wide.plan_id == products.p_id)
    wide = wide.left_join(month, wide.subscriber_id == month.u_id)
    derived = {
        "value_tier": (VALUE_TABLE, "value_tier"),
        "churn_risk_band": (CHURN_TABLE, "risk_band"),
    }
    for dimension, (table, column) in derived.items():
        if dimension in dimensions:
            t = con.table(table)
            right = t.select(**{f"{dimension}_id": t.subscriber_id, f"{dimension}_key": t[column]})
            wide = wide.left_join(right, wide.subscriber_id == right[f"{dimension}_id"])
    fen_bands = [
        (label, low * 100, None if high is None else high * 100)
        for label, low, high in ARPU_BANDS_YUAN
    ]
    tenure = index_of(as_of) - month_index(wide.join_date)
    keys: dict[Dimension, ir.Value] = {
        "city": wide.c_city.fill_null(UNASSIGNED_CITY),
        "plan_family": wide.p_family.fill_null(NO_VALUE),
        "payment_type": wide.payment_type,
        "arpu_band": ibis.ifelse(
            wide.u_id.isnull(), NO_USAGE, _banded(wide.u_arpu.cast("int64"), fen_bands)
        ),
        "tenure_band": ibis.ifelse(tenure < 0, JOINED_LATER, _banded(tenure, TENURE_BANDS_MONTHS)),
        "handset_5g": ibis.ifelse(wide.handset_5g, "true", "false"),
    }
    for dimension in derived:
        if dimension in dimensions:
            keys[dimension] = wide[f"{dimension}_key"].fill_null(NO_VALUE)
    keyed = wide.select(in_segment=wide.in_segment, **{d: keys[d] for d in dimensions})
    return keyed.group_by(*dimensions).aggregate(
        base=keyed.count(), segment=keyed.in_segment.sum().cast("int64")
    )


def _distribution(dimension: Dimension, cube: pa.Table) -> tuple[Distribution, int, int]:
    """The marginal of ``dimension`` in the cube (a few thousand rows, in Arrow)."""
    marginal = cube.group_by(dimension).aggregate([("base", "sum"), ("segment", "sum")])
    rows = marginal.to_pylist()
    base_size = sum(int(r["base_sum"]) for r in rows)
    size = sum(int(r["segment_sum"] or 0) for r in rows)
    buckets = []
    for r in rows:
        seg, base = int(r["segment_sum"] or 0), int(r["base_sum"])
        seg_share, base_share = _ratio(seg, size), _ratio(base, base_size)
        index = seg_share / base_share * 100 if size and base_share else None
        buckets.append(
            Bucket(
                key=str(r[dimension]),
                segment=seg,
                base=base,
                segment_share=seg_share,
                base_share=base_share,
                index=index,
            )
        )
    order = _ORDER.get(dimension)
    if order is not None:
        buckets.sort(key=lambda b: order.index(b.key) if b.key in order else len(order))
    else:
        buckets.sort(key=lambda b: (-b.base, b.key))
    return Distribution(dimension=dimension, buckets=buckets), size, base_size


def profile(con: BaseBackend, members: ir.Table, *, as_of: date | None = None) -> SegmentProfile:
    """The segment ``members`` against the scoped base, in one warehouse query."""
    month = resolve_as_of(con, as_of)
    tables = set(con.list_tables())
    notes: list[str] = []
    dimensions = list(DIMENSIONS)
    if VALUE_TABLE not in tables:
        dimensions.remove("value_tier")
        notes.append(
            N_(
                "value tier omitted: customer_value has not been built "
                "(run `telmark analysis value refresh`)"
            )
        )
    if CHURN_TABLE not in tables:
        dimensions.remove("churn_risk_band")
        notes.append(
            N_(
                "churn risk band omitted: churn_scores has not been built "
                "(run `telmark analysis churn score`)"
            )
        )
    cube = _cube(con, month, _flagged(con, members), dimensions).to_pyarrow()
    distributions: list[Distribution] = []
    size = base_size = 0
    for dimension in dimensions:
        distribution, size, base_size = _distribution(dimension, cube)
        distributions.append(distribution)
    return SegmentProfile(
        as_of=month,
        size=size,
        base_size=base_size,
        share_of_base=_ratio(size, base_size),
        distributions=distributions,
        notes=notes,
    )


def overlap(con: BaseBackend, member_tables: Mapping[str, ir.Table]) -> OverlapMatrix:
    """Pairwise intersections (and Jaccard) of segments, in one warehouse query."""
    names = list(member_tables)
    if not names:
        raise InvalidInput("overlap needs at least one segment")
    n = len(names)
    flags = [f"s{i}" for i in range(n)]
    tagged = [
        t.select(
            # Member tables may differ in nullability (an inner vs an outer join upstream),
            # and a union needs one schema.
            subscriber_id=t.subscriber_id.cast("int64"),
            **{f: ibis.literal(1 if f == flags[i] else 0, type="int64") for f in flags},
        )
        for i, t in enumerate(member_tables.values())
    ]
    stacked = reduce(lambda a, b: a.union(b, distinct=False), tagged)
    # Only lines in the (scoped) base count, as in ``profile``.
    stacked = stacked.semi_join(con.table("subscribers").select("subscriber_id"), "subscriber_id")
    per_line = stacked.group_by("subscriber_id").aggregate(**{f: stacked[f].max() for f in flags})
    pairs = {
        f"p{i}_{j}": (per_line[flags[i]] * per_line[flags[j]]).sum().cast("int64")
        for i in range(n)
        for j in range(i, n)
    }
    row = per_line.aggregate(**pairs).to_pyarrow().to_pylist()[0]
    inter = [[0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i, n):
            inter[i][j] = inter[j][i] = int(row[f"p{i}_{j}"] or 0)
    sizes = [inter[i][i] for i in range(n)]
    jaccard: list[list[float | None]] = [
        [
            inter[i][j] / union if (union := sizes[i] + sizes[j] - inter[i][j]) else None
            for j in range(n)
        ]
        for i in range(n)
    ]
    return OverlapMatrix(names=names, sizes=sizes, intersections=inter, jaccard=jaccard)


def size_trend(members_at: Callable[[date], ir.Table], months: list[date]) -> list[TrendPoint]:
    """Member count as of each month (first day), in one warehouse query.

    ``members_at(month)`` gives the members as of a month (the compiled rule with
    references resolved), so this module needs no database to resolve them.
    """
    firsts = sorted({m.replace(day=1) for m in months})
    if not firsts:
        return []
    counts = [
        members_at(m).aggregate(n=ibis._.count()).mutate(month=ibis.literal(m, type="date"))
        for m in firsts
    ]
    rows = reduce(lambda a, b: a.union(b, distinct=False), counts).to_pyarrow().to_pylist()
    by_month = {r["month"]: int(r["n"]) for r in rows}
    return [TrendPoint(month=m, count=by_month.get(m, 0)) for m in firsts]
