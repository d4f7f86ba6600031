"""Analysis use cases: run the overview expressions and shape the results."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from ibis.backends import BaseBackend

from telmark.analysis.overview import (
    REQUIRED_TABLES,
    UNASSIGNED_CITY,
    arpu_fen,
    churn_rate,
    city_month_kpis,
)
from telmark.analysis.schemas import CityKpis, DataStatus, MonthKpis, OverviewRead
from telmark.errors import InvalidInput, WarehouseEmpty

EMPTY_WAREHOUSE_HINT = (
    "The warehouse holds no subscriber data yet: run `telmark data generate --load` "
    "for a synthetic province, or `telmark demo`."
)

_COUNTS = ("subscribers", "opening_subscribers", "port_outs", "revenue_fen", "billed_lines")


def data_status(*, con: BaseBackend) -> DataStatus:
    """Whether the tables the overview reads exist and usage_monthly has any row."""
    present = set(con.list_tables())
    missing = [name for name in REQUIRED_TABLES if name not in present]
    if missing:
        return DataStatus(loaded=False, missing_tables=missing)
    # to_pyarrow, not execute(): the pandas round trip buys nothing for one number.
    has_usage = con.table("usage_monthly").limit(1).count().to_pyarrow().as_py() > 0
    return DataStatus(loaded=has_usage, missing_tables=[])


def province_overview(*, con: BaseBackend, months: int | None = None) -> OverviewRead:
    """Subscribers, revenue, ARPU and port-out churn by city and month, with province totals.

    ``months`` keeps only the latest that many months of ``usage_monthly``.
    Raises WarehouseEmpty when no data has been loaded yet.
    """
    if months is not None and months < 1:
        raise InvalidInput(
            "months must be at least 1",
            details=[{"field": "months", "value": months, "reason": "must be at least 1"}],
        )
    status = data_status(con=con)
    if not status.loaded:
        details: list[dict[str, object]] = [
            {"table": name, "reason": "missing"} for name in status.missing_tables
        ] or [{"table": "usage_monthly", "reason": "no rows"}]
        raise WarehouseEmpty(EMPTY_WAREHOUSE_HINT, details=details)
    rows = city_month_kpis(con, months=months).to_pyarrow().to_pylist()
    return overview_from_rows(rows)


def overview_from_rows(rows: Iterable[Mapping[str, Any]]) -> OverviewRead:
    """Shape ``city_month_kpis`` rows (ordered by city, month) into the overview schema."""
    by_city: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    totals: dict[date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_COUNTS, 0))
    for row in rows:
        by_city[row["city_id"]].append(row)
        month_totals = totals[row["month"]]
        for name in _COUNTS:
            month_totals[name] += int(row[name])
    months = sorted(totals)
    cities = [
        CityKpis(
            city_id=city_id,
            name=city_rows[0]["city_name"] or city_id,
            name_en=city_rows[0]["city_name_en"],
            months=[_month_kpis(r["month"], r) for r in city_rows],
        )
        for city_id, city_rows in by_city.items()
        if city_id != UNASSIGNED_CITY
    ]
    return OverviewRead(
        months=months,
        province=[_month_kpis(month, totals[month]) for month in months],
        cities=sorted(cities, key=lambda c: c.city_id),
    )


def _month_kpis(month: date, counts: Mapping[str, Any]) -> MonthKpis:
    revenue, lines = int(counts["revenue_fen"]), int(counts["billed_lines"])
    ports, opening = int(counts["port_outs"]), int(counts["opening_subscribers"])
    return MonthKpis(
        month=month,
        subscribers=int(counts["subscribers"]),
        opening_subscribers=opening,
        port_outs=ports,
        churn_rate=churn_rate(ports, opening),
        revenue_fen=revenue,
        billed_lines=lines,
        arpu_fen=arpu_fen(revenue, lines),
    )
