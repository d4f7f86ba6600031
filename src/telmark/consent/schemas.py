"""API/CLI shapes of the consent register."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from telmark.consent.domain import MAX_REASON, Channel, ConsentKind, Source


class EntryStatus(StrEnum):
    IN_FORCE = "in_force"
    REVOKED = "revoked"
    ALL = "all"


class ConsentEntryCreate(BaseModel):
    msisdn: str = Field(description="11-digit mainland mobile number.", examples=["13812345678"])
    kind: ConsentKind
    channel: Channel = Field(description="Channel blocked; 'all' blocks every channel.")
    reason: str = Field(default="", max_length=MAX_REASON)
    source: Source = Field(
        default=Source.MANUAL, description="manual or customer_request (import sets 'import')."
    )


class ConsentRevoke(BaseModel):
    reason: str = Field(
        default="", max_length=MAX_REASON, description="Required for blacklist entries."
    )


class ConsentEntryRead(BaseModel):
    id: int
    msisdn: str = Field(description="Masked (138****5678) unless the caller may unmask.")
    kind: ConsentKind
    channel: Channel
    source: Source
    reason: str
    import_id: int | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None
    in_force: bool
    masked: bool


class ConsentFilters(BaseModel):
    msisdn: str | None = Field(default=None, description="Exact number.")
    kind: ConsentKind | None = None
    channel: Channel | None = Field(
        default=None, description="Entries on this channel (and 'all', which covers it)."
    )
    source: Source | None = None
    status: EntryStatus = EntryStatus.IN_FORCE


class ConsentPage(BaseModel):
    items: list[ConsentEntryRead]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


class ConsentImportRead(BaseModel):
    id: int
    file_name: str
    sha256: str
    encoding: str
    rows: int
    added: int = Field(description="Entries added by this import.")
    already_present: int = Field(description="Rows already in force (or repeated in the file).")
    imported_at: datetime
    imported_by: str
    repeated: bool = Field(
        default=False, description="True if this very file was imported before: nothing added."
    )


class ContactCheck(BaseModel):
    msisdn: str
    channel: Channel
    contactable: bool
    blocking: list[ConsentEntryRead]
