"""The compiled segment query: one scan per window, and the reviewed DuckDB SQL snapshot.

To accept an intended change of the snapshot:
``TELMARK_UPDATE_SNAPSHOTS=1 pytest tests/unit/test_segment_sql.py``.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import ibis

from telmark.segments.compile import compile_rule
from telmark.segments.rules import parse_rule
from telmark.warehouse.connection import connect
from telmark.warehouse.contract import CONTRACT
from tests._factories.warehouse import contract_table, write_warehouse

SNAPSHOT = Path(__file__).parent / "snapshots" / "segment_rule.duckdb.sql"
UPDATE_ENV = "TELMARK_UPDATE_SNAPSHOTS"

RULE = {
    "version": 1,
    "root": {
        "all": [
            {
                "kind": "field",
                "field": "handset_brand",
                "op": "=",
                "value": "O'Brien'; DROP TABLE x",
            },
            {
                "kind": "usage",
                "measure": "arpu_fen",
                "agg": "avg",
                "months": 3,
                "op": ">=",
                "value": 5000,
            },
            {
                "kind": "usage",
                "measure": "arpu_fen",
                "agg": "min",
                "months": 3,
                "op": ">",
                "value": 100,
            },
            {
                "kind": "usage",
                "measure": "data_mb",
                "agg": "sum",
                "months": 3,
                "op": ">",
                "value": 10,
            },
            {"kind": "trend", "measure": "voice_min", "months": 3, "op": "<", "value": 0},
            {
                "kind": "usage",
                "measure": "voice_min",
                "agg": "max",
                "months": 6,
                "op": "<",
                "value": 900,
            },
            {
                "any": [
                    {"kind": "has_product", "family": "5g_plan"},
                    {"kind": "has_product", "product_kind": "iptv"},
                ]
            },
            {"kind": "recharges", "stat": "sum", "months": 2, "op": ">=", "value": 3000},
            {"not": {"kind": "org_unit", "org_ids": ["C02"]}},
        ]
    },
}


def _sql(tmp_path: Path) -> str:
    # Empty contract tables (bar one unit): the SQL depends on the rule and the schema, not on rows.
    empty = {name: contract_table(name, []) for name in CONTRACT}
    empty["org_units"] = contract_table(
        "org_units", [{"org_id": "C02", "kind": "city", "name": "无锡"}]
    )  # the rule names C02, and unknown org units are refused
    con = connect(write_warehouse(tmp_path / "w.duckdb", empty).url)
    try:
        expr = compile_rule(con, parse_rule(RULE), as_of=date(2026, 6, 1))
        return str(ibis.to_sql(expr, dialect="duckdb"))
    finally:
        con.disconnect()


def test_each_window_is_scanned_once_whatever_the_number_of_conditions(tmp_path: Path) -> None:
    sql = _sql(tmp_path)
    # Four aggregates and a trend over 3 months, one over 6: one usage scan, not five (the
    # 3-month window lies inside the 6-month one, so its figures are FILTERed from it).
    assert sql.count('FROM "usage_monthly"') == 1
    assert "FILTER(WHERE" in sql.replace("FILTER (WHERE", "FILTER(WHERE")
    assert sql.count('FROM "subscriptions"') == 1  # both has_product flags in one pass
    assert sql.count('FROM "recharges"') == 1
    # The hostile value is one quoted literal, its quote doubled, not a statement.
    assert "'O''Brien''; DROP TABLE x'" in sql


def test_segment_sql_snapshot(tmp_path: Path) -> None:
    text = _sql(tmp_path).strip() + "\n"
    if os.environ.get(UPDATE_ENV) == "1":
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert SNAPSHOT.exists(), f"no snapshot {SNAPSHOT}; create it with {UPDATE_ENV}=1"
    assert text == SNAPSHOT.read_text(encoding="utf-8"), (
        f"compiled SQL differs from {SNAPSHOT}; if intended, rerun with {UPDATE_ENV}=1"
    )
