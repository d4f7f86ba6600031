"""The trigger engine on a hand-made base: every exclusion reason, caps under a burst,
cooldown, the holdout draw and quiet hours."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pytest

from telmark.execution.domain import PROVINCE_TZ
from telmark.execution.triggers.domain import Condition, EventType, Op, Outcome, Reason, TriggerRule
from telmark.execution.triggers.engine import NEVER, Base, CaseState, Counters, Engine, Event
from telmark.targeting.domain import ContactPolicy, Period, in_holdout
from telmark.targeting.pipeline import CHANNEL_BITS

N = 10
DAY = date(2026, 12, 2)  # a Wednesday
NOON = datetime.combine(DAY, time(12, 0), tzinfo=PROVINCE_TZ).astimezone(UTC)
POLICY = ContactPolicy(
    version=1, period=Period.WEEK, global_cap=2, channel_caps={"sms": 1}, min_gap_days=0,
    quiet_start=time(21, 0), quiet_end=time(8, 0),
)  # fmt: skip


def base(blocked: dict[int, int] | None = None, held: Sequence[int] = ()) -> Base:
    ids = np.arange(101, 101 + N, dtype=np.int64)
    numbers = np.array([f"1380000{i:04d}" for i in ids], dtype=np.str_)
    order = np.argsort(numbers).astype(np.int32)
    rank = np.empty_like(order)
    rank[order] = np.arange(N, dtype=np.int32)
    mask = np.zeros(N, dtype=np.uint8)
    for at, bits in (blocked or {}).items():
        mask[at] = bits
    holdout = np.zeros(N, dtype=np.bool_)
    holdout[list(held)] = True
    return Base(
        ids=ids, msisdn_sorted=numbers[order], msisdn_order=order, msisdn_rank=rank,
        outlet=np.zeros(N, dtype=np.int32), city=np.ones(N, dtype=np.int32),
        plan=np.zeros(N, dtype=np.int32), units=("C01D01O001", "C01"), plans=("P1",),
        blocked=mask, global_holdout=holdout,
    )  # fmt: skip


def case(case_id: int = 1, **overrides: Any) -> CaseState:
    values: dict[str, Any] = {
        "case_id": case_id,
        "code": f"YX{case_id}",
        "rule": TriggerRule(case_id, EventType.BALANCE_LOW, cooldown_days=0),
        "priority": 5,
        "business_weight_bp": 5000,
        "starts_on": DAY - timedelta(days=10),
        "ends_on": DAY + timedelta(days=10),
        "offer_codes": ("OF-A", "OF-B"),
        "channels": ("sms", "app_push"),
        "area": np.ones(N, dtype=np.bool_),
        "offer_rank": np.zeros(N, dtype=np.int8),
        "control": np.zeros(N, dtype=np.bool_),
        "last_decided": np.full(N, NEVER, dtype=np.int32),
    }
    values.update(overrides)
    return CaseState(**values)


def engine(
    *cases: CaseState, policy: ContactPolicy = POLICY, the_base: Base | None = None
) -> Engine:
    counters = Counters(
        day=DAY,
        in_period=np.zeros(N, dtype=np.int16),
        per_channel={c: np.zeros(N, dtype=np.int16) for c in policy.channel_caps},
        last_day=np.full(N, NEVER, dtype=np.int32),
    )
    return Engine(
        base=the_base or base(), cases=list(cases) or [case()], policy=policy,
        counters=counters, channel_bits=CHANNEL_BITS,
    )  # fmt: skip


def event(
    n: int = 1, *, subscriber_id: int | None = 101, kind: EventType = EventType.BALANCE_LOW,
    payload: dict[str, Any] | None = None, msisdn: str | None = None,
) -> Event:  # fmt: skip
    return Event(
        event_id=f"e{n}", event_type=kind, occurred_at=NOON,
        payload={"balance_fen": 500} if payload is None else payload,
        subscriber_id=None if msisdn else subscriber_id, msisdn=msisdn,
    )  # fmt: skip


def one(e: Engine, ev: Event, now: datetime = NOON) -> tuple[Outcome, Reason | None, str | None]:
    (d,) = e.decide([ev], now)
    return d.outcome, d.reason, d.channel


def test_a_plain_event_becomes_a_contact_on_the_first_channel() -> None:
    e = engine()
    (d,) = e.decide([event()], NOON)
    assert (d.outcome, d.channel, d.offer_code, d.case_code) == (
        Outcome.CONTACT, "sms", "OF-A", "YX1",
    )  # fmt: skip
    assert d.send_at == NOON  # noon is outside quiet hours: it goes now
    assert (d.city_id, d.outlet_id, d.msisdn) == ("C01", "C01D01O001", "13800000101")


def test_a_line_is_found_by_its_number() -> None:
    (d,) = engine().decide([event(msisdn="13800000105")], NOON)
    assert (d.outcome, d.subscriber_id) == (Outcome.CONTACT, 105)


@pytest.mark.parametrize(
    ("build", "ev", "reason"),
    [
        (lambda: engine(), event(subscriber_id=999), Reason.UNKNOWN_SUBSCRIBER),
        (lambda: engine(), event(kind=EventType.ROAMING_START, payload={"country": "JP"}),
         Reason.NO_CASE),
        (lambda: engine(case(rule=TriggerRule(
            1, EventType.BALANCE_LOW, Condition("balance_fen", Op.LT, 100), 0))),
         event(), Reason.CONDITION),
        (lambda: engine(case(area=np.zeros(N, dtype=np.bool_))), event(), Reason.OUTSIDE_AREA),
        (lambda: engine(case(offer_rank=np.full(N, -1, dtype=np.int8))), event(),
         Reason.NOT_ELIGIBLE),
        (lambda: engine(case(channels=())), event(), Reason.NO_CHANNEL),
        (lambda: engine(the_base=base(blocked={0: (1 << CHANNEL_BITS["sms"])
                                               | (1 << CHANNEL_BITS["app_push"])})),
         event(), Reason.CONSENT),
        (lambda: engine(the_base=base(held=[0])), event(), Reason.GLOBAL_HOLDOUT),
        (lambda: engine(case(ends_on=DAY - timedelta(days=1))), event(), Reason.NO_CASE),
    ],
)  # fmt: skip
def test_each_exclusion_reason(build: Any, ev: Event, reason: Reason) -> None:
    outcome, found, _ = one(build(), ev)
    assert (outcome, found) == (Outcome.EXCLUDED, reason)


def test_consent_on_one_channel_moves_the_contact_to_the_next() -> None:
    e = engine(the_base=base(blocked={0: 1 << CHANNEL_BITS["sms"]}))
    assert one(e, event()) == (Outcome.CONTACT, None, "app_push")


def test_caps_hold_under_a_burst_for_one_line() -> None:
    e = engine()
    decisions = e.decide([event(n) for n in range(50)], NOON)
    contacts = [d for d in decisions if d.outcome is Outcome.CONTACT]
    # Global cap 2 a week; SMS capped at 1, so the second contact goes by app push.
    assert [d.channel for d in contacts] == ["sms", "app_push"]
    assert {d.reason for d in decisions[2:]} == {Reason.CAP}
    assert int(e.counters.in_period[0]) == 2


def test_channel_cap_when_every_consented_channel_is_full() -> None:
    e = engine(case(channels=("sms",)))
    assert one(e, event(1))[0] is Outcome.CONTACT
    assert one(e, event(2))[:2] == (Outcome.EXCLUDED, Reason.CHANNEL_CAP)


def test_minimum_gap() -> None:
    e = engine(policy=replace(POLICY, min_gap_days=2, global_cap=5))
    assert one(e, event(1))[0] is Outcome.CONTACT
    assert one(e, event(2))[:2] == (Outcome.EXCLUDED, Reason.MIN_GAP)
    e.counters.last_day[0] = (DAY - timedelta(days=2)).toordinal()
    assert one(e, event(3))[0] is Outcome.CONTACT


def test_cooldown_per_case_and_line() -> None:
    rule = TriggerRule(1, EventType.BALANCE_LOW, cooldown_days=7)
    e = engine(case(rule=rule), policy=replace(POLICY, global_cap=10, channel_caps={}))
    assert one(e, event(1))[0] is Outcome.CONTACT
    assert one(e, event(2))[:2] == (Outcome.EXCLUDED, Reason.COOLDOWN)
    assert one(e, event(3, subscriber_id=102))[0] is Outcome.CONTACT  # another line
    e.cases[1].last_decided[0] = (DAY - timedelta(days=7)).toordinal()
    assert one(e, event(4))[0] is Outcome.CONTACT  # seven days later the case may act again


def test_daily_limit_of_a_case() -> None:
    rule = TriggerRule(1, EventType.BALANCE_LOW, cooldown_days=0, max_per_day=3)
    e = engine(case(rule=rule), policy=replace(POLICY, global_cap=10, channel_caps={}))
    outcomes = [one(e, event(i, subscriber_id=101 + i)) for i in range(5)]
    assert [o[0] for o in outcomes] == [Outcome.CONTACT] * 3 + [Outcome.EXCLUDED] * 2
    assert {o[1] for o in outcomes[3:]} == {Reason.DAILY_LIMIT}


def test_control_lines_are_recorded_not_contacted_and_not_counted() -> None:
    ids = np.arange(101, 101 + N, dtype=np.int64)
    control = in_holdout("key", 1, ids, 5000)
    assert control.any()
    assert not control.all()
    e = engine(case(control=control))
    decisions = e.decide([event(i, subscriber_id=int(s)) for i, s in enumerate(ids)], NOON)
    assert [d.outcome is Outcome.CONTROL for d in decisions] == control.tolist()
    assert all(d.send_at is None for d in decisions if d.outcome is Outcome.CONTROL)
    assert e.counters.in_period.tolist() == (~control).astype(int).tolist()


def test_the_holdout_draw_is_reproducible() -> None:
    ids = np.arange(101, 101 + N, dtype=np.int64)
    first = engine(case(control=in_holdout("key", 1, ids, 3000))).decide(
        [event(i, subscriber_id=int(s)) for i, s in enumerate(ids)], NOON
    )
    again = engine(case(control=in_holdout("key", 1, ids, 3000))).decide(
        [event(i, subscriber_id=int(s)) for i, s in enumerate(ids)], NOON
    )
    assert [d.outcome for d in first] == [d.outcome for d in again]
    # Another case id draws another group.
    assert not np.array_equal(in_holdout("key", 1, ids, 5000), in_holdout("key", 2, ids, 5000))


def test_quiet_hours_move_the_send_time_to_the_next_allowed_moment() -> None:
    late = datetime.combine(DAY, time(22, 30), tzinfo=PROVINCE_TZ).astimezone(UTC)
    (d,) = engine().decide([event()], late)
    expected = datetime.combine(DAY + timedelta(days=1), time(8, 0), tzinfo=PROVINCE_TZ)
    assert d.send_at == expected.astimezone(UTC)
    assert d.window is not None
    assert (d.window.start, d.window.end) == (time(8, 0), time(21, 0))


def test_the_best_ranked_case_wins_and_the_next_takes_over_when_it_cannot() -> None:
    low = case(1, priority=3)
    high = case(2, priority=8, offer_rank=np.where(np.arange(N) == 0, -1, 0).astype(np.int8))
    e = engine(low, high, policy=replace(POLICY, global_cap=10, channel_caps={}))
    (first,) = e.decide([event(1, subscriber_id=102)], NOON)
    assert first.case_id == 2  # priority 8 outranks 3
    (second,) = e.decide([event(2, subscriber_id=101)], NOON)
    assert second.case_id == 1  # line 101 is not eligible for case 2's offers
    blocked = engine(case(1, area=np.zeros(N, dtype=np.bool_)), case(2, priority=8,
                     area=np.zeros(N, dtype=np.bool_)))  # fmt: skip
    (none,) = blocked.decide([event(3)], NOON)
    assert (none.outcome, none.reason, none.case_id) == (Outcome.EXCLUDED, Reason.OUTSIDE_AREA, 2)


def test_counters_of_another_day_are_refused() -> None:
    with pytest.raises(ValueError, match="reload"):
        engine().decide([event()], NOON + timedelta(days=1))


def test_stats_report_latency_percentiles() -> None:
    e = engine()
    decisions = e.decide([replace(event(i, subscriber_id=101 + i), received=1.0) for i in range(5)],
                         NOON)  # fmt: skip
    e.stats.record(decisions, committed=1.010)
    summary = e.stats.summary()
    assert summary["decided"] == 5
    assert summary["latency_ms"]["p99"] == pytest.approx(10.0)
