"""Shapes of response events, attribution runs and per-case counts (API, console, CLI)."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from telmark.execution.responses.domain import (
    MAX_CODE,
    MAX_EVENT_ID,
    MAX_REVENUE_FEN,
    MAX_WINDOW_DAYS,
    MIN_WINDOW_DAYS,
    Breakdown,
    ResponseType,
)

MAX_BATCH = 10_000


class EventIn(BaseModel):
    """One response event (columns of an import file have the same names)."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(
        min_length=1, max_length=MAX_EVENT_ID, description="Idempotency key: stored once, ever."
    )
    subscriber_id: int = Field(ge=1)
    type: ResponseType
    offer_code: str | None = Field(default=None, max_length=MAX_CODE)
    product_code: str | None = Field(default=None, max_length=MAX_CODE)
    occurred_at: AwareDatetime
    revenue_fen: int = Field(
        default=0,
        ge=-MAX_REVENUE_FEN,
        le=MAX_REVENUE_FEN,
        description="Change in the line's monthly revenue (fen; negative for a loss).",
    )


class EventBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


class AttributionRead(BaseModel):
    """What one attribution pass did; a rerun over the same data changes nothing."""

    exposures_added: int = Field(description="Contacts and control rows newly collected.")
    exposures_removed: int = Field(description="Task contacts whose outcome was corrected away.")
    runs_loaded: int = Field(description="Targeting runs whose control rows were collected.")
    runs_unreadable: list[int] = Field(description="Runs whose list file could not be read.")
    events: int = Field(description="Events considered.")
    attributed: int = Field(description="New (event, case) attributions.")
    updated: int = Field(description="Attributions moved to a later touch.")
    removed: int = Field(description="Attributions no longer valid.")
    responded: int = Field(description="Outbox contacts marked responded.")


class ImportRead(BaseModel):
    """What an import (file or API batch) did, and the attribution that followed it."""

    source: str
    import_id: int | None = Field(description="The batch recorded; none when nothing was new.")
    rows: int
    new_events: int
    already_known: int = Field(description="Events whose event_id was stored before.")
    attribution: AttributionRead


class WindowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int | None = Field(
        ge=MIN_WINDOW_DAYS,
        le=MAX_WINDOW_DAYS,
        description="Attribution window in days; null for the default setting.",
    )
    version: int | None = Field(
        default=None, ge=1, description="Refused with 409 if the case changed meanwhile."
    )


class WindowRead(BaseModel):
    case_id: int
    case_code: str
    attribution_days: int | None
    effective_days: int
    attribution: AttributionRead


class ResponseCount(BaseModel):
    """One group (treatment / control) of a case, optionally for one breakdown key.

    ``exposed`` counts distinct subscribers with an exposure (contact, or control
    row) under the key; ``responders`` distinct subscribers with a take-up event
    attributed to an exposure under the key; ``revenue_fen`` sums every
    attributed event's monthly revenue change (guardrail events included).
    """

    group: str
    key: str | None = Field(description="The city, outlet, channel or offer; null without `by`.")
    exposed: int
    responders: int
    take_up_bp: int | None = Field(description="Responders per exposed, basis points.")
    revenue_fen: int
    events: dict[str, int] = Field(description="Attributed events per type.")
    guardrails: int = Field(description="Subscribers with a port-out, complaint or opt-out.")


class RecentResponse(BaseModel):
    event_id: str
    subscriber_id: int
    msisdn: str | None = Field(description="Masked.")
    type: ResponseType
    occurred_at: datetime
    group: str
    channel: str | None
    offer_code: str | None
    city_id: str | None
    revenue_fen: int


class CaseResponsesRead(BaseModel):
    case_id: int
    case_code: str
    case_name: str
    attribution_days: int
    by: Breakdown | None
    totals: list[ResponseCount]
    rows: list[ResponseCount]
    recent: list[RecentResponse]


class CaseChoice(BaseModel):
    case_id: int
    case_code: str
    exposed: int
    responders: int


class SimulationRead(BaseModel):
    """What a demo simulation run drew and wrote."""

    seed: int
    until: str
    cases: list[int]
    exposed: int = Field(description="Subscribers (per case) a draw was made for.")
    drawn: int = Field(description="Responses drawn on or before `until`.")
    treatment_drawn: int
    control_drawn: int
    import_read: ImportRead
