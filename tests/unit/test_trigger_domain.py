"""Trigger rules and event payloads: what is accepted, and which field a refusal names."""

from __future__ import annotations

from typing import Any

import pytest

from telmark.errors import InvalidInput
from telmark.execution.triggers.domain import (
    PAYLOADS,
    Condition,
    EventType,
    Op,
    TriggerRule,
    check_event_id,
    check_payload,
    check_rule,
    condition_of,
    outbox_key,
    parse_condition,
)


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        (EventType.QUOTA_80, {"used_pct": 80}),
        (EventType.BALANCE_LOW, {"balance_fen": -300}),
        (EventType.CONTRACT_ENDS, {"days_left": 60}),
        (EventType.ROAMING_START, {"country": "JP"}),
        (EventType.COMPLAINT_CLOSED, {"complaint_id": "CP-1"}),
    ],
)
def test_every_event_type_has_its_payload(kind: EventType, payload: dict[str, Any]) -> None:
    assert check_payload(kind, {**payload, "extra": 1}) == payload
    assert [f.name for f in PAYLOADS[kind]] == list(payload)


@pytest.mark.parametrize(
    ("kind", "payload", "field"),
    [
        (EventType.QUOTA_80, {}, "payload.used_pct"),
        (EventType.QUOTA_80, {"used_pct": 79}, "payload.used_pct"),
        (EventType.QUOTA_80, {"used_pct": True}, "payload.used_pct"),
        (EventType.BALANCE_LOW, {"balance_fen": "5"}, "payload.balance_fen"),
        (EventType.CONTRACT_ENDS, {"days_left": 400}, "payload.days_left"),
        (EventType.ROAMING_START, {"country": "japan"}, "payload.country"),
        (EventType.COMPLAINT_CLOSED, {"complaint_id": ""}, "payload.complaint_id"),
    ],
)
def test_a_bad_payload_names_its_field(
    kind: EventType, payload: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_payload(kind, payload)
    assert caught.value.details[0]["field"] == field


def test_event_ids_are_keys_fit_for_the_outbox() -> None:
    assert check_event_id("boss:2026-12-01:000123") == "boss:2026-12-01:000123"
    for bad in ("", "a b", "x" * 81, "事件"):
        with pytest.raises(InvalidInput):
            check_event_id(bad)
    assert outbox_key("e-1", 7) == "trigger:e-1:7"
    assert len(outbox_key("x" * 80, 2**31)) <= 120


def test_conditions_parse_check_and_hold() -> None:
    low = parse_condition(EventType.BALANCE_LOW, "balance_fen < 1000")
    assert low == Condition("balance_fen", Op.LT, 1000)
    assert low.holds({"balance_fen": 999})
    assert not low.holds({"balance_fen": 1000})
    assert parse_condition(EventType.ROAMING_START, "country != CN").holds({"country": "JP"})
    assert condition_of(EventType.BALANCE_LOW, low.as_json()) == low
    with pytest.raises(InvalidInput, match="balance_low events carry only balance_fen"):
        parse_condition(EventType.BALANCE_LOW, "days_left < 3")
    with pytest.raises(InvalidInput, match="text: use = or !="):
        parse_condition(EventType.ROAMING_START, "country < JP")
    with pytest.raises(InvalidInput, match="whole number"):
        parse_condition(EventType.QUOTA_80, "used_pct > lots")
    with pytest.raises(InvalidInput, match="FIELD OP VALUE"):
        parse_condition(EventType.QUOTA_80, "used_pct")


def test_rule_ranges() -> None:
    assert check_rule(TriggerRule(1, EventType.QUOTA_80, cooldown_days=0)).cooldown_days == 0
    with pytest.raises(InvalidInput) as caught:
        check_rule(TriggerRule(1, EventType.QUOTA_80, cooldown_days=366))
    assert caught.value.details[0]["field"] == "cooldown_days"
    with pytest.raises(InvalidInput) as caught:
        check_rule(TriggerRule(1, EventType.QUOTA_80, max_per_day=0))
    assert caught.value.details[0]["field"] == "max_per_day"
