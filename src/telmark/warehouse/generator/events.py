"""Orders that open and close lines and products, and the subscription history.

Runs after the monthly simulation, when every line's exit day is known, so no
order or subscription starts after the line left the network.
"""

from __future__ import annotations

import numpy as np

from telmark.warehouse.generator.arrays import AnyArray, BoolArray, IntArray
from telmark.warehouse.generator.behaviour import (
    ADD,
    APP,
    CANCEL,
    HALL,
    NEW,
    Rows,
    local_times,
)
from telmark.warehouse.generator.population import Population
from telmark.warehouse.generator.usage import NEVER, Simulation
from telmark.warehouse.generator.window import Window


def all_orders(
    rng: np.random.Generator,
    *,
    pop: Population,
    sim: Simulation,
    window: Window,
    pack_channel: IntArray,
    addon_channel: IntArray,
) -> dict[str, AnyArray]:
    """Every order of the window: new lines, add-ons begun in it, the simulation's
    changes, packs and renewals, and cancellations of lines that left."""
    first = window.first_day
    orders = Rows("idx", "product", "action", "at", "channel", "amount")
    orders.add(**sim.orders)

    new = np.flatnonzero(pop.join >= first)
    deposit = np.where(rng.random(len(new)) < 0.5, 5_000, 10_000)
    orders.add(
        idx=new,
        product=sim.initial_plan[new],
        action=np.full(len(new), NEW),
        at=local_times(rng, pop.join[new], business_hours=True),
        channel=sim.initial_channel[new],
        amount=np.where(pop.prepaid[new], deposit, 0),
    )

    contract, contract_start = sim.initial_contract, sim.initial_contract_start
    began = np.flatnonzero((contract >= 0) & (contract_start >= first))
    orders.add(
        idx=began,
        product=contract[began],
        action=np.full(len(began), ADD),
        at=local_times(rng, contract_start[began], business_hours=True),
        channel=sim.initial_contract_channel[began],
        amount=(rng.integers(0, 30, len(began)) * 10_000).astype(np.int64),
    )

    packs = np.flatnonzero(
        _holds(pop.pack, pop.pack_start, sim.exit_day) & (pop.pack_start >= first)
    )
    orders.add(
        idx=packs,
        product=pop.pack[packs],
        action=np.full(len(packs), ADD),
        at=local_times(rng, pop.pack_start[packs]),
        channel=pack_channel[packs],
        amount=np.zeros(len(packs), dtype=np.int64),
    )

    hh = pop.households
    for product in (hh.broadband_product, hh.iptv_product):
        primary_exit = sim.exit_day[hh.primary]
        took = np.flatnonzero(
            _holds(product, hh.addon_start, primary_exit) & (hh.addon_start >= first)
        )
        orders.add(
            idx=hh.primary[took],
            product=product[took],
            action=np.full(len(took), ADD),
            at=local_times(rng, hh.addon_start[took], business_hours=True),
            channel=addon_channel[took],
            amount=np.zeros(len(took), dtype=np.int64),
        )

    left = np.flatnonzero(sim.exit_day < NEVER)
    orders.add(
        idx=left,
        product=pop.plan[left],
        action=np.full(len(left), CANCEL),
        at=local_times(rng, sim.exit_day[left], business_hours=True),
        channel=np.where(rng.random(len(left)) < 0.6, HALL, APP),
        amount=np.zeros(len(left), dtype=np.int64),
    )
    return orders.arrays()


def _holds(product: IntArray, start: IntArray, exit_day: IntArray) -> BoolArray:
    result: BoolArray = (product >= 0) & (start <= exit_day)
    return result


def subscriptions(
    *,
    pop: Population,
    sim: Simulation,
    window: Window,
    pack_channel: IntArray,
    addon_channel: IntArray,
) -> dict[str, AnyArray]:
    """Products held or held in the window: closed segments plus what is held now."""
    rows = Rows("idx", "product", "start", "end", "channel")
    rows.add(**sim.segments)
    n = pop.n
    everyone = np.arange(n)
    exit_or_open = np.where(sim.exit_day < NEVER, sim.exit_day, -1)
    rows.add(
        idx=everyone,
        product=pop.plan,
        start=pop.plan_start,
        end=exit_or_open,
        channel=sim.plan_channel,
    )

    held = np.flatnonzero(pop.contract >= 0)
    natural_end = pop.contract_end[held]
    finished = natural_end <= window.data_date
    exit_day = sim.exit_day[held]
    end = np.where(finished, natural_end, -1)
    end = np.where(
        exit_day < NEVER, np.where(finished, np.minimum(natural_end, exit_day), exit_day), end
    )
    rows.add(
        idx=held,
        product=pop.contract[held],
        start=pop.contract_start[held],
        end=end,
        channel=sim.contract_channel[held],
    )

    packs = np.flatnonzero(_holds(pop.pack, pop.pack_start, sim.exit_day))
    rows.add(
        idx=packs,
        product=pop.pack[packs],
        start=pop.pack_start[packs],
        end=exit_or_open[packs],
        channel=pack_channel[packs],
    )

    hh = pop.households
    for product in (hh.broadband_product, hh.iptv_product):
        took = np.flatnonzero(_holds(product, hh.addon_start, sim.exit_day[hh.primary]))
        primary = hh.primary[took]
        rows.add(
            idx=primary,
            product=product[took],
            start=hh.addon_start[took],
            end=exit_or_open[primary],
            channel=addon_channel[took],
        )
    return rows.arrays()


def side_channels(
    rng: np.random.Generator, pop: Population, sim: Simulation
) -> tuple[IntArray, IntArray]:
    """Channels through which recurring packs and home add-ons were sold."""
    pack_channel = sim.channels.orders(rng, np.arange(pop.n))
    addon_channel = sim.channels.orders(rng, pop.households.primary)
    return pack_channel, addon_channel
