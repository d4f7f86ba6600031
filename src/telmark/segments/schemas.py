"""API shapes of saved segments and their snapshots: request bodies and read models."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from telmark.segments.domain import (
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_NOTE,
    SegmentStatus,
    SnapshotStatus,
)
from telmark.segments.profile import TrendPoint


class SegmentCreate(BaseModel):
    """A new segment: its name, owner unit (default: your own) and first rule."""

    name: str = Field(max_length=MAX_NAME * 2)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    org_code: str | None = Field(default=None, max_length=40)
    rule: dict[str, Any]
    note: str = Field(default="", max_length=MAX_NOTE)


class SegmentUpdate(BaseModel):
    """An edit: a new rule version, and optionally a new name or description."""

    rule: dict[str, Any]
    note: str = Field(default="", max_length=MAX_NOTE)
    name: str | None = Field(default=None, max_length=MAX_NAME * 2)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)


class SegmentClone(BaseModel):
    """A copy of a segment's current rule under a new name (default: "<name> (copy)")."""

    name: str | None = Field(default=None, max_length=MAX_NAME * 2)
    org_code: str | None = Field(default=None, max_length=40)


class SegmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    org_code: str
    status: SegmentStatus
    current_version: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    rule: dict[str, Any]


class VersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    segment_id: int
    version: int
    rule: dict[str, Any]
    note: str
    created_by: str
    created_at: datetime


class SegmentCount(BaseModel):
    segment_id: int | None
    version: int | None
    count: int
    as_of: date


class SegmentSample(BaseModel):
    segment_id: int
    version: int
    as_of: date
    count: int
    unmasked: bool
    members: list[dict[str, Any]]


class SegmentTrend(BaseModel):
    """Member count of one rule version as of each month."""

    segment_id: int
    version: int
    points: list[TrendPoint]


class SnapshotCreate(BaseModel):
    """What to freeze: a rule version (default: the current one) as of a month (default: latest)."""

    version: int | None = Field(default=None, ge=1)
    as_of: date | None = None


class SnapshotRead(BaseModel):
    """A frozen member list: which rule version, as of when, in whose scope, and its file."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    segment_id: int
    version: int
    as_of: date
    data_date: date
    org_code: str
    status: SnapshotStatus
    member_count: int | None
    sha256: str | None
    byte_size: int | None
    failure: str | None
    idempotency_key: str | None
    created_by: str
    created_at: datetime
    completed_at: datetime | None


class ExportFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"


class SnapshotExport(BaseModel):
    """What an export wrote (the file itself goes to the caller's path or the download)."""

    snapshot_id: int
    segment_id: int
    format: ExportFormat
    rows: int
    columns: list[str]
    unmasked: bool
    byte_size: int
