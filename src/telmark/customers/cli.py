"""``telmark customers``: one subscriber's 360 view and lookup by mobile number.

The CLI acts with server rights (the whole province) as the operating-system
user (``cli:<name>``). Personal values are masked unless ``--unmask`` is
given; an unmasked view, and every lookup by mobile number, is recorded in the
audit trail as a sensitive read by that user.
"""

from __future__ import annotations

from typing import Annotated

import typer

from telmark.clikit import JsonOpt, command_uow, command_warehouse, console, print_json, print_table
from telmark.customers import service
from telmark.customers.domain import Lookup, SearchBy, parse_msisdn
from telmark.customers.schemas import ChurnSection, Customer360, ValueSection

app = typer.Typer(no_args_is_help=True)

UnmaskOpt = Annotated[
    bool,
    typer.Option("--unmask", help="Show personal data in clear (recorded in the audit trail)."),
]


def _yuan(fen: int | None) -> str:
    return "-" if fen is None else f"{fen / 100:,.2f}"


def _not_computed(section: ValueSection | ChurnSection) -> str:
    return f"{section.state}: run `{section.command}`"


def print_360(view: Customer360) -> None:
    """The 360 view as a few tables (``--json`` has every field)."""
    i = view.identity
    contract = f"{i.contract_end} ({i.contract_months_left} months left)" if i.contract_end else "-"
    facts = [
        ("msisdn", i.msisdn),
        ("name", i.customer_name),
        ("id number", i.id_number),
        ("gender / age band", f"{i.gender} / {i.age_band}"),
        ("payment / status", f"{i.payment_type} / {i.status} since {i.status_date}"),
        ("joined", f"{i.join_date} ({i.tenure_months} months)"),
        ("home outlet", f"{i.home_outlet.name or '-'} ({i.home_outlet.org_id})"),
        ("home grid", f"{i.home_grid.name or '-'} ({i.home_grid.org_id})"),
        ("handset", f"{i.handset_brand}{' 5G' if i.handset_5g else ''}, "
                    f"{i.handset_age_months} months old"),
        ("contract end", contract),
        ("plan", f"{view.plan.name} ({view.plan.product_id})" if view.plan else "-"),
    ]  # fmt: skip
    if view.household:
        h = view.household
        facts.append(
            ("household", f"{h.household_id}: {h.members} members, bundle {h.bundle_name or '-'}, "
                          f"broadband {h.broadband_mbps if h.has_broadband else 0} Mbps, "
                          f"IPTV {'yes' if h.has_iptv else 'no'}")
        )  # fmt: skip
    if view.enterprise:
        e = view.enterprise
        facts.append(
            ("enterprise", f"{e.name} ({e.industry}, tier {e.tier}), manager "
                           f"{e.account_manager_name or e.account_manager_id}")
        )  # fmt: skip
    value = view.value.value
    facts.append(
        ("value", f"{value.value_tier}, RFM {value.rfm_score}, "
                  f"decayed {_yuan(value.decayed_value_fen)}, CLV {_yuan(value.clv_fen)}")
        if value
        else ("value", _not_computed(view.value))
    )  # fmt: skip
    churn = view.churn.score
    facts.append(
        ("churn risk", f"{churn.risk_band}, p = {churn.churn_probability:.3f}, "
                       f"decile {churn.risk_decile} (model v{churn.model_version})")
        if churn
        else ("churn risk", _not_computed(view.churn))
    )  # fmt: skip
    masked = " (personal data masked)" if i.masked else ""
    print_table(f"Subscriber {view.subscriber_id} as of {view.data_date}{masked}",
                ("", ""), facts)  # fmt: skip
    print_table(
        "Usage by month",
        ("month", "ARPU (yuan)", "data MB", "voice min", "dropped"),
        [
            [f"{u.month:%Y-%m}", _yuan(u.arpu_fen), u.data_mb, u.voice_min, u.dropped_calls]
            for u in view.usage
        ],
    )
    if view.subscriptions:
        print_table(
            "Products held now",
            ("product", "kind", "since", "channel"),
            [[s.product_name or s.product_id, s.kind, s.start_date, s.channel]
             for s in view.subscriptions],
        )  # fmt: skip
    if view.recharges.items:
        print_table(
            f"Recharges (latest {len(view.recharges.items)} of {view.recharges.total})",
            ("paid at (UTC)", "amount (yuan)", "channel"),
            [[f"{r.recharged_at:%Y-%m-%d %H:%M}", _yuan(r.amount_fen), r.channel]
             for r in view.recharges.items],
        )  # fmt: skip
    if view.orders.items:
        print_table(
            f"Offers taken (latest {len(view.orders.items)} of {view.orders.total})",
            ("date", "product", "action", "channel", "amount (yuan)"),
            [[f"{o.ordered_at:%Y-%m-%d}", o.product_name or o.product_id, o.action, o.channel,
              _yuan(o.amount_fen)] for o in view.orders.items],
        )  # fmt: skip
    if view.complaints.items:
        print_table(
            f"Tickets (latest {len(view.complaints.items)} of {view.complaints.total})",
            ("opened", "category", "severity", "resolved"),
            [[f"{c.created_at:%Y-%m-%d}", c.category, c.severity,
              f"{c.resolved_at:%Y-%m-%d}" if c.resolved_at else "open"]
             for c in view.complaints.items],
        )  # fmt: skip


@app.command("show")
def show_command(
    subscriber_id: Annotated[int, typer.Argument(min=1, help="The subscriber id.")],
    unmask: UnmaskOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """One subscriber's 360 view: identity, plan, usage, value, churn risk, orders, tickets."""
    with command_warehouse() as con, command_uow() as uow:
        view = service.customer_360(con=con, uow=uow, subscriber_id=subscriber_id, unmask=unmask)
    if json_output:
        print_json(view)
    else:
        print_360(view)


@app.command("find")
def find_command(
    msisdn: Annotated[str, typer.Option(help="The full mobile number (exact match).")],
    unmask: UnmaskOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Subscribers with this mobile number (the lookup is recorded in the audit trail)."""
    with command_warehouse() as con, command_uow() as uow:
        lookup = Lookup(SearchBy.MSISDN, parse_msisdn(msisdn))
        found = service.find_customers(con=con, uow=uow, lookup=lookup, unmask=unmask)
    if json_output:
        print_json(found)
        return
    if not found.items:
        console.print("no subscriber has this mobile number")
        return
    print_table(
        f"{len(found.items)} subscriber(s)",
        ("subscriber id", "msisdn", "name", "status", "payment", "plan", "home outlet"),
        [[c.subscriber_id, c.msisdn, c.customer_name, c.status, c.payment_type,
          c.plan_name or c.plan_id, c.home_outlet.name or c.home_outlet.org_id]
         for c in found.items],
    )  # fmt: skip
