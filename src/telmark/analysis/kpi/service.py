"""KPI cube use cases: build ``kpi_cube`` and read roll-ups of it for any org unit.

Reads take the caller's (org-scoped) warehouse: ``kpi_cube`` and ``org_units``
come back restricted to the caller's subtree, so a unit outside it is simply
not found.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from ibis.backends import BaseBackend

from telmark.analysis.kpi import domain
from telmark.analysis.kpi.cube import (
    CUBE_TABLE,
    OPTIONAL_TABLES,
    SOURCE_TABLES,
    children_rollup,
    cube,
    filtered_cube,
    unit_rollup,
    usage_months,
)
from telmark.analysis.kpi.schemas import (
    KpiBreakdownRow,
    KpiChildRow,
    KpiCounts,
    KpiFilters,
    KpiPeerRow,
    KpiRead,
    KpiRefreshRead,
    KpiUnit,
    KpiUnitMonthRead,
)
from telmark.analysis.service import EMPTY_WAREHOUSE_HINT
from telmark.errors import InvalidInput, NotFound, WarehouseEmpty
from telmark.warehouse.derived import ORG_CLOSURE

CUBE_MISSING_HINT = (
    "The KPI cube has not been built yet: run `telmark analysis kpi refresh` "
    "(or POST /api/analysis/kpi/refresh) after loading data."
)


# --- build -------------------------------------------------------------------------------


def refresh_cube(*, con: BaseBackend) -> KpiRefreshRead:
    """Rebuild ``kpi_cube`` from the warehouse tables (pass the unscoped backend)."""
    started = time.perf_counter()
    present = set(con.list_tables())
    missing = [name for name in (*SOURCE_TABLES, ORG_CLOSURE) if name not in present]
    if missing:
        raise WarehouseEmpty(
            EMPTY_WAREHOUSE_HINT, details=[{"table": name, "reason": "missing"} for name in missing]
        )
    months = sorted(usage_months(con).to_pyarrow().column("month").to_pylist())
    if not months:
        raise WarehouseEmpty(
            EMPTY_WAREHOUSE_HINT, details=[{"table": "usage_monthly", "reason": "no rows"}]
        )
    absent = [name for name in OPTIONAL_TABLES if name not in present]
    built_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    expr = cube(
        con,
        months=months,
        built_at=built_at,
        households="households" not in absent,
        complaints="complaints" not in absent,
    )
    con.create_table(CUBE_TABLE, expr, overwrite=True)
    rows = con.table(CUBE_TABLE).count().to_pyarrow().as_py()
    return KpiRefreshRead(
        table=CUBE_TABLE,
        rows=int(rows),
        months=months,
        missing_tables=absent,
        built_at=built_at,
        seconds=round(time.perf_counter() - started, 3),
    )


def refresh_after_load(*, con: BaseBackend) -> KpiRefreshRead | None:
    """Rebuild ``kpi_cube`` after a data load; None when the source tables are not all there."""
    try:
        return refresh_cube(con=con)
    except WarehouseEmpty:
        return None


def refresh_note(result: KpiRefreshRead | None) -> str:
    """One line for the CLI after a load: what the automatic cube refresh did."""
    if result is None:
        return "kpi_cube not refreshed: the warehouse lacks the tables it is built from."
    return (
        f"kpi_cube refreshed: {result.rows:,} rows over {len(result.months)} months "
        f"in {result.seconds:.1f} s."
    )


# --- reads -------------------------------------------------------------------------------


def _require_cube(con: BaseBackend) -> None:
    if CUBE_TABLE not in con.list_tables():
        raise WarehouseEmpty(
            CUBE_MISSING_HINT, details=[{"table": CUBE_TABLE, "reason": "missing"}]
        )


def cube_months(*, con: BaseBackend) -> list[date]:
    """Months in ``kpi_cube``, oldest first (WarehouseEmpty when it is missing or empty)."""
    _require_cube(con)
    table = filtered_cube(con)
    months: list[date] = sorted(table.select("month").distinct().to_pyarrow().column(0).to_pylist())
    if not months:
        raise WarehouseEmpty(
            "The KPI cube holds no rows in your scope: load data, then run "
            "`telmark analysis kpi refresh`.",
            details=[{"table": CUBE_TABLE, "reason": "no rows"}],
        )
    return months


def _visible_units(con: BaseBackend) -> dict[str, KpiUnit]:
    rows = con.table("org_units").select("org_id", "parent_id", "kind", "name", "name_en")
    records = rows.to_pyarrow().to_pylist()
    parents = {r["parent_id"] for r in records}
    return {
        r["org_id"]: KpiUnit(
            org_id=r["org_id"],
            kind=r["kind"],
            name=r["name"],
            name_en=r["name_en"],
            parent_id=r["parent_id"],
            has_children=r["org_id"] in parents,
        )
        for r in records
    }


def _top(units: Mapping[str, KpiUnit]) -> KpiUnit:
    tops = sorted(u.org_id for u in units.values() if u.parent_id not in units)
    if not tops:
        raise WarehouseEmpty(
            EMPTY_WAREHOUSE_HINT, details=[{"table": "org_units", "reason": "no rows"}]
        )
    return units[tops[0]]


def _unit(units: Mapping[str, KpiUnit], org_id: str) -> KpiUnit:
    try:
        return units[org_id]
    except KeyError:
        raise NotFound(f"org unit {org_id} not found", details=[{"field": "unit"}]) from None


def _path(units: Mapping[str, KpiUnit], unit: KpiUnit) -> list[KpiUnit]:
    path = [unit]
    while path[-1].parent_id in units:
        path.append(units[str(path[-1].parent_id)])
    return path[::-1]


def _counts_by(rows: Iterable[Mapping[str, Any]], key: str) -> dict[str, dict[date, KpiCounts]]:
    grouped: dict[str, dict[date, KpiCounts]] = defaultdict(dict)
    for row in rows:
        grouped[row[key]][row["month"]] = domain.sum_counts([row])
    return grouped


def _by_month(rows: Iterable[Mapping[str, Any]]) -> dict[date, KpiCounts]:
    return {row["month"]: domain.sum_counts([row]) for row in rows}


def _check_choice(field: str, value: str | None, allowed: list[str]) -> None:
    if value is not None and value not in allowed:
        raise InvalidInput(
            f"{field} must be one of {', '.join(allowed)}",
            details=[{"field": field, "value": value, "reason": "not in the cube"}],
        )


def _distinct(con: BaseBackend, column: str) -> list[str]:
    table = filtered_cube(con)
    return sorted(
        str(v) for v in table.select(column).distinct().to_pyarrow().column(0).to_pylist()
    )


def unit_kpis(
    *,
    con: BaseBackend,
    unit: str | None = None,
    months: int | None = None,
    plan_family: str | None = None,
    payment_type: str | None = None,
) -> KpiRead:
    """A unit's monthly KPIs with MoM/YoY, its children and breakdowns in the latest month.

    ``unit`` None is the top unit of the caller's scope; ``months`` keeps the
    latest N months. Raises NotFound for a unit outside the scope, WarehouseEmpty
    when ``kpi_cube`` has not been built, InvalidInput for unknown filters.
    """
    if months is not None and months < 1:
        raise InvalidInput(
            "months must be at least 1",
            details=[{"field": "months", "value": months, "reason": "must be at least 1"}],
        )
    all_months = cube_months(con=con)
    families, payments = _distinct(con, "plan_family"), _distinct(con, "payment_type")
    _check_choice("plan_family", plan_family, families)
    _check_choice("payment_type", payment_type, payments)
    units = _visible_units(con)
    viewed = _top(units) if unit is None else _unit(units, unit)
    table = filtered_cube(con, plan_family=plan_family, payment_type=payment_type)
    report = all_months[-months:] if months is not None else all_months
    latest = report[-1]

    series = domain.series(
        _by_month(_rows(unit_rollup(con, viewed.org_id, cube_table=table))), report
    )
    child_rows = _counts_by(_rows(children_rollup(con, viewed.org_id, cube_table=table)), "unit_id")
    children = [
        KpiChildRow(unit=child, point=domain.series(child_rows.get(child.org_id, {}), [latest])[0])
        for child in sorted(units.values(), key=lambda u: u.org_id)
        if child.parent_id == viewed.org_id
    ]

    def breakdown(column: str) -> list[KpiBreakdownRow]:
        grouped = _counts_by(
            _rows(unit_rollup(con, viewed.org_id, by=column, cube_table=table)), column
        )
        return [
            KpiBreakdownRow(key=key, point=domain.series(by_month, [latest])[0])
            for key, by_month in sorted(grouped.items())
        ]

    return KpiRead(
        unit=viewed,
        path=_path(units, viewed),
        filters=KpiFilters(months=months, plan_family=plan_family, payment_type=payment_type),
        months=report,
        series=series,
        children=children,
        by_plan_family=breakdown("plan_family"),
        by_payment_type=breakdown("payment_type"),
        plan_families=families,
        payment_types=payments,
        yoy_available=domain.add_months(latest, -12) in all_months,
        built_at=_built_at(con),
    )


def unit_month(
    *, con: BaseBackend, unit: str | None = None, month: date | None = None
) -> KpiUnitMonthRead:
    """One unit's KPIs in one month (None = latest) with MoM/YoY and its rank among siblings.

    ``unit`` None is the top unit of the caller's scope.
    Peers are the units of the same kind with the same parent visible in the caller's
    scope (for a city: the province's cities, or only itself for a city-scoped caller).
    """
    all_months = cube_months(con=con)
    if month is None:
        month = all_months[-1]
    if month not in all_months:
        raise InvalidInput(
            f"month {month:%Y-%m} is not in the KPI cube",
            details=[{"field": "month", "value": month.isoformat(), "reason": "not in the cube"}],
        )
    units = _visible_units(con)
    viewed = _top(units) if unit is None else _unit(units, unit)
    peers = [u for u in units.values() if u.parent_id == viewed.parent_id and u.kind == viewed.kind]
    # The closure is province-wide but the cube is scoped: siblings outside the scope
    # have no rows and are not among ``peers``.
    if viewed.parent_id is None:
        by_unit = {viewed.org_id: _by_month(_rows(unit_rollup(con, viewed.org_id)))}
    else:
        by_unit = _counts_by(_rows(children_rollup(con, str(viewed.parent_id))), "unit_id")
    points = {u.org_id: domain.series(by_unit.get(u.org_id, {}), [month])[0] for u in peers}
    ranks = domain.ranks(points)
    rows = sorted(
        (KpiPeerRow(unit=u, point=points[u.org_id], ranks=ranks[u.org_id]) for u in peers),
        key=lambda r: (-r.point.counts.subscribers, r.unit.org_id),
    )
    return KpiUnitMonthRead(
        unit=viewed,
        month=month,
        point=points[viewed.org_id],
        ranks=ranks[viewed.org_id],
        peers=rows,
    )


def _rows(expr: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return rows


def _built_at(con: BaseBackend) -> datetime | None:
    value = filtered_cube(con).built_at.max().to_pyarrow().as_py()
    return value if isinstance(value, datetime) else None
