"""Real-time triggers, pure: event types and payloads, trigger rules, outcomes and reasons.

**Events.** Five types, each with the payload fields a condition may test
(``PAYLOADS``; every field is required, integers are whole numbers):

* ``quota_80`` — the line used 80 % of its data quota: ``used_pct`` (80–1000);
* ``balance_low`` — a prepaid balance fell low: ``balance_fen`` (−10⁹…10⁹, fen);
* ``contract_ends`` — the contract ends soon: ``days_left`` (0–366);
* ``roaming_start`` — the line registered abroad: ``country`` (ISO 3166 alpha-2);
* ``complaint_closed`` — a complaint was closed: ``complaint_id`` (1–60 characters).

An event names its line by ``subscriber_id`` or ``msisdn`` and carries an
``event_id`` unique across all sources: it is the idempotency key, so an event
delivered twice (an HTTP retry, a stream entry reclaimed after a crash) is
decided once.

**Trigger rules.** A marketing case becomes event-driven by attaching one rule:
the event type it listens to, an optional condition on one payload field
(``balance_fen < 1000``), a cooldown in days — after a decision (contact or
control) for a subscriber the case ignores that subscriber's events for so many
days — and an optional cap on the case's decisions per day.

**Decisions.** Every event ends as one decision: ``contact`` (a message goes
out through the outbox), ``control`` (the subscriber is in the case's holdout:
recorded, not contacted, so the case's effect can be measured) or ``excluded``
with the first reason that stopped it (``Reason``). ``engine`` documents the
order of the checks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from telmark.errors import InvalidInput
from telmark.translation import N_

MAX_EVENT_ID = 80  # the outbox key ``trigger:{event_id}:{case_id}`` must fit 120 characters
MAX_COOLDOWN_DAYS = 365
MAX_PER_DAY = 10_000_000
EVENT_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,80}$")
COUNTRY = re.compile(r"^[A-Z]{2}$")


class EventType(StrEnum):
    QUOTA_80 = "quota_80"
    BALANCE_LOW = "balance_low"
    CONTRACT_ENDS = "contract_ends"
    ROAMING_START = "roaming_start"
    COMPLAINT_CLOSED = "complaint_closed"


@dataclass(frozen=True, slots=True)
class Field:
    """One payload field: integer (with bounds) or text (with a pattern or a length)."""

    name: str
    kind: type[int] | type[str]
    low: int = 0
    high: int = 0
    pattern: re.Pattern[str] | None = None


PAYLOADS: Mapping[EventType, tuple[Field, ...]] = {
    EventType.QUOTA_80: (Field("used_pct", int, 80, 1000),),
    EventType.BALANCE_LOW: (Field("balance_fen", int, -1_000_000_000, 1_000_000_000),),
    EventType.CONTRACT_ENDS: (Field("days_left", int, 0, 366),),
    EventType.ROAMING_START: (Field("country", str, pattern=COUNTRY),),
    EventType.COMPLAINT_CLOSED: (Field("complaint_id", str, 1, 60),),
}

EVENT_LABELS: Mapping[EventType, str] = {
    EventType.QUOTA_80: N_("Data quota 80 per cent used"),
    EventType.BALANCE_LOW: N_("Balance low"),
    EventType.CONTRACT_ENDS: N_("Contract ends soon"),
    EventType.ROAMING_START: N_("Roaming started"),
    EventType.COMPLAINT_CLOSED: N_("Complaint closed"),
}


class Op(StrEnum):
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    EQ = "="
    NE = "!="


TEXT_OPS = frozenset({Op.EQ, Op.NE})


@dataclass(frozen=True, slots=True)
class Condition:
    """``payload[field] op value``: e.g. ``balance_fen < 1000``."""

    field: str
    op: Op
    value: int | str

    def holds(self, payload: Mapping[str, Any]) -> bool:
        found = payload.get(self.field)
        if found is None:
            return False
        if self.op is Op.EQ:
            return bool(found == self.value)
        if self.op is Op.NE:
            return bool(found != self.value)
        if not isinstance(found, int) or not isinstance(self.value, int):
            return False
        if self.op is Op.LT:
            return found < self.value
        if self.op is Op.LE:
            return found <= self.value
        if self.op is Op.GT:
            return found > self.value
        return found >= self.value

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field, "op": self.op.value, "value": self.value}

    def __str__(self) -> str:
        return f"{self.field} {self.op.value} {self.value}"


class Outcome(StrEnum):
    CONTACT = "contact"
    CONTROL = "control"
    EXCLUDED = "excluded"


class Reason(StrEnum):
    """Why an event was not turned into a contact (the first check that stopped it)."""

    UNKNOWN_SUBSCRIBER = "unknown_subscriber"
    NO_CASE = "no_case"  # no running case listens to this event type today
    CONDITION = "condition"
    OUTSIDE_AREA = "outside_area"
    NOT_ELIGIBLE = "not_eligible"
    NO_CHANNEL = "no_channel"
    CONSENT = "consent"
    GLOBAL_HOLDOUT = "global_holdout"
    COOLDOWN = "cooldown"
    DAILY_LIMIT = "daily_limit"
    MIN_GAP = "min_gap"
    CAP = "cap"
    CHANNEL_CAP = "channel_cap"


OUTCOME_LABELS: Mapping[Outcome, str] = {
    Outcome.CONTACT: N_("contact"),
    Outcome.CONTROL: N_("control"),
    Outcome.EXCLUDED: N_("excluded"),
}
REASON_LABELS: Mapping[Reason, str] = {
    Reason.UNKNOWN_SUBSCRIBER: N_("line not in the warehouse"),
    Reason.NO_CASE: N_("no running case listens to this event"),
    Reason.CONDITION: N_("the event does not meet the rule's condition"),
    Reason.OUTSIDE_AREA: N_("outside the case's organisation or its local narrowing"),
    Reason.NOT_ELIGIBLE: N_("not eligible for any of the case's offers"),
    Reason.NO_CHANNEL: N_("no channel of the case can be sent with a message template"),
    Reason.CONSENT: N_("opted out, DND or blacklisted on every channel of the case"),
    Reason.GLOBAL_HOLDOUT: N_("in the global holdout"),
    Reason.COOLDOWN: N_("decided for this case within its cooldown"),
    Reason.DAILY_LIMIT: N_("the case reached its decisions for today"),
    Reason.MIN_GAP: N_("contacted too recently (minimum gap)"),
    Reason.CAP: N_("contact cap of the period reached"),
    Reason.CHANNEL_CAP: N_("channel cap reached on every allowed channel"),
}
# Reasons decided before anything about the case is known: the decision names no case.
CASELESS = frozenset({Reason.UNKNOWN_SUBSCRIBER, Reason.NO_CASE})


def _problem(where: str, reason: str) -> InvalidInput:
    return InvalidInput(f"{where}: {reason}", details=[{"field": where, "reason": reason}])


def check_event_id(value: str, where: str = "event_id") -> str:
    if not EVENT_ID.match(value):
        raise _problem(where, f"1–{MAX_EVENT_ID} characters of letters, digits and . _ : -")
    return value


def field_of(event_type: EventType, name: str) -> Field | None:
    return next((f for f in PAYLOADS[event_type] if f.name == name), None)


def check_payload(
    event_type: EventType, payload: Mapping[str, Any], where: str = "payload"
) -> dict[str, Any]:
    """The payload's fields of ``event_type`` (others dropped); InvalidInput naming the field."""
    clean: dict[str, Any] = {}
    for spec in PAYLOADS[event_type]:
        name = f"{where}.{spec.name}"
        value = payload.get(spec.name)
        if value is None:
            raise _problem(name, f"required for {event_type.value}")
        if spec.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise _problem(name, "must be a whole number")
            if not spec.low <= value <= spec.high:
                raise _problem(name, f"must lie in {spec.low}…{spec.high}")
        else:
            if not isinstance(value, str):
                raise _problem(name, "must be text")
            if spec.pattern is not None and not spec.pattern.match(value):
                raise _problem(name, "must be an ISO 3166 alpha-2 code such as JP")
            if spec.pattern is None and not spec.low <= len(value) <= spec.high:
                raise _problem(name, f"must be {spec.low}–{spec.high} characters")
        clean[spec.name] = value
    return clean


def check_condition(event_type: EventType, condition: Condition) -> Condition:
    """The condition if its field belongs to ``event_type`` and the value fits it."""
    spec = field_of(event_type, condition.field)
    if spec is None:
        allowed = ", ".join(f.name for f in PAYLOADS[event_type])
        raise _problem("condition.field", f"{event_type.value} events carry only {allowed}")
    if spec.kind is str:
        if condition.op not in TEXT_OPS:
            raise _problem("condition.op", f"{spec.name} is text: use = or !=")
        if not isinstance(condition.value, str):
            raise _problem("condition.value", f"{spec.name} is text")
    elif isinstance(condition.value, bool) or not isinstance(condition.value, int):
        raise _problem("condition.value", f"{spec.name} is a whole number")
    return condition


_CONDITION = re.compile(r"^\s*([a-z_]+)\s*(<=|>=|!=|<|>|=)\s*(.+?)\s*$")


def parse_condition(event_type: EventType, text: str) -> Condition:
    """``"balance_fen < 1000"`` → a checked Condition (the CLI's and console's form)."""
    match = _CONDITION.match(text)
    if match is None:
        raise _problem("condition", "write it as FIELD OP VALUE, e.g. balance_fen < 1000")
    name, op, raw = match.groups()
    spec = field_of(event_type, name)
    value: int | str = raw.strip("'\"")
    if spec is not None and spec.kind is int:
        try:
            value = int(raw)
        except ValueError:
            raise _problem("condition.value", f"{name} is a whole number") from None
    return check_condition(event_type, Condition(name, Op(op), value))


def condition_of(event_type: EventType, data: Mapping[str, Any] | None) -> Condition | None:
    """A condition stored as JSON (``Condition.as_json``), checked again."""
    if data is None:
        return None
    try:
        op = Op(str(data.get("op")))
    except ValueError:
        raise _problem("condition.op", f"one of {', '.join(o.value for o in Op)}") from None
    value = data.get("value")
    if not isinstance(value, int | str):
        raise _problem("condition.value", "a whole number or text")
    return check_condition(event_type, Condition(str(data.get("field")), op, value))


@dataclass(frozen=True, slots=True)
class TriggerRule:
    """What makes a case event-driven (see the module docstring)."""

    case_id: int
    event_type: EventType
    condition: Condition | None = None
    cooldown_days: int = 30
    max_per_day: int | None = None


def check_rule(rule: TriggerRule) -> TriggerRule:
    """The rule if every field is in range; InvalidInput naming the field otherwise."""
    if not 0 <= rule.cooldown_days <= MAX_COOLDOWN_DAYS:
        raise _problem("cooldown_days", f"0–{MAX_COOLDOWN_DAYS}")
    if rule.max_per_day is not None and not 1 <= rule.max_per_day <= MAX_PER_DAY:
        raise _problem("max_per_day", f"1–{MAX_PER_DAY}, or none for no limit")
    if rule.condition is not None:
        check_condition(rule.event_type, rule.condition)
    return rule


def outbox_key(event_id: str, case_id: int) -> str:
    """The outbox idempotency key of a trigger's contact: one per event and case, forever."""
    return f"trigger:{event_id}:{case_id}"
