"""``telmark offers``: the offer book (list, show, create, activate, retire, economics),
redemptions with stock/budget (redeem, draw) and lottery replay."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from telmark.clikit import (
    JsonOpt,
    command_uow,
    command_warehouse,
    console,
    domain_errors,
    print_json,
    print_table,
)
from telmark.errors import InvalidInput
from telmark.offers import service
from telmark.offers.domain import OfferStatus
from telmark.offers.eligibility import service as eligibility
from telmark.offers.schemas import (
    EconomicsRead,
    OfferCreate,
    OfferRead,
    RedemptionRead,
    parse_offer,
)
from telmark.offers.tools import NO_PRIZE

app = typer.Typer(no_args_is_help=True)

CodeArg = Annotated[str, typer.Argument(help="Offer code.", show_default=False)]
FileArg = Annotated[
    Path, typer.Argument(help="Offer document: a .json or .yaml file.", show_default=False)
]


def read_offer(path: Path) -> OfferCreate:
    """The validated offer document in ``path``; InvalidInput names the file and the field."""
    import yaml  # type: ignore[import-untyped]  # PyYAML ships no type hints

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"{path}: cannot read the offer file: {error}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidInput(f"{path}: not valid JSON or YAML: {error}") from None
    return parse_offer(data, source=str(path))


def _yuan(fen: int) -> str:
    return f"¥{fen / 100:,.2f}"


def _print_economics(economics: EconomicsRead) -> None:
    payback = economics.payback_months
    print_table(
        "Unit economics per taker",
        ["item", "value"],
        [
            ["incentive cost", _yuan(economics.incentive_cost_fen)],
            ["partner-funded", _yuan(economics.partner_funded_fen)],
            ["net incentive cost", _yuan(economics.net_incentive_cost_fen)],
            ["incremental revenue / month", _yuan(economics.incremental_monthly_revenue_fen)],
            ["channel cost / month", _yuan(economics.channel_cost_fen_per_month)],
            ["net contribution / month", _yuan(economics.net_monthly_contribution_fen)],
            ["payback", "never" if payback is None else f"{payback} months"],
        ],
    )


def _show(offer: OfferRead, json_output: bool) -> None:
    if json_output:
        print_json(offer.model_dump(mode="json"))
        return
    until = offer.valid_to or "open"
    console.print(
        f"offer [bold]{offer.code}[/bold] {offer.name} ({offer.status}, version {offer.version}, "
        f"{offer.action}, {offer.valid_from} to {until})"
    )
    console.print(f"products: {', '.join(offer.product_codes)}")
    if offer.excludes:
        console.print(f"excludes: {', '.join(offer.excludes)}")
    print_table(
        "Tools",
        ["tool", "expected cost / taker"],
        [[c.tool, _yuan(c.expected_cost_fen)] for c in offer.tool_costs],
    )
    _print_economics(offer.economics)


def _show_redemption(result: RedemptionRead, json_output: bool) -> None:
    if json_output:
        print_json(result.model_dump(mode="json"))
        return
    again = "" if result.created else " (already redeemed with this key)"
    console.print(
        f"redemption {result.id}: subscriber {result.subscriber_id} took {result.offer_code} "
        f"version {result.offer_version}, {result.status}{again}"
    )
    if result.referrer_id is not None:
        earned = "rewarded" if result.referrer_rewarded else "over the cap, not rewarded"
        console.print(f"  referred by {result.referrer_id}: {earned}")
    for entry in result.entries:
        console.print(f"  {entry.kind} {entry.quantity} from {entry.pool_key}")
    if result.draw is not None:
        draw = result.draw
        won = "no prize" if draw.outcome == NO_PRIZE else f"prize {draw.outcome}"
        console.print(f"  draw {draw.id}: {won} (seed {draw.seed})")


@app.command("list")
def list_command(
    status: Annotated[
        OfferStatus | None, typer.Option("--status", help="Only offers of this status.")
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """List the offer book."""
    with command_uow() as uow:
        offers = service.list_offers(uow=uow, status=status)
    if json_output:
        print_json([o.model_dump(mode="json") for o in offers])
        return
    print_table(
        "Offers",
        ["code", "name", "status", "action", "tools", "net cost", "payback"],
        [
            [
                o.code,
                o.name,
                o.status,
                o.action,
                ",".join(c.tool for c in o.tool_costs),
                _yuan(o.economics.net_incentive_cost_fen),
                "never" if o.economics.payback_months is None else o.economics.payback_months,
            ]
            for o in offers
        ],
    )


@app.command("show")
def show_command(code: CodeArg, json_output: JsonOpt = False) -> None:
    """Show one offer: terms, each tool's cost, economics."""
    with command_uow() as uow:
        offer = service.get_offer(uow=uow, code=code)
    _show(offer, json_output)


@app.command("create")
def create_command(
    path: FileArg,
    note: Annotated[str, typer.Option("--note", help="Note on the first version.")] = "",
    json_output: JsonOpt = False,
) -> None:
    """Save a draft offer from a JSON/YAML file (errors name the field path)."""
    with domain_errors():
        spec = read_offer(path)
    with command_uow() as uow:
        offer = service.create_offer(uow=uow, spec=spec, note=note)
    _show(offer, json_output)


@app.command("activate")
def activate_command(code: CodeArg, json_output: JsonOpt = False) -> None:
    """Put a draft on sale (its stock and budget pools are created)."""
    with command_uow() as uow:
        offer = service.activate_offer(uow=uow, code=code)
    _show(offer, json_output)


@app.command("retire")
def retire_command(code: CodeArg, json_output: JsonOpt = False) -> None:
    """Take an offer off sale for good."""
    with command_uow() as uow:
        offer = service.retire_offer(uow=uow, code=code)
    _show(offer, json_output)


@app.command("economics")
def economics_command(
    target: Annotated[
        str, typer.Argument(help="An offer code, or a .json/.yaml offer file to preview.")
    ],
    json_output: JsonOpt = False,
) -> None:
    """Unit economics per taker of a saved offer or of an offer file (not saved)."""
    path = Path(target)
    if path.suffix.lower() in (".json", ".yaml", ".yml"):
        with domain_errors():
            economics = service.economics_of(read_offer(path))
    else:
        with command_uow() as uow:
            economics = service.offer_economics(uow=uow, code=target)
    if json_output:
        print_json(economics.model_dump(mode="json"))
    else:
        _print_economics(economics)


@app.command("pools")
def pools_command(code: CodeArg, json_output: JsonOpt = False) -> None:
    """Stock and budget pools of an offer."""
    with command_uow() as uow:
        pools = service.list_pools(uow=uow, code=code)
    if json_output:
        print_json([p.model_dump(mode="json") for p in pools])
        return
    print_table(
        f"Pools of {code}",
        ["pool", "kind", "total", "remaining", "reserved", "consumed"],
        [[p.key, p.kind, p.total, p.remaining, p.reserved, p.consumed] for p in pools],
    )


def _redeem(
    code: str, subscriber_id: int, key: str, referrer_id: int | None = None
) -> RedemptionRead:
    with command_warehouse() as con, command_uow() as uow:
        return service.redeem(
            uow=uow,
            con=con,
            code=code,
            subscriber_id=subscriber_id,
            idempotency_key=key,
            referrer_id=referrer_id,
        )


SubscriberArg = Annotated[int, typer.Argument(help="Subscriber id.", show_default=False)]
KeyOpt = Annotated[
    str,
    typer.Option(
        "--key",
        help="Idempotency key: running again with the same key returns the same redemption.",
        show_default=False,
    ),
]


@app.command("redeem")
def redeem_command(
    code: CodeArg,
    subscriber_id: SubscriberArg,
    key: KeyOpt,
    referrer: Annotated[
        int | None,
        typer.Option("--referrer", help="Referral offers: the subscriber id who referred."),
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """A subscriber takes an offer: stock and budget reserved (and a lottery drawn)."""
    _show_redemption(_redeem(code, subscriber_id, key, referrer), json_output)


@app.command("draw")
def draw_command(
    code: CodeArg, subscriber_id: SubscriberArg, key: KeyOpt, json_output: JsonOpt = False
) -> None:
    """Redeem a lottery offer and show the draw (refused for offers without a lottery)."""
    with command_uow() as uow:
        offer = service.get_offer(uow=uow, code=code)
        if not any(t.tool == "lottery" for t in offer.tool_costs):
            raise InvalidInput(f"offer {code} has no lottery: use `telmark offers redeem`")
    result = _redeem(code, subscriber_id, key)
    assert result.draw is not None  # the offer has a lottery
    if json_output:
        print_json(result.draw.model_dump(mode="json"))
        return
    _show_redemption(result, json_output=False)


@app.command("replay")
def replay_command(
    draw_id: Annotated[int, typer.Argument(help="Draw id.", show_default=False)],
    json_output: JsonOpt = False,
) -> None:
    """Recompute a recorded draw from its seed and check it against the record."""
    with command_uow() as uow:
        replay = service.replay_draw(uow=uow, draw_id=draw_id)
    if json_output:
        print_json(replay.model_dump(mode="json"))
        return
    verdict = "matches the record" if replay.matches else "DOES NOT match the record"
    console.print(
        f"draw {replay.draw_id}: picked {replay.picked}, outcome {replay.outcome} "
        f"({replay.algorithm}, seed {replay.seed}) — {verdict}"
    )
    if not replay.matches:
        raise typer.Exit(code=1)


@app.command("eligible")
def eligible_command(
    msisdn: Annotated[
        str | None, typer.Argument(help="The subscriber's mobile number.", show_default=False)
    ] = None,
    subscriber_id: Annotated[
        int | None, typer.Option("--subscriber-id", help="The subscriber id instead.")
    ] = None,
    include_all: Annotated[
        bool, typer.Option("--all", help="Also drafts and retired offers.")
    ] = False,
    on: Annotated[
        datetime | None,
        typer.Option("--date", formats=["%Y-%m-%d"], help="Judge on this day (default today)."),
    ] = None,
    unmask: Annotated[
        bool, typer.Option("--unmask", help="The mobile number in clear (audited).")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Which offers a subscriber may take, and why each other offer is excluded."""
    with command_warehouse() as con, command_uow() as uow:
        result = eligibility.explain(
            uow=uow,
            con=con,
            msisdn=msisdn,
            subscriber_id=subscriber_id,
            include_all=include_all,
            unmask=unmask,
            today=None if on is None else on.date(),
        )
    if json_output:
        print_json(result.model_dump(mode="json"))
        return
    line = result.line
    until = line.lock_in_until.isoformat() if line.lock_in_until else "none"
    console.print(
        f"subscriber {line.subscriber_id} ({line.msisdn}): {line.status}, {line.payment_type}, "
        f"plan {line.plan_code}, lock-in until {until}, on {result.on}"
    )
    print_table(
        "Offers",
        ["offer", "name", "action", "eligible", "why not"],
        [
            [
                o.code,
                o.name,
                o.action,
                "[green]yes[/green]" if o.eligible else "[red]no[/red]",
                "\n".join(r.message for r in o.reasons),
            ]
            for o in result.offers
        ],
    )
