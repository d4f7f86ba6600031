"""``telmark market offers|shares list|add|import|delete``: market inputs from the shell.

The CLI acts with server rights (every unit is in scope) as ``cli:<user>``;
every change is audited like one made in the console.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Protocol

import typer

from telmark.clikit import JsonOpt, command_uow, console, print_json, print_table
from telmark.market import service
from telmark.market.domain import Competitor
from telmark.market.schemas import ImportReport, OfferCreate, OfferRead, ShareCreate, ShareRead
from telmark.uow import UnitOfWork

app = typer.Typer(no_args_is_help=True)
offers_app = typer.Typer(no_args_is_help=True, help="Competitor offers.")
shares_app = typer.Typer(no_args_is_help=True, help="Market share by city and month.")
app.add_typer(offers_app, name="offers")
app.add_typer(shares_app, name="shares")

CityOpt = Annotated[str | None, typer.Option(help="City code (C01).")]
EncodingOpt = Annotated[str, typer.Option(help="auto, utf-8, gbk or gb18030.")]
FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]
DayOpt = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])]


def _offers_table(title: str, offers: list[OfferRead]) -> None:
    print_table(
        title,
        ["id", "where", "competitor", "name", "fee (yuan)", "data MB", "5G", "launched"],
        [
            [
                o.id, "province" if o.province_wide else o.org_code, o.competitor, o.name,
                f"{o.monthly_fee_fen / 100:,.2f}", f"{o.data_mb:,}", "yes" if o.is_5g else "",
                f"{o.launched_on}" + (f" – {o.withdrawn_on}" if o.withdrawn_on else ""),
            ]
            for o in offers
        ],
    )  # fmt: skip


def _shares_table(title: str, shares: list[ShareRead]) -> None:
    print_table(
        title,
        ["id", "city", "month", "competitor", "share", "subscribers", "source"],
        [
            [
                s.id, s.org_code, f"{s.month:%Y-%m}", s.competitor,
                "" if s.share_bp is None else f"{s.share_bp / 100:.2f}%",
                "" if s.subscribers is None else f"{s.subscribers:,}", s.source,
            ]
            for s in shares
        ],
    )  # fmt: skip


class _Importer(Protocol):
    def __call__(
        self, *, uow: UnitOfWork, data: bytes, file_name: str, encoding: str = ...
    ) -> ImportReport: ...


def _done(result: object, json_output: bool, message: str) -> None:
    """Print ``result`` as JSON, or ``message``."""
    if json_output:
        print_json(result)
    else:
        console.print(message)


def _import(importer: _Importer, file: Path, encoding: str, json_output: bool) -> None:
    """Run ``importer`` (``service.import_offers`` or ``import_shares``) on ``file``."""
    with command_uow() as uow:
        report = importer(uow=uow, data=file.read_bytes(), file_name=file.name, encoding=encoding)
    _done(
        report,
        json_output,
        f"imported {report.file_name} ({report.encoding}): {report.rows} rows, "
        f"{report.added} added",
    )


@offers_app.command("list")
def offers_list(
    city: CityOpt = None,
    competitor: Annotated[Competitor | None, typer.Option()] = None,
    on_sale: DayOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Offers (with --city: that city's and the province-wide ones), cheapest first."""
    with command_uow() as uow:
        offers = service.list_offers(
            uow=uow,
            city=city,
            competitor=competitor,
            on_sale=on_sale.date() if on_sale else None,
        )
    if json_output:
        print_json(offers)
    else:
        _offers_table(f"{len(offers)} competitor offers", offers)


@offers_app.command("add")
def offers_add(
    competitor: Annotated[Competitor, typer.Option()],
    name: Annotated[str, typer.Option()],
    monthly_fee_fen: Annotated[int, typer.Option(min=0, help="Monthly fee in fen (12900).")],
    launched_on: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"])],
    city: Annotated[str | None, typer.Option(help="City code; omit for province-wide.")] = None,
    data_mb: Annotated[int, typer.Option(min=0)] = 0,
    voice_min: Annotated[int, typer.Option(min=0)] = 0,
    is_5g: Annotated[bool, typer.Option("--5g/--no-5g")] = False,
    withdrawn_on: DayOpt = None,
    notes: str = "",
    source: str = "",
    json_output: JsonOpt = False,
) -> None:
    """Record a competitor offer."""
    with command_uow() as uow:
        offer = service.add_offer(
            uow=uow,
            offer=OfferCreate(
                org_code=city,
                competitor=competitor,
                name=name,
                monthly_fee_fen=monthly_fee_fen,
                data_mb=data_mb,
                voice_min=voice_min,
                is_5g=is_5g,
                launched_on=launched_on.date(),
                withdrawn_on=withdrawn_on.date() if withdrawn_on else None,
                notes=notes,
                source=source,
            ),
        )
    _done(offer, json_output, f"recorded offer {offer.id}: {offer.competitor} {offer.name}")


@offers_app.command("import")
def offers_import(
    file: FileArg, encoding: EncodingOpt = "auto", json_output: JsonOpt = False
) -> None:
    """Import offers from CSV (see docs/user-guide.md for the columns): all rows or none."""
    _import(service.import_offers, file, encoding, json_output)


@offers_app.command("delete")
def offers_delete(offer_id: int, json_output: JsonOpt = False) -> None:
    """Delete offer OFFER_ID (the audit trail keeps its values)."""
    with command_uow() as uow:
        deleted = service.delete_offer(uow=uow, offer_id=offer_id)
    _done(deleted, json_output, f"deleted offer {deleted.id} ({deleted.competitor} {deleted.name})")


@shares_app.command("list")
def shares_list(
    city: CityOpt = None,
    month_from: DayOpt = None,
    month_to: DayOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Share entries by city, month and competitor."""
    with command_uow() as uow:
        shares = service.list_shares(
            uow=uow,
            city=city,
            month_from=month_from.date() if month_from else None,
            month_to=month_to.date() if month_to else None,
        )
    if json_output:
        print_json(shares)
    else:
        _shares_table(f"{len(shares)} share entries", shares)


@shares_app.command("add")
def shares_add(
    city: Annotated[str, typer.Option(help="City code (C01).")],
    month: Annotated[datetime, typer.Option(formats=["%Y-%m", "%Y-%m-%d"])],
    competitor: Annotated[Competitor, typer.Option()],
    share_bp: Annotated[
        int | None, typer.Option(min=0, max=10_000, help="Share in basis points.")
    ] = None,
    subscribers: Annotated[
        int | None, typer.Option(min=0, help="Estimated subscribers (instead of a share).")
    ] = None,
    notes: str = "",
    source: str = "",
    json_output: JsonOpt = False,
) -> None:
    """Record a competitor's share (or estimate) of a city in a month."""
    with command_uow() as uow:
        share = service.add_share(
            uow=uow,
            share=ShareCreate(
                org_code=city,
                month=date(month.year, month.month, 1),
                competitor=competitor,
                share_bp=share_bp,
                subscribers=subscribers,
                notes=notes,
                source=source,
            ),
        )
    message = f"recorded share entry {share.id}: {share.org_code} {share.month:%Y-%m}"
    _done(share, json_output, message)


@shares_app.command("import")
def shares_import(
    file: FileArg, encoding: EncodingOpt = "auto", json_output: JsonOpt = False
) -> None:
    """Import shares from CSV (org_code,month,competitor,share_bp|subscribers): all or none."""
    _import(service.import_shares, file, encoding, json_output)


@shares_app.command("delete")
def shares_delete(share_id: int, json_output: JsonOpt = False) -> None:
    """Delete share entry SHARE_ID."""
    with command_uow() as uow:
        deleted = service.delete_share(uow=uow, share_id=share_id)
    _done(deleted, json_output, f"deleted share entry {deleted.id}")
