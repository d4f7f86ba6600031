"""Contact history: the campaigns a legacy campaign system ran in the window's last months.

Each campaign has a month (counted back from the end month), a ten-day wave,
a channel mix and a target: contract renewal for lines whose contract ends
around then, 5G upgrade for data-hungry lines on 4G handsets, converged
bundles for households without one, care visits for large enterprise accounts, data
packs for heavy prepaid users, and an old care SMS run whose system kept no
case code. Only lines on the network on the contact day are contacted.

Outcomes follow the channel and the line's latent traits: digital-minded
lines respond more on digital channels, lines averse to marketing opt out
more, and the legacy system kept no delivery receipts (every contact "sent").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from telmark.warehouse.contract import CONTACT_CHANNELS, CONTACT_OUTCOMES
from telmark.warehouse.generator.arrays import AnyArray, BoolArray, FloatArray, IntArray
from telmark.warehouse.generator.behaviour import local_times
from telmark.warehouse.generator.catalog import Catalog
from telmark.warehouse.generator.population import Population, sigmoid
from telmark.warehouse.generator.usage import Simulation
from telmark.warehouse.generator.window import Window, add_months

SMS, EMAIL, APP_PUSH, WECHAT, OUTBOUND_CALL, FRONTLINE_TASK = range(6)
assert CONTACT_CHANNELS[FRONTLINE_TASK] == "frontline_task"
SENT, DELIVERED, FAILED, REACHED, UNREACHABLE, DECLINED, RESPONDED, OPTED_OUT = range(8)
assert CONTACT_OUTCOMES[OPTED_OUT] == "opted_out"
WAVE_DAYS = 10
# Share of attempts that fail to deliver, per channel (calls and tasks fail as "unreachable").
_FAILURE = np.array([0.03, 0.08, 0.12, 0.05, 0.3, 0.15])
_DIGITAL = np.array([True, True, True, True, False, False])

Target = Callable[[Population, Simulation, Catalog, int], FloatArray]


def _renewal(pop: Population, sim: Simulation, catalog: Catalog, day: int) -> FloatArray:
    del sim, catalog
    ends = pop.contract_end
    return np.where((ends >= day - 30) & (ends <= day + 120), 0.8, 0.0)


def _upgrade_5g(pop: Population, sim: Simulation, catalog: Catalog, day: int) -> FloatArray:
    del sim, catalog, day
    return np.where(pop.handset_5g, 0.0, 0.35 * sigmoid(1.5 * pop.appetite - 0.5))


def _converged(pop: Population, sim: Simulation, catalog: Catalog, day: int) -> FloatArray:
    del sim, catalog, day
    hh = np.maximum(pop.household, 0)
    no_bundle = (pop.household >= 0) & pop.hh_primary & (pop.households.bundle[hh] < 0)
    return np.where(no_bundle, 0.5, 0.0)


def _enterprise_care(pop: Population, sim: Simulation, catalog: Catalog, day: int) -> FloatArray:
    del sim, catalog, day
    tier = np.append(pop.accounts.tier, 9)[pop.account]  # 9: not a member line
    return np.where(tier <= 1, 0.25, 0.0)


def _data_pack(pop: Population, sim: Simulation, catalog: Catalog, day: int) -> FloatArray:
    del sim, day
    small_allowance = catalog.data_mb[pop.plan] < 20_480
    return np.where(pop.prepaid & small_allowance, 0.3 * sigmoid(2 * pop.appetite), 0.0)


def _care(pop: Population, sim: Simulation, catalog: Catalog, day: int) -> FloatArray:
    del sim, catalog, day
    return np.full(pop.n, 0.05)


@dataclass(frozen=True, slots=True)
class Campaign:
    code: str | None  # case code suffix; None: the legacy system recorded none
    months_back: int  # 0 = the end month
    channels: tuple[float, ...]  # weight of each contact channel
    target: Target


CAMPAIGNS: tuple[Campaign, ...] = (
    Campaign("RENEW", 0, (0.55, 0, 0, 0.1, 0.3, 0.05), _renewal),
    Campaign("RENEW", 2, (0.55, 0, 0, 0.1, 0.3, 0.05), _renewal),
    Campaign("5GUP", 1, (0.5, 0, 0.35, 0.15, 0, 0), _upgrade_5g),
    Campaign("CONVERGE", 3, (0.2, 0, 0, 0, 0.5, 0.3), _converged),
    Campaign("ENTCARE", 2, (0, 0.3, 0, 0, 0, 0.7), _enterprise_care),
    Campaign("DATAPACK", 1, (0.7, 0, 0.3, 0, 0, 0), _data_pack),
    Campaign(None, 3, (1, 0, 0, 0, 0, 0), _care),
)


def case_code(window: Window, campaign: Campaign) -> str | None:
    """``YX<yyyymm>-<code>``: the case's month and theme, as a case register would number it."""
    if campaign.code is None:
        return None
    month = add_months(window.end_month, -campaign.months_back)
    return f"YX{month:%Y%m}-{campaign.code}"


def _outcomes(
    rng: np.random.Generator, pop: Population, idx: IntArray, channel: IntArray, legacy: bool
) -> IntArray:
    m = len(idx)
    if legacy:
        return np.full(m, SENT, dtype=np.int64)
    u = rng.random(m)
    failed = u < _FAILURE[channel]
    digital = _DIGITAL[channel]
    respond = np.where(
        digital,
        0.03 * sigmoid(pop.digital[idx] + 0.5),
        0.18 * sigmoid(0.5 * pop.loyalty[idx] + 0.5),
    )
    opt_out = 0.04 * sigmoid(2 * (pop.aversion[idx] - 1.5))
    v = rng.random(m)
    decided = np.where(
        v < respond,
        RESPONDED,
        np.where(v < respond + opt_out, OPTED_OUT, np.where(digital, DELIVERED, REACHED)),
    )
    # Calls and front-line tasks that reach the customer end in a no about half the time.
    declined = ~digital & (decided == REACHED) & (rng.random(m) < 0.5)
    decided = np.where(declined, DECLINED, decided)
    result: IntArray = np.where(failed, np.where(digital, FAILED, UNREACHABLE), decided).astype(
        np.int64
    )
    return result


def contact_rows(
    rng: np.random.Generator,
    *,
    pop: Population,
    sim: Simulation,
    catalog: Catalog,
    window: Window,
) -> dict[str, AnyArray]:
    """One row per contact of the chunk: ``idx``, ``at`` (UTC µs), ``channel``, ``campaign``,
    ``outcome``; ``campaign`` indexes ``CAMPAIGNS``."""
    parts: dict[str, list[AnyArray]] = {k: [] for k in ("idx", "at", "channel", "campaign", "out")}
    for number, campaign in enumerate(CAMPAIGNS):
        t = window.months - 1 - campaign.months_back
        if t < 0:
            continue  # the campaign ran before the window
        first = int(window.month_start[t])
        last = min(first + WAVE_DAYS - 1, window.data_date)
        day = first + rng.integers(0, last - first + 1, pop.n)
        live: BoolArray = (pop.join <= day) & (sim.exit_day >= day)
        chosen = live & (rng.random(pop.n) < campaign.target(pop, sim, catalog, first))
        idx = np.flatnonzero(chosen).astype(np.int64)
        weights = np.asarray(campaign.channels, dtype=np.float64)
        channel = rng.choice(len(weights), size=len(idx), p=weights / weights.sum())
        parts["idx"].append(idx)
        parts["at"].append(local_times(rng, day[idx], business_hours=True))
        parts["channel"].append(channel.astype(np.int64))
        parts["campaign"].append(np.full(len(idx), number, dtype=np.int64))
        parts["out"].append(_outcomes(rng, pop, idx, channel, campaign.code is None))
    if not parts["idx"]:
        return {k: np.zeros(0, dtype=np.int64) for k in parts}
    return {k: np.concatenate(v) for k, v in parts.items()}
