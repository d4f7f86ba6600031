"""A local-mode Spark session (via Ibis) shared by the Spark tests."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from ibis.backends import BaseBackend

from tests.requirements import unavailable


@pytest.fixture(scope="session")
def spark_con(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaseBackend]:
    if importlib.util.find_spec("pyspark") is None:
        unavailable("spark", "pyspark is not installed")
    if shutil.which("java") is None:
        unavailable("spark", "no Java runtime on PATH")
    from telmark.warehouse.connection import connect_spark

    warehouse_dir: Path = tmp_path_factory.mktemp("spark-warehouse")
    con = connect_spark(
        **{"spark.sql.warehouse.dir": str(warehouse_dir), "spark.driver.memory": "2g"}
    )
    yield con
    con.disconnect()
