"""``telmark catalog list|show|create|version|retire|price|order-price|sync``.

The catalog from the shell.

The CLI acts with server rights (as ``cli:<user>``, province-wide); every
change is audited like one made in the console. ``create`` and ``version``
take simple terms as options, or a JSON/YAML file (``--file``) for bundle
components and handset terms.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from telmark.catalog import service
from telmark.catalog.domain import PaymentType, ProductKind, ProductStatus
from telmark.catalog.schemas import ProductCreate, ProductRead, VersionCreate
from telmark.clikit import (
    JsonOpt,
    command_uow,
    command_warehouse,
    console,
    print_json,
    print_table,
)
from telmark.errors import InvalidInput

app = typer.Typer(no_args_is_help=True)

_M = TypeVar("_M", bound=BaseModel)
DayOpt = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD.")]
FileOpt = Annotated[
    Path | None,
    typer.Option("--file", exists=True, dir_okay=False, help="Terms as a JSON or YAML file."),
]
FeeOpt = Annotated[int | None, typer.Option(min=0, help="Monthly fee in fen (12900).")]


def _yuan(fen: int | None) -> str:
    return "" if fen is None else f"{fen / 100:,.2f}"


def _load(path: Path, model: type[_M], extra: dict[str, Any]) -> _M:
    """``model`` from a JSON/YAML file, options in ``extra`` filling what it leaves out."""
    import yaml  # type: ignore[import-untyped]  # PyYAML ships no type hints

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise InvalidInput(f"{path.name}: not valid JSON or YAML: {error}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path.name}: expected a mapping of fields")
    return _validate(model, {**{k: v for k, v in extra.items() if v is not None}, **data})


def _validate(model: type[_M], data: dict[str, Any]) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems: list[dict[str, object]] = [
            {"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]}
            for e in error.errors()
        ]
        first = problems[0]
        raise InvalidInput(f"{first['field']}: {first['reason']}", details=problems) from None


def _show(product: ProductRead) -> None:
    console.print(
        f"[bold]{product.code}[/] {product.name} · {product.kind} · {product.family} · "
        f"{product.payment_type} · {product.status}"
        + (f" (retired {product.retired_on})" if product.retired_on else "")
    )
    print_table(
        "versions",
        ["version", "from", "until", "fee (yuan)", "terms", "source", "note"],
        [
            [
                v.version, v.valid_from, v.valid_until or "", _yuan(v.monthly_fee_fen),
                "; ".join(
                    t for t in (
                        f"{v.data_mb:,} MB" if v.data_mb else "",
                        f"{v.voice_min} min" if v.voice_min else "",
                        "5G" if v.is_5g else "",
                        f"{v.speed_mbps} Mbps" if v.speed_mbps else "",
                        f"{v.iptv_channels} channels" if v.iptv_channels else "",
                        ", ".join(f"{c.code}×{c.quantity}={_yuan(c.fee_share_fen)}"
                                  for c in v.components),
                        (f"{v.handset.device_model} {_yuan(v.handset.device_price_fen)}, "
                         f"subsidy {_yuan(v.handset.subsidy_fen)}, "
                         f"{v.handset.lock_in_months} months ≥ "
                         f"{_yuan(v.handset.min_monthly_spend_fen)}") if v.handset else "",
                    ) if t
                ),
                v.source, v.note,
            ]
            for v in product.versions
        ],
    )  # fmt: skip


def _done(product: ProductRead, json_output: bool) -> None:
    if json_output:
        print_json(product)
    else:
        _show(product)


@app.command("list")
def list_command(
    kind: Annotated[ProductKind | None, typer.Option()] = None,
    family: Annotated[str | None, typer.Option()] = None,
    status: Annotated[ProductStatus | None, typer.Option()] = None,
    on: DayOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Products by kind and family, with the fee in force today (or --on)."""
    with command_uow() as uow:
        products = service.list_products(
            uow=uow, kind=kind, family=family, status=status, on=on.date() if on else None
        )
    if json_output:
        print_json(products)
        return
    print_table(
        f"{len(products)} products",
        ["code", "name", "kind", "family", "payment", "status", "fee (yuan)", "version"],
        [
            [
                p.code, p.name, p.kind, p.family, p.payment_type, p.status,
                _yuan(p.current.monthly_fee_fen) if p.current else "",
                p.current.version if p.current else "",
            ]
            for p in products
        ],
    )  # fmt: skip


@app.command("show")
def show_command(code: str, on: DayOpt = None, json_output: JsonOpt = False) -> None:
    """One product and its version history."""
    with command_uow() as uow:
        product = service.get_product(uow=uow, code=code, on=on.date() if on else None)
    _done(product, json_output)


def _version_options(
    valid_from: datetime | None,
    fee: int | None,
    data_mb: int | None,
    voice_min: int | None,
    is_5g: bool | None,
    speed_mbps: int | None,
    note: str | None,
) -> dict[str, Any]:
    return {
        "valid_from": valid_from.date() if valid_from else None,
        "monthly_fee_fen": fee,
        "data_mb": data_mb,
        "voice_min": voice_min,
        "is_5g": is_5g,
        "speed_mbps": speed_mbps,
        "note": note,
    }


@app.command("create")
def create_command(
    code: Annotated[str | None, typer.Option(help="Product code (warehouse product_id).")] = None,
    name: Annotated[str | None, typer.Option(help="Chinese name.")] = None,
    kind: Annotated[ProductKind | None, typer.Option()] = None,
    family: Annotated[str | None, typer.Option()] = None,
    payment_type: Annotated[PaymentType | None, typer.Option()] = None,
    fee: FeeOpt = None,
    data_mb: Annotated[int | None, typer.Option()] = None,
    voice_min: Annotated[int | None, typer.Option()] = None,
    is_5g: Annotated[bool | None, typer.Option("--5g/--no-5g")] = None,
    speed_mbps: Annotated[int | None, typer.Option()] = None,
    valid_from: DayOpt = None,
    note: Annotated[str | None, typer.Option()] = None,
    file: FileOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Add a product and its version 1 (options, or --file with a ProductCreate document)."""
    version = _version_options(valid_from, fee, data_mb, voice_min, is_5g, speed_mbps, note)
    head = {
        "code": code,
        "name": name,
        "kind": kind,
        "family": family,
        "payment_type": payment_type,
    }
    with command_uow() as uow:
        if file is not None:
            spec = _load(file, ProductCreate, head)
        else:
            body: dict[str, Any] = {k: v for k, v in head.items() if v is not None}
            body["version"] = {k: v for k, v in version.items() if v is not None}
            spec = _validate(ProductCreate, body)
        product = service.create_product(uow=uow, spec=spec)
    _done(product, json_output)


@app.command("version")
def version_command(
    code: str,
    fee: FeeOpt = None,
    data_mb: Annotated[int | None, typer.Option()] = None,
    voice_min: Annotated[int | None, typer.Option()] = None,
    is_5g: Annotated[bool | None, typer.Option("--5g/--no-5g")] = None,
    speed_mbps: Annotated[int | None, typer.Option()] = None,
    valid_from: DayOpt = None,
    note: Annotated[str | None, typer.Option()] = None,
    file: FileOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Add a version (price or terms change) from today or --valid-from; earlier ones stay."""
    options = _version_options(valid_from, fee, data_mb, voice_min, is_5g, speed_mbps, note)
    with command_uow() as uow:
        if file is not None:
            spec = _load(file, VersionCreate, options)
        else:
            spec = _validate(VersionCreate, {k: v for k, v in options.items() if v is not None})
        product = service.add_version(uow=uow, code=code, spec=spec)
    _done(product, json_output)


@app.command("retire")
def retire_command(code: str, json_output: JsonOpt = False) -> None:
    """Take a product off sale from today (its versions and past prices stay)."""
    with command_uow() as uow:
        product = service.retire_product(uow=uow, code=code)
    _done(product, json_output)


@app.command("price")
def price_command(code: str, on: DayOpt = None, json_output: JsonOpt = False) -> None:
    """The monthly fee of a product on a day (default today) and its version."""
    with command_uow() as uow:
        price = service.price_at(
            uow=uow, code=code, day=on.date() if on else service.province_today()
        )
    if json_output:
        print_json(price)
    else:
        until = f" until {price.valid_until}" if price.valid_until else ""
        console.print(
            f"{price.code} on {price.on}: {_yuan(price.monthly_fee_fen)} yuan a month "
            f"(version {price.version}, from {price.valid_from}{until})"
        )


@app.command("order-price")
def order_price_command(order_id: int, json_output: JsonOpt = False) -> None:
    """The monthly fee a warehouse order was placed at (the version of its day)."""
    with command_warehouse() as con, command_uow() as uow:
        price = service.order_price(uow=uow, con=con, order_id=order_id)
    if json_output:
        print_json(price)
    else:
        console.print(
            f"order {price.order_id} ({price.product_code}, {price.ordered_on}): "
            f"{_yuan(price.monthly_fee_fen)} yuan a month (version {price.version})"
        )


@app.command("sync")
def sync_command(json_output: JsonOpt = False) -> None:
    """Add warehouse products missing from the catalog as version 1 (rerun adds nothing)."""
    with command_warehouse() as con, command_uow() as uow:
        report = service.sync_from_warehouse(uow=uow, con=con)
    if json_output:
        print_json(report)
    else:
        console.print(
            f"added {len(report.created)} products; {report.existing} were already in the catalog"
        )
