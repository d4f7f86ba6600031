"""API/CLI shapes of the audit trail."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field


class AuditFilters(BaseModel):
    """What to look for; every field narrows the result, None means "any"."""

    actor: str | None = Field(default=None, description="Username of the actor (exact).")
    action: str | None = Field(default=None, description="create, update, delete, read, …")
    entity_type: str | None = Field(default=None, description="Table name, e.g. consent_entry.")
    entity_id: str | None = Field(default=None, description="Primary key of the entity.")
    date_from: date | None = Field(default=None, description="From this day (province time).")
    date_to: date | None = Field(default=None, description="Up to and including this day.")
    text: str | None = Field(
        default=None, description="Text anywhere in the summary, entity id, actor or values."
    )


class AuditEntryRead(BaseModel):
    id: int
    at: datetime
    actor_username: str
    actor_user_id: int | None
    channel: str
    ip: str | None
    user_agent: str | None
    action: str
    entity_type: str
    entity_id: str | None
    summary: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    masked: bool = Field(description="True if personal values in before/after are masked.")


class AuditPage(BaseModel):
    items: list[AuditEntryRead]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))
