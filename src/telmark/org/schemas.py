"""API/CLI shapes of the org domain."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from telmark.org.domain import OrgKind


class OrgUnitRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    parent_code: str | None
    kind: OrgKind
    name: str
    name_en: str | None
    depth: int
    active: bool
    child_count: int = 0
    staff_count: int = 0


class OrgUnitDetail(OrgUnitRead):
    ancestors: list[OrgUnitRead]
    children: list[OrgUnitRead]


class StaffRead(BaseModel):
    code: str
    name: str
    org_code: str
    org_name: str
    level: int
    grade: int
    position: str
    hired_date: date
    active: bool


class SyncReport(BaseModel):
    units_created: int
    units_updated: int
    units_deactivated: int
    staff_created: int
    staff_updated: int
    staff_deactivated: int
