"""``telmark analysis kpi ...``: build the KPI cube and read it for any unit (``--json``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from telmark.analysis.kpi import service
from telmark.analysis.kpi.domain import KPIS, kpi_value
from telmark.analysis.kpi.schemas import KpiPoint, KpiRead
from telmark.clikit import JsonOpt, command_warehouse, console, print_json, print_table

app = typer.Typer(no_args_is_help=True, help="KPI cube by org unit, month, plan family, payment.")

_SHOWN = ("subscribers", "net_adds", "gross_adds", "churn_rate", "arpu_fen", "dou_mb",
          "mou_min", "penetration_5g", "bundle_penetration", "complaint_rate")  # fmt: skip


def _text(key: str, value: float | None) -> str:
    if value is None:
        return "-"
    fmt = KPIS[key].format
    if fmt == "percent":
        return f"{value * 100:.2f}%"
    if fmt in ("yuan", "yuan_compact"):
        return f"{value / 100:,.2f}"
    if fmt == "decimal":
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def _change(key: str, change: float | None) -> str:
    if change is None:
        return "-"
    if KPIS[key].change == "difference":
        return f"{change * 100:+.2f}pp" if KPIS[key].format == "percent" else f"{change:+,.0f}"
    return f"{change * 100:+.1f}%"


def _point_row(label: str, point: KpiPoint) -> list[str]:
    return [label, *(_text(k, kpi_value(point, k)) for k in _SHOWN)]


def print_kpis(read: KpiRead) -> None:
    """The unit's months, its latest month's changes and its children."""
    headers = ("month", *_SHOWN)
    path = " > ".join(f"{u.name} ({u.org_id})" for u in read.path)
    print_table(path, headers, [_point_row(f"{p.month:%Y-%m}", p) for p in read.series])
    latest = read.latest
    yoy = latest.yoy or {}
    print_table(
        f"Changes in {latest.month:%Y-%m}",
        ("KPI", "value", "MoM", "YoY"),
        [
            [k, _text(k, kpi_value(latest, k)), _change(k, latest.mom[k]), _change(k, yoy.get(k))]
            for k in KPIS
        ],
    )
    if not read.yoy_available:
        console.print("YoY: the month a year earlier is not in the cube.")
    if read.children:
        print_table(
            f"Children in {latest.month:%Y-%m}",
            ("unit", *_SHOWN),
            [_point_row(f"{c.unit.name} ({c.unit.org_id})", c.point) for c in read.children],
        )


@app.command("refresh")
def refresh_command(json_output: JsonOpt = False) -> None:
    """Rebuild the ``kpi_cube`` warehouse table from the loaded data."""
    with command_warehouse() as con:
        result = service.refresh_cube(con=con)
    if json_output:
        print_json(result)
        return
    months = f"{result.months[0]:%Y-%m} … {result.months[-1]:%Y-%m}"
    console.print(
        f"kpi_cube: {result.rows:,} rows, {len(result.months)} months ({months}), "
        f"built in {result.seconds:.1f} s"
    )
    for name in result.missing_tables:
        console.print(f"note: table {name} is missing; its measures are 0")


@app.command("show")
def show_command(
    unit: Annotated[str | None, typer.Option(help="Org unit id (default: the province).")] = None,
    months: Annotated[int | None, typer.Option("--months", "-m", min=1)] = None,
    plan_family: Annotated[str | None, typer.Option(help="Only this plan family.")] = None,
    payment_type: Annotated[str | None, typer.Option(help="prepaid or postpaid.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """A unit's KPIs by month with MoM/YoY and its children in the latest month."""
    with command_warehouse() as con:
        read = service.unit_kpis(
            con=con, unit=unit, months=months, plan_family=plan_family, payment_type=payment_type
        )
    if json_output:
        print_json(read)
    else:
        print_kpis(read)


@app.command("month")
def month_command(
    unit: Annotated[str, typer.Option(help="Org unit id, e.g. a city.")],
    month: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m", "%Y-%m-%d"], help="Default: latest.")
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """One unit's KPIs in one month with MoM/YoY and its rank among its siblings."""
    with command_warehouse() as con:
        read = service.unit_month(con=con, unit=unit, month=month.date() if month else None)
    if json_output:
        print_json(read)
        return
    print_table(
        f"{read.unit.name} ({read.unit.org_id}) in {read.month:%Y-%m}",
        ("KPI", "value", "MoM", "rank"),
        [
            [k, _text(k, kpi_value(read.point, k)), _change(k, read.point.mom[k]),
             f"{read.ranks[k]}/{len(read.peers)}" if read.ranks[k] else "-"]
            for k in KPIS
        ],
    )  # fmt: skip
