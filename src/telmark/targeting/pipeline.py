"""The targeting run as Ibis expressions: one row per (case, subscriber) with its fate.

Every step is built from pure functions over the warehouse backend, so the
same expressions run on DuckDB and Spark (``tests/spark`` checks they agree).
Nothing here formats SQL or touches the operational database; the service
gathers the inputs (snapshots, offer rules, the consent register, earlier
runs' planned contacts, the policy) and hands them in.

``decisions`` returns, for every member of every case's snapshot:

* ``reason`` — NULL for a winner, else the first step that excluded the pair
  (``domain.Reason``): not eligible, consent on every channel of the case,
  global holdout, minimum gap, cap, channel cap, lost arbitration;
* ``channel`` — the case's first channel that consent allows and whose cap has
  room (the channel is chosen before arbitration);
* ``offer_code`` — the first of the case's offers the line is eligible for;
* ``propensity``, ``value``, ``score``, ``rank`` and ``beaten_by`` — the
  arbitration inputs and outcome (``domain`` documents the rule).

The holdout (a numpy hash on the winners) and the lists are the service's.

Contacts counted against the caps (``contacts``) are the warehouse's
``contact_history`` within the look-back window plus the contacts planned by
earlier complete runs (their list files, treatment rows), except a planned
contact that the history shows sent (same case, same line, the planned day) —
once sent, it is counted once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import reduce
from operator import or_

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from telmark.consent.domain import CONTACT_CHANNELS
from telmark.offers.eligibility.bulk import Book, ProductTerms, line_facts, refuses
from telmark.org.domain import is_root_path
from telmark.targeting.domain import (
    MAX_CHANNELS,
    MAX_VALUE_YUAN,
    UNLIMITED,
    UNSCORED_PROPENSITY,
    CaseSpec,
    ContactPolicy,
    Reason,
    gap_bounds,
    lookback,
    period_bounds,
)
from telmark.warehouse.connection import has_table
from telmark.warehouse.contract import PROVINCE_TZ
from telmark.warehouse.derived import descendants

PROPENSITY_TABLE = "propensity_scores"  # optional: subscriber_id, case_code, propensity (0–1)
VALUE_TABLE = "customer_value"
CHURN_TABLE = "churn_scores"
HISTORY_TABLE = "contact_history"
# Channels of contact_history as the consent register names them (wechat has no consent
# channel of its own: it counts against the global cap only).
HISTORY_CHANNELS = {"frontline_task": "frontline"}
CHANNEL_BITS = {c.value: i for i, c in enumerate(CONTACT_CHANNELS)}
# Small-integer codes of the reasons and channels in the cached decisions (``narrow``).
REASON_CODES = tuple(r.value for r in Reason)
CHANNEL_CODES = tuple(CHANNEL_BITS)


@dataclass(frozen=True, slots=True)
class OfferRule:
    """An offer as the bulk run applies it: its rule's members and the line statuses it takes."""

    code: str
    members: ir.Table | None  # None: no eligibility rule
    statuses: tuple[str, ...]
    terms: ProductTerms | None = None  # None: no product rules (a case run without a catalog)


@dataclass(frozen=True, slots=True)
class Catalog:
    """What the offers' product rules read (``offers.eligibility.bulk``): the catalog on the
    contact day and the subscriptions active then."""

    book: Book
    held: ir.Table | None
    on: date


def _local_midnight(day: date) -> ir.TimestampScalar:
    start = datetime.combine(day, time(0), tzinfo=PROVINCE_TZ).astimezone(UTC)
    return ibis.literal(start, type="timestamp('UTC')")


def _day(value: date) -> ir.DateScalar:
    return ibis.literal(value, type="date")


# -- inputs ------------------------------------------------------------------------------------


def case_table(cases: Sequence[CaseSpec]) -> ir.Table:
    """The cases as a small table: weights and channels in preference order."""
    data: dict[str, list[object]] = {
        "case_id": [c.case_id for c in cases],
        "case_code": [c.code for c in cases],
        "priority": [c.priority for c in cases],
        "business_weight_bp": [c.business_weight_bp for c in cases],
    }
    for i in range(MAX_CHANNELS):
        data[f"ch_{i}"] = [c.channels[i] if i < len(c.channels) else None for c in cases]
    schema = {
        "case_id": "int64",
        "case_code": "string",
        "priority": "int64",
        "business_weight_bp": "int64",
        **{f"ch_{i}": "string" for i in range(MAX_CHANNELS)},
    }
    return ibis.memtable(data, schema=schema)


def offer_ranks(cases: Sequence[CaseSpec]) -> ir.Table:
    """(case_id, offer_rank, offer_code): the order of each case's offers."""
    rows = [(c.case_id, k, code) for c in cases for k, code in enumerate(c.offer_codes)]
    return ibis.memtable(
        {
            "case_id": [r[0] for r in rows],
            "offer_rank": [r[1] for r in rows],
            "offer_code": [r[2] for r in rows],
        },
        schema={"case_id": "int64", "offer_rank": "int64", "offer_code": "string"},
    )


def blocked_masks(blocked: Mapping[str, Sequence[str]]) -> ir.Table:
    """(msisdn, mask): bit ``CHANNEL_BITS[c]`` set when consent blocks channel ``c``."""
    masks: dict[str, int] = {}
    for channel, numbers in blocked.items():
        bit = 1 << CHANNEL_BITS[channel]
        for number in numbers:
            masks[number] = masks.get(number, 0) | bit
    ordered = sorted(masks)
    return ibis.memtable(
        {"msisdn": ordered, "mask": [masks[m] for m in ordered]},
        schema={"msisdn": "string", "mask": "int64"},
    )


def history_contacts(con: BaseBackend, on: date, policy: ContactPolicy) -> ir.Table | None:
    """Contacts of ``contact_history`` in the look-back window, flagged period/gap."""
    if not has_table(con, HISTORY_TABLE):
        return None
    history = con.table(HISTORY_TABLE)
    first, last = lookback(on, policy)
    start, end = period_bounds(on, policy.period)
    window = _day_bounds(history.contacted_at, first, last)
    in_period = _day_bounds(history.contacted_at, start, end)
    gap = gap_bounds(on, policy.min_gap_days)
    in_gap: ir.BooleanValue = ibis.literal(False)
    if gap is not None:
        in_gap = _day_bounds(history.contacted_at, gap[0], gap[1])
    channel = reduce(
        lambda acc, pair: ibis.ifelse(history.channel == pair[0], pair[1], acc),
        HISTORY_CHANNELS.items(),
        history.channel,
    )
    return history.filter(window).select(
        subscriber_id=history.subscriber_id,
        case_code=history.case_code,
        channel=channel,
        in_period=in_period,
        in_gap=in_gap,
    )


def _day_bounds(column: ir.TimestampValue, first: date, last: date) -> ir.BooleanValue:
    """``column`` (UTC) falls on a province-local day from ``first`` to ``last``."""
    return (column >= _local_midnight(first)) & (column < _local_midnight(last + timedelta(days=1)))


def planned_contacts(
    con: BaseBackend, planned: Sequence[tuple[ir.Table, date]], on: date, policy: ContactPolicy
) -> ir.Table | None:
    """Treatment rows of earlier runs' lists, flagged period/gap, unless already sent.

    A planned contact counts as sent (and so is counted once, in the history) when
    ``contact_history`` holds a contact of the same case to the same line on the
    planned day: the dispatcher sends a list on its day.
    """
    if not planned:
        return None
    start, end = period_bounds(on, policy.period)
    gap = gap_bounds(on, policy.min_gap_days)
    history = con.table(HISTORY_TABLE) if has_table(con, HISTORY_TABLE) else None
    parts = []
    for table, day in planned:
        rows = table.filter(table.group == "treatment")
        if history is not None:
            sent = history.filter(
                history.case_code.notnull() & _day_bounds(history.contacted_at, day, day)
            ).select("subscriber_id", "case_code")
            rows = rows.anti_join(sent, ["subscriber_id", "case_code"])
        parts.append(
            rows.select(
                subscriber_id=rows.subscriber_id,
                case_code=rows.case_code,
                channel=rows.channel,
                in_period=ibis.literal(start <= day <= end),
                in_gap=ibis.literal(gap is not None and gap[0] <= day <= gap[1]),
            )
        )
    return reduce(lambda a, b: a.union(b, distinct=False), parts)


def contacts(history: ir.Table | None, planned: ir.Table | None) -> ir.Table | None:
    """History plus planned contacts not yet sent (see ``planned_contacts``)."""
    found = [t for t in (history, planned) if t is not None]
    if not found:
        return None
    return reduce(lambda a, b: a.union(b, distinct=False), found)


def contact_counts(found: ir.Table | None, members: ir.Table, channels: Sequence[str]) -> ir.Table:
    """Per subscriber: contacts in the period, any within the gap, and per channel."""
    names = ["subscriber_id", "in_period_n", "in_gap_n", *(f"n_{c}" for c in channels)]
    if found is None:
        return (
            members.select("subscriber_id")
            .filter(ibis.literal(False))
            .mutate(**{n: ibis.literal(0, type="int64") for n in names[1:]})
        )
    return found.group_by("subscriber_id").aggregate(
        in_period_n=found.in_period.cast("int64").sum(),
        in_gap_n=found.in_gap.cast("int64").sum(),
        **{
            f"n_{c}": (found.in_period & (found.channel == c)).cast("int64").sum() for c in channels
        },
    )


def in_area(
    con: BaseBackend,
    case: CaseSpec,
    table: ir.Table,
    local: Sequence[tuple[str, ir.Table]],
) -> ir.BooleanValue:
    """Whether each row's line (``table.org_id``, ``table.subscriber_id``) is in the case's area.

    A case reaches only the lines under the unit that owns it (a city's case never
    reaches another city, whoever runs targeting); under each unit that narrowed its
    part (``local``: unit code and the members of its local rule) a line must also
    be a member of that rule. Lines elsewhere are not touched by a unit's rule.
    """
    inside: ir.BooleanValue = ibis.literal(True)
    if not is_root_path(case.org_path):
        inside = table.org_id.isin(descendants(con, case.org_code).org_id)
    for org, members in local:
        under = table.org_id.isin(descendants(con, org).org_id)
        inside = inside & (~under | table.subscriber_id.isin(members.subscriber_id))
    return inside


# The share draw of a local channel mix: a multiplicative hash of (subscriber, case) modulo
# 10 000, in integer arithmetic every backend computes alike (DuckDB and Spark give the same
# buckets); consecutive subscriber ids spread evenly over the buckets (the multiplier is
# coprime with 10 000).
MIX_MULTIPLIER = 2_654_435_761
MIX_CASE_MULTIPLIER = 40_503


def preferred_channel(con: BaseBackend, case: CaseSpec, table: ir.Table) -> ir.StringValue:
    """Each row's preferred channel under its unit's local channel mix (NULL: none).

    A line under a unit that set a mix gets channel *k* when its share bucket falls in
    the k-th share; with nested mixes (a city's and an outlet's), the deeper unit's wins.
    The preferred channel is tried before the case's own order (``decisions``).
    """
    bucket = (table.subscriber_id * MIX_MULTIPLIER + case.case_id * MIX_CASE_MULTIPLIER) % 10_000
    chosen: ir.StringValue = ibis.null("string")
    for org, mix in sorted(case.local_channels, key=lambda item: len(item[0])):
        under = table.org_id.isin(descendants(con, org).org_id)
        pick: ir.StringValue = ibis.null("string")
        for channel, share in reversed(_cumulative(mix)):
            pick = ibis.ifelse(bucket < share, ibis.literal(channel), pick)
        chosen = ibis.ifelse(under, pick, chosen)
    return chosen


def _cumulative(mix: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    total, out = 0, []
    for channel, share in mix:
        total += share
        out.append((channel, total))
    return out


def eligible_pairs(
    base: ir.Table,
    cases: Sequence[CaseSpec],
    offers: Mapping[str, OfferRule],
    held: ir.Table | None = None,
) -> ir.Table:
    """(case_id, subscriber_id, offer_rank): the first of the case's offers the line may take.

    A case's offers that are not in ``offers`` (not active, or outside their dates)
    select nobody; a case without offers takes every active line of its snapshot.
    """
    parts: list[ir.Table] = []
    for case in cases:
        of_case = base.filter(base.case_id == case.case_id)
        if not case.offer_codes:
            active = of_case.filter(of_case.status == "active")
            parts.append(
                active.select("case_id", "subscriber_id", offer_rank=ibis.literal(-1, type="int64"))
            )
            continue
        for rank, code in enumerate(case.offer_codes):
            offer = offers.get(code)
            if offer is None:
                continue
            taking = of_case.filter(of_case.status.isin(list(offer.statuses)))
            if offer.terms is not None:
                taking = taking.filter(~refuses(taking, offer.terms, held))
            if offer.members is not None:
                taking = taking.semi_join(offer.members, "subscriber_id")
            parts.append(
                taking.select(
                    "case_id", "subscriber_id", offer_rank=ibis.literal(rank, type="int64")
                )
            )
    if not parts:
        return base.filter(ibis.literal(False)).select(
            "case_id", "subscriber_id", offer_rank=ibis.literal(0, type="int64")
        )
    union = reduce(lambda a, b: a.union(b, distinct=False), parts)
    return union.group_by("case_id", "subscriber_id").aggregate(offer_rank=union.offer_rank.min())


def _scores(con: BaseBackend, table: ir.Table) -> ir.Table:
    """``table`` plus integer ``propensity`` (‰) and ``value`` (yuan) factors."""
    if has_table(con, PROPENSITY_TABLE):
        raw = con.table(PROPENSITY_TABLE)
        scored = raw.group_by(_p_sub=raw.subscriber_id, _p_case=raw.case_code).aggregate(
            _p=raw.propensity.max()
        )
        table = table.left_join(
            scored,
            (table.subscriber_id == scored._p_sub) & (table.case_code == scored._p_case),
        ).drop("_p_sub", "_p_case")
        permille = (table._p.clip(lower=0.0, upper=1.0) * 1000).round().cast("int64")
        table = table.mutate(propensity=permille.fill_null(UNSCORED_PROPENSITY)).drop("_p")
    else:
        table = table.mutate(propensity=ibis.literal(UNSCORED_PROPENSITY, type="int64"))
    if has_table(con, VALUE_TABLE):
        value = con.table(VALUE_TABLE)
        clv = value.select(_v_sub=value.subscriber_id, _clv=value.clv_fen)
        table = table.left_join(clv, table.subscriber_id == clv._v_sub).drop("_v_sub")
        yuan = (table._clv // 100).clip(lower=1, upper=MAX_VALUE_YUAN).cast("int64")
        table = table.mutate(value=yuan.fill_null(1)).drop("_clv")
    else:
        table = table.mutate(value=ibis.literal(1, type="int64"))
    return table


def _room(
    policy: ContactPolicy, channel: ir.StringValue, counts: Mapping[str, ir.IntegerValue]
) -> ir.IntegerValue:
    """Contacts still allowed on the row's ``channel`` this period."""
    branches = []
    for name, used in counts.items():
        cap = policy.channel_caps.get(name)
        room = ibis.literal(UNLIMITED, type="int64") if cap is None else (cap - used).clip(lower=0)
        branches.append((channel == name, room))
    return ibis.cases(*branches, else_=ibis.literal(0, type="int64"))


def decisions(
    *,
    con: BaseBackend,
    members: ir.Table,
    cases: Sequence[CaseSpec],
    offers: Mapping[str, OfferRule],
    blocked: ir.Table,
    global_holdout: ir.Table | None,
    found_contacts: ir.Table | None,
    policy: ContactPolicy,
    catalog: Catalog | None = None,
) -> ir.Table:
    """Every (case, subscriber) of the snapshots with its fate (see the module docstring).

    ``members`` has ``case_id``, ``subscriber_id``, ``outside`` (the line is outside
    the case's area: ``in_area``) and ``pref`` (its unit's preferred channel, or NULL:
    ``preferred_channel``).
    """
    subscribers = con.table("subscribers")
    columns = ["msisdn", "status"]
    judged = catalog is not None and any(o.terms is not None for o in offers.values())
    if judged:  # the product rules read these (``bulk.line_facts``)
        columns += ["payment_type", "plan_id", "contract_end"]
    lines = subscribers.select(*columns, _s_sub=subscribers.subscriber_id)
    base = members.left_join(lines, members.subscriber_id == lines._s_sub).drop("_s_sub")
    held = None
    if judged and catalog is not None:
        held = catalog.held
        base = line_facts(base, held=held, book=catalog.book, on=catalog.on)

    eligible = eligible_pairs(base, cases, offers, held).rename(
        _e_case="case_id", _e_sub="subscriber_id"
    )
    table = base.left_join(
        eligible,
        (base.case_id == eligible._e_case) & (base.subscriber_id == eligible._e_sub),
    ).drop("_e_case", "_e_sub")
    ranks = offer_ranks(cases).rename(_o_case="case_id", _o_rank="offer_rank")
    table = table.left_join(
        ranks, (table.case_id == ranks._o_case) & (table.offer_rank == ranks._o_rank)
    ).drop("_o_case", "_o_rank")

    case_rows = case_table(cases).rename(_c_case="case_id")
    table = table.inner_join(case_rows, table.case_id == case_rows._c_case).drop("_c_case")
    masks = blocked.rename(_b_msisdn="msisdn")
    table = table.left_join(masks, table.msisdn == masks._b_msisdn).drop("_b_msisdn")
    table = table.mutate(mask=table["mask"].fill_null(0))

    used = sorted(
        {c for case in cases for c in case.channels}
        | {c for case in cases for _, mix in case.local_channels for c, _ in mix}
    )
    counts = contact_counts(found_contacts, members, used).rename(_n_sub="subscriber_id")
    table = table.left_join(counts, table.subscriber_id == counts._n_sub).drop("_n_sub")
    table = table.mutate(
        **{n: table[n].fill_null(0) for n in ("in_period_n", "in_gap_n", *(f"n_{c}" for c in used))}
    )
    if global_holdout is not None:
        held = global_holdout.select(_g_sub="subscriber_id", _g_held=ibis.literal(True))
        table = table.left_join(held, table.subscriber_id == held._g_sub).drop("_g_sub")
        table = table.mutate(in_global_holdout=table._g_held.fill_null(False)).drop("_g_held")
    else:
        table = table.mutate(in_global_holdout=ibis.literal(False))

    # Consent and channel room per channel slot, then the first slot that has both.
    counted = {c: table[f"n_{c}"] for c in used}
    consent_ok: list[ir.BooleanValue] = []
    usable: list[ir.BooleanValue] = []
    # The unit's preferred channel (a local mix) first, then the case's channels in order.
    slots = [table.pref, *(table[f"ch_{i}"] for i in range(MAX_CHANNELS))]
    for slot in slots:
        bit = reduce(
            lambda acc, pair: ibis.ifelse(slot == pair[0], 1 << pair[1], acc),
            CHANNEL_BITS.items(),
            ibis.literal(1, type="int64"),
        )
        ok = slot.notnull() & ((table["mask"] // bit) % 2 == 0)
        consent_ok.append(ok)
        usable.append(ok & (_room(policy, slot, counted) > 0))
    chosen = ibis.cases(
        *((usable[i], slots[i]) for i in range(len(slots))),
        else_=ibis.null("string"),
    )
    cap_reached = table.in_period_n >= policy.global_cap
    reason = ibis.cases(
        (table.outside, Reason.OUTSIDE_AREA.value),
        (table.offer_rank.isnull(), Reason.NOT_ELIGIBLE.value),
        (~reduce(or_, consent_ok), Reason.CONSENT.value),
        (table.in_global_holdout, Reason.GLOBAL_HOLDOUT.value),
        (table.in_gap_n > 0, Reason.MIN_GAP.value),
        (cap_reached, Reason.CAP.value),
        (~reduce(or_, usable), Reason.CHANNEL_CAP.value),
        else_=ibis.null("string"),
    )
    room_left = (policy.global_cap - table.in_period_n).clip(lower=0)
    allowance = room_left.clip(upper=1) if policy.min_gap_days > 0 else room_left
    table = _scores(con, table.mutate(channel=chosen, reason=reason, allowance=allowance))
    table = table.mutate(
        score=table.priority
        * (table.business_weight_bp + 1)
        * (table.propensity + 1)
        * table.value,
        candidate=table.reason.isnull(),
        room=_room(policy, table.channel, counted),
    )

    # Arbitration, set-wise: first each channel's room, then the subscriber's allowance.
    order = [ibis.desc(table.score), table.case_id]
    by_channel = ibis.window(
        group_by=[table.subscriber_id, table.channel, table.candidate], order_by=order
    )
    # The top case shares the window of the row number: one sort per stage, not two.
    table = table.mutate(
        _rc=ibis.row_number().over(by_channel),
        _top_channel=table.case_id.first().over(by_channel),
    )
    table = table.mutate(_keep=table.candidate & (table._rc < table.room))
    order = [ibis.desc(table.score), table.case_id]
    kept = ibis.window(group_by=[table.subscriber_id, table._keep], order_by=order)
    table = table.mutate(
        _r=ibis.row_number().over(kept), _top_kept=table.case_id.first().over(kept)
    )
    table = table.mutate(_win=table._keep & (table._r < table.allowance))
    lost = table.candidate & ~table._win
    return table.select(
        "case_id",
        "case_code",
        "subscriber_id",
        reason=ibis.ifelse(lost, Reason.ARBITRATION_LOST.value, table.reason),
        channel=ibis.ifelse(table.candidate, table.channel, ibis.null("string")),
        offer_code=table.offer_code,
        priority=table.priority,
        business_weight_bp=table.business_weight_bp,
        propensity=table.propensity,
        value=table.value,
        score=table.score,
        rank=ibis.ifelse(table._keep, table._r + 1, ibis.null("int64")),
        beaten_by=ibis.cases(
            (table.candidate & ~table._keep, table._top_channel),
            (lost, table._top_kept),
            else_=ibis.null("int64"),
        ),
    )


def _coded(column: ir.StringValue, values: Sequence[str]) -> ir.IntegerValue:
    return ibis.cases(
        *((column == v, ibis.literal(i, type="int8")) for i, v in enumerate(values)),
        else_=ibis.null("int8"),
    )


def narrow(decided: ir.Table) -> ir.Table:
    """``decisions`` in small types, for caching: reasons and channels as codes.

    At 10M subscribers and five cases the decisions are ~17M rows; as strings and
    64-bit integers they would take several times the memory. Per-case attributes
    (code, priority, weight) are dropped: the service knows them from the cases.
    ``REASON_CODES`` and ``CHANNEL_CODES`` decode them.
    """
    return decided.select(
        case_id=decided.case_id.cast("int32"),
        subscriber_id=decided.subscriber_id,
        reason_code=_coded(decided.reason, REASON_CODES),
        channel_code=_coded(decided.channel, CHANNEL_CODES),
        offer_code=decided.offer_code,
        propensity=decided.propensity.cast("int16"),
        value=decided.value.cast("int32"),
        score=decided.score,
        rank=decided["rank"].cast("int16"),
        beaten_by=decided.beaten_by.cast("int32"),
    )


def winner_attributes(
    con: BaseBackend, winners: ir.Table, as_of: date | None, on: date
) -> ir.Table:
    """Winners with city, outlet, account manager and the balance covariates."""
    subscribers = con.table("subscribers")
    lines = subscribers.select(
        _a_sub=subscribers.subscriber_id,
        outlet_id=subscribers.org_id,
        _account=subscribers.account_id,
        _joined=subscribers.join_date,
    )
    table = winners.left_join(lines, winners.subscriber_id == lines._a_sub).drop("_a_sub")
    closure = con.table("org_closure")
    cities = closure.filter(closure.ancestor_kind == "city").select(
        _city_org=closure.descendant_id, city_id=closure.ancestor_id
    )
    table = table.left_join(cities, table.outlet_id == cities._city_org).drop("_city_org")
    if has_table(con, "enterprise_accounts"):
        accounts = con.table("enterprise_accounts")
        managers = accounts.select(
            _acc=accounts.account_id, account_manager_id=accounts.account_manager_id
        )
        table = table.left_join(managers, table._account == managers._acc).drop("_acc")
    else:
        table = table.mutate(account_manager_id=ibis.null("string"))
    months = ibis.literal(on.year * 12 + on.month - 1) - (
        table._joined.year() * 12 + table._joined.month() - 1
    )
    table = table.mutate(tenure_months=months.cast("float64")).drop("_account", "_joined")
    if as_of is not None and has_table(con, "usage_monthly"):
        usage = con.table("usage_monthly")
        latest = usage.filter(usage.month == _day(as_of)).select(
            _u_sub=usage.subscriber_id,
            arpu_fen=usage.arpu_fen.cast("float64"),
            data_mb=usage.data_mb.cast("float64"),
        )
        table = table.left_join(latest, table.subscriber_id == latest._u_sub).drop("_u_sub")
    else:
        table = table.mutate(arpu_fen=ibis.null("float64"), data_mb=ibis.null("float64"))
    if has_table(con, CHURN_TABLE):
        churn = con.table(CHURN_TABLE)
        scores = churn.select(
            _ch_sub=churn.subscriber_id, churn_probability=churn.churn_probability
        )
        table = table.left_join(scores, table.subscriber_id == scores._ch_sub).drop("_ch_sub")
    else:
        table = table.mutate(churn_probability=ibis.null("float64"))
    return table
