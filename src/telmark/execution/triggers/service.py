"""Trigger use cases: rules, loading the engine, ingesting events, the stream consumer, reading.

**Loading** (``load_runtime``) builds the engine's state (``engine`` explains
it) from the running cases that have a rule: their targeting inputs
(``cases.service.targeting_inputs``), each case's area (``pipeline.in_area``)
and first eligible offer over every line of the warehouse
(``pipeline.eligible_pairs`` with the offers' segment and product rules, as a
targeting run applies them), the consent register, the global and case
holdouts, and the counters: contacts from ``contact_history`` and the outbox in
the policy's look-back (an outbox row the history already shows — same line,
case and day — is counted once), and the cases' last decisions from
``trigger_decision`` for cooldowns and today's caps.

**Ingesting** (``ingest``) a batch: events already decided (their
``event_id`` is in ``trigger_decision``, or earlier in the batch) are answered
with their stored decision; the others are decided by the engine, and their
decisions and the contacts' outbox rows (key ``trigger:{event_id}:{case_id}``,
message rendered with the case's template as ``execution.service`` renders a
run's) are inserted in one transaction — by Core statements on the unit of work's
connection, not through the audit listener (see ``_insert``). One batch is written at a time per
engine (``Runtime.writing``), so an event arriving twice at once is decided
once. A failed commit marks the runtime stale: its counters moved for decisions
that were not stored, so they are reloaded before the next batch.

**The stream consumer** (``consume``) reads a Redis stream through a consumer
group: ``XREADGROUP`` a batch, ingest it (decide and commit), then ``XACK``.
An entry read but not acknowledged — the consumer died between read and ack —
stays pending in the group; at start and every ``claim_every`` seconds the
consumer takes such entries over with ``XAUTOCLAIM`` and ingests them again;
the ones already committed are duplicates by their ``event_id`` and are only
acknowledged, so every event is decided exactly once. An entry that is not a
valid event is copied to ``<stream>:invalid`` with the problem and acknowledged.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
from ibis.backends import BaseBackend
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from telmark.cases import service as cases_service
from telmark.cases.access import get_case_row, managed, visible_cases
from telmark.cases.domain import CaseStatus
from telmark.cases.models import Case
from telmark.consent.domain import CONTACT_CHANNELS
from telmark.consent.service import blocked_msisdns
from telmark.db import utcnow
from telmark.errors import Forbidden, InvalidInput, NotFound
from telmark.execution import templates
from telmark.execution.domain import CHANNEL_KINDS, DISPATCH_CHANNELS, PROVINCE_TZ, OutboxState
from telmark.execution.loading import TEMPLATE_FIELDS
from telmark.execution.models import OutboxMessage, OutboxTemplate
from telmark.execution.triggers import domain
from telmark.execution.triggers.domain import EventType, Outcome, Reason
from telmark.execution.triggers.engine import (
    NEVER,
    Base,
    CaseState,
    Counters,
    Decision,
    Engine,
    Event,
    local_day,
    window_text,
)
from telmark.execution.triggers.models import TriggerDecision, TriggerRule
from telmark.execution.triggers.schemas import (
    BatchRead,
    ConditionIn,
    CountersRead,
    CountRead,
    DecisionRead,
    EngineRead,
    EventIn,
    LatencyRead,
    TriggerRuleIn,
    TriggerRuleRead,
)
from telmark.offers.eligibility import bulk
from telmark.offers.eligibility import service as eligibility
from telmark.offers.models import Offer, OfferVersion
from telmark.org.domain import is_root_path
from telmark.privacy.masking import mask_msisdn
from telmark.segments import service as segments_service
from telmark.segments.compile import resolve_as_of
from telmark.segments.rules import parse_rule
from telmark.targeting import pipeline
from telmark.targeting.compute import _offer_rules
from telmark.targeting.domain import (
    GLOBAL_CASE,
    CaseSpec,
    ContactPolicy,
    in_holdout,
    lookback,
    period_bounds,
)
from telmark.targeting.service import current_policy
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import has_table
from telmark.warehouse.scope import ScopedWarehouse

STOPPED_STATES = (OutboxState.CANCELLED, OutboxState.SUPPRESSED, OutboxState.FAILED)
# Without an address in the warehouse contract, e-mail cannot be sent to a line from an event.
SENDABLE = tuple(c for c in DISPATCH_CHANNELS if c != "email")
RECENT = 50


# -- rules -------------------------------------------------------------------------------------


def _rule_read(rule: TriggerRule, case: Case, decided_today: int = 0) -> TriggerRuleRead:
    event_type = EventType(rule.event_type)
    condition = domain.condition_of(event_type, rule.condition)
    return TriggerRuleRead(
        case_id=case.id,
        case_code=case.code,
        case_name=case.name,
        case_status=case.status.value,
        event_type=event_type,
        condition=None if condition is None else ConditionIn(**condition.as_json()),
        condition_text=None if condition is None else str(condition),
        cooldown_days=rule.cooldown_days,
        max_per_day=rule.max_per_day,
        revision=rule.revision,
        updated_by=rule.updated_by,
        updated_at=rule.updated_at,
        decided_today=decided_today,
    )


def set_rule(*, uow: UnitOfWork, case_id: int, spec: TriggerRuleIn) -> TriggerRuleRead:
    """Attach (or replace) the case's trigger rule; the case must be one the actor manages."""
    case, _unit = managed(uow, case_id)
    condition = None
    if spec.condition is not None:
        condition = domain.Condition(spec.condition.field, spec.condition.op, spec.condition.value)
    checked = domain.check_rule(
        domain.TriggerRule(
            case_id=case.id,
            event_type=spec.event_type,
            condition=condition,
            cooldown_days=spec.cooldown_days,
            max_per_day=spec.max_per_day,
        )
    )
    row = uow.session.scalar(select(TriggerRule).where(TriggerRule.case_id == case.id))
    now = utcnow()
    if row is None:
        row = TriggerRule(case_id=case.id, revision=1, created_at=now)
        uow.session.add(row)
    else:
        row.revision += 1
    row.event_type = checked.event_type.value
    row.condition = None if checked.condition is None else checked.condition.as_json()
    row.cooldown_days = checked.cooldown_days
    row.max_per_day = checked.max_per_day
    row.updated_by = uow.actor.username
    row.updated_at = now
    uow.session.flush()
    result = _rule_read(row, case)
    uow.commit()
    return result


def get_rule(*, uow: UnitOfWork, case_id: int) -> TriggerRuleRead:
    case = get_case_row(uow, case_id)
    row = uow.session.scalar(select(TriggerRule).where(TriggerRule.case_id == case.id))
    if row is None:
        raise NotFound(f"case {case.code} has no trigger rule", details=[{"field": "case_id"}])
    return _rule_read(row, case, _decided_today(uow, [case.id]).get(case.id, 0))


def remove_rule(*, uow: UnitOfWork, case_id: int) -> None:
    """Detach the case's trigger rule (its decisions stay); NotFound if it has none."""
    case, _unit = managed(uow, case_id)
    row = uow.session.scalar(select(TriggerRule).where(TriggerRule.case_id == case.id))
    if row is None:
        raise NotFound(f"case {case.code} has no trigger rule", details=[{"field": "case_id"}])
    uow.session.delete(row)
    uow.commit()


def list_rules(*, uow: UnitOfWork) -> list[TriggerRuleRead]:
    """The trigger rules of the cases the actor sees, with today's decisions of each."""
    cases = visible_cases(uow).subquery()
    rows = uow.session.execute(
        select(TriggerRule, Case)
        .join(Case, Case.id == TriggerRule.case_id)
        .where(Case.id.in_(select(cases.c.id)))
        .order_by(Case.id)
    ).all()
    today = _decided_today(uow, [case.id for _, case in rows])
    return [_rule_read(rule, case, today.get(case.id, 0)) for rule, case in rows]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, dtime(0), tzinfo=PROVINCE_TZ).astimezone(UTC)


def _decided_today(
    uow: UnitOfWork, case_ids: Sequence[int], now: datetime | None = None
) -> dict[int, int]:
    if not case_ids:
        return {}
    start = _midnight(local_day(now or utcnow()))
    d = TriggerDecision
    rows = uow.session.execute(
        select(d.case_id, func.count())
        .where(
            d.case_id.in_(case_ids),
            d.decided_at >= start,
            d.outcome.in_([Outcome.CONTACT.value, Outcome.CONTROL.value]),
        )
        .group_by(d.case_id)
    ).all()
    return {int(c or 0): int(n) for c, n in rows}


# -- loading the engine ------------------------------------------------------------------------


@dataclass(slots=True)
class _Renderer:
    """One case's template on one channel, rendered once per distinct set of its variables
    (as the outbox renders a run's lists: a campaign text varies by offer, city and plan)."""

    template: templates.MessageTemplate
    used: tuple[str, ...]
    cache: dict[tuple[Any, ...], templates.Rendered] = field(default_factory=dict)

    def render(self, row: Mapping[str, Any], where: str) -> templates.Rendered:
        key = tuple(row.get(name) for name in self.used)
        hit = self.cache.get(key)
        if hit is None:
            try:
                hit = templates.render(self.template, row)
            except templates.TemplateInvalid as error:
                raise InvalidInput(f"{where}: {error}", details=error.details) from error
            if not hit.ok:
                raise InvalidInput(f"{where}: " + "; ".join(str(p) for p in hit.problems))
            self.cache[key] = hit
        return hit


def _offer_names(uow: UnitOfWork, codes: Sequence[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = uow.session.execute(
        select(Offer.code, OfferVersion.name)
        .join(
            OfferVersion,
            (OfferVersion.offer_id == Offer.id) & (OfferVersion.version == Offer.current_version),
        )
        .where(Offer.code.in_(codes))
    )
    return {str(code): str(name) for code, name in rows}


@dataclass(slots=True)
class Runtime:
    """A loaded engine with what writing its decisions needs (renderers, names)."""

    engine: Engine
    renderers: dict[tuple[int, str], _Renderer]
    offer_names: dict[str, str]
    unit_names: dict[str, str]
    plan_names: dict[str, str]
    holdout_key: str
    writing: threading.Lock = field(default_factory=threading.Lock)
    stale: bool = False
    loaded_at: float = field(default_factory=time.monotonic)


def _arrow_numpy(table: pa.Table, column: str) -> np.ndarray[Any, Any]:
    found: np.ndarray[Any, Any] = table[column].to_numpy(zero_copy_only=False)
    return found


def _base(con: BaseBackend) -> tuple[Base, dict[str, str], dict[str, str]]:
    subscribers = con.table("subscribers")
    lines = subscribers.select("subscriber_id", "msisdn", "org_id", "plan_id").order_by(
        "subscriber_id"
    )
    table = lines.to_pyarrow()
    ids = _arrow_numpy(table, "subscriber_id").astype(np.int64)
    numbers = np.asarray(table["msisdn"].to_pylist(), dtype=np.str_)
    order = np.argsort(numbers, kind="stable").astype(np.int32)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size, dtype=np.int32)
    outlets = _arrow_numpy(table, "org_id").astype(object)
    plans = _arrow_numpy(table, "plan_id").astype(object)
    unit_codes, outlet_index = np.unique(outlets.astype(str), return_inverse=True)
    plan_codes, plan_index = np.unique(plans.astype(str), return_inverse=True)
    closure = con.table("org_closure")
    cities = (
        closure.filter(closure.ancestor_kind == "city")
        .select(unit=closure.descendant_id, city=closure.ancestor_id)
        .to_pyarrow()
    )
    city_of = dict(zip(cities["unit"].to_pylist(), cities["city"].to_pylist(), strict=True))
    units = list(unit_codes.tolist())
    index = {code: i for i, code in enumerate(units)}
    for city in sorted(set(city_of.values()) - index.keys()):
        index[city] = len(units)
        units.append(city)
    unit_city = np.array([index.get(city_of.get(u, ""), -1) for u in unit_codes], dtype=np.int32)
    org = con.table("org_units").select("org_id", "name").to_pyarrow()
    unit_names = dict(zip(org["org_id"].to_pylist(), org["name"].to_pylist(), strict=True))
    plan_names: dict[str, str] = {}
    if has_table(con, "products"):
        products = con.table("products").select("product_id", "name").to_pyarrow()
        plan_names = dict(
            zip(products["product_id"].to_pylist(), products["name"].to_pylist(), strict=True)
        )
    base = Base(
        ids=ids,
        msisdn_sorted=numbers[order],
        msisdn_order=order,
        msisdn_rank=rank,
        outlet=outlet_index.astype(np.int32),
        city=unit_city[outlet_index],
        plan=plan_index.astype(np.int32),
        units=tuple(units),
        plans=tuple(plan_codes.tolist()),
        blocked=np.zeros(ids.size, dtype=np.uint8),
        global_holdout=np.zeros(ids.size, dtype=np.bool_),
    )
    return base, unit_names, plan_names


def _positions(base: Base, subscriber_ids: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Positions of ``subscriber_ids`` in the base (-1 where a line is not in it)."""
    ids = np.asarray(subscriber_ids, dtype=np.int64)
    at = np.searchsorted(base.ids, ids)
    clipped = np.minimum(at, base.size - 1)
    found = (at < base.size) & (base.ids[clipped] == ids)
    return np.where(found, clipped, -1)


def _consent(uow: UnitOfWork, base: Base, now: datetime) -> None:
    base.blocked[:] = 0
    for channel in CONTACT_CHANNELS:
        numbers = np.asarray(
            blocked_msisdns(uow=uow, channel=channel, now=now).column("msisdn").to_pylist(),
            dtype=np.str_,
        )
        if not numbers.size or not base.size:
            continue
        at = np.minimum(np.searchsorted(base.msisdn_sorted, numbers), base.size - 1)
        hit = base.msisdn_sorted[at] == numbers
        positions = base.msisdn_order[at[hit]]
        base.blocked[positions] |= np.uint8(1 << pipeline.CHANNEL_BITS[channel.value])


def _case_arrays(
    uow: UnitOfWork, con: BaseBackend, base: Base, specs: Sequence[CaseSpec], day: date
) -> dict[int, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    """Per case: its area over the base, and the first eligible offer's rank (-1: none)."""
    book = eligibility.book(uow=uow, on=day)
    held = bulk.holdings(con, day)
    offers = _offer_rules(uow, con, specs, day, book)
    subscribers = con.table("subscribers")
    homes = subscribers.select("subscriber_id", "org_id")
    as_of: date | None = None
    found: dict[int, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = {}
    parts = []
    for spec in specs:
        area = np.ones(base.size, dtype=np.bool_)
        if not is_root_path(spec.org_path) or spec.local_rules:
            local = []
            for org, rule in spec.local_rules:
                as_of = as_of or resolve_as_of(con)
                members = segments_service.members_of(
                    uow=uow, con=con, rule=parse_rule(json.loads(rule)), as_of=as_of
                )
                local.append((org, members))
            inside = pipeline.in_area(con, spec, homes, local)
            ids = homes.filter(inside.fill_null(False)).subscriber_id.to_pyarrow().to_numpy()
            at = _positions(base, ids)
            area[:] = False
            area[at[at >= 0]] = True
        ranks = np.full(base.size, -1, dtype=np.int8)
        found[spec.case_id] = (area, ranks)
        parts.append(
            subscribers.select(
                case_id=ibis.literal(spec.case_id, type="int64"),
                subscriber_id=subscribers.subscriber_id.cast("int64"),
            )
        )
    members = parts[0]
    for part in parts[1:]:
        members = members.union(part, distinct=False)
    lines = subscribers.select(
        "msisdn", "status", "payment_type", "plan_id", "contract_end",
        _s_sub=subscribers.subscriber_id,
    )  # fmt: skip
    table = members.left_join(lines, members.subscriber_id == lines._s_sub).drop("_s_sub")
    table = bulk.line_facts(table, held=held, book=book, on=day)
    eligible = pipeline.eligible_pairs(table, specs, offers, held).to_pyarrow()
    case_ids = _arrow_numpy(eligible, "case_id")
    positions = _positions(base, _arrow_numpy(eligible, "subscriber_id"))
    ranks_found = _arrow_numpy(eligible, "offer_rank")
    for case_id, (_area, ranks) in found.items():
        mine = (case_ids == case_id) & (positions >= 0)
        # A case without offers takes every active line: the pipeline marks them rank -1.
        ranks[positions[mine]] = np.maximum(ranks_found[mine], 0).astype(np.int8)
    return found


def _history_rows(con: BaseBackend, first: date, last: date) -> pa.Table:
    """(subscriber_id, case_code, channel, day) of contact_history in [first, last] (local)."""
    empty = pa.table(
        {"subscriber_id": pa.array([], pa.int64()), "case_code": pa.array([], pa.string()),
         "channel": pa.array([], pa.string()), "day": pa.array([], pa.int64())}
    )  # fmt: skip
    if not has_table(con, pipeline.HISTORY_TABLE):
        return empty
    history = con.table(pipeline.HISTORY_TABLE)
    start, end = _midnight(first), _midnight(last + timedelta(days=1))
    local = history.contacted_at.cast("timestamp('UTC')")
    rows = history.filter(
        (local >= ibis.literal(start, type="timestamp('UTC')"))
        & (local < ibis.literal(end, type="timestamp('UTC')"))
    ).select("subscriber_id", "case_code", "channel", "contacted_at")
    table = rows.to_pyarrow()
    days = [
        local_day(moment).toordinal() for moment in table["contacted_at"].to_pylist()
    ]  # the local day needs the zone database: a few thousand rows per day of history
    channels = [pipeline.HISTORY_CHANNELS.get(c, c) for c in table["channel"].to_pylist()]
    return pa.table(
        {
            "subscriber_id": table["subscriber_id"].cast(pa.int64()),
            "case_code": table["case_code"].cast(pa.string()),
            "channel": pa.array(channels, pa.string()),
            "day": pa.array(days, pa.int64()),
        }
    )


def _outbox_rows(uow: UnitOfWork, first: date, last: date) -> pa.Table:
    o = OutboxMessage
    rows = uow.session.execute(
        select(o.subscriber_id, o.case_code, o.channel, o.planned_on).where(
            o.planned_on >= first, o.planned_on <= last, o.state.not_in(STOPPED_STATES)
        )
    ).all()
    return pa.table(
        {
            "subscriber_id": pa.array([int(r[0]) for r in rows], pa.int64()),
            "case_code": pa.array([r[1] for r in rows], pa.string()),
            "channel": pa.array([r[2] for r in rows], pa.string()),
            "day": pa.array([r[3].toordinal() for r in rows], pa.int64()),
        }
    )


def load_counters(
    *,
    uow: UnitOfWork,
    con: BaseBackend,
    base: Base,
    cases: Mapping[int, CaseState],
    policy: ContactPolicy,
    day: date,
) -> Counters:
    """The contact counters of ``day`` and the cases' cooldowns (module docstring)."""
    first, last = lookback(day, policy)
    history = _history_rows(con, first, last)
    planned = _outbox_rows(uow, first, last)
    if planned.num_rows and history.num_rows:
        # Sent contacts reach contact_history: the outbox row and its history row are one.
        planned = planned.join(
            history.select(["subscriber_id", "case_code", "day"]),
            keys=["subscriber_id", "case_code", "day"],
            join_type="left anti",
        )
    found = pa.concat_tables([history, planned])
    positions = _positions(base, _arrow_numpy(found, "subscriber_id"))
    days = _arrow_numpy(found, "day").astype(np.int64)
    channels = np.asarray(found["channel"].to_pylist(), dtype=object)
    known = positions >= 0
    start, end = _period(day, policy)
    in_period = known & (days >= start) & (days <= end)
    counts = np.zeros(base.size, dtype=np.int16)
    np.add.at(counts, positions[in_period], 1)
    per_channel: dict[str, np.ndarray[Any, Any]] = {}
    for channel in policy.channel_caps:
        used = np.zeros(base.size, dtype=np.int16)
        np.add.at(used, positions[in_period & (channels == channel)], 1)
        per_channel[channel] = used
    last_day = np.full(base.size, NEVER, dtype=np.int32)
    np.maximum.at(last_day, positions[known], days[known].astype(np.int32))
    counters = Counters(day=day, in_period=counts, per_channel=per_channel, last_day=last_day)
    _cooldowns(uow, base, cases, day, counters)
    return counters


def _period(day: date, policy: ContactPolicy) -> tuple[int, int]:
    start, end = period_bounds(day, policy.period)
    return start.toordinal(), end.toordinal()


def _cooldowns(
    uow: UnitOfWork, base: Base, cases: Mapping[int, CaseState], day: date, counters: Counters
) -> None:
    for case in cases.values():
        case.last_decided[:] = NEVER
    if not cases:
        return
    longest = max(c.rule.cooldown_days for c in cases.values())
    since = _midnight(day - timedelta(days=max(longest, 1)))
    d = TriggerDecision
    rows = uow.session.execute(
        select(d.case_id, d.subscriber_id, d.decided_at).where(
            d.case_id.in_(list(cases)),
            d.decided_at >= since,
            d.outcome.in_([Outcome.CONTACT.value, Outcome.CONTROL.value]),
        )
    ).all()
    today = day.toordinal()
    for case_id, subscriber_id, decided_at in rows:
        case = cases[int(case_id or 0)]
        at = base.position(int(subscriber_id or 0), None)
        decided = local_day(decided_at).toordinal()
        if at >= 0:
            case.last_decided[at] = max(int(case.last_decided[at]), decided)
        if decided == today:
            counters.decided_today[case.case_id] += 1


def _trigger_cases(uow: UnitOfWork) -> list[tuple[Case, TriggerRule]]:
    rows = uow.session.execute(
        select(Case, TriggerRule)
        .join(TriggerRule, TriggerRule.case_id == Case.id)
        .where(Case.status == CaseStatus.RUNNING)
        .order_by(Case.id)
    ).all()
    return [(case, rule) for case, rule in rows]


def load_runtime(
    *, uow: UnitOfWork, con: BaseBackend, holdout_key: str, now: datetime | None = None
) -> Runtime:
    """Load the engine for the running trigger cases (module docstring); seconds at 1M lines."""
    backend = con.backend if isinstance(con, ScopedWarehouse) else con
    moment = now or utcnow()
    day = local_day(moment)
    policy = current_policy(uow)
    base, unit_names, plan_names = _base(backend)
    _consent(uow, base, moment)
    if policy.global_holdout_bp:
        base.global_holdout = in_holdout(
            policy.global_holdout_key, GLOBAL_CASE, base.ids, policy.global_holdout_bp
        )
    pairs = _trigger_cases(uow)
    specs = [
        CaseSpec.of(c)
        for c in cases_service.targeting_inputs(uow=uow, case_ids=[case.id for case, _ in pairs])
    ]
    arrays = _case_arrays(uow, backend, base, specs, day) if specs else {}
    templates_found = {
        (t.case_id, t.channel): t
        for t in uow.session.scalars(
            select(OutboxTemplate).where(OutboxTemplate.case_id.in_([c.id for c, _ in pairs]))
        )
    }
    cases: dict[int, CaseState] = {}
    renderers: dict[tuple[int, str], _Renderer] = {}
    for (case, rule), spec in zip(pairs, specs, strict=True):
        event_type = EventType(rule.event_type)
        channels = []
        for channel in spec.channels:
            found = templates_found.get((case.id, channel))
            if channel not in SENDABLE or found is None:
                continue
            message = templates.MessageTemplate(CHANNEL_KINDS[channel], found.body, found.subject)
            used = tuple(sorted(templates.check(message, fields=TEMPLATE_FIELDS)))
            renderers[(case.id, channel)] = _Renderer(message, used)
            channels.append(channel)
        area, ranks = arrays[case.id]
        cases[case.id] = CaseState(
            case_id=case.id,
            code=case.code,
            rule=domain.TriggerRule(
                case_id=case.id,
                event_type=event_type,
                condition=domain.condition_of(event_type, rule.condition),
                cooldown_days=rule.cooldown_days,
                max_per_day=rule.max_per_day,
            ),
            priority=case.priority,
            business_weight_bp=case.business_weight_bp,
            starts_on=case.starts_on,
            ends_on=case.ends_on,
            offer_codes=spec.offer_codes,
            channels=tuple(channels),
            area=area,
            offer_rank=ranks,
            control=in_holdout(holdout_key, case.id, base.ids, case.holdout_bp),
            last_decided=np.full(base.size, NEVER, dtype=np.int32),
        )
    counters = load_counters(uow=uow, con=backend, base=base, cases=cases, policy=policy, day=day)
    engine = Engine(
        base=base, cases=list(cases.values()), policy=policy, counters=counters,
        channel_bits=pipeline.CHANNEL_BITS,
    )  # fmt: skip
    codes = sorted({code for spec in specs for code in spec.offer_codes})
    return Runtime(
        engine=engine,
        renderers=renderers,
        offer_names=_offer_names(uow, codes),
        unit_names=unit_names,
        plan_names=plan_names,
        holdout_key=holdout_key,
    )


def reload_counters(*, uow: UnitOfWork, con: BaseBackend, runtime: Runtime, now: datetime) -> None:
    """New counters for ``now``'s day (a new day, or after a failed commit), from the stores."""
    backend = con.backend if isinstance(con, ScopedWarehouse) else con
    engine = runtime.engine
    with engine.lock:
        engine.counters = load_counters(
            uow=uow, con=backend, base=engine.base, cases=engine.cases, policy=engine.policy,
            day=local_day(now),
        )  # fmt: skip
        runtime.stale = False


# -- ingesting ---------------------------------------------------------------------------------


def to_event(
    item: EventIn, *, index: int, source: str, received_at: datetime, received: float
) -> Event:
    """An event of the API's shape, checked (InvalidInput names ``events[i].field``)."""
    where = f"events[{index}]"
    domain.check_event_id(item.event_id, f"{where}.event_id")
    payload = domain.check_payload(item.type, item.payload, f"{where}.payload")
    return Event(
        event_id=item.event_id,
        event_type=item.type,
        occurred_at=item.occurred_at.astimezone(UTC),
        payload=payload,
        subscriber_id=item.subscriber_id,
        msisdn=item.msisdn,
        source=source,
        received_at=received_at,
        received=received,
    )


def _stored(uow: UnitOfWork, event_ids: Iterable[str]) -> dict[str, TriggerDecision]:
    wanted = list(event_ids)
    if not wanted:
        return {}
    rows = uow.session.scalars(select(TriggerDecision).where(TriggerDecision.event_id.in_(wanted)))
    return {r.event_id: r for r in rows}


def _insert(uow: UnitOfWork, model: type[Any], rows: list[dict[str, Any]], key: str) -> None:
    if not rows:
        return
    dialect = uow.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # On the session's connection, in its transaction, past the audit listener: decisions are
    # the engine's own append-only record (event, source, time, outcome), thousands a second;
    # copying each batch's parameters — numbers included — into the audit trail would cost a
    # fifth of the throughput and duplicate that record.
    table = model.__table__
    statement = insert(table).on_conflict_do_nothing(index_elements=[key])
    uow.session.connection().execute(statement, rows)


def _decision_row(decision: Decision, decided_at: datetime) -> dict[str, Any]:
    event = decision.event
    return {
        "event_id": event.event_id,
        "event_type": event.event_type.value,
        "source": event.source,
        "subscriber_id": decision.subscriber_id,
        "msisdn": decision.msisdn,
        "payload": dict(event.payload),
        "occurred_at": event.occurred_at,
        "received_at": event.received_at or decided_at,
        "decided_at": decided_at,
        "outcome": decision.outcome.value,
        "reason": None if decision.reason is None else decision.reason.value,
        "case_id": decision.case_id,
        "case_code": decision.case_code,
        "channel": decision.channel,
        "offer_code": decision.offer_code,
        "city_id": decision.city_id,
        "outlet_id": decision.outlet_id,
        "send_at": decision.send_at,
    }


def _outbox_row(
    runtime: Runtime, decision: Decision, decision_id: int, now: datetime
) -> dict[str, Any]:
    assert decision.case_id is not None
    assert decision.channel is not None
    assert decision.msisdn is not None
    assert decision.planned_on is not None
    window = decision.window
    values = {
        "case_code": decision.case_code,
        "subscriber_id": decision.subscriber_id,
        "channel": decision.channel,
        "offer_code": decision.offer_code,
        "city_id": decision.city_id,
        "outlet_id": decision.outlet_id,
        "account_manager_id": None,
        "score": runtime.engine.cases[decision.case_id].score,
        "planned_on": decision.planned_on.isoformat(),
        "send_from": None if window is None else window_text(window.start),
        "send_until": None if window is None else window_text(window.end),
        "offer_name": runtime.offer_names.get(decision.offer_code or ""),
        "city_name": runtime.unit_names.get(decision.city_id or ""),
        "plan_name": runtime.plan_names.get(decision.plan_id or ""),
    }
    state, reason, body, subject = OutboxState.PLANNED.value, None, "", None
    where = f"case {decision.case_code}, {decision.channel}, event {decision.event.event_id}"
    try:
        rendered = runtime.renderers[(decision.case_id, decision.channel)].render(values, where)
        body, subject = rendered.body, rendered.subject
    except InvalidInput as error:
        # The text cannot be made for this line (e.g. too long): kept, visible, never sent.
        state, reason = OutboxState.SUPPRESSED.value, f"template: {error.message}"[:200]
    return {
        "key": domain.outbox_key(decision.event.event_id, decision.case_id),
        "run_id": None,
        "trigger_decision_id": decision_id,
        "case_id": decision.case_id,
        "case_code": decision.case_code,
        "subscriber_id": decision.subscriber_id,
        "channel": decision.channel,
        "address": decision.msisdn,
        "body": body,
        "subject": subject,
        "offer_code": decision.offer_code,
        "city_id": decision.city_id,
        "outlet_id": decision.outlet_id,
        "account_manager_id": None,
        "planned_on": decision.planned_on,
        "send_from": values["send_from"],
        "send_until": values["send_until"],
        "state": state,
        "reason": reason,
        "attempts": 0,
        "next_attempt_at": decision.send_at or now,
        "created_at": now,
        "updated_at": now,
    }


def _read(
    row: TriggerDecision | Decision, decided_at: datetime, *, duplicate: bool, unmask: bool
) -> DecisionRead:
    if isinstance(row, TriggerDecision):
        number, event_id, event_type, source = row.msisdn, row.event_id, row.event_type, row.source
        outcome, reason = Outcome(row.outcome), None if row.reason is None else Reason(row.reason)
    else:
        number, event_id = row.msisdn, row.event.event_id
        event_type, source = row.event.event_type.value, row.event.source
        outcome, reason = row.outcome, row.reason
    return DecisionRead(
        event_id=event_id,
        event_type=EventType(event_type),
        outcome=outcome,
        reason=reason,
        subscriber_id=row.subscriber_id,
        msisdn=number if unmask or number is None else mask_msisdn(number),
        case_id=row.case_id,
        case_code=row.case_code,
        channel=row.channel,
        offer_code=row.offer_code,
        city_id=row.city_id,
        send_at=row.send_at,
        decided_at=decided_at,
        source=source,
        duplicate=duplicate,
    )


def ingest(
    *,
    uow: UnitOfWork,
    con: BaseBackend,
    runtime: Runtime,
    events: Sequence[Event],
    now: Callable[[], datetime] | None = None,
    answer: bool = True,
) -> BatchRead:
    """Decide the batch's new events and store decisions and contacts in one commit.

    ``answer``: return each event's decision (the HTTP route does; the stream
    consumer only needs the counts).
    """
    with runtime.writing:
        moment = (now or utcnow)()
        if runtime.stale or local_day(moment) != runtime.engine.day:
            reload_counters(uow=uow, con=con, runtime=runtime, now=moment)
        stored = _stored(uow, {e.event_id for e in events})
        fresh: list[Event] = []
        seen: set[str] = set()
        for event in events:
            if event.event_id not in stored and event.event_id not in seen:
                fresh.append(event)
            seen.add(event.event_id)
        decisions = runtime.engine.decide(fresh, moment)
        try:
            _insert(uow, TriggerDecision, [_decision_row(d, moment) for d in decisions], "event_id")
            contacts = [d for d in decisions if d.outcome is Outcome.CONTACT]
            if contacts:
                ids = dict(
                    uow.session.execute(
                        select(TriggerDecision.event_id, TriggerDecision.id).where(
                            TriggerDecision.event_id.in_([d.event.event_id for d in contacts])
                        )
                    ).all()
                )
                rows = [_outbox_row(runtime, d, ids[d.event.event_id], moment) for d in contacts]
                _insert(uow, OutboxMessage, rows, "key")
            uow.commit()
        except Exception:
            runtime.stale = True  # the counters moved for decisions that were not stored
            raise
        runtime.engine.stats.record(decisions, time.perf_counter())
    by_id = {d.event.event_id: d for d in decisions}
    answers: list[DecisionRead] = []
    for event in events if answer else ():
        decided = by_id.pop(event.event_id, None)
        if decided is not None:
            answers.append(_read(decided, moment, duplicate=False, unmask=False))
        else:
            earlier = stored.get(event.event_id)
            if earlier is None:  # the batch's second copy of an event decided just now
                earlier = _stored(uow, [event.event_id])[event.event_id]
            answers.append(_read(earlier, earlier.decided_at, duplicate=True, unmask=False))
    return BatchRead(
        decided=len(decisions), duplicates=len(events) - len(decisions), decisions=answers
    )


class RuntimeHolder:
    """The web app's runtime: loaded on first use, reloaded when a rule changes or it ages."""

    def __init__(self, max_age_seconds: float) -> None:
        self.max_age = max_age_seconds
        self.runtime: Runtime | None = None
        self.lock = threading.Lock()
        self.outdated = False

    def get(self, *, uow: UnitOfWork, con: BaseBackend, holdout_key: str) -> Runtime:
        with self.lock:
            current = self.runtime
            aged = current is not None and time.monotonic() - current.loaded_at > self.max_age
            if current is None or aged or self.outdated:
                # The old runtime's last batch must be stored before the new one counts.
                if current is not None:
                    with current.writing:
                        current = load_runtime(uow=uow, con=con, holdout_key=holdout_key)
                else:
                    current = load_runtime(uow=uow, con=con, holdout_key=holdout_key)
                self.runtime, self.outdated = current, False
            return current


def require_province(uow: UnitOfWork) -> None:
    """Events are decided against every city's cases: only a province actor may send them."""
    scope = uow.actor.scope_path
    if scope is not None and not is_root_path(scope):
        raise Forbidden("trigger events are province-wide: send them as a province user")


# -- the Redis stream consumer -----------------------------------------------------------------


@dataclass(slots=True)
class ConsumeResult:
    read: int = 0
    decided: int = 0
    duplicates: int = 0
    invalid: int = 0
    reclaimed: int = 0


def _parse_entry(
    entry_id: str, fields: Mapping[str, str], index: int
) -> tuple[Event | None, str | None]:
    received = time.perf_counter()
    try:
        item = EventIn.model_validate_json(fields.get("event", ""))
        # The entry id's first part is when the stream accepted it: the start of its latency.
        accepted = datetime.fromtimestamp(int(entry_id.split("-")[0]) / 1000, tz=UTC)
        lag = max((utcnow() - accepted).total_seconds(), 0.0)
        event = to_event(
            item, index=index, source="redis", received_at=accepted, received=received - lag
        )
    except ValidationError as error:
        return None, str(error.errors(include_url=False))[:500]
    except InvalidInput as error:
        return None, error.message
    return event, None


def _handle(
    client: Any,
    stream: str,
    group: str,
    entries: Sequence[tuple[str, Mapping[str, str]]],
    decide: Callable[[Sequence[Event]], BatchRead],
    result: ConsumeResult,
) -> None:
    events, ids = [], []
    for index, (entry_id, fields) in enumerate(entries):
        event, problem = _parse_entry(entry_id, fields, index)
        if event is None:
            client.xadd(
                f"{stream}:invalid", {"entry": entry_id, "problem": problem or "", **fields}
            )
            result.invalid += 1
        else:
            events.append(event)
        ids.append(entry_id)
    if events:
        batch = decide(events)
        result.decided += batch.decided
        result.duplicates += batch.duplicates
    if ids:
        client.xack(stream, group, *ids)
    result.read += len(entries)


def consume(
    *,
    client: Any,
    stream: str,
    group: str,
    consumer: str,
    decide: Callable[[Sequence[Event]], BatchRead],
    batch: int = 500,
    block_ms: int = 20,
    claim_idle_ms: int = 30_000,
    claim_every: float = 10.0,
    max_events: int | None = None,
    idle_stop_s: float | None = None,
    stop: threading.Event | None = None,
) -> ConsumeResult:
    """Read, decide, commit and acknowledge stream entries (module docstring) until stopped.

    ``client`` is a ``redis.Redis`` with ``decode_responses=True``; ``decide``
    ingests one batch (``ingest`` bound to a unit of work and runtime). Stops
    after ``max_events`` entries, after ``idle_stop_s`` seconds without any,
    or when ``stop`` is set.
    """
    import redis

    result = ConsumeResult()
    try:
        client.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise
    last_claim = float("-inf")
    idle_since = time.monotonic()
    while not (stop is not None and stop.is_set()):
        if max_events is not None and result.read >= max_events:
            break
        if time.monotonic() - last_claim >= claim_every:
            start = "0-0"
            while True:
                start, claimed, *_ = client.xautoclaim(
                    stream, group, consumer, claim_idle_ms, start_id=start, count=batch
                )
                claimed = [(i, f) for i, f in claimed if f is not None]
                if claimed:
                    result.reclaimed += len(claimed)
                    _handle(client, stream, group, claimed, decide, result)
                if start == "0-0":
                    break
            last_claim = time.monotonic()
        wanted = batch if max_events is None else min(batch, max_events - result.read)
        answer = client.xreadgroup(group, consumer, {stream: ">"}, count=wanted, block=block_ms)
        entries = [e for _name, found in answer or [] for e in found]
        if not entries:
            if idle_stop_s is not None and time.monotonic() - idle_since >= idle_stop_s:
                break
            continue
        idle_since = time.monotonic()
        _handle(client, stream, group, entries, decide, result)
    return result


# -- reading -----------------------------------------------------------------------------------


def _visible_decisions(uow: UnitOfWork) -> Any:
    d = TriggerDecision
    scope = uow.actor.scope_path
    stmt = select(d)
    if scope is not None and not is_root_path(scope):
        cases = visible_cases(uow).subquery()
        stmt = stmt.where(d.case_id.in_(select(cases.c.id)))
    return stmt


def recent_decisions(
    *, uow: UnitOfWork, limit: int = RECENT, case_id: int | None = None
) -> list[DecisionRead]:
    """The latest decisions the actor may see (caseless ones at the province), numbers masked."""
    if not 1 <= limit <= 500:
        raise InvalidInput("limit must be 1–500", details=[{"field": "limit"}])
    stmt = _visible_decisions(uow)
    if case_id is not None:
        get_case_row(uow, case_id)
        stmt = stmt.where(TriggerDecision.case_id == case_id)
    rows = uow.session.scalars(stmt.order_by(TriggerDecision.id.desc()).limit(limit))
    return [_read(r, r.decided_at, duplicate=False, unmask=False) for r in rows]


def counters(
    *, uow: UnitOfWork, runtime: Runtime | None, now: datetime | None = None
) -> CountersRead:
    """Today's decisions by case, outcome and reason, and the live engine's figures."""
    day = local_day(now or utcnow())
    d = TriggerDecision
    visible = _visible_decisions(uow).where(d.decided_at >= _midnight(day)).subquery()
    rows = uow.session.execute(
        select(visible.c.case_code, visible.c.outcome, visible.c.reason, func.count())
        .group_by(visible.c.case_code, visible.c.outcome, visible.c.reason)
        .order_by(visible.c.case_code, visible.c.outcome, visible.c.reason)
    ).all()
    counts = [
        CountRead(
            case_code=code, outcome=Outcome(outcome),
            reason=None if reason is None else Reason(reason), count=int(n),
        )
        for code, outcome, reason, n in rows
    ]  # fmt: skip
    engine = EngineRead(loaded=False)
    if runtime is not None:
        summary = runtime.engine.stats.summary()
        scope = uow.actor.scope_path
        shown = [
            c.code
            for c in runtime.engine.cases.values()
            if scope is None or is_root_path(scope) or _sees(uow, c.case_id)
        ]
        engine = EngineRead(
            loaded=True,
            day=runtime.engine.day.isoformat(),
            subscribers=runtime.engine.base.size,
            cases=shown,
            decided=summary["decided"],
            per_second=round(summary["per_second"], 1),
            latency_ms=LatencyRead(**summary["latency_ms"]),
        )
    return CountersRead(day=day.isoformat(), counts=counts, engine=engine)


def _sees(uow: UnitOfWork, case_id: int) -> bool:
    return uow.session.scalar(visible_cases(uow).where(Case.id == case_id)) is not None


def event_types() -> list[tuple[EventType, list[str]]]:
    """Each event type with its payload fields (for the console and the CLI)."""
    return [(t, [f.name for f in domain.PAYLOADS[t]]) for t in EventType]
