"""Events a month of the simulation causes on individual lines.

Contract renewals, plan changes, complaints and recharges: each takes the
lines concerned and appends rows to the chunk's collectors.
"""

from __future__ import annotations

import numpy as np

from telmark.warehouse.generator.arrays import IntArray
from telmark.warehouse.generator.behaviour import (
    ADD,
    CHANGE,
    Channels,
    Rows,
    categorical,
    days_between,
    local_times,
)
from telmark.warehouse.generator.catalog import Catalog, nearest_in_ladder
from telmark.warehouse.generator.population import Population, sigmoid

RECHARGE_YUAN = np.array([10, 20, 30, 50, 100, 200])
PREPAYMENT_YUAN = np.array([50, 100, 200, 300, 500])


def renewals(
    rng: np.random.Generator,
    *,
    pop: Population,
    catalog: Catalog,
    idx: IntArray,
    month_start: int,
    orders: Rows,
    segments: Rows,
    channels: Channels,
    contract_channel: IntArray,
) -> None:
    """Some lines whose contract ends this month renew it with a new handset."""
    renew = idx[rng.random(len(idx)) < 0.25 + 0.25 * sigmoid(pop.loyalty[idx])]
    if not len(renew):
        return
    old_end = pop.contract_end[renew]
    segments.add(
        idx=renew,
        product=pop.contract[renew],
        start=pop.contract_start[renew],
        end=old_end,
        channel=contract_channel[renew],
    )
    day = np.maximum(old_end - (rng.random(len(renew)) * 20).astype(np.int64), month_start)
    product = np.where(
        pop.value[renew] > 0.5, catalog.handset_contracts[2], catalog.handset_contracts[1]
    )
    channel = channels.orders(rng, renew)
    down_payment = (rng.integers(0, 30, len(renew)) * 10_000).astype(np.int64)
    orders.add(
        idx=renew,
        product=product,
        action=np.full(len(renew), ADD),
        at=local_times(rng, day, business_hours=True),
        channel=channel,
        amount=down_payment,
    )
    pop.contract[renew] = product
    pop.contract_start[renew] = day
    pop.contract_end[renew] = day + (catalog.contract_months[product] * 30.44).astype(np.int64)
    pop.handset_day[renew] = day
    pop.handset_5g[renew] = rng.random(len(renew)) < 0.93
    contract_channel[renew] = channel


def plan_changes(
    rng: np.random.Generator,
    *,
    pop: Population,
    catalog: Catalog,
    idx: IntArray,
    fit: np.ndarray,
    month_start: int,
    days: int,
    orders: Rows,
    segments: Rows,
    channels: Channels,
    plan_channel: IntArray,
) -> None:
    """Lines on an ill-fitting plan move to the ladder step nearest what they use."""
    prepaid = pop.prepaid[idx]
    to_5g = catalog.is_5g[pop.plan[idx]] | (pop.handset_5g[idx] & (rng.random(len(idx)) < 0.6))
    new_plan = np.where(
        prepaid,
        np.where(
            to_5g & pop.handset_5g[idx],
            nearest_in_ladder(catalog.pre_5g, catalog.fee, fit),
            nearest_in_ladder(catalog.pre_4g, catalog.fee, fit),
        ),
        np.where(
            to_5g,
            nearest_in_ladder(catalog.post_5g, catalog.fee, fit),
            nearest_in_ladder(catalog.post_4g, catalog.fee, fit),
        ),
    )
    moves = new_plan != pop.plan[idx]
    idx, new_plan = idx[moves], new_plan[moves]
    if not len(idx):
        return
    day = month_start + 1 + (rng.random(len(idx)) * (days - 1)).astype(np.int64)
    segments.add(
        idx=idx,
        product=pop.plan[idx],
        start=pop.plan_start[idx],
        end=day - 1,
        channel=plan_channel[idx],
    )
    channel = channels.orders(rng, idx)
    orders.add(
        idx=idx,
        product=new_plan,
        action=np.full(len(idx), CHANGE),
        at=local_times(rng, day),
        channel=channel,
        amount=np.zeros(len(idx), dtype=np.int64),
    )
    pop.plan[idx] = new_plan
    pop.plan_start[idx] = day
    plan_channel[idx] = channel


def complaint_rows(
    rng: np.random.Generator,
    *,
    complaints: Rows,
    idx: IntArray,
    start: IntArray,
    stop: IntArray,
    dropped: IntArray,
    misfit: np.ndarray,
    overage: IntArray,
    aversion: np.ndarray,
    end_us: int,
) -> None:
    k = len(idx)
    weights = np.column_stack(
        [
            0.4 + 0.6 * np.log1p(dropped),  # network
            0.3 + 0.8 * misfit + 0.5 * (overage > 0),  # billing
            np.full(k, 0.5),  # service
            np.full(k, 0.35),  # product
            0.1 * np.exp(aversion),  # marketing
        ]
    )
    category = categorical(rng, weights)
    severity = 1 + categorical(rng, np.tile([0.7, 0.22, 0.08], (k, 1)))
    created = local_times(rng, days_between(rng, start, np.maximum(stop, start)))
    hours = np.exp(np.log(20.0) + rng.standard_normal(k)) * (1 + severity)
    resolved = created + (hours * 3_600_000_000).astype(np.int64)
    complaints.add(
        idx=idx,
        created=created,
        category=category,
        severity=severity,
        resolved=np.where(resolved < end_us, resolved, -1),
    )


def recharge_rows(
    rng: np.random.Generator,
    *,
    pop: Population,
    channels: Channels,
    recharges: Rows,
    idx: IntArray,
    start: IntArray,
    stop: IntArray,
    frac: np.ndarray,
    arpu: IntArray,
) -> None:
    """Prepaid lines top up one or more times; a few postpaid lines prepay."""
    serving = frac > 0
    prepaid = pop.prepaid[idx] & serving
    rows = np.flatnonzero(prepaid)
    count = 1 + rng.poisson(0.25 + 0.35 * sigmoid(pop.digital[idx[rows]]))
    count = np.where(frac[rows] < 0.3, 1, count)
    each = arpu[rows] / count / 100
    step = np.minimum(
        np.searchsorted(RECHARGE_YUAN, each) + (rng.random(len(rows)) < 0.25),
        len(RECHARGE_YUAN) - 1,
    )
    rows = np.repeat(rows, count)
    amount = np.repeat(RECHARGE_YUAN[step] * 100, count)
    prepay = np.flatnonzero(~pop.prepaid[idx] & serving & (rng.random(len(idx)) < 0.025))
    rows = np.concatenate([rows, prepay])
    amount = np.concatenate(
        [amount, PREPAYMENT_YUAN[rng.integers(0, len(PREPAYMENT_YUAN), len(prepay))] * 100]
    )
    who = idx[rows]
    day = days_between(rng, start[rows], np.maximum(stop[rows], start[rows]))
    channel = channels.payments(rng, who)
    recharges.add(
        idx=who, at=local_times(rng, day), amount=amount.astype(np.int64), channel=channel
    )
