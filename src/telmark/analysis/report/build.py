"""Assemble the monthly operating-analysis report of one city from the services that own the data.

- KPIs, MoM/YoY and the worst districts come from the KPI cube service
  (``telmark.analysis.kpi.service``), read through the caller's scoped
  warehouse, so the report's figures are the cube's.
- The city's **rank among the province's cities** needs every city's
  figures, which a city user's scope does not hold; it is read through the
  unscoped backend (``ranking_con``) and only the city's own rank and the
  number of cities ranked leave this module, never another city's figures.
- Segments at risk are grouped from ``churn_scores`` (the latest model
  version in it) × the lines' plan family, payment type and tenure band at
  the month's end, ranked by expected revenue at risk = Σ churn probability
  × the line's ARPU in the report month (lines not billed that month count
  zero revenue).
- Market inputs come from ``telmark.market.service``.

A missing cube or score table leaves its section empty with the command
that builds it; no figure is estimated in its place.
"""

from __future__ import annotations

import calendar
from datetime import date

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend
from sqlalchemy import select

from telmark.analysis.churn.service import SCORES_TABLE
from telmark.analysis.kpi import service as kpi_service
from telmark.analysis.kpi.domain import KPIS, kpi_value
from telmark.analysis.kpi.schemas import KpiUnitMonthRead
from telmark.analysis.report.rules import LONGEST_BAND, TENURE_BANDS, WORST_DISTRICTS, risks
from telmark.analysis.report.schemas import (
    DistrictChurn,
    KpiLine,
    KpiSection,
    MarketSection,
    Missing,
    ReportRead,
    Segment,
    SegmentSection,
)
from telmark.db import utcnow
from telmark.errors import NotFound, WarehouseEmpty
from telmark.market import service as market_service
from telmark.org.domain import OrgKind
from telmark.org.models import OrgUnit
from telmark.org.scope import visible
from telmark.uow import UnitOfWork
from telmark.warehouse.derived import descendants

TOP_SEGMENTS = 10
KPI_COMMAND = "telmark analysis kpi refresh"
SCORES_COMMAND = "telmark analysis churn train && telmark analysis churn score"


def month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def report_city(*, uow: UnitOfWork, code: str | None) -> OrgUnit:
    """The city to report on: ``code`` if within the actor's scope, else the actor's own city.

    A province user without ``code`` gets the first city; a user below city
    level has no city of their own to report on (NotFound).
    """
    stmt = select(OrgUnit).where(OrgUnit.kind == OrgKind.CITY, visible(uow, OrgUnit.path))
    if code is not None:
        unit = uow.session.scalar(stmt.where(OrgUnit.code == code))
        if unit is None:
            raise NotFound(f"city {code} not found")
        return unit
    unit = uow.session.scalar(stmt.order_by(OrgUnit.code).limit(1))
    if unit is None:
        raise NotFound("no city lies within your org unit; a report covers a whole city")
    return unit


def _kpi_lines(viewed: KpiUnitMonthRead, ranked: KpiUnitMonthRead) -> list[KpiLine]:
    yoy = viewed.point.yoy or {}
    return [
        KpiLine(
            key=key,
            label=kpi.label,
            value=kpi_value(viewed.point, key),
            format=kpi.format,
            change_kind=kpi.change,
            higher_is_better=kpi.higher_is_better,
            mom=viewed.point.mom.get(key),
            yoy=yoy.get(key),
            rank=ranked.ranks.get(key),
        )
        for key, kpi in KPIS.items()
    ]


def _districts(con: BaseBackend, city: str, month: date) -> list[DistrictChurn]:
    units = con.table("org_units")
    first = (
        units.filter(units.parent_id == city, units.kind == OrgKind.DISTRICT.value)
        .select("org_id")
        .order_by("org_id")
        .limit(1)
        .to_pyarrow()
        .column(0)
        .to_pylist()
    )
    if not first:
        return []
    peers = kpi_service.unit_month(con=con, unit=first[0], month=month).peers
    rows = [
        DistrictChurn(
            org_id=p.unit.org_id,
            name=p.unit.name,
            name_en=p.unit.name_en,
            subscribers=p.point.counts.subscribers,
            port_outs=p.point.counts.port_outs,
            churn_rate=p.point.ratios.churn_rate,
        )
        for p in peers
        if p.point.ratios.churn_rate is not None
    ]
    rows.sort(key=lambda d: (-(d.churn_rate or 0.0), d.org_id))
    return rows[:WORST_DISTRICTS]


def _tenure_band(join_date: ir.DateValue, end: date) -> ir.StringValue:
    months = (ibis.literal(end.year) - join_date.year()) * 12 + (
        ibis.literal(end.month) - join_date.month()
    )
    cases = [(months < limit, label) for limit, label in TENURE_BANDS]
    return ibis.cases(*cases, else_=LONGEST_BAND)


def segments_expr(con: BaseBackend, *, city: str, month: date, version: int) -> ir.Table:
    """Scored lines of ``city`` grouped by plan family × payment type × tenure band."""
    scores = con.table(SCORES_TABLE)
    scores = scores.filter(scores.model_version == version).select(
        "subscriber_id", "churn_probability", "risk_band"
    )
    subscribers = con.table("subscribers")
    units = descendants(con, city)
    # isin rather than a semi-join: a scoped warehouse has already semi-joined
    # subscribers with the same closure table, and a second join on it is ambiguous.
    lines = subscribers.filter(subscribers.org_id.isin(units.org_id)).select(
        "subscriber_id", "plan_id", "payment_type", "join_date"
    )
    products = con.table("products").select(product_id="product_id", plan_family="family")
    usage = con.table("usage_monthly")
    billed = usage.filter(usage.month == ibis.date(month)).select(
        usage_id="subscriber_id", arpu_fen="arpu_fen"
    )
    joined = scores.join(lines, "subscriber_id")
    joined = joined.left_join(products, joined.plan_id == products.product_id)
    joined = joined.left_join(billed, joined.subscriber_id == billed.usage_id)
    probability = joined.churn_probability
    arpu = joined.arpu_fen.fill_null(0)
    shaped = joined.select(
        plan_family=joined.plan_family.fill_null("unknown"),
        payment_type=joined.payment_type,
        tenure_band=_tenure_band(joined.join_date, month_end(month)),
        probability=probability,
        high=(joined.risk_band == "high").cast("int64"),
        at_risk=probability * arpu,
    )
    return (
        shaped.group_by("plan_family", "payment_type", "tenure_band")
        .aggregate(
            lines=shaped.count(),
            high_risk_lines=shaped.high.sum(),
            expected_churners=shaped.probability.sum(),
            revenue_at_risk=shaped.at_risk.sum(),
            mean_probability=shaped.probability.mean(),
        )
        .order_by([ibis.desc("revenue_at_risk"), "plan_family", "payment_type", "tenure_band"])
    )


def segments_at_risk(
    con: BaseBackend, *, city: str, month: date, top: int = TOP_SEGMENTS
) -> SegmentSection | Missing:
    """The top segments of ``city`` by revenue at risk, or what is missing to build them."""
    present = set(con.list_tables())
    if SCORES_TABLE not in present:
        return Missing(
            what=SCORES_TABLE,
            message="No churn scores yet: train a churn model and score the base.",
            command=SCORES_COMMAND,
        )
    scores = con.table(SCORES_TABLE)
    head = (
        scores.aggregate(
            version=scores.model_version.max(),
            feature_month=scores.feature_month.max(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    if head["version"] is None:
        return Missing(
            what=SCORES_TABLE,
            message="The churn score table is empty in your scope.",
            command=SCORES_COMMAND,
        )
    rows = segments_expr(con, city=city, month=month, version=int(head["version"]))
    records = rows.to_pyarrow().to_pylist()
    segments = [
        Segment(
            plan_family=r["plan_family"],
            payment_type=r["payment_type"],
            tenure_band=r["tenure_band"],
            lines=int(r["lines"]),
            high_risk_lines=int(r["high_risk_lines"]),
            expected_churners=round(float(r["expected_churners"]), 3),
            revenue_at_risk_fen=round(float(r["revenue_at_risk"])),
            mean_probability=round(float(r["mean_probability"]), 4),
        )
        for r in records
    ]
    return SegmentSection(
        model_version=int(head["version"]),
        feature_month=head["feature_month"],
        scored_lines=sum(s.lines for s in segments),
        segments=segments[:top],
    )


def _fallback_month(con: BaseBackend) -> date:
    # Without the cube, the report month defaults to the latest month of usage data.
    if "usage_monthly" in con.list_tables():
        latest = con.table("usage_monthly").month.max().to_pyarrow().as_py()
        if isinstance(latest, date):
            return latest
    today = utcnow().date()
    return date(today.year, today.month, 1)


def build_report(
    *,
    uow: UnitOfWork,
    con: BaseBackend,
    ranking_con: BaseBackend,
    city: str | None = None,
    month: date | None = None,
) -> ReportRead:
    """The report of ``city`` (default: the caller's) for ``month`` (default: the latest)."""
    unit = report_city(uow=uow, code=city)
    first = month.replace(day=1) if month else None
    kpis: KpiSection | None = None
    kpis_missing: Missing | None = None
    districts: list[DistrictChurn] = []
    own_subscribers: int | None = None
    try:
        months = kpi_service.cube_months(con=con)
        first = first or months[-1]
        viewed = kpi_service.unit_month(con=con, unit=unit.code, month=first)
        ranked = kpi_service.unit_month(con=ranking_con, unit=unit.code, month=first)
        lines = _kpi_lines(viewed, ranked)
        kpis = KpiSection(
            lines=lines, cities_ranked=len(ranked.peers), yoy_available=viewed.point.yoy is not None
        )
        own_subscribers = viewed.point.counts.subscribers
        districts = _districts(con, unit.code, first)
    except WarehouseEmpty as missing:
        kpis_missing = Missing(what="kpi_cube", message=missing.message, command=KPI_COMMAND)
        first = first or _fallback_month(con)
    segments = segments_at_risk(con, city=unit.code, month=first)
    return ReportRead(
        city_code=unit.code,
        city_name=unit.name,
        city_name_en=unit.name_en,
        month=first,
        generated_at=utcnow(),
        kpis=kpis,
        kpis_missing=kpis_missing,
        risks=risks(kpis.lines) if kpis else [],
        worst_districts=districts,
        segments=segments if isinstance(segments, SegmentSection) else None,
        segments_missing=segments if isinstance(segments, Missing) else None,
        market=_market(uow, con, unit.code, first, own_subscribers),
    )


def _market(
    uow: UnitOfWork, con: BaseBackend, city: str, month: date, own: int | None
) -> MarketSection:
    entries = market_service.list_shares(uow=uow, city=city, month_from=month, month_to=month)
    _, series, sizes = market_service.share_series(entries, {} if own is None else {month: own})
    end = month_end(month)
    plans = market_service.own_plans(con=con, as_of=end) if "products" in con.list_tables() else []
    return MarketSection(
        shares=series,
        market_size=sizes.get(month),
        offers=market_service.offers_beside(uow=uow, city=city, plans=plans, as_of=end),
    )
