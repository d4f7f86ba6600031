"""Replacing warehouse tables atomically, and the few catalogue look-ups the importer needs.

Guarantees, per backend:

- DuckDB: every table of a load is written with ``CREATE OR REPLACE TABLE``
  inside one transaction. Until the commit, readers (and, after a crash or a
  failure at any point, everyone) see the old tables in full; after it they
  see all the new ones. A load of several tables is all-or-nothing.
- Other Ibis backends (PySpark): each new table is first written in full under
  a temporary name, so a failure while writing leaves the old tables untouched
  (the partial copies are dropped). Then, table by table, the old one is
  dropped and the new one renamed into place. Spark has no multi-table
  transaction, so a crash inside that short swap can leave a table under its
  temporary name ``telmark_import_new_<table>_<id>``, to be renamed by hand.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import sqlglot.expressions as sge
from ibis.backends import BaseBackend
from ibis.expr import types as ir


def is_duckdb(con: BaseBackend) -> bool:
    return bool(con.name == "duckdb")


def duckdb_path(con: BaseBackend) -> Path | None:
    """The file behind a DuckDB connection, or None (in-memory or another backend)."""
    if not is_duckdb(con):
        return None
    databases = con.table("duckdb_databases")
    current = databases.filter(databases.database_name == con.current_catalog)
    paths = current.select("path").to_pyarrow().column("path").to_pylist()
    return Path(paths[0]) if paths and paths[0] else None


def warehouse_tables(con: BaseBackend) -> list[str]:
    """Tables and views of the warehouse's current schema, without temporary ones."""
    if is_duckdb(con):
        # Not list_tables(): it also lists temporary views, such as the
        # importer's own views over staged files while an import runs.
        tables = con.table("tables", database="information_schema")
        mine = tables.filter(
            (tables.table_catalog == con.current_catalog)
            & (tables.table_schema == con.current_database)
        )
        return sorted(mine.select("table_name").to_pyarrow().column("table_name").to_pylist())
    return sorted(con.list_tables())


def row_count(con: BaseBackend, name: str) -> int:
    return int(con.table(name).count().to_pyarrow().as_py())


def drop(con: BaseBackend, name: str, *, kind: str = "TABLE") -> None:
    """``DROP <kind> IF EXISTS name``, built as a syntax tree for the backend's dialect."""
    target = sge.table_(name, quoted=True)
    # sqlglot 30.18 renamed Drop's ``this`` to ``tables`` (and ignores the old
    # name silently), which breaks Ibis 12's own drop_table; build it either way.
    if "tables" in sge.Drop.arg_types:
        statement = sge.Drop(kind=kind, tables=[target], exists=True)
    else:  # pragma: no cover - older sqlglot
        statement = sge.Drop(kind=kind, this=target, exists=True)
    con.raw_sql(statement)


def replace_tables(
    *,
    con: BaseBackend,
    source: BaseBackend,
    tables: Mapping[str, ir.Table],
    work_dir: Path,
    then: Callable[[], None] | None = None,
) -> dict[str, float]:
    """Replace each warehouse table by its expression (built on ``source``); seconds per table.

    ``then`` runs once the new tables are in place: inside the transaction on
    DuckDB (so tables derived from the new ones commit, or fail, with them),
    after the swap elsewhere.
    """
    if source is con and is_duckdb(con):
        return _replace_in_transaction(con, tables, then)
    seconds = _replace_by_rename(con, source, tables, work_dir)
    if then is not None:
        then()
    return seconds


def _replace_in_transaction(
    con: BaseBackend, tables: Mapping[str, ir.Table], then: Callable[[], None] | None
) -> dict[str, float]:
    seconds: dict[str, float] = {}
    raw = con.con
    raw.begin()
    try:
        for name, expr in tables.items():
            started = time.perf_counter()
            # Ibis's create_table(overwrite=True) drops and renames in separate
            # statements outside any transaction; one CREATE OR REPLACE of the
            # compiled expression, inside ours, is atomic.
            statement = sge.Create(
                kind="TABLE",
                this=sge.table_(name, quoted=True),
                expression=con.compiler.to_sqlglot(expr),
                replace=True,
            )
            con.raw_sql(statement)
            seconds[name] = time.perf_counter() - started
        if then is not None:
            then()
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    return seconds


def _replace_by_rename(
    con: BaseBackend, source: BaseBackend, tables: Mapping[str, ir.Table], work_dir: Path
) -> dict[str, float]:
    suffix = uuid.uuid4().hex[:8]
    seconds: dict[str, float] = {}
    built: dict[str, str] = {}
    try:
        for name, expr in tables.items():
            started = time.perf_counter()
            path = work_dir / f"load-{name}.parquet"
            source.to_parquet(expr, path)
            view = f"telmark_import_src_{name}_{suffix}"
            staged = con.read_parquet(str(path), table_name=view)
            try:
                temporary = f"telmark_import_new_{name}_{suffix}"
                con.create_table(temporary, obj=staged)
                built[name] = temporary
            finally:
                drop(con, view, kind="VIEW")
            seconds[name] = time.perf_counter() - started
    except BaseException:
        for temporary in built.values():
            drop(con, temporary)
        raise
    for name, temporary in built.items():
        drop(con, name)
        con.rename_table(temporary, name)
    return seconds
