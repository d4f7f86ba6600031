"""``telmark audit``: read and export the audit trail from the server.

Personal values in the entries are masked unless ``--unmask`` is given;
unmasking and exporting are themselves recorded, as the CLI user.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from telmark.actor import cli_actor
from telmark.audit import service
from telmark.audit.domain import PROVINCE_TZ, AuditAction, diff
from telmark.audit.schemas import AuditFilters
from telmark.clikit import JsonOpt, console, print_json
from telmark.uow import UnitOfWork

app = typer.Typer(no_args_is_help=True)

UnmaskOpt = Annotated[
    bool,
    typer.Option("--unmask", help="Show personal values in clear (recorded in the audit trail)."),
]
FromOpt = Annotated[
    datetime | None,
    typer.Option("--from", formats=["%Y-%m-%d"], help="First day (province time)."),
]
ToOpt = Annotated[
    datetime | None,
    typer.Option("--to", formats=["%Y-%m-%d"], help="Last day, included (province time)."),
]


def _filters(
    actor: str | None,
    action: str | None,
    entity_type: str | None,
    entity_id: str | None,
    date_from: datetime | None,
    date_to: datetime | None,
    text: str | None,
) -> AuditFilters:
    def day(value: datetime | None) -> date | None:
        return value.date() if value else None

    return AuditFilters(
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        date_from=day(date_from),
        date_to=day(date_to),
        text=text,
    )


def _text(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@app.command("list")
def list_command(
    actor: Annotated[str | None, typer.Option(help="Username of the actor.")] = None,
    action: Annotated[str | None, typer.Option(help="create, update, delete, read, …")] = None,
    entity_type: Annotated[str | None, typer.Option(help="Table, e.g. consent_entry.")] = None,
    entity_id: Annotated[str | None, typer.Option(help="Primary key of the object.")] = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    text: Annotated[str | None, typer.Option(help="Text anywhere in the entry.")] = None,
    page: Annotated[int, typer.Option(min=1)] = 1,
    page_size: Annotated[int, typer.Option(min=1, max=5000)] = 50,
    unmask: UnmaskOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """List audit entries, newest first."""
    filters = _filters(actor, action, entity_type, entity_id, date_from, date_to, text)
    with UnitOfWork(actor=cli_actor()) as uow:
        result = service.list_entries(
            uow=uow, filters=filters, page=page, page_size=page_size, unmask=unmask
        )
    if json_output:
        print_json(result)
        return
    console.print(f"[bold]audit trail[/]: {result.total} entries (page {page}/{result.pages})")
    for e in result.items:
        at = e.at.astimezone(PROVINCE_TZ).strftime("%Y-%m-%d %H:%M:%S")
        where = e.channel + (f" {e.ip}" if e.ip else "")
        console.print(
            f"[dim]#{e.id}[/] {at} [bold]{e.actor_username}[/] ({where}) {e.summary}",
            highlight=False,
        )
        for change in diff(e.before, e.after):
            if e.action == AuditAction.UPDATE:
                line = f"{_text(change.before)} → {_text(change.after)}"
            else:
                line = _text(change.before if e.action == AuditAction.DELETE else change.after)
            console.print(f"    {change.field}: {line}", highlight=False, markup=False)


@app.command()
def export(
    output: Annotated[Path, typer.Argument(dir_okay=False, writable=True)],
    actor: Annotated[str | None, typer.Option(help="Username of the actor.")] = None,
    action: Annotated[str | None, typer.Option(help="create, update, delete, read, …")] = None,
    entity_type: Annotated[str | None, typer.Option(help="Table, e.g. consent_entry.")] = None,
    entity_id: Annotated[str | None, typer.Option(help="Primary key of the object.")] = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    text: Annotated[str | None, typer.Option(help="Text anywhere in the entry.")] = None,
    unmask: UnmaskOpt = False,
) -> None:
    """Write the matching entries to OUTPUT as CSV (UTF-8 with BOM, opens in Excel)."""
    filters = _filters(actor, action, entity_type, entity_id, date_from, date_to, text)
    with UnitOfWork(actor=cli_actor()) as uow, output.open("w", encoding="utf-8", newline="") as f:
        for chunk in service.export_csv(uow=uow, filters=filters, unmask=unmask):
            f.write(chunk)
    console.print(f"wrote {output}" + ("" if unmask else " (personal values masked)"))
