"""``telmark responses``: import order events, attribute them, read a case's responses, simulate.

The CLI acts with server rights, as every telmark command does. Examples::

    telmark responses import boss-orders-20261005.csv
    telmark responses attribute --case-id 7
    telmark responses summary --case-id 7 --by city --json
    telmark responses window --case-id 7 --days 14
    telmark responses simulate --until 2026-10-20 --seed 7     # demo data only
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from telmark.clikit import JsonOpt, command_uow, command_warehouse, console, print_json, print_table
from telmark.config import get_settings
from telmark.execution.responses import service, simulate
from telmark.execution.responses.domain import Breakdown
from telmark.execution.responses.schemas import AttributionRead, ImportRead, ResponseCount

app = typer.Typer(no_args_is_help=True)

CaseOpt = Annotated[int, typer.Option("--case-id", help="A marketing case.")]


def _percent(bp: int | None) -> str:
    return "—" if bp is None else f"{bp / 100:.2f}%"


def _show_attribution(result: AttributionRead) -> None:
    console.print(
        f"exposures: +{result.exposures_added:,} (−{result.exposures_removed:,}), "
        f"runs read: {result.runs_loaded}; events: {result.events:,}; attributions: "
        f"+{result.attributed:,}, moved {result.updated:,}, −{result.removed:,}; "
        f"outbox responded: {result.responded:,}"
    )
    if result.runs_unreadable:
        console.print(
            "  runs whose list file could not be read: "
            + ", ".join(str(r) for r in result.runs_unreadable)
        )


def _show_import(result: ImportRead) -> None:
    console.print(
        f"{result.source}: {result.rows:,} events, {result.new_events:,} new, "
        f"{result.already_known:,} already imported"
        + (f" (batch {result.import_id})" if result.import_id else "")
    )
    _show_attribution(result.attribution)


def _rows(counts: list[ResponseCount]) -> list[list[object]]:
    return [
        [c.key or "", c.group, f"{c.exposed:,}", f"{c.responders:,}", _percent(c.take_up_bp),
         f"{c.revenue_fen / 100:,.2f}", f"{c.guardrails:,}"]
        for c in counts
    ]  # fmt: skip


@app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="A CSV or Parquet file of events.")],
    json_output: JsonOpt = False,
) -> None:
    """Import a file of order events (all or nothing; known event ids are skipped)."""
    with command_uow() as uow:
        result = service.import_file(
            uow=uow, path=path, directory=get_settings().resolved_targeting_dir
        )
    if json_output:
        print_json(result.model_dump(mode="json"))
        return
    _show_import(result)


@app.command("attribute")
def attribute_command(
    case_id: Annotated[int | None, typer.Option("--case-id", help="Only this case.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Collect new contacts and control rows, and attribute the events (a rerun changes nothing)."""
    with command_uow() as uow:
        result = service.attribute(
            uow=uow, case_id=case_id, directory=get_settings().resolved_targeting_dir
        )
    if json_output:
        print_json(result.model_dump(mode="json"))
        return
    _show_attribution(result)


@app.command("summary")
def summary_command(
    case_id: CaseOpt,
    by: Annotated[Breakdown | None, typer.Option("--by", help="Break down by this.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """A case's exposed, responders, take-up and revenue, treatment against control."""
    with command_uow() as uow:
        result = service.case_responses(uow=uow, case_id=case_id, by=by, recent=0)
    if json_output:
        print_json(result.model_dump(mode="json"))
        return
    columns = [by.value if by else "", "group", "exposed", "responders", "take-up",
               "revenue (yuan/month)", "guardrails"]  # fmt: skip
    print_table(
        f"case {result.case_code}: attribution window {result.attribution_days} days",
        columns,
        _rows(result.totals) + (_rows(result.rows) if by else []),
    )


@app.command("window")
def window_command(
    case_id: CaseOpt,
    days: Annotated[
        int | None, typer.Option("--days", help="Days; leave out for the default setting.")
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Set a case's attribution window and attribute its events again."""
    with command_uow() as uow:
        result = service.set_window(
            uow=uow, case_id=case_id, days=days, directory=get_settings().resolved_targeting_dir
        )
    if json_output:
        print_json(result.model_dump(mode="json"))
        return
    console.print(f"case {result.case_code}: attribution window {result.effective_days} days")
    _show_attribution(result.attribution)


@app.command("simulate")
def simulate_command(
    case_id: Annotated[int | None, typer.Option("--case-id", help="Only this case.")] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Last day (YYYY-MM-DD); today by default.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same responses.")] = (
        simulate.DEFAULT_SEED
    ),
    json_output: JsonOpt = False,
) -> None:
    """Demo data only: draw responses to the contacts from the generator's hidden model."""
    try:
        last = None if until is None else date.fromisoformat(until)
    except ValueError:
        raise typer.BadParameter("a date YYYY-MM-DD", param_hint="--until") from None
    settings = get_settings()
    with command_warehouse(settings=settings) as con, command_uow() as uow:
        result = simulate.simulate(
            uow=uow, con=con, case_id=case_id, until=last, seed=seed,
            directory=settings.resolved_targeting_dir,
        )  # fmt: skip
    if json_output:
        print_json(result.model_dump(mode="json"))
        return
    console.print(
        f"seed {result.seed}, until {result.until}: {result.exposed:,} exposed subscribers in "
        f"{len(result.cases)} case(s); {result.drawn:,} responses drawn "
        f"({result.treatment_drawn:,} treatment, {result.control_drawn:,} control)"
    )
    _show_import(result.import_read)
