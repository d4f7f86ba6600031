"""The same Ibis KPI code on PySpark as on DuckDB, over one generated province."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from ibis.backends import BaseBackend

from telmark.analysis import service as analysis
from telmark.warehouse.connection import connect
from telmark.warehouse.generator import generate_province
from telmark.warehouse.importer import load_directory
from tests.spark.test_import_spark import PYSPARK_SOCKETS

pytestmark = [pytest.mark.spark, pytest.mark.filterwarnings(PYSPARK_SOCKETS)]


def test_overview_on_spark_equals_duckdb(spark_con: BaseBackend, tmp_path: Path) -> None:
    province = tmp_path / "province"
    generate_province(
        out_dir=province, subscribers=3_000, months=3, seed=11, end_month=date(2026, 9, 1)
    )
    duck = connect("duckdb://" + str(tmp_path / "w.duckdb"))
    load_directory(con=duck, directory=province)
    load_directory(con=spark_con, directory=province)

    on_duckdb = analysis.province_overview(con=duck)
    on_spark = analysis.province_overview(con=spark_con)

    assert on_spark.months == on_duckdb.months
    assert len(on_spark.months) == 3
    assert on_spark.latest.subscribers > 0
    assert on_spark.model_dump() == on_duckdb.model_dump()
    duck.disconnect()
