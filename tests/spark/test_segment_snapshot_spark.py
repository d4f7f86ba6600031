"""A snapshot taken on PySpark (a directory of part files) holds DuckDB's members and is verified.

Uses the shared Spark session of ``tests/spark`` (skipped locally without Java,
required in CI).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from ibis.backends import BaseBackend
from sqlalchemy.orm import Session, sessionmaker

from telmark.org import service as org_service
from telmark.segments import service, snapshots
from telmark.segments.schemas import ExportFormat, SegmentCreate
from telmark.uow import UnitOfWork
from telmark.warehouse.importer import load_directory
from tests._factories.segments import load_warehouse, province_directory
from tests.spark.test_import_spark import PYSPARK_SOCKETS

pytestmark = [pytest.mark.spark, pytest.mark.filterwarnings(PYSPARK_SOCKETS)]

RULE = {
    "version": 1,
    "root": {
        "all": [
            {"kind": "field", "field": "status", "op": "=", "value": "active"},
            {
                "kind": "usage",
                "measure": "arpu_fen",
                "agg": "avg",
                "months": 3,
                "op": ">=",
                "value": 3000,
            },
            {"kind": "tenure_months", "op": ">=", "value": 6},
        ]
    },
}


def _ids(con: BaseBackend, uow: UnitOfWork, directory: Path, snapshot_id: int) -> list[int]:
    members = snapshots.snapshot_members(
        uow=uow, con=con, directory=directory, snapshot_id=snapshot_id
    )
    return sorted(int(i) for i in members.subscriber_id.to_pyarrow().to_pylist())


def test_snapshot_on_spark_equals_duckdb(
    spark_con: BaseBackend, tmp_path: Path, db: sessionmaker[Session]
) -> None:
    province = province_directory(tmp_path, subscribers=1_500, seed=31)
    duck = load_warehouse(province, tmp_path / "w.duckdb")
    load_directory(con=spark_con, directory=province)
    try:
        with UnitOfWork(db) as uow:
            org_service.sync_from_warehouse(uow=uow, con=duck)
            segment_id = service.create_segment(
                uow=uow, spec=SegmentCreate(name="spark", rule=RULE)
            ).id
        taken = {}
        for name, con in (("duckdb", duck), ("spark", spark_con)):
            with UnitOfWork(db) as uow:
                taken[name] = snapshots.take_snapshot(
                    uow=uow, con=con, directory=tmp_path / name, segment_id=segment_id
                )
        assert taken["spark"].member_count == taken["duckdb"].member_count
        assert taken["spark"].member_count
        (parts,) = [p for p in (tmp_path / "spark").rglob("snapshot-*") if p.is_dir()]
        with UnitOfWork(db) as uow:
            on_spark = _ids(spark_con, uow, tmp_path / "spark", taken["spark"].id)
            on_duckdb = _ids(duck, uow, tmp_path / "duckdb", taken["duckdb"].id)
            # The Spark directory reads on DuckDB too: shared storage serves either engine.
            assert _ids(duck, uow, tmp_path / "spark", taken["spark"].id) == on_duckdb
            assert on_spark == on_duckdb
            out = tmp_path / "list.parquet"
            snapshots.export_snapshot(
                uow=uow,
                con=spark_con,
                directory=tmp_path / "spark",
                snapshot_id=taken["spark"].id,
                out=out,
                export_format=ExportFormat.PARQUET,
                columns=["subscriber_id", "msisdn", "city_id"],
            )
        exported = pq.read_table(out)
        assert exported.column("subscriber_id").to_pylist() == on_duckdb
        assert all("*" in m for m in exported.column("msisdn").to_pylist())

        data = sorted(p for p in parts.iterdir() if p.name.endswith(".parquet"))
        data[0].write_bytes(data[0].read_bytes() + b"\0")
        with UnitOfWork(db) as uow, pytest.raises(snapshots.SnapshotCorrupt):
            _ids(spark_con, uow, tmp_path / "spark", taken["spark"].id)
    finally:
        duck.disconnect()
