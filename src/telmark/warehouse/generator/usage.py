"""Month-by-month simulation of one chunk: usage, complaints, churn and the events
they cause (recharges, plan changes, top-up packs, contract renewals).

Each month first draws every live line's full-month usage, then the month's
complaints and the port-out hazard from those very figures, then scales usage
to the days actually in service. The churn hazard (see docs/generator.md):

    logit h = CHURN_BASE + 1.3·ending_soon + 1.7·just_ended − 1.1·bound
              + 0.5·ln(1 + dropped_calls_last_month) + 0.6·misfit
              + 1.2·recent_complaint
              + 0.7·[tenure < 6 months] − 0.25·ln(1 + tenure_years)
              − 0.45·loyalty − 0.7·household − 0.5·enterprise + 0.25·prepaid
              + 0.2·price_sensitivity
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from telmark.warehouse.generator.arrays import US_PER_DAY, US_PER_HOUR, AnyArray, IntArray
from telmark.warehouse.generator.behaviour import (
    ADD,
    Channels,
    Rows,
    days_between,
    local_times,
)
from telmark.warehouse.generator.catalog import (
    OVERAGE_DATA_CAP_FEN,
    OVERAGE_FEN_PER_GB,
    OVERAGE_FEN_PER_MIN,
    Catalog,
    fitting_fee,
)
from telmark.warehouse.generator.month_events import (
    complaint_rows,
    plan_changes,
    recharge_rows,
    renewals,
)
from telmark.warehouse.generator.org import Org
from telmark.warehouse.generator.population import Population, sigmoid
from telmark.warehouse.generator.window import UTC_OFFSET_HOURS, Window

CHURN_BASE = -4.85
NEVER = np.int64(1) << 40  # a day number beyond any window
ACTIVE, SUSPENDED, PORTED_OUT, TERMINATED = range(4)
ROAMING_FEN_PER_DAY = 2_800
VOICE_OVERAGE_CAP_FEN = 10_000
BUNDLE_MOBILE_SHARE = 0.5  # share of a converged bundle's fee booked to the mobile line


@dataclass(slots=True)
class Simulation:
    usage: dict[str, AnyArray]
    complaints: dict[str, AnyArray]
    recharges: dict[str, AnyArray]
    orders: dict[str, AnyArray]  # in-window plan changes, packs and renewals
    segments: dict[str, AnyArray]  # subscriptions that started and ended
    initial_plan: IntArray
    initial_channel: IntArray
    initial_contract: IntArray
    initial_contract_start: IntArray
    initial_contract_channel: IntArray
    plan_channel: IntArray
    contract_channel: IntArray
    status: IntArray
    status_day: IntArray
    exit_day: IntArray  # NEVER if still on the network
    channels: Channels


def simulate(
    rng: np.random.Generator, *, pop: Population, org: Org, catalog: Catalog, window: Window
) -> Simulation:
    """Run the window's months over one chunk; mutates the population's plan and contract."""
    n = pop.n
    enterprise = pop.account >= 0
    in_household = pop.household >= 0
    regular = ~enterprise & ~in_household
    exit_day = np.full(n, NEVER, dtype=np.int64)
    exit_kind = np.zeros(n, dtype=np.int64)
    susp_day = np.full(n, NEVER, dtype=np.int64)
    last_complaint = np.full(n, -99, dtype=np.int64)
    last_dropped = np.full(n, -1, dtype=np.int64)  # recorded in the previous month
    changed = np.zeros(n, dtype=np.bool_)
    channels = Channels(digital=pop.digital, age=pop.age, enterprise=enterprise)
    everyone = np.arange(n)
    plan_channel = channels.orders(rng, everyone)
    contract_channel = channels.orders(rng, everyone)
    initial = (
        pop.plan.copy(),
        plan_channel.copy(),
        pop.contract.copy(),
        pop.contract_start.copy(),
        contract_channel.copy(),
    )

    allowance = catalog.data_mb[pop.plan]
    log_dou = (
        np.log(np.maximum(allowance, 6_144) * 0.5) + 0.3 * pop.appetite + rng.normal(0, 0.3, n)
    )
    voice_allowance = np.clip(catalog.voice_min[pop.plan], 100, 600)
    log_mou = (
        np.log(voice_allowance * 0.7)
        + 0.25 * pop.value
        + 0.12 * (pop.age - 41) / 14
        + rng.normal(0, 0.35, n)
    )
    log_sms = np.log(5.0) + 0.3 * (pop.age - 41) / 14 + rng.normal(0, 0.6, n)
    roam_base = 0.006 * np.exp(0.7 * pop.value)
    handset_age = (window.data_date - pop.handset_day) / 365.25
    drop_rate = org.grid_quality[pop.grid] * (1 + 0.1 * np.clip(handset_age, 0, 6)) / 180
    fee_share = np.where(np.isin(pop.plan, catalog.bundles), BUNDLE_MOBILE_SHARE, 1.0)
    misfit_weight = np.where(enterprise, 0.3, np.where(in_household & ~pop.hh_primary, 0.0, 1.0))

    usage = Rows("idx", "month", "arpu", "data", "voice", "sms", "roaming", "overage", "dropped")
    complaints = Rows("idx", "created", "category", "severity", "resolved")
    recharges = Rows("idx", "at", "amount", "channel")
    orders = Rows("idx", "product", "action", "at", "channel", "amount")
    segments = Rows("idx", "product", "start", "end", "channel")
    # Complaints still open at the end of the data date (local midnight) have no resolution.
    end_us = (window.data_date + 1) * US_PER_DAY - UTC_OFFSET_HOURS * US_PER_HOUR

    for t in range(window.months):
        ms = int(window.month_start[t])
        me = int(window.month_start[t + 1]) - 1
        days = me - ms + 1
        spring = bool(window.spring_festival[t])
        summer = int(window.month_of_year[t]) in (7, 8)
        october = int(window.month_of_year[t]) == 10
        idx = np.flatnonzero((pop.join <= me) & (exit_day >= ms))
        m = len(idx)
        noise = rng.standard_normal((3, m), dtype=np.float32)
        season_data = 0.08 * spring + 0.05 * summer
        season_voice = 0.12 * spring - 0.03 * summer
        dou_full = np.exp(log_dou[idx] + 0.012 * window.trend[t] + season_data + 0.3 * noise[0])
        mou_full = np.exp(log_mou[idx] - 0.003 * window.trend[t] + season_voice + 0.25 * noise[1])
        sms_full = np.exp(log_sms[idx] + 0.4 * noise[2])
        dropped_full = rng.poisson(mou_full * drop_rate[idx])

        plan = pop.plan[idx]
        allow = catalog.data_mb[plan]
        allow = np.where(allow == 0, 5_120, allow)  # secondary cards share the family pool
        fee = catalog.fee[plan] * pop.discount[idx] * fee_share[idx]
        over_data_full = np.minimum(
            np.maximum(dou_full - allow, 0) / 1024 * OVERAGE_FEN_PER_GB, OVERAGE_DATA_CAP_FEN
        )
        over_voice_full = np.minimum(
            np.maximum(mou_full - catalog.voice_min[plan], 0) * OVERAGE_FEN_PER_MIN,
            VOICE_OVERAGE_CAP_FEN,
        )
        prepaid = pop.prepaid[idx]
        fit = np.empty(m)
        fit[prepaid] = fitting_fee(catalog.fit_pre_mb, catalog.fit_pre_fee, dou_full[prepaid])
        fit[~prepaid] = fitting_fee(catalog.fit_post_mb, catalog.fit_post_fee, dou_full[~prepaid])
        misfit = np.clip(np.log((fee + over_data_full + over_voice_full + 1) / fit), 0, 3)
        misfit *= misfit_weight[idx]

        # Complaints: dropped calls, misfit, aversion to marketing, price sensitivity.
        aversion = pop.aversion[idx]
        rate = 0.0035 * np.exp(
            0.45 * np.log1p(dropped_full) + 0.5 * misfit + 0.3 * aversion + 0.2 * pop.price[idx]
        )
        complain = rng.random(m) < np.minimum(rate, 0.5)
        last_complaint[idx[complain]] = t

        # Port-out, termination and suspension hazards of lines live all month.
        ce = pop.contract_end[idx]
        has = ce >= 0
        tenure = (ms - pop.join[idx]) / 365.25
        at_risk = (pop.join[idx] < ms) & (exit_day[idx] == NEVER) & (susp_day[idx] == NEVER)
        x = (
            CHURN_BASE
            + 1.3 * (has & (ce >= ms) & (ce < ms + 61))
            + 1.7 * (has & (ce < ms) & (ce >= ms - 92))
            - 1.1 * (has & (ce >= ms + 61))
            + 0.5 * np.log1p(np.where(last_dropped[idx] >= 0, last_dropped[idx], dropped_full))
            + 0.6 * misfit
            + 1.2 * ((t - last_complaint[idx]) <= 2)
            + 0.7 * (tenure < 0.5)
            - 0.25 * np.log1p(np.maximum(tenure, 0))
            - 0.45 * pop.loyalty[idx]
            - 0.7 * in_household[idx]
            - 0.5 * enterprise[idx]
            + 0.25 * prepaid
            + 0.2 * pop.price[idx]
        )
        u = rng.random((3, m), dtype=np.float32)
        port = at_risk & (u[0] < sigmoid(x))
        old = pop.age[idx] > 75
        term = at_risk & ~port & (u[1] < np.where(old, 0.004, 0.0012))
        susp = (
            at_risk
            & ~port
            & ~term
            & (u[2] < np.where(prepaid, 0.004 + 0.004 * sigmoid(-pop.loyalty[idx]), 0.0008))
        )
        leaving = port | term
        event_day = ms + (rng.random(m) * days).astype(np.int64)
        exit_day[idx[leaving]] = event_day[leaving]
        exit_kind[idx[port]] = PORTED_OUT
        exit_kind[idx[term]] = TERMINATED
        susp_day[idx[susp]] = event_day[susp]
        stays = at_risk & ~leaving & ~susp

        renewals(
            rng,
            pop=pop,
            catalog=catalog,
            idx=idx[stays & has & (ce >= ms) & (ce <= me)],
            month_start=ms,
            orders=orders,
            segments=segments,
            channels=channels,
            contract_channel=contract_channel,
        )
        changing = (
            stays
            & regular[idx]
            & ~changed[idx]
            & (rng.random(m) < 0.003 + 0.012 * np.minimum(misfit, 2))
        )
        plan_changes(
            rng,
            pop=pop,
            catalog=catalog,
            idx=idx[changing],
            fit=fit[changing],
            month_start=ms,
            days=days,
            orders=orders,
            segments=segments,
            channels=channels,
            plan_channel=plan_channel,
        )
        changed[idx[changing]] = True

        # Scale the month to the days in service (joiners, leavers, suspensions).
        start = np.maximum(pop.join[idx], ms)
        stop = np.minimum(np.minimum(exit_day[idx], susp_day[idx] - 1), me)
        frac = np.maximum(stop - start + 1, 0) / days
        data = np.round(dou_full * frac).astype(np.int64)
        voice = np.round(mou_full * frac).astype(np.int64)
        sms = np.round(sms_full * frac).astype(np.int64)
        dropped = dropped_full.copy()
        partial = frac < 1
        dropped[partial] = rng.binomial(dropped_full[partial], frac[partial])
        last_dropped[idx] = dropped
        excess = np.maximum(data - allow, 0)
        buys = (excess > 512) & (rng.random(m) < 0.2 + 0.25 * sigmoid(pop.price[idx]))
        pack = catalog.top_up_packs[np.searchsorted(np.array([1_230, 6_150]), excess)]
        pack_fee = np.where(buys, catalog.fee[pack], 0)
        covered = np.where(buys, catalog.data_mb[pack], 0)
        overage = np.minimum(
            np.maximum(excess - covered, 0) / 1024 * OVERAGE_FEN_PER_GB, OVERAGE_DATA_CAP_FEN
        )
        overage += np.minimum(
            np.maximum(voice - catalog.voice_min[plan], 0) * OVERAGE_FEN_PER_MIN,
            VOICE_OVERAGE_CAP_FEN,
        )
        overage = np.round(overage).astype(np.int64)
        season_roam = 1 + 1.5 * spring + 2.0 * summer + 0.8 * october
        roams = (frac > 0.3) & (rng.random(m) < roam_base[idx] * season_roam)
        roaming = np.zeros(m, dtype=np.int64)
        roaming[roams] = (1 + rng.poisson(4, int(roams.sum()))) * ROAMING_FEN_PER_DAY
        held_pack = pop.pack[idx]
        pack_monthly = np.where(
            (held_pack >= 0) & (pop.pack_start[idx] <= me), catalog.fee[np.maximum(held_pack, 0)], 0
        )
        arpu = np.round((fee + pack_monthly) * frac).astype(np.int64) + overage + roaming + pack_fee
        usage.add(
            idx=idx,
            month=np.full(m, ms),
            arpu=arpu,
            data=data,
            voice=voice,
            sms=sms,
            roaming=roaming,
            overage=overage,
            dropped=dropped,
        )

        buyer = np.flatnonzero(buys)
        if len(buyer):
            bday = days_between(rng, start[buyer], np.maximum(stop[buyer], start[buyer]))
            channel = channels.orders(rng, idx[buyer])
            orders.add(
                idx=idx[buyer],
                product=pack[buyer],
                action=np.full(len(buyer), ADD),
                at=local_times(rng, bday),
                channel=channel,
                amount=pack_fee[buyer],
            )
            segments.add(
                idx=idx[buyer],
                product=pack[buyer],
                start=bday,
                end=np.minimum(exit_day[idx[buyer]], me),
                channel=channel,
            )

        complaint_rows(
            rng,
            complaints=complaints,
            idx=idx[complain],
            start=start[complain],
            stop=np.minimum(exit_day[idx[complain]], me),
            dropped=dropped_full[complain],
            misfit=misfit[complain],
            overage=overage[complain],
            aversion=aversion[complain],
            end_us=end_us,
        )
        recharge_rows(
            rng,
            pop=pop,
            channels=channels,
            recharges=recharges,
            idx=idx,
            start=start,
            stop=stop,
            frac=frac,
            arpu=arpu,
        )

    status = np.where(exit_kind > 0, exit_kind, np.where(susp_day < NEVER, SUSPENDED, ACTIVE))
    status_day = np.where(exit_kind > 0, exit_day, np.where(susp_day < NEVER, susp_day, pop.join))
    return Simulation(
        usage=usage.arrays(),
        complaints=complaints.arrays(),
        recharges=recharges.arrays(),
        orders=orders.arrays(),
        segments=segments.arrays(),
        initial_plan=initial[0],
        initial_channel=initial[1],
        initial_contract=initial[2],
        initial_contract_start=initial[3],
        initial_contract_channel=initial[4],
        plan_channel=plan_channel,
        contract_channel=contract_channel,
        status=status,
        status_day=status_day,
        exit_day=exit_day,
        channels=channels,
    )
