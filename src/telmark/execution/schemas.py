"""Pydantic shapes of the execution API: message templates, previews, loads, outbox reads."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from telmark.execution.domain import OutboxState

MAX_BODY = 4000


class TemplateIn(BaseModel):
    """A case's message on one channel (Jinja text; ``variables`` lists what it may use)."""

    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=MAX_BODY, description="Message text (Jinja).")
    subject: str | None = Field(None, max_length=300, description="E-mail subject (Jinja).")


class TemplateRead(TemplateIn):
    id: int
    case_id: int
    channel: str
    variables: list[str]
    revision: int
    updated_by: str
    updated_at: datetime


class PreviewIn(TemplateIn):
    """A template to try before saving it; samples come from ``run_id``'s list when given."""

    run_id: int | None = Field(None, description="Targeting run whose rows are the samples.")
    samples: int = Field(3, ge=1, le=20)


class ProblemRead(BaseModel):
    reason: str
    params: dict[str, object]
    field: str
    line: int | None
    row: int | None


class SampleRead(BaseModel):
    values: dict[str, object]  # the row's variables (no personal data)
    body: str | None
    subject: str | None
    sms_coding: str | None = None
    sms_segments: int | None = None
    problems: list[ProblemRead]


class PreviewRead(BaseModel):
    ok: bool
    variables: list[str]
    fields: list[str]
    samples: list[SampleRead]


class LoadLine(BaseModel):
    case_id: int
    case_code: str
    channel: str
    rows: int


class LoadRead(BaseModel):
    """What loading a run did; a second load of the same run inserts nothing."""

    run_id: int
    inserted: int
    already_loaded: int
    control: int  # held out for evaluation: never sent
    not_dispatched: int  # channels the outbox does not send (calls, front line)
    no_address: int  # no address of the channel's kind (e-mail: none in the warehouse)
    lines: list[LoadLine]


class StateCount(BaseModel):
    case_id: int
    case_code: str
    channel: str
    city_id: str | None
    state: OutboxState
    count: int


class OutboxRowRead(BaseModel):
    id: int
    key: str
    case_id: int
    case_code: str
    channel: str
    address: str  # masked unless the caller may unmask and asked
    subscriber_id: int
    city_id: str | None
    outlet_id: str | None
    planned_on: date
    state: OutboxState
    reason: str | None
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None


class OutboxPage(BaseModel):
    items: list[OutboxRowRead]
    total: int
    page: int
    page_size: int


class DispatchRead(BaseModel):
    """One dispatcher run's counters."""

    channel: str
    worker: str
    claimed: int
    sent: int
    failed: int
    retried: int
    suppressed: int
    deferred: int
    in_doubt: int
    confirmed: int
    lost: int
    delivered: int
    receipts_failed: int
