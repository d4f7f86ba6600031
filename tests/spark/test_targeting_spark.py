"""The targeting pipeline gives the same decisions on PySpark as on DuckDB.

Three overlapping cases over a generated province with its contact history
(province-local days: the time-zone bounds must agree), consent blocks, a
global holdout and an earlier run's planned contacts; then the winners'
attributes and the holdout drawn on them.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pytest
from ibis.backends import BaseBackend

from telmark.targeting import pipeline
from telmark.targeting.domain import CaseSpec, ContactPolicy, Period, in_holdout
from telmark.warehouse.importer import load_directory
from tests._factories.segments import END_MONTH, load_warehouse, province_directory
from tests.spark.test_import_spark import PYSPARK_SOCKETS

pytestmark = [pytest.mark.spark, pytest.mark.filterwarnings(PYSPARK_SOCKETS)]

ON = END_MONTH + timedelta(days=10)
POLICY = ContactPolicy(
    version=1, period=Period.MONTH, global_cap=2, channel_caps={"sms": 1}, min_gap_days=0
)
CASES = [
    CaseSpec(case_id=i, code=f"C{i}", org_path="/", priority=p, business_weight_bp=w,
             snapshot_id=i, offer_codes=(), channels=ch, holdout_bp=1500,
             starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31))
    for i, p, w, ch in ((1, 5, 5000, ("sms",)), (2, 5, 5000, ("sms", "app_push")),
                        (3, 8, 100, ("outbound_call",)))
]  # fmt: skip


def _decisions(con: BaseBackend, ids: np.ndarray[Any, Any]) -> list[tuple[Any, ...]]:
    members = ibis.memtable(
        {
            "case_id": np.concatenate([np.full(len(ids[i::2]), c.case_id) for i, c in
                                       zip((0, 1, 0), CASES, strict=True)]),
            "subscriber_id": np.concatenate([ids[i::2] for i in (0, 1, 0)]),
        }
    )  # fmt: skip
    numbers = con.table("subscribers").msisdn.to_pyarrow().to_pylist()[:40]
    earlier = ibis.memtable(
        {"subscriber_id": ids[:50].tolist(), "case_code": ["OLD"] * 50,
         "channel": ["sms"] * 50, "group": ["treatment"] * 50}
    )  # fmt: skip
    decided = pipeline.decisions(
        con=con,
        members=members,
        cases=CASES,
        offers={},
        blocked=pipeline.blocked_masks({"sms": numbers[:20], "app_push": numbers[10:40]}),
        global_holdout=ibis.memtable({"subscriber_id": ids[::37].tolist()}),
        found_contacts=pipeline.contacts(
            pipeline.history_contacts(con, ON, POLICY),
            pipeline.planned_contacts(con, [(earlier, ON - timedelta(days=3))], ON, POLICY),
        ),
        policy=POLICY,
    )
    winners = pipeline.winner_attributes(
        con, decided.filter(decided.reason.isnull()), END_MONTH, ON
    ).to_pyarrow()
    control = in_holdout("k", 1, winners.column("subscriber_id").to_numpy(), 1500)
    rows = decided.to_pyarrow().to_pylist()
    keyed = sorted(
        tuple(r[k] for k in ("case_id", "subscriber_id", "reason", "channel", "score", "rank",
                             "beaten_by"))
        for r in rows
    )  # fmt: skip
    attrs = sorted(
        zip(winners.column("subscriber_id").to_pylist(), winners.column("city_id").to_pylist(),
            winners.column("outlet_id").to_pylist(), control.tolist(), strict=True)
    )  # fmt: skip
    return [*keyed, *attrs]


def test_targeting_on_spark_equals_duckdb(spark_con: BaseBackend, tmp_path: Path) -> None:
    province = province_directory(tmp_path, subscribers=1_500, seed=29)
    duck = load_warehouse(province, tmp_path / "w.duckdb")
    load_directory(con=spark_con, directory=province)
    try:
        ids = np.sort(duck.table("subscribers").subscriber_id.to_pyarrow().to_numpy())
        on_duckdb = _decisions(duck, ids)
        reasons = {r[2] for r in on_duckdb if len(r) == 7}
        assert {None, "arbitration_lost", "consent", "global_holdout"} <= reasons
        assert _decisions(spark_con, ids) == on_duckdb
    finally:
        duck.disconnect()
