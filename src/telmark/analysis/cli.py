"""``telmark analysis ...``: KPI reads and customer-value fits (each with ``--json``)."""

from __future__ import annotations

from typing import Annotated

import typer

from telmark.analysis import service
from telmark.analysis.churn.cli import app as churn_app
from telmark.analysis.kpi.cli import app as kpi_app
from telmark.analysis.propensity.cli import app as propensity_app
from telmark.analysis.report.cli import report_command
from telmark.analysis.schemas import MonthKpis, OverviewRead
from telmark.analysis.uplift.cli import app as uplift_app
from telmark.analysis.value.cli import clv_app, retention_app, value_app
from telmark.clikit import JsonOpt, command_warehouse, console, print_json, print_table

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
    with command_warehouse() as con:
        overview = service.province_overview(con=con, months=months)
    if json_output:
        print_json(overview)
    else:
        print_overview(overview)


# --- Sub-apps: customer value (value/cli.py), propensity, KPI cube, churn -------------------

app.add_typer(retention_app, name="retention")
app.add_typer(clv_app, name="clv")
app.add_typer(value_app, name="value")
app.add_typer(propensity_app, name="propensity", help="Propensity models for any labelled table.")
app.add_typer(kpi_app, name="kpi")
app.add_typer(churn_app, name="churn", help="Churn propensity model: train, score, versions.")
app.add_typer(uplift_app, name="uplift", help="Uplift models from finished cases: train, score.")
app.command("report")(report_command)
