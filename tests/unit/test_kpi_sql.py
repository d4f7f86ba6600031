"""The KPI cube's build and roll-up queries compile to the reviewed DuckDB SQL snapshots.

To accept an intended change: ``TELMARK_UPDATE_SNAPSHOTS=1 pytest tests/unit/test_kpi_sql.py``.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import ibis

from telmark.analysis.kpi.cube import children_rollup, cube, unit_rollup
from telmark.warehouse.connection import connect
from tests.unit.test_kpi_cube import build_kpi_tiny
from tests.unit.test_overview_sql import _assert_matches_snapshot

MONTHS = (date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1))


def test_cube_build_sql_snapshot(tmp_path: Path) -> None:
    con = connect(build_kpi_tiny(tmp_path, refresh=False).url)
    try:
        expr = cube(con, months=MONTHS, built_at=datetime(2024, 4, 1, 6, 0))  # noqa: DTZ001
        sql = ibis.to_sql(expr, dialect="duckdb")
    finally:
        con.disconnect()
    _assert_matches_snapshot(str(sql), "kpi_cube_build.duckdb.sql")


def test_rollup_sql_snapshot(tmp_path: Path) -> None:
    con = connect(build_kpi_tiny(tmp_path).url)
    try:
        unit = ibis.to_sql(unit_rollup(con, "C1"), dialect="duckdb")
        children = ibis.to_sql(children_rollup(con, "P"), dialect="duckdb")
    finally:
        con.disconnect()
    _assert_matches_snapshot(str(unit), "kpi_unit_rollup.duckdb.sql")
    _assert_matches_snapshot(str(children), "kpi_children_rollup.duckdb.sql")
