"""The overview's main query compiles to the same DuckDB SQL as the reviewed snapshot.

A change in the snapshot shows up in review as a SQL diff. To accept an intended change:
``TELMARK_UPDATE_SNAPSHOTS=1 pytest tests/unit/test_overview_sql.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import ibis
import pytest

from telmark.analysis.overview import city_month_kpis
from telmark.warehouse.connection import connect
from tests._factories.warehouse import build_tiny_warehouse

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE_ENV = "TELMARK_UPDATE_SNAPSHOTS"


def _assert_matches_snapshot(sql: str, name: str) -> None:
    path = SNAPSHOTS / name
    text = sql.strip() + "\n"
    if os.environ.get(UPDATE_ENV) == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot {path}; create it with {UPDATE_ENV}=1"
    assert text == path.read_text(encoding="utf-8"), (
        f"compiled SQL differs from {path}; if intended, rerun with {UPDATE_ENV}=1"
    )


@pytest.mark.parametrize(
    ("months", "name"),
    [(None, "overview_city_month_kpis.duckdb.sql"), (6, "overview_city_month_kpis_6m.duckdb.sql")],
)
def test_city_month_kpis_sql_snapshot(tmp_path: Path, months: int | None, name: str) -> None:
    con = connect(build_tiny_warehouse(tmp_path).url)
    try:
        sql = ibis.to_sql(city_month_kpis(con, months=months), dialect="duckdb")
    finally:
        con.disconnect()
    _assert_matches_snapshot(str(sql), name)
