"""``telmark analysis ...``: KPI read commands (each with ``--json``)."""

from __future__ import annotations

from typing import Annotated

import typer

from telmark.analysis import service
from telmark.analysis.schemas import MonthKpis, OverviewRead
from telmark.clikit import JsonOpt, console, fail, print_json, print_table
from telmark.errors import DomainError
from telmark.warehouse.connection import connect

app = typer.Typer(no_args_is_help=True)

MonthsOpt = Annotated[
    int | None,
    typer.Option("--months", "-m", min=1, help="Only the latest N months (default: all)."),
]


def _yuan(fen: int | None) -> str:
    return "-" if fen is None else f"{fen / 100:,.2f}"


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.2f}%"


def _row(label: str, kpis: MonthKpis) -> list[str]:
    return [
        label,
        f"{kpis.subscribers:,}",
        _yuan(kpis.revenue_fen),
        _yuan(kpis.arpu_fen),
        f"{kpis.port_outs:,}",
        _percent(kpis.churn_rate),
    ]


_COLUMNS = ("subscribers", "revenue (yuan)", "ARPU (yuan)", "port-outs", "churn")


def print_overview(overview: OverviewRead) -> None:
    """Province totals per month, then every city in the latest month."""
    print_table(
        "Province by month",
        ("month", *_COLUMNS),
        [_row(m.month.strftime("%Y-%m"), m) for m in overview.province],
    )
    latest = overview.months[-1]
    print_table(
        f"Cities in {latest:%Y-%m}",
        ("city", *_COLUMNS),
        [_row(f"{c.name} ({c.city_id})", c.months[-1]) for c in overview.cities],
    )
    console.print(
        "Subscribers at month end; churn = port-outs / previous month-end base; "
        "ARPU = revenue / billed lines."
    )


@app.command("overview")
def overview_command(months: MonthsOpt = None, json_output: JsonOpt = False) -> None:
    """Province overview: subscribers, revenue, ARPU and port-out churn by city and month."""
    con = connect()
    try:
        overview = service.province_overview(con=con, months=months)
    except DomainError as error:
        raise fail(error) from error
    finally:
        con.disconnect()
    if json_output:
        print_json(overview)
    else:
        print_overview(overview)
