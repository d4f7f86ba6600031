"""A non-trivial segment gives the same members on PySpark as on DuckDB.

The rule refers to a saved segment (inlined by the compiler) and tests the
contact history, whose days are province-local: the time-zone arithmetic must
agree between the engines.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ibis.backends import BaseBackend

from telmark.segments.compile import compile_rule
from telmark.segments.rules import parse_rule
from telmark.warehouse.importer import load_directory
from tests._factories.segments import Library, load_warehouse, province_directory
from tests.spark.test_import_spark import PYSPARK_SOCKETS

pytestmark = [pytest.mark.spark, pytest.mark.filterwarnings(PYSPARK_SOCKETS)]

RULE = {
    "version": 1,
    "root": {
        "all": [
            {"kind": "field", "field": "status", "op": "in", "value": ["active", "suspended"]},
            {
                "kind": "usage",
                "measure": "arpu_fen",
                "agg": "avg",
                "months": 3,
                "op": ">=",
                "value": 2000,
            },
            {
                "kind": "usage",
                "measure": "data_mb",
                "agg": "max",
                "months": 2,
                "op": ">",
                "value": 300,
            },
            {"kind": "trend", "measure": "arpu_fen", "months": 3, "op": "<=", "value": 0},
            {"kind": "tenure_months", "op": ">=", "value": 3},
            {
                "any": [
                    {"kind": "has_product", "product_kind": "plan"},
                    {"kind": "household", "has": "broadband"},
                    {"kind": "recharges", "stat": "count", "months": 3, "op": ">=", "value": 1},
                ]
            },
            {"not": {"kind": "enterprise", "tiers": ["A"]}},
            {"kind": "org_unit", "org_ids": ["C01", "C02", "C03", "C04", "C05", "C06"]},
            {"not": {"kind": "field", "field": "handset_brand", "op": "=", "value": "O'Brien; --"}},
            {"not": {"kind": "contacted", "days": 20, "channels": ["sms", "outbound_call"]}},
            {
                "any": [
                    {"kind": "segment", "segment_id": 1},
                    {"not": {"kind": "segment", "segment_id": 1, "version": 1}},
                ]
            },
        ]
    },
}
# Saved segment 1: version 1 is postpaid; the current version 2, postpaid lines
# contacted in the last 75 days (by a named case, with some answer).
LIBRARY = Library(
    {
        1: [
            {
                "version": 1,
                "root": {"kind": "field", "field": "payment_type", "op": "=", "value": "postpaid"},
            },
            {
                "version": 1,
                "root": {
                    "all": [
                        {"kind": "segment", "segment_id": 2},
                        {
                            "kind": "contacted",
                            "days": 75,
                            "outcomes": ["delivered", "reached", "declined", "responded"],
                        },
                    ]
                },
            },
        ],
        2: [
            {
                "version": 1,
                "root": {"kind": "field", "field": "payment_type", "op": "=", "value": "postpaid"},
            }
        ],
    }
)


def _members(con: BaseBackend) -> list[int]:
    table = compile_rule(con, parse_rule(RULE), resolve=LIBRARY.resolver()).to_pyarrow()
    return sorted(table.column("subscriber_id").to_pylist())


def test_segment_on_spark_equals_duckdb(spark_con: BaseBackend, tmp_path: Path) -> None:
    province = province_directory(tmp_path, subscribers=2_000, seed=23)
    duck = load_warehouse(province, tmp_path / "w.duckdb")
    load_directory(con=spark_con, directory=province)
    try:
        on_duckdb = _members(duck)
        assert 20 < len(on_duckdb) < 1_500  # selective, but not empty
        assert _members(spark_con) == on_duckdb
    finally:
        duck.disconnect()
