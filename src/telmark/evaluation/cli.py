"""``telmark evaluate``: an A/B/n experiment file, and the sample-size calculator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError

from telmark.clikit import JsonOpt, console, domain_errors, print_json, print_table
from telmark.errors import InvalidInput
from telmark.evaluation import service
from telmark.evaluation.cases import cli as case_cli
from telmark.evaluation.schemas import (
    DetectableRequest,
    ExperimentRead,
    OutcomeRead,
    SampleSizeRequest,
    ValueRead,
)
from telmark.evaluation.stats import FISHER_TEST

app = typer.Typer(no_args_is_help=True)
Request = TypeVar("Request", DetectableRequest, SampleSizeRequest)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


def _points(value: float | None) -> str:
    """An absolute rate difference in percentage points, signed."""
    return "—" if value is None else f"{value * 100:+.2f} pts"


def _range(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return "—"
    return f"{low * 100:+.2f} … {high * 100:+.2f}"


def _p(value: float | None) -> str:
    if value is None:
        return "—"
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:+,.2f}"


def print_outcome(result: OutcomeRead, *, control: str) -> None:
    print_table(
        f"{result.outcome}: take-up per arm (blank outcomes excluded)",
        ("arm", "customers", "known", "blank", "take-up", "95% CI"),
        [
            [
                a.label + (" (control)" if a.label == control else ""),
                f"{a.customers:,}",
                f"{a.known:,}",
                f"{a.missing:,}",
                _pct(a.rate),
                "—" if a.rate_low is None else f"{_pct(a.rate_low)} … {_pct(a.rate_high)}",
            ]
            for a in result.arms
        ],
    )
    print_table(
        f"{result.outcome}: each arm against {control}",
        ("arm", "uplift", "95% CI (pts)", "relative", "95% CI (%)", "test", "p", "p Holm", "MDE"),
        [
            [
                c.arm + (" *" if c.significant else ""),
                _points(c.uplift),
                _range(c.uplift_low, c.uplift_high),
                "—" if c.relative is None else f"{c.relative:+.1%}",
                _range(c.relative_low, c.relative_high),
                "Fisher" if c.test == FISHER_TEST else (c.test or "—"),
                _p(c.p_value),
                _p(c.p_adjusted),
                "—" if c.detectable_uplift is None else f"≥ {c.detectable_uplift * 100:.2f} pts",
            ]
            for c in result.comparisons
        ],
    )


def print_value(result: ValueRead, *, control: str) -> None:
    print_table(
        f"{result.column}: mean value per customer (blank values excluded)",
        ("arm", "customers", "with a value", "blank", "mean"),
        [
            [
                a.label + (" (control)" if a.label == control else ""),
                f"{a.customers:,}",
                f"{a.count:,}",
                f"{a.missing:,}",
                "—" if a.mean is None else f"{a.mean:,.2f}",
            ]
            for a in result.arms
        ],
    )
    print_table(
        f"{result.column}: incremental value against {control} (Welch 95% CI)",
        ("arm", "per customer", "95% CI", "total", "95% CI", "p", "p Holm"),
        [
            [
                c.arm + (" *" if c.significant else ""),
                _money(c.per_customer),
                "—" if c.low is None else f"{_money(c.low)} … {_money(c.high)}",
                _money(c.total),
                "—" if c.total_low is None else f"{_money(c.total_low)} … {_money(c.total_high)}",
                _p(c.p_value),
                _p(c.p_adjusted),
            ]
            for c in result.comparisons
        ],
    )


def print_experiment(result: ExperimentRead) -> None:
    console.print(
        f"{result.file}: {result.customers:,} customers; control {result.control!r}, "
        f"treatments {', '.join(repr(t) for t in result.treatments)} (column {result.arm_column!r})"
    )
    for outcome in result.outcomes:
        print_outcome(outcome, control=result.control)
    if result.value is not None:
        print_value(result.value, control=result.control)
    console.print(
        "* significant at 5 % after Holm's adjustment. MDE: the smallest rise over the control "
        "rate these arm sizes detect with 80 % power."
    )


@app.command("file")
def file_command(
    path: Annotated[
        Path, typer.Argument(help="CSV (UTF-8 or GBK) or Parquet, one row per customer.")
    ],
    arm: Annotated[str, typer.Option("--arm", help="Column holding each customer's arm.")],
    control: Annotated[str, typer.Option("--control", help="The control arm's label.")],
    outcome: Annotated[
        list[str],
        typer.Option(
            "--outcome",
            help="Outcome column (repeatable): 1/true/t/yes/y/是 or 0/false/f/no/n/否; "
            "blank = unknown, excluded and counted.",
        ),
    ],
    value: Annotated[
        str | None, typer.Option("--value", help="Numeric value column (blanks allowed).")
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Evaluate an A/B/n test: every treatment arm against the control."""
    with domain_errors():
        result = service.evaluate_file(
            path=path, arm=arm, control=control, outcomes=outcome, value=value
        )
    if json_output:
        print_json(result)
    else:
        print_experiment(result)


@app.command("mde")
def mde_command(
    base_rate: Annotated[float, typer.Option("--base-rate", help="Control rate, e.g. 0.02.")],
    treatment: Annotated[int, typer.Option("--treatment", help="Customers in treatment.")],
    control: Annotated[int, typer.Option("--control", help="Customers in control.")],
    alpha: Annotated[float, typer.Option(help="Two-sided significance level.")] = 0.05,
    power: Annotated[float, typer.Option(help="Power.")] = 0.8,
    json_output: JsonOpt = False,
) -> None:
    """The smallest uplift a test with these arm sizes can detect."""
    with domain_errors():
        result = service.detectable_uplift(
            request=_valid(
                DetectableRequest,
                base_rate=base_rate,
                n_treatment=treatment,
                n_control=control,
                alpha=alpha,
                power=power,
            )
        )
    if json_output:
        print_json(result)
        return
    found = result.detectable_uplift
    if found is None:
        console.print(f"At a base rate of {base_rate:.2%} no rise can be detected.")
    else:
        console.print(
            f"With {treatment:,} treatment and {control:,} control customers at a base rate "
            f"of {base_rate:.2%}, this test can detect ≥ {found * 100:.2f} points "
            f"({base_rate:.2%} → {base_rate + found:.2%}; alpha {alpha}, power {power})."
        )


@app.command("sample-size")
def sample_size_command(
    base_rate: Annotated[float, typer.Option("--base-rate", help="Control rate, e.g. 0.02.")],
    uplift: Annotated[
        float, typer.Option("--uplift", help="Absolute uplift to detect, e.g. 0.005 = 0.5 pts.")
    ],
    ratio: Annotated[float, typer.Option(help="Treatment customers per control customer.")] = 1.0,
    alpha: Annotated[float, typer.Option(help="Two-sided significance level.")] = 0.05,
    power: Annotated[float, typer.Option(help="Power.")] = 0.8,
    json_output: JsonOpt = False,
) -> None:
    """Customers each arm needs to detect an uplift."""
    with domain_errors():
        result = service.sample_size(
            request=_valid(
                SampleSizeRequest,
                base_rate=base_rate,
                uplift=uplift,
                ratio=ratio,
                alpha=alpha,
                power=power,
            )
        )
    if json_output:
        print_json(result)
        return
    console.print(
        f"To detect {uplift * 100:+.2f} points at a base rate of {base_rate:.2%}: "
        f"{result.n_treatment:,} treatment and {result.n_control:,} control customers "
        f"(alpha {alpha}, power {power})."
    )


def _valid(model: type[Request], **fields: object) -> Request:
    """The request, or InvalidInput naming the first bad option."""
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "options"
        raise InvalidInput(f"{where.replace('_', '-')}: {first['msg']}") from None


# The marketing case commands (evaluation.cases.cli): case, league, export.
app.command("case")(case_cli.case_command)
app.command("league")(case_cli.league_command)
app.command("export")(case_cli.export_command)
