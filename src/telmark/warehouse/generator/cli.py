"""``telmark data generate``: the command body (registered by telmark.warehouse.cli)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from telmark.clikit import (
    JsonOpt,
    command_warehouse,
    console,
    fail,
    print_json,
    print_table,
    progress_bar,
)
from telmark.config import get_settings
from telmark.errors import DomainError, InvalidInput


def parse_month(text: str) -> date:
    """``YYYY-MM`` → the first day of that month."""
    try:
        return datetime.strptime(text, "%Y-%m").date()  # noqa: DTZ007 - a calendar month
    except ValueError:
        raise InvalidInput(
            f"end month must look like 2025-06, not {text!r}",
            details=[{"field": "end_month", "value": text}],
        ) from None


def generate_command(
    subscribers: Annotated[
        int, typer.Option("--subscribers", "-n", help="Number of mobile lines to generate.")
    ] = 200_000,
    months: Annotated[
        int, typer.Option("--months", "-m", help="Months of usage history (1-60).")
    ] = 6,
    seed: Annotated[
        int, typer.Option("--seed", "-s", help="Random seed: same seed, same province.")
    ] = 42,
    end_month: Annotated[
        str | None,
        typer.Option(
            "--end-month", help="Last generated month, YYYY-MM (default: last complete month)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Output directory (default: <data dir>/generated); replaced if generated."
        ),
    ] = None,
    load: Annotated[
        bool,
        typer.Option(
            "--load/--no-load",
            help="Also load it into the warehouse (validated; replaces the current tables).",
        ),
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Generate a synthetic province (Parquet, one folder per table) with hidden truth."""
    from telmark.analysis.kpi import service as kpi_service
    from telmark.warehouse.generator import generate_province
    from telmark.warehouse.importer import ImportReport, load_directory

    target = out or get_settings().data_dir / "generated"
    try:
        end = parse_month(end_month) if end_month else None
        with progress_bar(enabled=not json_output) as update:
            report = generate_province(
                out_dir=target,
                subscribers=subscribers,
                months=months,
                seed=seed,
                end_month=end,
                progress=update,
            )
            loaded: list[ImportReport] = []
            cube_note = ""
            if load:
                with command_warehouse() as con:
                    loaded = load_directory(con=con, directory=report.out_dir, progress=update)
                    cube_note = kpi_service.refresh_note(kpi_service.refresh_after_load(con=con))
    except DomainError as error:
        raise fail(error) from error
    if json_output:
        print_json({**asdict(report), "loaded_tables": [r.table for r in loaded]})
        if cube_note:
            typer.echo(cube_note, err=True)
        return
    print_table(
        f"Generated province → {report.out_dir}",
        ["table", "rows"],
        [(name, f"{count:,}") for name, count in report.rows.items()],
    )
    console.print(
        f"{report.subscribers:,} subscribers × {report.months} months to "
        f"{report.end_month:%Y-%m}, seed {report.seed}, in {report.seconds:.1f} s"
    )
    if loaded:
        console.print(
            f"Loaded {len(loaded)} tables into the warehouse; run `telmark org sync` "
            "to refresh the organisation in the operational database."
        )
        console.print(cube_note)
