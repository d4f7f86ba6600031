"""``telmark analysis ...``: KPI reads and customer-value fits (each with ``--json``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from telmark.analysis import service
from telmark.analysis.propensity.cli import app as propensity_app
from telmark.analysis.schemas import MonthKpis, OverviewRead
from telmark.analysis.value import service as value_service
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


# --- Customer value: retention (sBG) and CLV (BG/NBD + Gamma-Gamma) ----------------------

retention_app = typer.Typer(no_args_is_help=True, help="Contract retention (sBG model).")
clv_app = typer.Typer(no_args_is_help=True, help="Customer lifetime value (BG/NBD + Gamma-Gamma).")
app.add_typer(retention_app, name="retention")
app.add_typer(clv_app, name="clv")
app.add_typer(propensity_app, name="propensity", help="Propensity models for any labelled table.")


def _parse_survivors(text: str) -> list[int]:
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError as error:
        raise typer.BadParameter(f"not a comma-separated list of whole numbers: {text}") from error


@retention_app.command("fit")
def retention_fit_command(
    survivors: Annotated[
        str, typer.Option(help="Cohort size, then survivors after each period: 1000,631,468")
    ],
    periods: Annotated[
        int | None, typer.Option(min=1, help="Periods to project (default: twice the data).")
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Fit the shifted-beta-geometric model to one cohort and project its retention."""
    try:
        fitted = value_service.fit_retention(survivors=_parse_survivors(survivors), periods=periods)
    except DomainError as error:
        raise fail(error) from error
    if json_output:
        print_json(fitted)
        return
    console.print(
        f"alpha = {fitted.alpha:.4f}, beta = {fitted.beta:.4f}, "
        f"log-likelihood = {fitted.log_likelihood:.2f}"
    )
    print_table(
        "Projected retention",
        ("period", "survival", "retention", "expected", "observed"),
        [
            [
                p.period,
                f"{p.survival:.4f}",
                f"{p.retention:.4f}",
                f"{p.expected_survivors:,.1f}",
                p.observed_survivors,
            ]
            for p in fitted.projection
        ],
    )


@clv_app.command("fit")
def clv_fit_command(
    transactions: Annotated[Path, typer.Option(help="CSV or Parquet file of transactions.")],
    customer: Annotated[str, typer.Option(help="Customer id column.")],
    date: Annotated[str, typer.Option(help="Transaction date column.")],
    value: Annotated[str, typer.Option(help="Transaction value column.")],
    observation_end: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d"], help="Last day of the calibration data.")
    ],
    period_days: Annotated[float, typer.Option(min=0.001, help="Length of a period in days.")],
    horizon: Annotated[int, typer.Option(min=1, help="Periods ahead to value.")] = 12,
    discount_rate: Annotated[
        float, typer.Option(min=0.0, help="Discount rate per period for the CLV.")
    ] = 0.0,
    top: Annotated[int, typer.Option(min=1, help="Customers shown in the table.")] = 20,
    json_output: JsonOpt = False,
) -> None:
    """Fit BG/NBD + Gamma-Gamma; per-customer expected purchases, spend and CLV."""
    try:
        frame = value_service.read_transactions(
            transactions, name=str(transactions), customer=customer, date_column=date, value=value
        )
        fitted = value_service.fit_clv(
            transactions=frame,
            customer=customer,
            date_column=date,
            value=value,
            observation_end=observation_end.date(),
            period_days=period_days,
            horizon=horizon,
            discount_rate=discount_rate,
        )
    except DomainError as error:
        raise fail(error) from error
    if json_output:
        print_json(fitted)
        return
    p, s = fitted.purchases, fitted.spend
    console.print(
        f"BG/NBD: r = {p.r:.4f}, alpha = {p.alpha:.4f}, a = {p.a:.4f}, b = {p.b:.4f}, "
        f"log-likelihood = {p.log_likelihood:.2f} ({p.customers:,} customers)"
    )
    console.print(
        f"Gamma-Gamma: p = {s.p:.4f}, q = {s.q:.4f}, gamma = {s.gamma:.4f}, "
        f"log-likelihood = {s.log_likelihood:.2f} ({s.repeat_buyers:,} repeat buyers)"
    )
    print_table(
        f"Top {min(top, len(fitted.customers))} customers by CLV over {horizon} periods",
        ("customer", "repeat", "P(alive)", "purchases", "spend", "CLV"),
        [
            [
                c.customer,
                c.frequency,
                f"{c.probability_alive:.3f}",
                f"{c.expected_purchases:.3f}",
                f"{c.expected_spend:,.2f}",
                f"{c.clv:,.2f}",
            ]
            for c in fitted.customers[:top]
        ],
    )
