"""Shapes of the trigger API: rules, event batches, decisions and live figures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from telmark.execution.triggers.domain import MAX_EVENT_ID, EventType, Op, Outcome, Reason

MAX_BATCH = 1000


class ConditionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, max_length=40)
    op: Op
    value: int | str


class TriggerRuleIn(BaseModel):
    """A case's trigger rule (see ``domain``); saving replaces the case's rule."""

    model_config = ConfigDict(extra="forbid")

    event_type: EventType
    condition: ConditionIn | None = None
    cooldown_days: int = Field(default=30, ge=0, le=365)
    max_per_day: int | None = Field(default=None, ge=1)


class TriggerRuleRead(BaseModel):
    case_id: int
    case_code: str
    case_name: str
    case_status: str
    event_type: EventType
    condition: ConditionIn | None
    condition_text: str | None
    cooldown_days: int
    max_per_day: int | None
    revision: int
    updated_by: str
    updated_at: datetime
    decided_today: int = 0


class EventIn(BaseModel):
    """One event: its id (the idempotency key), type, line and payload (``domain.PAYLOADS``)."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=MAX_EVENT_ID)
    type: EventType
    subscriber_id: int | None = Field(default=None, ge=1)
    msisdn: str | None = Field(default=None, min_length=5, max_length=20)
    occurred_at: AwareDatetime
    payload: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_line(self) -> EventIn:
        if (self.subscriber_id is None) == (self.msisdn is None):
            raise ValueError("give the line as exactly one of subscriber_id or msisdn")
        return self


class EventBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


class DecisionRead(BaseModel):
    event_id: str
    event_type: EventType
    outcome: Outcome
    reason: Reason | None
    subscriber_id: int | None
    msisdn: str | None  # masked unless the reader may see numbers
    case_id: int | None
    case_code: str | None
    channel: str | None
    offer_code: str | None
    city_id: str | None
    send_at: datetime | None
    decided_at: datetime
    source: str
    duplicate: bool = False


class BatchRead(BaseModel):
    decided: int
    duplicates: int
    decisions: list[DecisionRead]


class LatencyRead(BaseModel):
    p50: float | None
    p90: float | None
    p99: float | None
    max: float | None


class EngineRead(BaseModel):
    """The web app's engine: loaded when, on how many lines, and what it decided since."""

    loaded: bool
    day: str | None = None
    subscribers: int = 0
    cases: list[str] = Field(default_factory=list)
    decided: int = 0
    per_second: float = 0.0
    latency_ms: LatencyRead | None = None


class CountRead(BaseModel):
    case_code: str | None
    outcome: Outcome
    reason: Reason | None
    count: int


class CountersRead(BaseModel):
    """Today's decisions by case, outcome and reason (from the database), and the engine."""

    day: str
    counts: list[CountRead]
    engine: EngineRead
