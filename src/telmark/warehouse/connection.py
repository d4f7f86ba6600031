"""Opening the warehouse: any Ibis backend by URL, DuckDB by default.

Analytical code takes an ``ibis.BaseBackend`` and builds expressions, so the
same functions run on DuckDB, PySpark or Trino; only this module knows URLs.
"""

from __future__ import annotations

from typing import Any

import ibis
from ibis.backends import BaseBackend

from telmark.config import Settings, get_settings


def connect(url: str | None = None, *, settings: Settings | None = None) -> BaseBackend:
    """Connect to the warehouse at ``url`` (default: the configured one).

    ``duckdb://PATH`` opens (and creates) a DuckDB file; ``pyspark://`` starts or
    joins a local Spark session; anything else is handed to ``ibis.connect``.
    """
    settings = settings or get_settings()
    url = url or settings.resolved_warehouse_url
    if url.startswith("duckdb://"):
        path = url.removeprefix("duckdb://")
        if path and path != ":memory:":
            settings.ensure_data_dir()
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return ibis.duckdb.connect(path or ":memory:")
    if url.startswith("pyspark://"):
        return connect_spark()
    return ibis.connect(url)


def connect_spark(**conf: Any) -> BaseBackend:
    """A local-mode Spark session wrapped by Ibis (used by tests and small clusters)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(conf.pop("master", "local[2]")).appName("telmark")
    defaults = {
        "spark.sql.shuffle.partitions": "4",
        "spark.ui.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
    }
    for key, value in {**defaults, **conf}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    return ibis.pyspark.connect(session)


def has_table(con: BaseBackend, name: str) -> bool:
    return name in con.list_tables()
