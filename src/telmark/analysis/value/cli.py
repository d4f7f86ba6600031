"""``telmark analysis retention|clv|value ...``: the value fits and the customer_value table."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from telmark.analysis.value import service
from telmark.analysis.value.cohorts import DEFAULT_COHORT_MONTHS
from telmark.analysis.value.decay import DEFAULT_HALF_LIFE_MONTHS
from telmark.analysis.value.schemas import CohortsRead, TierCount, ValueRefreshRead
from telmark.clikit import (
    JsonOpt,
    command_warehouse,
    console,
    domain_errors,
    print_json,
    print_table,
)

retention_app = typer.Typer(no_args_is_help=True, help="Contract retention (sBG model).")
clv_app = typer.Typer(no_args_is_help=True, help="Customer lifetime value (BG/NBD + Gamma-Gamma).")
value_app = typer.Typer(
    no_args_is_help=True, help="Customer value table: RFM tiers, decayed value and CLV."
)


def _parse_survivors(text: str) -> list[int]:
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError as error:
        raise typer.BadParameter(f"not a comma-separated list of whole numbers: {text}") from error


def _yuan(fen: int | None) -> str:
    return "-" if fen is None else f"{fen / 100:,.2f}"


def print_cohorts(read: CohortsRead) -> None:
    """The pooled fit, then each cohort's survivors and own fit."""
    if read.pooled is not None:
        p = read.pooled
        console.print(
            f"Pooled sBG over {p.cohorts} cohorts ({p.lines:,} lines): alpha = {p.alpha:.4f}, "
            f"beta = {p.beta:.4f}, log-likelihood = {p.log_likelihood:.2f}"
        )
    else:
        console.print(f"No pooled fit: {read.pooled_problem}")
    print_table(
        f"Contract cohorts by join month (data from {read.data_start_month:%Y-%m} "
        f"to {read.as_of_month:%Y-%m})",
        ("join month", "from month", "survivors", "alpha", "beta", "log-lik", "note"),
        [
            [
                f"{c.join_month:%Y-%m}",
                c.first_period,
                ",".join(str(s) for s in c.survivors),
                "-" if c.alpha is None else f"{c.alpha:.4f}",
                "-" if c.beta is None else f"{c.beta:.4f}",
                "-" if c.log_likelihood is None else f"{c.log_likelihood:.2f}",
                c.problem or "",
            ]
            for c in read.cohorts
        ],
    )


@retention_app.command("fit")
def retention_fit_command(
    survivors: Annotated[
        str | None,
        typer.Option(help="Cohort size, then survivors after each period: 1000,631,468"),
    ] = None,
    periods: Annotated[
        int | None, typer.Option(min=1, help="Periods to project (default: twice the data).")
    ] = None,
    from_warehouse: Annotated[
        bool,
        typer.Option(
            "--from-warehouse",
            help="Derive contract cohorts by join month from the warehouse and fit each.",
        ),
    ] = False,
    cohort_months: Annotated[
        int, typer.Option(min=1, max=600, help="With --from-warehouse: latest N join months.")
    ] = DEFAULT_COHORT_MONTHS,
    json_output: JsonOpt = False,
) -> None:
    """Fit the shifted-beta-geometric model to one cohort (or the warehouse's cohorts)."""
    if from_warehouse == (survivors is not None):
        raise typer.BadParameter("give either --survivors or --from-warehouse")
    if from_warehouse:
        with command_warehouse() as con:
            read = service.retention_cohorts(con=con, cohort_months=cohort_months)
        if json_output:
            print_json(read)
        else:
            print_cohorts(read)
        return
    assert survivors is not None
    with domain_errors():
        fitted = service.fit_retention(survivors=_parse_survivors(survivors), periods=periods)
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
    with domain_errors():
        frame = service.read_transactions(
            transactions, name=str(transactions), customer=customer, date_column=date, value=value
        )
        fitted = service.fit_clv(
            transactions=frame,
            customer=customer,
            date_column=date,
            value=value,
            observation_end=observation_end.date(),
            period_days=period_days,
            horizon=horizon,
            discount_rate=discount_rate,
        )
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


def _tier_rows(tiers: list[TierCount]) -> list[list[str]]:
    lines = sum(t.subscribers for t in tiers) or 1
    revenue = sum(t.revenue_fen for t in tiers) or 1
    return [
        [
            t.tier,
            f"{t.subscribers:,}",
            f"{t.subscribers / lines:.1%}",
            _yuan(t.revenue_fen),
            f"{t.revenue_fen / revenue:.1%}",
        ]
        for t in tiers
    ]


def print_refresh(read: ValueRefreshRead) -> None:
    """What the refresh computed: tiers, then the fitted models."""
    console.print(
        f"[green]customer_value rebuilt[/]: {read.subscribers:,} lines as of "
        f"{read.as_of_month:%Y-%m} ({read.window_months}-month window, half-life "
        f"{read.half_life_months:g} months, CLV over {read.horizon} months) in {read.seconds:.1f}s"
    )
    print_table(
        "Value tiers",
        ("tier", "lines", "share", "monthly revenue (yuan)", "revenue share"),
        _tier_rows(read.tiers),
    )
    if read.sbg is not None:
        console.print(
            f"sBG (contract lines): pooled alpha = {read.sbg.alpha:.4f}, beta = "
            f"{read.sbg.beta:.4f} over {read.sbg.cohorts} cohorts; "
            f"{read.sbg_cohorts_fitted} recent cohorts fitted on their own"
        )
    if read.recharge_model is not None:
        m = read.recharge_model
        sample = "" if m.fitted_on == m.lines else f" (fitted on a sample of {m.fitted_on:,})"
        console.print(
            f"BG/NBD + Gamma-Gamma (prepaid recharges): {m.lines:,} lines{sample}; "
            f"r = {m.purchases.r:.4g}, alpha = {m.purchases.alpha:.4g}, "
            f"a = {m.purchases.a:.4g}, b = {m.purchases.b:.4g}"
            + ("; no dropout found, valued with the NBD limit" if m.dropout_free else "")
        )
    for problem in read.problems:
        console.print(f"[yellow]not valued[/]: {problem}")


@value_app.command("refresh")
def value_refresh_command(
    half_life_months: Annotated[
        float,
        typer.Option(min=0.01, help="Months after which inactive value counts half."),
    ] = DEFAULT_HALF_LIFE_MONTHS,
    horizon: Annotated[int, typer.Option(min=1, max=120, help="CLV horizon in months.")] = 12,
    discount_rate: Annotated[
        float, typer.Option(min=0.0, max=0.99, help="Monthly discount rate for the CLV.")
    ] = 0.0,
    cohort_months: Annotated[
        int, typer.Option(min=1, max=600, help="Latest join months fitted on their own.")
    ] = DEFAULT_COHORT_MONTHS,
    json_output: JsonOpt = False,
) -> None:
    """Recompute RFM tiers, decayed value and CLV of every line into ``customer_value``."""
    with command_warehouse() as con:
        read = service.refresh_customer_value(
            con=con,
            half_life_months=half_life_months,
            horizon=horizon,
            discount_rate=discount_rate,
            cohort_months=cohort_months,
        )
    if json_output:
        print_json(read)
    else:
        print_refresh(read)


@value_app.command("summary")
def value_summary_command(json_output: JsonOpt = False) -> None:
    """Tier shares of the province and its cities, recency and CLV distribution."""
    with command_warehouse() as con:
        read = service.value_summary(con=con)
    if json_output:
        print_json(read)
        return
    print_table(
        f"Value tiers as of {read.as_of_month:%Y-%m}",
        ("tier", "lines", "share", "monthly revenue (yuan)", "revenue share"),
        _tier_rows(read.tiers),
    )
    print_table(
        "Lines per tier by unit",
        ("unit", *[t.tier for t in read.tiers]),
        [[f"{u.name} ({u.org_id})", *[f"{t.subscribers:,}" for t in u.tiers]] for u in read.units],
    )
    print_table(
        "CLV by model",
        ("model", "lines", "CLV (yuan)"),
        [[t.model or "none", f"{t.subscribers:,}", _yuan(t.clv_fen)] for t in read.clv_totals],
    )
