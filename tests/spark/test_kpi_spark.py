"""The KPI cube's Ibis code on PySpark gives exactly what it gives on DuckDB.

One generated province is loaded into both; the finest-grain cube expression,
the materialised ``kpi_cube`` and the service's roll-ups are compared.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from ibis.backends import BaseBackend

from telmark.analysis.kpi import service
from telmark.analysis.kpi.cube import GRAIN, cube, usage_months
from telmark.analysis.kpi.domain import MEASURES
from telmark.warehouse.connection import connect
from telmark.warehouse.generator import generate_province
from telmark.warehouse.importer import load_directory
from tests.spark.test_import_spark import PYSPARK_SOCKETS

pytestmark = [pytest.mark.spark, pytest.mark.filterwarnings(PYSPARK_SOCKETS)]


def _rows(con: BaseBackend, months: list[date]) -> list[tuple[Any, ...]]:
    built = datetime(2026, 10, 1)  # noqa: DTZ001 - the cube's timestamps are naive UTC
    table = cube(con, months=months, built_at=built).to_pyarrow().to_pylist()
    rows = [tuple(r[c] for c in GRAIN) + tuple(int(r[m]) for m in MEASURES) for r in table]
    return sorted(rows, key=lambda row: tuple(str(v) for v in row))


def test_kpi_cube_on_spark_equals_duckdb(spark_con: BaseBackend, tmp_path: Path) -> None:
    province = tmp_path / "province"
    generate_province(
        out_dir=province, subscribers=2_000, months=3, seed=17, end_month=date(2026, 9, 1)
    )
    duck = connect("duckdb://" + str(tmp_path / "w.duckdb"))
    load_directory(con=duck, directory=province)
    load_directory(con=spark_con, directory=province)
    try:
        months = sorted(usage_months(duck).to_pyarrow().column("month").to_pylist())
        spark_months = sorted(usage_months(spark_con).to_pyarrow().column("month").to_pylist())
        assert spark_months == months
        assert len(months) == 3

        on_duckdb = _rows(duck, months)
        on_spark = _rows(spark_con, months)
        assert len(on_duckdb) > 100
        assert sum(row[len(GRAIN)] for row in on_duckdb) > 0  # subscribers
        assert on_spark == on_duckdb

        # The materialised cube and the roll-ups through org_closure agree as well.
        service.refresh_cube(con=duck)
        service.refresh_cube(con=spark_con)
        for unit in (None, "C01"):
            a = service.unit_kpis(con=duck, unit=unit).model_dump(exclude={"built_at"})
            b = service.unit_kpis(con=spark_con, unit=unit).model_dump(exclude={"built_at"})
            assert b == a
    finally:
        duck.disconnect()
