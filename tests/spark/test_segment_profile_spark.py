"""A segment profile, overlap and size trend on PySpark equal DuckDB's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import ibis.expr.types as ir
import pytest
from ibis.backends import BaseBackend

from telmark.segments.compile import compile_rule
from telmark.segments.profile import overlap, profile, size_trend
from telmark.segments.rules import parse_rule
from telmark.warehouse.importer import load_directory
from tests._factories.segments import add_analysis_tables, load_warehouse, province_directory
from tests.spark.test_import_spark import PYSPARK_SOCKETS
from tests.spark.test_segment_spark import LIBRARY, RULE

pytestmark = [pytest.mark.spark, pytest.mark.filterwarnings(PYSPARK_SOCKETS)]

POSTPAID = parse_rule(
    {
        "version": 1,
        "root": {"kind": "field", "field": "payment_type", "op": "=", "value": "postpaid"},
    }
)


def test_profile_on_spark_equals_duckdb(spark_con: BaseBackend, tmp_path: Path) -> None:
    province = province_directory(tmp_path, subscribers=2_000, seed=29)
    duck = load_warehouse(province, tmp_path / "w.duckdb")
    load_directory(con=spark_con, directory=province)
    try:
        add_analysis_tables(duck, seed=29)
        for name in ("customer_value", "churn_scores"):
            spark_con.create_table(name, duck.table(name).to_pyarrow(), overwrite=True)
        rule = parse_rule(RULE)
        on_duckdb = profile(duck, compile_rule(duck, rule, resolve=LIBRARY.resolver()))
        assert on_duckdb.size > 20
        assert len(on_duckdb.distributions) == 8
        assert (
            profile(spark_con, compile_rule(spark_con, rule, resolve=LIBRARY.resolver()))
            == on_duckdb
        )

        def tables(con: BaseBackend) -> dict[str, ir.Table]:
            return {
                "rule": compile_rule(con, rule, resolve=LIBRARY.resolver()),
                "postpaid": compile_rule(con, POSTPAID),
            }

        assert overlap(spark_con, tables(spark_con)) == overlap(duck, tables(duck))
        months = [date(2026, 7, 1), date(2026, 9, 1)]

        def at(con: BaseBackend) -> Callable[[date], ir.Table]:
            return lambda month: compile_rule(con, rule, as_of=month, resolve=LIBRARY.resolver())

        assert size_trend(at(spark_con), months) == size_trend(at(duck), months)
    finally:
        duck.disconnect()
