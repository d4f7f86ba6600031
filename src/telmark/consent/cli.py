"""``telmark consent``: look up, add, revoke, import and export the consent register.

The CLI acts with server rights as the operating-system user (``cli:<name>``).
Numbers are masked unless ``--unmask`` is given; an unmasked listing or
export is recorded in the audit trail as a sensitive read by that user.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from telmark.actor import cli_actor
from telmark.clikit import JsonOpt, command_uow, console, print_json, print_table
from telmark.consent import service
from telmark.consent.domain import CONTACT_CHANNELS, Channel, ConsentKind, Source
from telmark.consent.schemas import (
    ConsentEntryCreate,
    ConsentEntryRead,
    ConsentFilters,
    EntryStatus,
)
from telmark.uow import UnitOfWork

app = typer.Typer(no_args_is_help=True)

UnmaskOpt = Annotated[
    bool,
    typer.Option("--unmask", help="Show numbers in clear (recorded in the audit trail)."),
]
MsisdnOpt = Annotated[str | None, typer.Option(help="Exact mobile number.")]
KindOpt = Annotated[ConsentKind | None, typer.Option(help="Kind of entry.")]
ChannelOpt = Annotated[Channel | None, typer.Option(help="Entries blocking this channel.")]
StatusOpt = Annotated[EntryStatus, typer.Option(help="in_force, revoked or all.")]


def _table(title: str, entries: list[ConsentEntryRead]) -> None:
    # Few columns so the table fits 80 characters; --json has every field.
    print_table(
        title,
        ["id", "msisdn", "kind", "channel", "since", "status", "reason"],
        [
            [
                e.id, e.msisdn, e.kind, e.channel, f"{e.created_at:%Y-%m-%d}",
                "in force" if e.in_force else f"lifted {e.revoked_at:%Y-%m-%d}", e.reason,
            ]
            for e in entries
        ],
    )  # fmt: skip


@app.command("list")
def list_command(
    msisdn: MsisdnOpt = None,
    kind: KindOpt = None,
    channel: ChannelOpt = None,
    status: StatusOpt = EntryStatus.IN_FORCE,
    page: Annotated[int, typer.Option(min=1)] = 1,
    page_size: Annotated[int, typer.Option(min=1, max=5000)] = 50,
    unmask: UnmaskOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """List entries of the register, newest first."""
    filters = ConsentFilters(msisdn=msisdn, kind=kind, channel=channel, status=status)
    with command_uow() as uow:
        result = service.list_entries(
            uow=uow, filters=filters, page=page, page_size=page_size, unmask=unmask
        )
    if json_output:
        print_json(result)
        return
    _table(f"consent register: {result.total} entries (page {page}/{result.pages})", result.items)


@app.command()
def add(
    msisdn: str,
    kind: Annotated[ConsentKind, typer.Option(help="opt_out, dnd or blacklist.")],
    channel: Annotated[Channel, typer.Option(help="Channel blocked; 'all' for every one.")],
    reason: Annotated[str, typer.Option(help="Why, e.g. the customer's words.")] = "",
    source: Annotated[Source, typer.Option(help="manual or customer_request.")] = Source.MANUAL,
    unmask: UnmaskOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Put MSISDN on the register."""
    entry = ConsentEntryCreate(
        msisdn=msisdn, kind=kind, channel=channel, reason=reason, source=source
    )
    with command_uow() as uow:
        shown = service.add_entry(uow=uow, entry=entry, unmask=unmask)
    if json_output:
        print_json(shown)
    else:
        console.print(f"added entry {shown.id}: {shown.msisdn} {shown.kind} on {shown.channel}")


@app.command()
def revoke(
    entry_id: int,
    reason: Annotated[str, typer.Option(help="Why (required for blacklist entries).")] = "",
    json_output: JsonOpt = False,
) -> None:
    """Revoke entry ENTRY_ID; it stays on record."""
    with command_uow() as uow:
        # Server rights: the CLI may lift blacklist entries (with a reason).
        shown = service.revoke_entry(
            uow=uow, entry_id=entry_id, reason=reason, may_manage=True, unmask=False
        )
    if json_output:
        print_json(shown)
    else:
        console.print(f"revoked entry {shown.id} ({shown.msisdn} {shown.kind} {shown.channel})")


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    encoding: Annotated[str, typer.Option(help="auto, utf-8, gbk or gb18030.")] = "auto",
    json_output: JsonOpt = False,
) -> None:
    """Import a consent CSV (msisdn,kind,channel[,reason,source]): all rows or none."""
    with command_uow() as uow:
        report = service.import_file(
            uow=uow, data=file.read_bytes(), file_name=file.name, encoding=encoding
        )
    if json_output:
        print_json(report)
    elif report.repeated:
        console.print(f"{file.name} was imported before (import {report.id}); nothing added")
    else:
        console.print(
            f"imported {file.name} ({report.encoding}): {report.rows} rows, "
            f"{report.added} added, {report.already_present} already on the register"
        )


@app.command()
def check(
    msisdn: str,
    channel: Annotated[Channel, typer.Option(help="Channel about to be used.")],
    unmask: UnmaskOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """May MSISDN be contacted on CHANNEL now? Exit code 1 if not."""
    with command_uow() as uow:
        result = service.check_contact(uow=uow, msisdn=msisdn, channel=channel, unmask=unmask)
    if json_output:
        print_json(result)
    elif result.contactable:
        console.print(f"{result.msisdn} may be contacted on {channel}")
    else:
        _table(f"{result.msisdn} may NOT be contacted on {channel}", result.blocking)
    if not result.contactable:
        raise typer.Exit(code=1)


@app.command()
def summary(json_output: JsonOpt = False) -> None:
    """How many numbers each channel must leave out right now."""
    with UnitOfWork(actor=cli_actor()) as uow:
        counts = {
            str(c): service.blocked_msisdns(uow=uow, channel=c).num_rows
            for c in (*CONTACT_CHANNELS, Channel.ALL)
        }
    if json_output:
        print_json({"blocked": counts})
        return
    rows = [[c, n] for c, n in counts.items()]
    print_table("numbers blocked per channel ('all': on any channel)", ["channel", "blocked"], rows)


@app.command()
def export(
    output: Annotated[Path, typer.Argument(dir_okay=False, writable=True)],
    msisdn: MsisdnOpt = None,
    kind: KindOpt = None,
    channel: ChannelOpt = None,
    status: StatusOpt = EntryStatus.IN_FORCE,
    unmask: UnmaskOpt = False,
) -> None:
    """Write the matching entries to OUTPUT as CSV (UTF-8 with BOM, opens in Excel)."""
    filters = ConsentFilters(msisdn=msisdn, kind=kind, channel=channel, status=status)
    with UnitOfWork(actor=cli_actor()) as uow, output.open("w", encoding="utf-8", newline="") as f:
        for chunk in service.export_csv(uow=uow, filters=filters, unmask=unmask):
            f.write(chunk)
    console.print(f"wrote {output}" + ("" if unmask else " (numbers masked)"))
