"""One chunk of subscribers, end to end: draw, simulate, and lay out as Arrow columns.

Row ids of event tables are ``chunk × ID_BLOCK + sequence``: unique across
chunks without coordination, so chunks run in any order on any worker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from telmark.warehouse.contract import (
    COMPLAINTS,
    CONTACT_CHANNELS,
    CONTACT_OUTCOMES,
    ENTERPRISE_ACCOUNTS,
    ORDERS,
    SALES_CHANNELS,
    SUBSCRIBER_STATUSES,
)
from telmark.warehouse.generator import arrays as ar
from telmark.warehouse.generator.arrays import AnyArray, IntArray
from telmark.warehouse.generator.behaviour import ACCOUNT_MANAGER, AGENT, HALL
from telmark.warehouse.generator.catalog import Catalog
from telmark.warehouse.generator.contacts import CAMPAIGNS, case_code, contact_rows
from telmark.warehouse.generator.events import all_orders, side_channels, subscriptions
from telmark.warehouse.generator.names import (
    CITIES,
    COMPANY_TRADE_NAMES,
    HANDSET_BRANDS,
    INDUSTRY_SUFFIXES,
)
from telmark.warehouse.generator.org import Org, pick
from telmark.warehouse.generator.people import id_numbers, msisdns, person_names
from telmark.warehouse.generator.population import Population, draw_population
from telmark.warehouse.generator.truth import response_truth
from telmark.warehouse.generator.usage import PORTED_OUT, Simulation, simulate
from telmark.warehouse.generator.window import Window

ID_BLOCK = 1_000_000_000  # row ids reserved per chunk in each event table
_TRADE_SUFFIX = "达通源盛泰新联润华兴"

Columns = dict[str, pa.Array]


@dataclass(frozen=True, slots=True)
class World:
    """What every chunk shares: the organisation, the catalog and the window."""

    seed: int
    org: Org
    catalog: Catalog
    window: Window


def _vocab(values: tuple[str, ...] | list[str]) -> pa.Array:
    return ar.vocabulary(list(values))


def chunk_tables(world: World, *, chunk: int, first_id: int, size: int) -> dict[str, Columns]:
    """All per-subscriber tables of one chunk, deterministic in (seed, chunk, size)."""
    seq = np.random.SeedSequence(world.seed, spawn_key=(1, chunk))
    rng = np.random.Generator(np.random.SFC64(seq))
    org, catalog, window = world.org, world.catalog, world.window
    pop = draw_population(rng, first_id=first_id, n=size, org=org, catalog=catalog, window=window)
    sim = simulate(rng, pop=pop, org=org, catalog=catalog, window=window)
    pack_channel, addon_channel = side_channels(rng, pop, sim)
    orders = all_orders(
        rng, pop=pop, sim=sim, window=window, pack_channel=pack_channel, addon_channel=addon_channel
    )
    held = subscriptions(
        pop=pop, sim=sim, window=window, pack_channel=pack_channel, addon_channel=addon_channel
    )
    base = chunk * ID_BLOCK
    # Contacts draw from their own stream, so adding them changed no other table.
    contact_rng = np.random.Generator(
        np.random.SFC64(np.random.SeedSequence(world.seed, spawn_key=(2, chunk)))
    )
    contacts = contact_rows(contact_rng, pop=pop, sim=sim, catalog=catalog, window=window)
    return {
        "households": _households(pop, org, catalog),
        "enterprise_accounts": _accounts(pop, org),
        "subscribers": _subscribers(rng, world, pop, sim),
        "subscriptions": _subscriptions(pop, catalog, held, base),
        "usage_monthly": _usage(pop, sim.usage),
        "recharges": _recharges(pop, sim.recharges, base),
        "orders": _orders(rng, pop, org, catalog, orders, base),
        "complaints": _complaints(pop, org, sim.complaints, base),
        "contact_history": _contacts(pop, window, contacts, base),
        "truth_response": {
            "subscriber_id": ar.ints(pop.sid),
            **{
                k: ar.floats(v)
                for k, v in response_truth(pop=pop, catalog=catalog, window=window).items()
            },
        },
    }


def _ids(base: int, count: int) -> pa.Array:
    return ar.ints(np.arange(base + 1, base + count + 1, dtype=np.int64))


def _household_codes(pop: Population) -> pa.Array:
    # Index -1 (no household) picks the appended sentinel slot, masked out as null.
    primary_sid = np.append(pop.sid[pop.households.primary], 0)[pop.household]
    return ar.codes("H", primary_sid, 10, valid=pop.household >= 0)


def _account_codes(pop: Population) -> pa.Array:
    first_sid = np.append(pop.sid[pop.accounts.first], 0)[pop.account]
    return ar.codes("E", first_sid, 10, valid=pop.account >= 0)


def _subscribers(
    rng: np.random.Generator, world: World, pop: Population, sim: Simulation
) -> Columns:
    org, catalog = world.org, world.catalog
    birth_year = (
        pop.birth_days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    )
    return {
        "subscriber_id": ar.ints(pop.sid),
        "msisdn": msisdns(pop.sid, seed=world.seed),
        "customer_name": person_names(rng, pop.female),
        "id_number": id_numbers(
            rng,
            region=org.district_code[pop.district],
            birth_days=pop.birth_days,
            female=pop.female,
        ),
        "gender": ar.take(_vocab(["M", "F"]), pop.female),
        "birth_year": ar.ints(birth_year),
        "payment_type": ar.take(_vocab(["postpaid", "prepaid"]), pop.prepaid),
        "plan_id": ar.take(catalog.ids, pop.plan),
        "join_date": ar.dates(pop.join),
        "contract_end": ar.dates(pop.contract_end, valid=pop.contract_end >= 0),
        "handset_brand": ar.take(_vocab([b for b, _ in HANDSET_BRANDS]), pop.brand),
        "handset_5g": ar.bools(pop.handset_5g),
        "handset_date": ar.dates(pop.handset_day),
        "household_id": _household_codes(pop),
        "account_id": _account_codes(pop),
        "org_id": ar.take(org.org_ids, org.outlet_org[pop.outlet]),
        "grid_id": ar.take(org.org_ids, org.grid_org[pop.grid]),
        "status": ar.take(_vocab(SUBSCRIBER_STATUSES), sim.status),
        "status_date": ar.dates(sim.status_day),
        "port_out_date": ar.dates(
            np.where(sim.status == PORTED_OUT, sim.exit_day, 0), valid=sim.status == PORTED_OUT
        ),
    }


def _households(pop: Population, org: Org, catalog: Catalog) -> Columns:
    hh = pop.households
    return {
        "household_id": ar.codes("H", pop.sid[hh.primary], 10),
        "grid_id": ar.take(org.org_ids, org.grid_org[pop.grid[hh.primary]]),
        "bundle_id": ar.take(catalog.ids, np.maximum(hh.bundle, 0), valid=hh.bundle >= 0),
        "has_broadband": ar.bools(hh.has_broadband),
        "has_iptv": ar.bools(hh.has_iptv),
        "broadband_mbps": ar.ints(hh.mbps),
        "created_date": ar.dates(hh.created),
    }


def _accounts(pop: Population, org: Org) -> Columns:
    acc = pop.accounts
    industries = ENTERPRISE_ACCOUNTS.column("industry").allowed or ()
    trade = acc.trade_name % len(COMPANY_TRADE_NAMES)
    second = (acc.trade_name // len(COMPANY_TRADE_NAMES)) % len(_TRADE_SUFFIX)
    name = ar.join(
        ar.take(_vocab([c.name.removesuffix("市") for c in CITIES]), acc.city),
        ar.take(_vocab(COMPANY_TRADE_NAMES), trade),
        ar.take(_vocab(list(_TRADE_SUFFIX)), second),
        ar.take(_vocab([INDUSTRY_SUFFIXES[i] for i in industries]), acc.industry),
    )
    return {
        "account_id": ar.codes("E", pop.sid[acc.first], 10),
        "name": name,
        "industry": ar.take(_vocab(industries), acc.industry),
        "tier": ar.take(_vocab(["A", "B", "C"]), acc.tier),
        "org_id": ar.take(org.org_ids, org.centre_org[acc.centre]),
        "account_manager_id": ar.take(org.staff_ids, acc.manager),
        "created_date": ar.dates(acc.created),
    }


def _subscriptions(
    pop: Population, catalog: Catalog, rows: dict[str, AnyArray], base: int
) -> Columns:
    end: IntArray = np.asarray(rows["end"], dtype=np.int64)
    return {
        "subscription_id": _ids(base, len(end)),
        "subscriber_id": ar.ints(pop.sid[rows["idx"]]),
        "product_id": ar.take(catalog.ids, rows["product"]),
        "start_date": ar.dates(rows["start"]),
        "end_date": ar.dates(np.maximum(end, 0), valid=end >= 0),
        "channel": ar.take(_vocab(SALES_CHANNELS), rows["channel"]),
    }


def _usage(pop: Population, rows: dict[str, AnyArray]) -> Columns:
    return {
        "subscriber_id": ar.ints(pop.sid[rows["idx"]]),
        "month": ar.dates(rows["month"]),
        "arpu_fen": ar.ints(rows["arpu"]),
        "data_mb": ar.ints(rows["data"]),
        "voice_min": ar.ints(rows["voice"]),
        "sms_count": ar.ints(rows["sms"]),
        "roaming_fen": ar.ints(rows["roaming"]),
        "overage_fen": ar.ints(rows["overage"]),
        "dropped_calls": ar.ints(rows["dropped"]),
    }


def _recharges(pop: Population, rows: dict[str, AnyArray], base: int) -> Columns:
    return {
        "recharge_id": _ids(base, len(rows["idx"])),
        "subscriber_id": ar.ints(pop.sid[rows["idx"]]),
        "recharged_at": ar.timestamps(rows["at"]),
        "amount_fen": ar.ints(rows["amount"]),
        "channel": ar.take(_vocab(SALES_CHANNELS), rows["channel"]),
    }


def _orders(
    rng: np.random.Generator,
    pop: Population,
    org: Org,
    catalog: Catalog,
    rows: dict[str, AnyArray],
    base: int,
) -> Columns:
    """Orders credited to the line's outlet and, by channel, to a person or agent."""
    idx: IntArray = rows["idx"].astype(np.int64)
    channel: IntArray = rows["channel"].astype(np.int64)
    outlet = pop.outlet[idx]
    account = pop.account[idx]
    via_manager = (channel == ACCOUNT_MANAGER) & (account >= 0)
    centre = np.append(pop.accounts.centre, 0)[account]
    manager = np.append(pop.accounts.manager, 0)[account]
    org_index = np.where(via_manager, org.centre_org[centre], org.outlet_org[outlet])
    front = pick(rng, org.outlet_staff_start, org.outlet_staff_count, outlet)
    staff = np.where(via_manager, manager, front)
    has_staff = via_manager | (channel == HALL)
    agent = pick(rng, org.outlet_agent_start, org.outlet_agent_count, outlet)
    actions = ORDERS.column("action").allowed or ()
    return {
        "order_id": _ids(base, len(idx)),
        "subscriber_id": ar.ints(pop.sid[idx]),
        "product_id": ar.take(catalog.ids, rows["product"]),
        "action": ar.take(_vocab(actions), rows["action"]),
        "ordered_at": ar.timestamps(rows["at"]),
        "channel": ar.take(_vocab(SALES_CHANNELS), channel),
        "org_id": ar.take(org.org_ids, org_index),
        "staff_id": ar.take(org.staff_ids, staff, valid=has_staff),
        "agent_id": ar.take(org.agent_ids, agent, valid=channel == AGENT),
        "amount_fen": ar.ints(rows["amount"]),
    }


def _complaints(pop: Population, org: Org, rows: dict[str, AnyArray], base: int) -> Columns:
    idx = rows["idx"].astype(np.int64)
    resolved: IntArray = np.asarray(rows["resolved"], dtype=np.int64)
    escalated = rows["severity"] == 3
    # Escalated complaints are handled by the city branch, the rest by the home outlet.
    org_index = np.where(escalated, org.city_org[pop.city[idx]], org.outlet_org[pop.outlet[idx]])
    categories = COMPLAINTS.column("category").allowed or ()
    return {
        "complaint_id": _ids(base, len(idx)),
        "subscriber_id": ar.ints(pop.sid[idx]),
        "created_at": ar.timestamps(rows["created"]),
        "category": ar.take(_vocab(categories), rows["category"]),
        "severity": ar.ints(rows["severity"]),
        "resolved_at": ar.timestamps(np.maximum(resolved, 0), valid=resolved >= 0),
        "org_id": ar.take(org.org_ids, org_index),
    }


def _contacts(pop: Population, window: Window, rows: dict[str, AnyArray], base: int) -> Columns:
    codes = [case_code(window, c) for c in CAMPAIGNS]
    campaign = rows["campaign"].astype(np.int64)
    known = np.array([c is not None for c in codes], dtype=np.bool_)[campaign]
    return {
        "contact_id": ar.codes("CT", base + 1 + np.arange(len(campaign), dtype=np.int64), 12),
        "subscriber_id": ar.ints(pop.sid[rows["idx"]]),
        "contacted_at": ar.timestamps(rows["at"]),
        "channel": ar.take(_vocab(CONTACT_CHANNELS), rows["channel"]),
        "case_code": ar.take(_vocab([c or "" for c in codes]), campaign, valid=known),
        "outcome": ar.take(_vocab(CONTACT_OUTCOMES), rows["out"]),
    }
