"""Org scope in the warehouse: a city sees its own rows and nothing of other cities."""

from __future__ import annotations

from datetime import date

import pytest
from ibis.backends import BaseBackend

from telmark.analysis import service as analysis
from telmark.warehouse.connection import connect
from telmark.warehouse.contract import CONTRACT
from telmark.warehouse.generator import generate_province
from telmark.warehouse.importer import load_directory
from telmark.warehouse.scope import (
    ALL_WAREHOUSE_TABLES,
    ORG_SCOPED,
    SUBSCRIBER_SCOPED,
    UNSCOPED,
    ScopedWarehouse,
    scoped,
)


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> BaseBackend:
    root = tmp_path_factory.mktemp("scope")
    generate_province(
        out_dir=root / "p", subscribers=2_000, months=2, seed=5, end_month=date(2026, 6, 1)
    )
    con = connect("duckdb://" + str(root / "w.duckdb"))
    load_directory(con=con, directory=root / "p")
    return con


def test_every_table_has_a_scope_rule() -> None:
    classified = set(ORG_SCOPED) | SUBSCRIBER_SCOPED | UNSCOPED
    assert classified == ALL_WAREHOUSE_TABLES
    for name, column in ORG_SCOPED.items():
        # Derived tables (kpi_cube, ...) are not in the contract; their modules own the columns.
        if name in CONTRACT:
            assert column in CONTRACT[name].column_names


def _count(con: BaseBackend, table: str) -> int:
    return int(con.table(table).count().to_pyarrow().as_py())


def test_city_scope_restricts_every_subscriber_table(province: BaseBackend) -> None:
    nanjing = ScopedWarehouse(province, "C01")
    wuxi = ScopedWarehouse(province, "C02")
    for table in ("subscribers", "usage_monthly", "orders", "complaints", "households"):
        whole = _count(province, table)
        parts = _count(nanjing, table), _count(wuxi, table)
        assert 0 < parts[0] < whole
        assert 0 < parts[1] < whole
    ids_nj = set(nanjing.table("subscribers").subscriber_id.to_pyarrow().to_pylist())
    ids_wx = set(wuxi.table("subscribers").subscriber_id.to_pyarrow().to_pylist())
    assert not ids_nj & ids_wx
    usage_ids = set(nanjing.table("usage_monthly").subscriber_id.to_pyarrow().to_pylist())
    assert usage_ids <= ids_nj
    assert _count(nanjing, "products") == _count(province, "products")
    with pytest.raises(PermissionError):
        nanjing.table("some_new_table")


def test_scoped_overview_shows_only_the_users_city(province: BaseBackend) -> None:
    whole = analysis.province_overview(con=province)
    city = analysis.province_overview(con=scoped(province, org_code="C01", org_path="/P32/C01/"))
    assert [c.city_id for c in city.cities] == ["C01"]
    nanjing = next(c for c in whole.cities if c.city_id == "C01")
    assert city.cities[0].model_dump() == nanjing.model_dump()
    assert city.latest.subscribers == nanjing.months[-1].subscribers
    assert scoped(province, org_code="P32", org_path="/P32/") is province
