"""Command bodies for ``telmark data import``, ``telmark data load`` and ``telmark data tables``.

``telmark.warehouse.cli`` registers them on the ``data`` sub-app. A rejected
import prints every listed problem (file, row, column, value, reason) and
exits with code 2; with ``--json`` the same list is also printed as JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from ibis.backends import BaseBackend

from telmark.analysis.kpi import service as kpi_service
from telmark.clikit import JsonOpt, command_warehouse, fail, print_json, print_table, progress_bar
from telmark.errors import DomainError
from telmark.warehouse.connection import connect
from telmark.warehouse.contract import CONTRACT, TRUTH
from telmark.warehouse.importer.load import row_count, warehouse_tables
from telmark.warehouse.importer.report import ImportRejected, ImportReport
from telmark.warehouse.importer.service import import_table, load_directory

EncodingOpt = Annotated[
    str, typer.Option("--encoding", help="CSV encoding: auto, utf-8, utf-8-sig, gbk or gb18030.")
]
MaxErrorsOpt = Annotated[
    int, typer.Option("--max-errors", min=0, help="List at most this many problems.")
]


def _reject(error: DomainError, json_output: bool) -> NoReturn:
    if json_output:
        total = error.total if isinstance(error, ImportRejected) else len(error.details)
        print_json(
            {
                "error": error.code,
                "message": error.message,
                "total": total,
                "problems": error.details,
            }
        )
    raise fail(error)


def _print_reports(reports: list[ImportReport], json_output: bool) -> None:
    if json_output:
        print_json(reports)
        return
    print_table(
        "Loaded",
        ["table", "rows", "previous rows", "format", "encoding", "seconds"],
        [
            (r.table, r.rows, r.previous_rows, r.format, r.encoding or "", f"{r.seconds:.2f}")
            for r in reports
        ],
    )


def _close(con: BaseBackend) -> None:
    con.disconnect()


def import_command(
    table: Annotated[str, typer.Argument(help="Contract table to replace, e.g. subscribers.")],
    path: Annotated[Path, typer.Argument(help="A CSV or Parquet file, or a directory of parts.")],
    encoding: EncodingOpt = "auto",
    max_errors: MaxErrorsOpt = 100,
    json_output: JsonOpt = False,
) -> None:
    """Check a BOSS export against the data contract and, if clean, replace the table."""
    con = connect()
    try:
        with progress_bar(enabled=not json_output) as update:
            report = import_table(
                con=con,
                table=table,
                path=path,
                encoding=encoding,
                max_errors=max_errors,
                progress=update,
            )
    except DomainError as error:
        _reject(error, json_output)
    finally:
        _close(con)
    _print_reports([report], json_output)


def load_command(
    directory: Annotated[Path, typer.Argument(help="A province directory, one input per table.")],
    tables: Annotated[
        list[str] | None,
        typer.Option("--table", help="Load only this table (repeatable); default all."),
    ] = None,
    encoding: EncodingOpt = "auto",
    max_errors: MaxErrorsOpt = 100,
    json_output: JsonOpt = False,
) -> None:
    """Load every table of a province directory: all of them, or none if any is wrong."""
    con = connect()
    try:
        with progress_bar(enabled=not json_output) as update:
            reports = load_directory(
                con=con,
                directory=directory,
                tables=tables or None,
                encoding=encoding,
                max_errors=max_errors,
                progress=update,
            )
        # The KPI cube is derived from the loaded tables: rebuild it with them.
        cube = kpi_service.refresh_after_load(con=con)
    except DomainError as error:
        _reject(error, json_output)
    finally:
        _close(con)
    _print_reports(reports, json_output)
    typer.echo(kpi_service.refresh_note(cube), err=json_output)


def tables_command(json_output: JsonOpt = False) -> None:
    """List the warehouse tables with their row counts."""
    with command_warehouse() as con:
        rows = []
        for name in warehouse_tables(con):
            kind = "contract" if name in CONTRACT else "truth" if name in TRUTH else "other"
            rows.append({"table": name, "rows": row_count(con, name), "kind": kind})
    if json_output:
        print_json(rows)
        return
    print_table("Warehouse tables", ["table", "rows", "kind"], [tuple(r.values()) for r in rows])
