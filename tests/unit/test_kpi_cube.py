"""KPI cube numbers against hand-worked figures and independent pandas computations.

The tiny warehouse (tests._factories.warehouse) gets a 4G plan, a bundle
household and complaints here, so every measure has a hand-checkable value.
The generated province (13 months, so YoY exists) is checked city by city
against pandas over the raw tables, written from the definitions in
docs/user-guide.md "KPI cube" without the flows trick.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from ibis.backends import BaseBackend

from telmark.analysis.kpi import service
from telmark.analysis.kpi.cube import CUBE_TABLE
from telmark.analysis.service import province_overview
from telmark.errors import InvalidInput, NotFound, WarehouseEmpty
from telmark.warehouse.connection import connect
from telmark.warehouse.generator import generate_province
from telmark.warehouse.importer import load_directory
from telmark.warehouse.scope import scoped
from tests._factories.warehouse import (
    FactoryWarehouse,
    contract_table,
    tiny_tables,
    write_warehouse,
)

JAN, FEB, MAR = date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)

PLAN_4G = {
    "product_id": "PL4G58",
    "name": "4G58元套餐",
    "kind": "plan",
    "family": "4g_plan",
    "payment_type": "any",
    "monthly_fee_fen": 5_800,
    "data_mb": 10_240,
    "voice_min": 200,
    "is_5g": False,
    "launch_date": date(2016, 1, 1),
}


def _household(household_id: str, bundle_id: str | None) -> dict[str, object]:
    return {
        "household_id": household_id,
        "grid_id": "C1D1G1",
        "bundle_id": bundle_id,
        "has_broadband": True,
        "has_iptv": False,
        "broadband_mbps": 300,
        "created_date": date(2020, 1, 1),
    }


def _complaint(complaint_id: int, subscriber_id: int, at: datetime) -> dict[str, object]:
    return {
        "complaint_id": complaint_id,
        "subscriber_id": subscriber_id,
        "created_at": at,
        "category": "network",
        "severity": 1,
        "resolved_at": None,
        "org_id": "C1D1O1",
    }


def kpi_tiny_tables() -> dict[str, pa.Table]:
    """The tiny warehouse plus: line 12 on a 4G plan, line 1 in a bundle household,
    line 8 in a household without bundle, and three complaints (one before January)."""
    tables = tiny_tables()
    products = tables["products"].to_pylist() + [PLAN_4G]
    subscribers = tables["subscribers"].to_pylist()
    for row in subscribers:
        if row["subscriber_id"] == 12:
            row["plan_id"] = "PL4G58"
        if row["subscriber_id"] == 1:
            row["household_id"] = "H1"
        if row["subscriber_id"] == 8:
            row["household_id"] = "H2"
    tables["products"] = contract_table("products", products)
    tables["subscribers"] = contract_table("subscribers", subscribers)
    tables["households"] = contract_table(
        "households", [_household("H1", "PL5G128"), _household("H2", None)]
    )
    tables["complaints"] = contract_table(
        "complaints",
        [
            _complaint(1, 2, datetime(2024, 2, 10, 9, 0, tzinfo=UTC)),
            _complaint(2, 9, datetime(2024, 3, 31, 23, 0, tzinfo=UTC)),
            _complaint(3, 1, datetime(2023, 12, 1, 8, 0, tzinfo=UTC)),
        ],
    )
    return tables


def build_kpi_tiny(directory: Path, *, refresh: bool = True) -> FactoryWarehouse:
    """The KPI tiny warehouse, with ``kpi_cube`` built unless ``refresh`` is False."""
    warehouse = write_warehouse(directory / "warehouse.duckdb", kpi_tiny_tables())
    if refresh:
        con = connect(warehouse.url)
        try:
            service.refresh_cube(con=con)
        finally:
            con.disconnect()
    return warehouse


@pytest.fixture
def tiny(tmp_path: Path) -> Iterator[BaseBackend]:
    con = connect(build_kpi_tiny(tmp_path).url)
    yield con
    con.disconnect()


# --- the tiny warehouse, by hand --------------------------------------------------------


def test_tiny_province_counts_by_hand(tiny: BaseBackend) -> None:
    read = service.unit_kpis(con=tiny)
    assert read.unit.org_id == "P"
    assert read.months == [JAN, FEB, MAR]
    jan, feb, mar = read.series
    # January: base 8 at Dec 31 (1,3,4,5,7,8,9,12); #2 joins; #7 ports out, #4 terminates.
    assert (jan.counts.opening_subscribers, jan.counts.subscribers) == (8, 7)
    assert (jan.counts.gross_adds, jan.counts.port_outs, jan.counts.terminations) == (1, 1, 1)
    assert jan.ratios.churn_rate == pytest.approx(1 / 8)
    assert jan.ratios.net_adds == -1
    # February: #3 ports out, #10 joins on the 29th.
    assert (feb.counts.subscribers, feb.counts.gross_adds, feb.counts.port_outs) == (7, 1, 1)
    # March: #9 ports out on the 31st (still counted in March).
    assert (mar.counts.opening_subscribers, mar.counts.subscribers) == (7, 6)
    assert mar.counts.port_outs == 1
    # 5G: every line but #12 (4G plan) — Jan-end base 7, so 6 on 5G.
    assert jan.counts.lines_5g == 6
    assert jan.ratios.penetration_5g == pytest.approx(6 / 7)
    # Bundle: only #1 (H2 has no bundle).
    assert [p.counts.bundle_lines for p in read.series] == [1, 1, 1]
    # Complaints by month lodged; the December one is outside the cube.
    assert [p.counts.complaints for p in read.series] == [0, 1, 1]
    # Usage: January has 9 billed lines (1-5, 7-9, 12), each 10,000 MB and 300 min.
    assert jan.counts.billed_lines == 9
    assert jan.ratios.dou_mb == pytest.approx(10_000)
    assert jan.ratios.mou_min == pytest.approx(300)
    assert jan.ratios.complaint_rate == 0
    # MoM exists from February; no YoY (no 2023 months in the cube).
    assert jan.mom["subscribers"] is None
    assert feb.mom["subscribers"] == pytest.approx(0.0)
    assert feb.mom["churn_rate"] == pytest.approx(1 / 7 - 1 / 8)
    assert all(p.yoy is None for p in read.series)
    assert read.yoy_available is False


def test_tiny_city_and_drill_down(tiny: BaseBackend) -> None:
    read = service.unit_kpis(con=tiny)
    assert [c.unit.org_id for c in read.children] == ["C1", "C2", "KAC"]
    nanjing = service.unit_kpis(con=tiny, unit="C1")
    jan = nanjing.series[0]
    assert (jan.counts.opening_subscribers, jan.counts.subscribers) == (5, 4)
    # (5000 + 1500 + 8000 + 2000 + 3900 + 700) / 6 = 3516.67 -> 3517 fen
    assert jan.ratios.arpu_fen == 3517
    assert [u.org_id for u in nanjing.path] == ["P", "C1"]
    assert [c.unit.org_id for c in nanjing.children] == ["C1D1"]
    district = service.unit_kpis(con=tiny, unit="C1D1")
    outlets = {c.unit.org_id: c.point.counts.subscribers for c in district.children}
    assert outlets == {"C1D1G1": 1, "C1D1O1": 2}  # March: #5 (grid); #1, #2 (outlet)
    suzhou = service.unit_kpis(con=tiny, unit="C2")
    assert suzhou.latest.ratios.complaint_rate == pytest.approx(1000 / 3)


def test_tiny_breakdowns_and_filters(tiny: BaseBackend) -> None:
    read = service.unit_kpis(con=tiny)
    families = {b.key: b.point.counts.subscribers for b in read.by_plan_family}
    assert families == {"4g_plan": 1, "5g_plan": 5}
    payments = {b.key: b.point.counts.subscribers for b in read.by_payment_type}
    # prepaid = ids divisible by 3: of the March base (1,2,5,8,10,12) that is 12
    assert payments == {"postpaid": 5, "prepaid": 1}
    only_4g = service.unit_kpis(con=tiny, plan_family="4g_plan")
    assert [p.counts.subscribers for p in only_4g.series] == [1, 1, 1]
    assert only_4g.latest.ratios.arpu_fen == 9999
    with pytest.raises(InvalidInput, match="plan_family"):
        service.unit_kpis(con=tiny, plan_family="3g_plan")
    with pytest.raises(InvalidInput, match="payment_type"):
        service.unit_kpis(con=tiny, payment_type="credit")
    assert service.unit_kpis(con=tiny, months=1).months == [MAR]


def test_unit_month_ranks_siblings_of_the_same_kind(tiny: BaseBackend) -> None:
    read = service.unit_month(con=tiny, unit="C1", month=JAN)
    assert [p.unit.org_id for p in read.peers] == ["C1", "C2"]  # KAC is not a city
    assert read.point.counts.subscribers == 4
    # Churn Jan: C1 1/5 = 20%; C2 0/2 = 0% -> C2 better (lower).
    assert read.ranks["churn_rate"] == 2
    assert read.ranks["subscribers"] == 1
    with pytest.raises(InvalidInput, match="month"):
        service.unit_month(con=tiny, unit="C1", month=date(2023, 1, 1))
    latest = service.unit_month(con=tiny, unit="P")
    assert latest.month == MAR
    assert [p.unit.org_id for p in latest.peers] == ["P"]


def test_scope_hides_other_cities(tiny: BaseBackend) -> None:
    nanjing = scoped(tiny, org_code="C1", org_path="/P/C1/")
    read = service.unit_kpis(con=nanjing)
    assert read.unit.org_id == "C1"
    assert [u.org_id for u in read.path] == ["C1"]
    assert read.series[0].counts.subscribers == 4
    with pytest.raises(NotFound):
        service.unit_kpis(con=nanjing, unit="C2")
    with pytest.raises(NotFound):
        service.unit_kpis(con=nanjing, unit="P")
    month = service.unit_month(con=nanjing, unit="C1")
    assert [p.unit.org_id for p in month.peers] == ["C1"]


def test_missing_cube_says_how_to_build_it(tmp_path: Path) -> None:
    con = connect(build_kpi_tiny(tmp_path, refresh=False).url)
    try:
        with pytest.raises(WarehouseEmpty, match="telmark analysis kpi refresh"):
            service.unit_kpis(con=con)
        assert CUBE_TABLE not in con.list_tables()
        result = service.refresh_cube(con=con)
        assert result.months == [JAN, FEB, MAR]
        assert result.missing_tables == []
        assert result.rows > 0
        assert service.unit_kpis(con=con).built_at == result.built_at
    finally:
        con.disconnect()


def test_refresh_without_optional_tables_reports_them(tmp_path: Path) -> None:
    tables = kpi_tiny_tables()
    del tables["complaints"], tables["households"]
    con = connect(write_warehouse(tmp_path / "w.duckdb", tables).url)
    try:
        result = service.refresh_cube(con=con)
        assert result.missing_tables == ["households", "complaints"]
        latest = service.unit_kpis(con=con).latest
        assert (latest.counts.complaints, latest.counts.bundle_lines) == (0, 0)
        assert latest.counts.subscribers == 6
    finally:
        con.disconnect()


def test_refresh_on_an_empty_warehouse_fails_clearly(tmp_path: Path) -> None:
    con = connect(write_warehouse(tmp_path / "w.duckdb", {}).url)
    try:
        with pytest.raises(WarehouseEmpty) as caught:
            service.refresh_cube(con=con)
        assert {"table": "subscribers", "reason": "missing"} in caught.value.details
    finally:
        con.disconnect()


# --- a generated province, against pandas ------------------------------------------------


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaseBackend]:
    root = tmp_path_factory.mktemp("kpi_province")
    generate_province(
        out_dir=root / "p", subscribers=2_500, months=13, seed=5, end_month=date(2026, 6, 1)
    )
    con = connect("duckdb://" + str(root / "w.duckdb"))
    load_directory(con=con, directory=root / "p")
    service.refresh_cube(con=con)
    yield con
    con.disconnect()


def _frame(con: BaseBackend, name: str) -> pd.DataFrame:
    frame: pd.DataFrame = con.table(name).to_pyarrow().to_pandas()
    return frame


def _month_end(month: date) -> pd.Timestamp:
    return pd.Timestamp(month) + pd.offsets.MonthEnd(0)


def _independent(con: BaseBackend) -> dict[tuple[str, date], dict[str, int]]:
    """Counts per (city, month) straight from the raw tables (lines homed under no city skipped)."""
    units = _frame(con, "org_units").set_index("org_id")
    city_of: dict[str, str | None] = {}
    for org_id in units.index:
        node: str | None = org_id
        while node is not None and units.loc[node, "kind"] != "city":
            parent = units.loc[node, "parent_id"]
            node = parent if isinstance(parent, str) else None
        city_of[org_id] = node
    subs = _frame(con, "subscribers")
    subs["city"] = subs["org_id"].map(city_of)
    products = _frame(con, "products").set_index("product_id")
    subs["is_5g"] = subs["plan_id"].map(products["is_5g"]).fillna(False).astype(bool)
    households = _frame(con, "households").set_index("household_id")
    subs["bundle"] = subs["household_id"].map(households["bundle_id"]).notna()
    for column in ("join_date", "status_date", "port_out_date"):
        subs[column] = pd.to_datetime(subs[column])
    exited = subs["status"].isin(["ported_out", "terminated"])
    usage = _frame(con, "usage_monthly").merge(subs[["subscriber_id", "city"]], on="subscriber_id")
    complaints = _frame(con, "complaints").merge(
        subs[["subscriber_id", "city"]], on="subscriber_id"
    )
    complaints["month"] = complaints["created_at"].dt.tz_localize(None).dt.to_period("M")
    result: dict[tuple[str, date], dict[str, int]] = {}
    for month in sorted(set(usage["month"])):
        start, end = pd.Timestamp(month), _month_end(month)
        in_base_end = (subs["join_date"] <= end) & ~(exited & (subs["status_date"] <= end))
        in_base_open = (subs["join_date"] < start) & ~(exited & (subs["status_date"] < start))
        in_month = subs["port_out_date"].between(start, end)
        joined = subs["join_date"].between(start, end)
        terminated = (subs["status"] == "terminated") & subs["status_date"].between(start, end)
        month_usage = usage[usage["month"] == month]
        month_complaints = complaints[complaints["month"] == pd.Period(month, "M")]
        for city in sorted({c for c in city_of.values() if c}):
            here = subs["city"] == city
            use = month_usage[month_usage["city"] == city]
            result[(city, month)] = {
                "subscribers": int((here & in_base_end).sum()),
                "opening_subscribers": int((here & in_base_open).sum()),
                "gross_adds": int((here & joined).sum()),
                "port_outs": int((here & in_month).sum()),
                "terminations": int((here & terminated).sum()),
                "revenue_fen": int(use["arpu_fen"].sum()),
                "billed_lines": len(use),
                "data_mb": int(use["data_mb"].sum()),
                "voice_min": int(use["voice_min"].sum()),
                "lines_5g": int((here & in_base_end & subs["is_5g"]).sum()),
                "bundle_lines": int((here & in_base_end & subs["bundle"]).sum()),
                "complaints": int((month_complaints["city"] == city).sum()),
            }
    return result


def test_every_city_month_equals_pandas_over_the_raw_tables(province: BaseBackend) -> None:
    expected = _independent(province)
    cities = sorted({city for city, _ in expected})
    assert len(cities) >= 10
    checked = 0
    for city in cities:
        read = service.unit_kpis(con=province, unit=city)
        assert len(read.series) == 13
        for point in read.series:
            assert point.counts.model_dump() == expected[(city, point.month)], (city, point.month)
            counts = expected[(city, point.month)]
            # the ratios the issue names, from the independent counts
            if counts["opening_subscribers"]:
                rate = counts["port_outs"] / counts["opening_subscribers"]
                assert point.ratios.churn_rate == pytest.approx(rate)
            lines = counts["billed_lines"]
            arpu = (Decimal(counts["revenue_fen"]) / lines).quantize(Decimal(1), ROUND_HALF_UP)
            assert point.ratios.arpu_fen == int(arpu)
            assert point.ratios.penetration_5g == pytest.approx(
                counts["lines_5g"] / counts["subscribers"]
            )
            checked += 1
    assert checked == 13 * len(cities)


def test_year_on_year_uses_the_month_a_year_earlier(province: BaseBackend) -> None:
    read = service.unit_kpis(con=province, months=6)
    assert read.yoy_available is True
    latest = read.latest
    year_ago = service.unit_kpis(con=province).series[0]
    assert year_ago.month == date(2025, 6, 1)
    assert latest.yoy is not None
    assert latest.yoy["subscribers"] == pytest.approx(
        latest.counts.subscribers / year_ago.counts.subscribers - 1
    )
    # only the latest month has a year-earlier month in the cube
    assert [p.yoy is not None for p in read.series] == [False] * 5 + [True]


def test_province_is_the_sum_of_cities_and_breakdowns(province: BaseBackend) -> None:
    read = service.unit_kpis(con=province)
    latest = read.latest.counts
    children = [c.point.counts for c in read.children]
    for name in ("subscribers", "port_outs", "revenue_fen", "complaints", "lines_5g"):
        assert sum(getattr(c, name) for c in children) == getattr(latest, name)
        assert sum(getattr(b.point.counts, name) for b in read.by_plan_family) == getattr(
            latest, name
        )
        assert sum(getattr(b.point.counts, name) for b in read.by_payment_type) == getattr(
            latest, name
        )
    subs = _frame(province, "subscribers")
    products = _frame(province, "products").set_index("product_id")
    end = _month_end(read.months[-1])
    exited = subs["status"].isin(["ported_out", "terminated"])
    base = subs[
        (pd.to_datetime(subs["join_date"]) <= end)
        & ~(exited & (pd.to_datetime(subs["status_date"]) <= end))
    ]
    by_family = base["plan_id"].map(products["family"]).value_counts().to_dict()
    assert {b.key: b.point.counts.subscribers for b in read.by_plan_family} == by_family


def test_city_totals_equal_the_overview(province: BaseBackend) -> None:
    overview = province_overview(con=province)
    for city in overview.cities:
        read = service.unit_kpis(con=province, unit=city.city_id)
        cube_rows = [
            (p.month, p.counts.subscribers, p.counts.opening_subscribers, p.counts.port_outs,
             p.counts.revenue_fen, p.counts.billed_lines)
            for p in read.series
        ]  # fmt: skip
        overview_rows = [
            (m.month, m.subscribers, m.opening_subscribers, m.port_outs, m.revenue_fen,
             m.billed_lines)
            for m in city.months
        ]  # fmt: skip
        assert cube_rows == overview_rows, city.city_id
