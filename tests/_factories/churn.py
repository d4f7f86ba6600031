"""Churn test data: a generated province loaded into a DuckDB warehouse."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from telmark.warehouse.connection import connect
from telmark.warehouse.generator import generate_province
from telmark.warehouse.importer import load_directory

END_MONTH = date(2026, 6, 1)


def churn_warehouse(directory: Path, *, subscribers: int, months: int = 6, seed: int = 5) -> str:
    """The URL of a DuckDB warehouse holding a generated province (``months`` up to June 2026)."""
    generate_province(
        out_dir=directory / "province",
        subscribers=subscribers,
        months=months,
        seed=seed,
        end_month=END_MONTH,
    )
    url = "duckdb://" + str(directory / "warehouse.duckdb")
    con = connect(url)
    try:
        load_directory(con=con, directory=directory / "province")
    finally:
        con.disconnect()
    return url
