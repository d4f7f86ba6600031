"""Province overview KPIs against hand arithmetic and an independent row-by-row computation."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from ibis.backends import BaseBackend

from telmark.analysis.overview import (
    UNASSIGNED_CITY,
    arpu_fen,
    churn_rate,
    city_month_kpis,
    relative_change,
)
from telmark.analysis.schemas import OverviewRead
from telmark.analysis.service import data_status, province_overview
from telmark.errors import InvalidInput, WarehouseEmpty
from telmark.warehouse.connection import connect
from tests._factories.warehouse import (
    FactoryWarehouse,
    build_empty_warehouse,
    build_tiny_warehouse,
    sample_tables,
    write_warehouse,
)

JAN, FEB, MAR = date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)


@pytest.fixture
def tiny(tmp_path: Path) -> FactoryWarehouse:
    return build_tiny_warehouse(tmp_path)


@pytest.fixture
def tiny_con(tiny: FactoryWarehouse) -> Iterator[BaseBackend]:
    con = connect(tiny.url)
    yield con
    con.disconnect()


def _kpi_rows(con: BaseBackend, months: int | None = None) -> dict[tuple[str, date], Any]:
    rows = city_month_kpis(con, months=months).to_pyarrow().to_pylist()
    return {(r["city_id"], r["month"]): r for r in rows}


# --- hand arithmetic on the tiny warehouse (see tests/_factories/warehouse.py) --------


def test_subscribers_at_month_end_follow_join_and_exit_dates(tiny_con: BaseBackend) -> None:
    rows = _kpi_rows(tiny_con)
    # Nanjing, end of January: lines 1, 2 (joined 20 Jan), 3 (ports in Feb), 5 (suspended
    # lines stay in the base); 4 ended on 31 Jan, 7 ported on 5 Jan, 6 joins in April.
    assert rows["C1", JAN]["subscribers"] == 4
    # End of December (opening of January): 1, 3, 4, 5, 7 — line 2 had not joined.
    assert rows["C1", JAN]["opening_subscribers"] == 5
    assert rows["C1", FEB]["subscribers"] == 3  # line 3 ported out on 14 Feb
    assert rows["C1", FEB]["opening_subscribers"] == 4  # = January's month-end base
    # Suzhou: line 10 joins on 29 Feb; line 9 ports on 31 Mar, the month's last day;
    # line 11 ported out in December, before the window, and is never counted.
    assert [rows["C2", m]["subscribers"] for m in (JAN, FEB, MAR)] == [2, 3, 2]
    assert [rows["C2", m]["opening_subscribers"] for m in (JAN, FEB, MAR)] == [2, 2, 3]


def test_port_outs_counted_in_the_month_of_the_port_out_date(tiny_con: BaseBackend) -> None:
    rows = _kpi_rows(tiny_con)
    assert [rows["C1", m]["port_outs"] for m in (JAN, FEB, MAR)] == [1, 1, 0]
    assert [rows["C2", m]["port_outs"] for m in (JAN, FEB, MAR)] == [0, 0, 1]


def test_revenue_and_billed_lines_per_city_month(tiny_con: BaseBackend) -> None:
    rows = _kpi_rows(tiny_con)
    assert rows["C1", JAN]["revenue_fen"] == 5000 + 1500 + 8000 + 2000 + 3900 + 700
    assert rows["C1", JAN]["billed_lines"] == 6
    assert rows["C2", JAN]["revenue_fen"] == 12000 + 6001
    assert rows["C1", MAR]["revenue_fen"] == 4800 + 3001 + 0  # a zero-revenue row still counts
    assert rows["C1", MAR]["billed_lines"] == 3


def test_line_homed_under_no_city_is_kept_apart(tiny_con: BaseBackend) -> None:
    rows = _kpi_rows(tiny_con)
    assert rows[UNASSIGNED_CITY, JAN]["subscribers"] == 1
    assert rows[UNASSIGNED_CITY, JAN]["revenue_fen"] == 9999
    assert {city for city, _ in rows} == {"C1", "C2", UNASSIGNED_CITY}
    assert rows["C1", JAN]["city_name"] == "南京"
    assert rows["C2", JAN]["city_name_en"] == "Suzhou"


def test_service_ratios_and_province_totals(tiny_con: BaseBackend) -> None:
    overview = province_overview(con=tiny_con)
    assert overview.months == [JAN, FEB, MAR]
    assert [c.city_id for c in overview.cities] == ["C1", "C2"]  # the sentinel is no city
    nanjing = {m.month: m for m in overview.cities[0].months}
    assert nanjing[JAN].churn_rate == pytest.approx(1 / 5)
    assert nanjing[FEB].churn_rate == pytest.approx(1 / 4)
    assert nanjing[JAN].arpu_fen == 3517  # 21100 / 6 = 3516.67
    suzhou = {m.month: m for m in overview.cities[1].months}
    assert suzhou[JAN].arpu_fen == 9001  # 18001 / 2 = 9000.5, half up
    assert suzhou[MAR].churn_rate == pytest.approx(1 / 3)
    january = overview.province[0]
    # Province = both cities + the key-account line: 4 + 2 + 1 lines; revenue likewise.
    assert january.subscribers == 7
    assert january.revenue_fen == 21100 + 18001 + 9999
    assert january.billed_lines == 9
    assert january.arpu_fen == 5456  # 49100 / 9 = 5455.56, not an average of city ARPUs
    assert january.churn_rate == pytest.approx(1 / (5 + 2 + 1))


def test_months_keeps_the_latest_and_their_opening_base(tiny_con: BaseBackend) -> None:
    full = province_overview(con=tiny_con)
    latest_two = province_overview(con=tiny_con, months=2)
    assert latest_two.months == [FEB, MAR]
    assert latest_two.province == full.province[1:]
    assert latest_two.cities[0].months == full.cities[0].months[1:]
    assert province_overview(con=tiny_con, months=99).months == [JAN, FEB, MAR]


def test_months_below_one_is_invalid(tiny_con: BaseBackend) -> None:
    with pytest.raises(InvalidInput) as raised:
        province_overview(con=tiny_con, months=0)
    assert raised.value.details[0]["field"] == "months"


def test_empty_warehouse_is_reported_with_the_missing_tables(tmp_path: Path) -> None:
    con = connect(build_empty_warehouse(tmp_path).url)
    try:
        assert data_status(con=con).missing_tables == [
            "org_units",
            "org_closure",
            "subscribers",
            "usage_monthly",
        ]
        with pytest.raises(WarehouseEmpty) as raised:
            province_overview(con=con)
    finally:
        con.disconnect()
    assert "telmark data generate --load" in raised.value.message
    assert {"table": "usage_monthly", "reason": "missing"} in raised.value.details


def test_tables_without_usage_rows_are_not_loaded(tmp_path: Path) -> None:
    tables = sample_tables(subscribers=20, months=2)
    usage = tables["usage_monthly"]
    tables["usage_monthly"] = usage.slice(0, 0)
    con = connect(write_warehouse(tmp_path / "w.duckdb", tables).url)
    try:
        assert not data_status(con=con).loaded
        with pytest.raises(WarehouseEmpty) as raised:
            province_overview(con=con)
    finally:
        con.disconnect()
    assert raised.value.details == [{"table": "usage_monthly", "reason": "no rows"}]


# --- an independent computation: every subscriber, every month, no flows -------------


def _month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _in_base(sub: dict[str, Any], day: date) -> bool:
    gone = sub["status"] in ("ported_out", "terminated") and sub["status_date"] <= day
    return bool(sub["join_date"] <= day and not gone)


def _expected(tables: dict[str, pa.Table], months: int | None = None) -> dict[Any, Any]:
    units = tables["org_units"].to_pylist()
    parent = {u["org_id"]: u["parent_id"] for u in units}
    kind = {u["org_id"]: u["kind"] for u in units}

    def city_of(org_id: str | None) -> str:
        while org_id is not None and kind[org_id] != "city":
            org_id = parent[org_id]
        return UNASSIGNED_CITY if org_id is None else org_id

    subs = tables["subscribers"].to_pylist()
    city = {s["subscriber_id"]: city_of(s["org_id"]) for s in subs}
    usage = tables["usage_monthly"].to_pylist()
    report = sorted({u["month"] for u in usage})[-months if months else None :]
    expected: dict[Any, Any] = {}
    for c in sorted(set(city.values())):
        members = [s for s in subs if city[s["subscriber_id"]] == c]
        for m in report:
            end = _month_end(m)
            billed = [
                u["arpu_fen"] for u in usage if u["month"] == m and city[u["subscriber_id"]] == c
            ]
            expected[c, m] = {
                "subscribers": sum(_in_base(s, end) for s in members),
                "opening_subscribers": sum(_in_base(s, m - timedelta(days=1)) for s in members),
                "port_outs": sum(
                    1 for s in members if s["port_out_date"] and m <= s["port_out_date"] <= end
                ),
                "revenue_fen": sum(billed),
                "billed_lines": len(billed),
            }
    return expected


def _actual(con: BaseBackend, months: int | None = None) -> dict[Any, Any]:
    names = ("subscribers", "opening_subscribers", "port_outs", "revenue_fen", "billed_lines")
    return {key: {n: row[n] for n in names} for key, row in _kpi_rows(con, months).items()}


@pytest.mark.parametrize("months", [None, 1, 4])
def test_kpis_equal_an_independent_computation(tmp_path: Path, months: int | None) -> None:
    tables = sample_tables(subscribers=1_500, months=7, seed=11)
    con = connect(write_warehouse(tmp_path / "w.duckdb", tables).url)
    try:
        actual = _actual(con, months)
        overview = province_overview(con=con, months=months)
    finally:
        con.disconnect()
    expected = _expected(tables, months)
    assert actual == expected
    # Churn happened, and in more than one city: the comparison is not vacuous.
    assert sum(v["port_outs"] for v in expected.values()) > 10
    assert len({c for (c, _), v in expected.items() if v["port_outs"]}) > 3
    _check_province_totals(overview, expected)


def _check_province_totals(overview: OverviewRead, expected: dict[Any, Any]) -> None:
    for kpis in overview.province:
        cells = [v for (_, m), v in expected.items() if m == kpis.month]
        revenue = sum(v["revenue_fen"] for v in cells)
        lines = sum(v["billed_lines"] for v in cells)
        opening = sum(v["opening_subscribers"] for v in cells)
        assert kpis.subscribers == sum(v["subscribers"] for v in cells)
        assert kpis.revenue_fen == revenue
        assert kpis.arpu_fen == round(revenue / lines)  # no .5 ties at this size
        assert kpis.churn_rate == pytest.approx(sum(v["port_outs"] for v in cells) / opening)


def test_tiny_warehouse_equals_the_independent_computation(
    tiny: FactoryWarehouse, tiny_con: BaseBackend
) -> None:
    assert _actual(tiny_con) == _expected(tiny.tables)
    assert _actual(tiny_con, 2) == _expected(tiny.tables, 2)


# --- the ratio helpers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("revenue", "lines", "expected"),
    [(10, 4, 3), (9, 4, 2), (5, 2, 3), (0, 3, 0), (100, 0, None), (18001, 2, 9001)],
)
def test_arpu_is_whole_fen_rounded_half_up(revenue: int, lines: int, expected: int | None) -> None:
    assert arpu_fen(revenue, lines) == expected


def test_churn_rate_and_relative_change_are_undefined_without_a_base() -> None:
    assert churn_rate(3, 0) is None
    assert churn_rate(3, 200) == pytest.approx(0.015)
    assert relative_change(110, 100) == pytest.approx(0.1)
    assert relative_change(5, 0) is None
    assert relative_change(None, 3) is None
