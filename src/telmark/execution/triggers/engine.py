"""The in-memory decision engine of real-time triggers.

Deciding an event must take microseconds, so nothing is read per event: the
service loads (``service.load_engine``) the base into numpy arrays indexed by a
line's position in the sorted subscriber ids — home outlet and city, consent
bits per channel, the global holdout, and for every trigger case its area, the
first of its offers each line is eligible for (computed set-wise by the
targeting and offers code) and its holdout draw — plus the counters of the
contact policy (contacts in the period, per channel, the last contact's day),
the cases' cooldowns and today's decisions per case. Counters are updated here
as decisions are made, so caps hold across a burst of events for one line.

**Per event**, under one lock (decisions for one line are never interleaved):

1. the line is found by ``subscriber_id`` or ``msisdn`` (else ``unknown_subscriber``);
2. the cases whose rule listens to the event's type and that run today are its
   candidates (none: ``no_case``), tried in arbitration order — the targeting
   score ``priority × (business_weight_bp + 1) × (propensity‰ + 1) × value``
   descending, then case id (``targeting.domain.score``; an event has no
   propensity score and one line's value is the same for every case, so the
   order is by priority and business weight);
3. each candidate is checked in this order: the rule's condition, the case's
   area, an eligible offer, a channel the outbox can send with the case's
   template, consent on one of them, the global holdout, the case's cooldown
   for this line, the case's daily cap, the policy's minimum gap, the period
   cap, and a consented channel whose cap has room;
4. the first candidate to pass them all wins: a line in its holdout
   (``targeting.domain.in_holdout`` with the case id) is recorded as
   ``control`` and not contacted; otherwise a ``contact`` is sent at the next
   moment outside quiet hours (``execution.domain.next_send_time``). If none
   passes, the event is ``excluded`` with the reason of the best-ranked
   candidate.

A control decision counts for the case's cooldown and daily cap (the control
group is drawn exactly as the treated one) but not for the contact caps.

The counters belong to one province-local day and one policy period: the
service reloads them when the day changes. They are per process: with one
deciding process (the web app or one stream consumer group) caps hold exactly;
other processes' decisions are seen at the next reload.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from typing import Any

import numpy as np

from telmark.execution.domain import PROVINCE_TZ, Window, next_send_time
from telmark.execution.triggers.domain import (
    EventType,
    Outcome,
    Reason,
    TriggerRule,
)
from telmark.targeting.domain import UNSCORED_PROPENSITY, ContactPolicy, score

NEVER = -(1 << 30)  # a day ordinal before any contact
Bools = np.ndarray[Any, np.dtype[np.bool_]]
Ints = np.ndarray[Any, np.dtype[Any]]


@dataclass(frozen=True, slots=True)
class Event:
    """One event as the engine takes it (checked by ``schemas``/``service`` beforehand)."""

    event_id: str
    event_type: EventType
    occurred_at: datetime
    payload: Mapping[str, Any]
    subscriber_id: int | None = None
    msisdn: str | None = None
    source: str = "http"
    received_at: datetime | None = None
    received: float = 0.0  # time.perf_counter() on receipt: the start of its latency


@dataclass(frozen=True, slots=True)
class Decision:
    event: Event
    outcome: Outcome
    reason: Reason | None
    subscriber_id: int | None = None
    msisdn: str | None = None
    case_id: int | None = None
    case_code: str | None = None
    channel: str | None = None
    offer_code: str | None = None
    city_id: str | None = None
    outlet_id: str | None = None
    plan_id: str | None = None
    planned_on: date | None = None
    window: Window | None = None
    send_at: datetime | None = None


@dataclass(slots=True)
class CaseState:
    """A running trigger case and its per-line arrays (length: the base)."""

    case_id: int
    code: str
    rule: TriggerRule
    priority: int
    business_weight_bp: int
    starts_on: date
    ends_on: date
    offer_codes: tuple[str, ...]
    channels: tuple[str, ...]  # the case's channels the outbox sends with a template, in order
    area: Bools
    offer_rank: Ints  # int8: index into offer_codes of the first eligible offer, -1: none
    control: Bools  # in the case's holdout
    last_decided: Ints  # int32 day ordinal of the line's last decision for this case

    @property
    def score(self) -> int:
        return score(self.priority, self.business_weight_bp, UNSCORED_PROPENSITY, 1)


@dataclass(slots=True)
class Base:
    """The lines, as sorted ids with their attributes at the same positions."""

    ids: Ints  # int64, sorted ascending
    msisdn_sorted: np.ndarray[Any, np.dtype[np.str_]]
    msisdn_order: Ints  # position of msisdn_sorted[i] in ids
    msisdn_rank: Ints  # inverse: rank in msisdn_sorted of the line at position p
    outlet: Ints  # int32 index into units
    city: Ints  # int32 index into units (-1: no city)
    plan: Ints  # int32 index into plans
    units: tuple[str, ...]
    plans: tuple[str, ...]
    blocked: Ints  # uint8: bit CHANNEL_BITS[c] set when consent blocks channel c
    global_holdout: Bools

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])

    def position(self, subscriber_id: int | None, msisdn: str | None) -> int:
        """The line's position, or -1 when the warehouse does not hold it."""
        if subscriber_id is not None:
            at = int(np.searchsorted(self.ids, subscriber_id))
            return at if at < self.size and int(self.ids[at]) == subscriber_id else -1
        if msisdn is not None:
            at = int(np.searchsorted(self.msisdn_sorted, msisdn))
            if at < self.size and str(self.msisdn_sorted[at]) == msisdn:
                return int(self.msisdn_order[at])
        return -1

    def msisdn_at(self, position: int) -> str:
        return str(self.msisdn_sorted[int(self.msisdn_rank[position])])


@dataclass(slots=True)
class Counters:
    """The contact policy's counters for one day (see the module docstring)."""

    day: date
    in_period: Ints  # int16 contacts in the policy period
    per_channel: dict[str, Ints]  # int16 per channel the policy caps
    last_day: Ints  # int32 day ordinal of the latest contact (NEVER: none)
    decided_today: Counter[int] = field(default_factory=Counter)  # case id → decisions


@dataclass(slots=True)
class Stats:
    """Live figures for the console: decisions since load, and recent latencies (ms)."""

    started: float = field(default_factory=time.perf_counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))

    def record(self, decisions: Sequence[Decision], committed: float) -> None:
        """Count the decisions and their latency (receipt → ``committed``, perf_counter)."""
        for decision in decisions:
            self.outcomes[decision.outcome.value] += 1
            if decision.reason is not None:
                self.reasons[decision.reason.value] += 1
            if decision.event.received:
                self.latencies_ms.append((committed - decision.event.received) * 1000)

    def summary(self) -> dict[str, Any]:
        found = np.asarray(self.latencies_ms, dtype=np.float64)
        decided = sum(self.outcomes.values())
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        quantiles: dict[str, float | None] = {"p50": None, "p90": None, "p99": None, "max": None}
        if found.size:
            p50, p90, p99 = np.percentile(found, [50, 90, 99])
            quantiles = {"p50": p50, "p90": p90, "p99": p99, "max": float(found.max())}
        return {
            "decided": decided,
            "per_second": decided / elapsed,
            "outcomes": dict(self.outcomes),
            "reasons": dict(self.reasons),
            "latency_ms": {
                k: None if v is None else round(float(v), 2) for k, v in quantiles.items()
            },
        }


def local_day(moment: datetime) -> date:
    return moment.astimezone(PROVINCE_TZ).date()


def _window(policy: ContactPolicy, channel: str) -> Window | None:
    # targeting.domain.send_window's rule: messages go out between quiet_end and quiet_start.
    if channel == "frontline" or policy.quiet_start == policy.quiet_end:
        return None
    return Window(policy.quiet_end, policy.quiet_start)


class Engine:
    """Decides events against the loaded state (module docstring); thread-safe."""

    def __init__(
        self,
        *,
        base: Base,
        cases: Sequence[CaseState],
        policy: ContactPolicy,
        counters: Counters,
        channel_bits: Mapping[str, int],
    ) -> None:
        self.base = base
        self.policy = policy
        self.counters = counters
        self.bits = dict(channel_bits)
        self.lock = threading.Lock()
        self.stats = Stats()
        self.loaded_at = time.monotonic()
        ordered = sorted(cases, key=lambda c: (-c.score, c.case_id))
        self.cases = {c.case_id: c for c in ordered}
        self.by_type: dict[EventType, list[CaseState]] = {t: [] for t in EventType}
        for case in ordered:
            self.by_type[case.rule.event_type].append(case)

    @property
    def day(self) -> date:
        return self.counters.day

    def decide(self, events: Sequence[Event], now: datetime) -> list[Decision]:
        """One decision per event, in order; counters move with each contact."""
        if local_day(now) != self.counters.day:
            raise ValueError(f"the counters are of {self.counters.day}; reload them for {now}")
        with self.lock:
            return [self._decide(event, now) for event in events]

    def _decide(self, event: Event, now: datetime) -> Decision:
        base = self.base
        position = base.position(event.subscriber_id, event.msisdn)
        if position < 0:
            return Decision(
                event, Outcome.EXCLUDED, Reason.UNKNOWN_SUBSCRIBER,
                subscriber_id=event.subscriber_id, msisdn=event.msisdn,
            )  # fmt: skip
        subscriber_id = int(base.ids[position])
        msisdn = base.msisdn_at(position)
        day = self.counters.day
        candidates = [c for c in self.by_type[event.event_type] if c.starts_on <= day <= c.ends_on]
        if not candidates:
            return Decision(
                event, Outcome.EXCLUDED, Reason.NO_CASE, subscriber_id=subscriber_id, msisdn=msisdn
            )
        first: tuple[CaseState, Reason] | None = None
        for case in candidates:
            found = self._check(case, event, position, day)
            if not isinstance(found, Reason):  # a channel: the case may act
                return self._decided(case, event, position, found, now)
            if first is None:
                first = (case, found)
        assert first is not None
        case, reason = first
        return Decision(
            event, Outcome.EXCLUDED, reason, subscriber_id=subscriber_id, msisdn=msisdn,
            case_id=case.case_id, case_code=case.code,
        )  # fmt: skip

    def _check(self, case: CaseState, event: Event, at: int, day: date) -> str | Reason:
        """The channel the case would use for the line at ``at``, or the reason it may not."""
        rule, policy, counters = case.rule, self.policy, self.counters
        if rule.condition is not None and not rule.condition.holds(event.payload):
            return Reason.CONDITION
        if not case.area[at]:
            return Reason.OUTSIDE_AREA
        if case.offer_rank[at] < 0:
            return Reason.NOT_ELIGIBLE
        if not case.channels:
            return Reason.NO_CHANNEL
        blocked = int(self.base.blocked[at])
        consented = [c for c in case.channels if not blocked >> self.bits[c] & 1]
        if not consented:
            return Reason.CONSENT
        if self.base.global_holdout[at]:
            return Reason.GLOBAL_HOLDOUT
        today = day.toordinal()
        if rule.cooldown_days and today - int(case.last_decided[at]) < rule.cooldown_days:
            return Reason.COOLDOWN
        if (
            rule.max_per_day is not None
            and counters.decided_today[case.case_id] >= rule.max_per_day
        ):
            return Reason.DAILY_LIMIT
        if policy.min_gap_days and abs(today - int(counters.last_day[at])) < policy.min_gap_days:
            return Reason.MIN_GAP
        if int(counters.in_period[at]) >= policy.global_cap:
            return Reason.CAP
        for channel in consented:
            cap = policy.channel_caps.get(channel)
            used = counters.per_channel.get(channel)
            if cap is None or used is None or int(used[at]) < cap:
                return channel
        return Reason.CHANNEL_CAP

    def _decided(
        self, case: CaseState, event: Event, at: int, channel: str, now: datetime
    ) -> Decision:
        counters, base = self.counters, self.base
        day = counters.day
        case.last_decided[at] = day.toordinal()
        counters.decided_today[case.case_id] += 1
        control = bool(case.control[at])
        window = None if control else _window(self.policy, channel)
        if not control:
            counters.in_period[at] += 1
            if channel in counters.per_channel:
                counters.per_channel[channel][at] += 1
            counters.last_day[at] = max(int(counters.last_day[at]), day.toordinal())
        city = int(base.city[at])
        return Decision(
            event,
            Outcome.CONTROL if control else Outcome.CONTACT,
            None,
            subscriber_id=int(base.ids[at]),
            msisdn=base.msisdn_at(at),
            case_id=case.case_id,
            case_code=case.code,
            channel=channel,
            offer_code=case.offer_codes[int(case.offer_rank[at])] if case.offer_codes else None,
            city_id=base.units[city] if city >= 0 else None,
            outlet_id=base.units[int(base.outlet[at])],
            plan_id=base.plans[int(base.plan[at])],
            planned_on=day,
            window=window,
            send_at=None if control else next_send_time(now, planned_on=day, window=window),
        )


def window_text(value: dtime) -> str:
    return value.strftime("%H:%M")
