"""The importer writing to a PySpark warehouse: checks in DuckDB, tables built then swapped."""

from __future__ import annotations

from pathlib import Path

import pytest
from ibis.backends import BaseBackend

from telmark.warehouse.contract import CONTRACT
from telmark.warehouse.importer import ImportRejected, import_table, load_directory
from tests.integration.test_import_data import (
    SAMPLE,
    edited,
    write_csv,
    write_province,
)

# PySpark hands results over local sockets that it leaves to the garbage
# collector; the ResourceWarning is PySpark's, not ours.
PYSPARK_SOCKETS = "ignore:unclosed <socket.socket:ResourceWarning"
pytestmark = [pytest.mark.spark, pytest.mark.filterwarnings(PYSPARK_SOCKETS)]


def counts(con: BaseBackend) -> dict[str, int]:
    return {t: int(con.table(t).count().to_pyarrow().as_py()) for t in CONTRACT}


def test_load_directory_into_spark(spark_con: BaseBackend, tmp_path: Path) -> None:
    reports = load_directory(
        con=spark_con, directory=write_province(tmp_path / "p", parquet=["usage_monthly"])
    )
    assert [r.table for r in reports] == list(CONTRACT)
    assert counts(spark_con) == {t: len(rows) for t, rows in SAMPLE.items()}
    usage = spark_con.table("usage_monthly")
    assert int(usage.arpu_fen.sum().to_pyarrow().as_py()) == 13250 + 12800 + 5000
    assert not [t for t in spark_con.list_tables() if t.startswith("telmark_import")]

    # References from a single-table import resolve against the Spark tables.
    bad = write_csv(tmp_path / "u.csv", edited("usage_monthly", {0: {"subscriber_id": "77"}}))
    with pytest.raises(ImportRejected) as caught:
        import_table(con=spark_con, table="usage_monthly", path=bad)
    assert [(d["row"], d["reason"]) for d in caught.value.details] == [
        (2, "not found in subscribers.subscriber_id in the warehouse")
    ]

    # A rejected batch leaves every Spark table as it was.
    before = counts(spark_con)
    directory = write_province(tmp_path / "q")
    write_csv(directory / "staff.csv", edited("staff", {0: {"level": "0"}}))
    write_csv(directory / "usage_monthly.csv", SAMPLE["usage_monthly"][:1])
    with pytest.raises(ImportRejected):
        load_directory(con=spark_con, directory=directory)
    assert counts(spark_con) == before
