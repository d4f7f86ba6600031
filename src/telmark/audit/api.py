"""JSON and CSV routes of the audit trail, for auditors."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from telmark.audit import service
from telmark.audit.schemas import AuditFilters, AuditPage
from telmark.auth.deps import require
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.errors import InvalidInput
from telmark.privacy.export import csv_download
from telmark.privacy.service import may_unmask
from telmark.web.deps import UowDep

router = APIRouter(prefix="/api/audit", tags=["audit"])

Auditor = Annotated[Principal, require(Action.AUDIT_READ)]
AuditExporter = Annotated[Principal, require(Action.AUDIT_EXPORT)]


def _day(value: str | None, name: str) -> date | None:
    # Plain strings, not ``date`` parameters: an HTML filter form sends ``from=`` when
    # the field is left empty, which means "any", not a malformed date.
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{name}: {value!r} is not a date (YYYY-MM-DD)",
            details=[{"field": name, "value": value}],
        ) from None


DATE_SCHEMA = {"format": "date"}


def audit_filters(
    actor: Annotated[str | None, Query(description="Username of the actor.")] = None,
    action: Annotated[str | None, Query(description="create, update, delete, read, …")] = None,
    entity_type: Annotated[str | None, Query(description="e.g. consent_entry")] = None,
    entity_id: str | None = None,
    date_from: Annotated[
        str | None,
        Query(
            alias="from",
            description="First day, YYYY-MM-DD (province time).",
            json_schema_extra=DATE_SCHEMA,
        ),
    ] = None,
    date_to: Annotated[
        str | None,
        Query(
            alias="to",
            description="Last day, included, YYYY-MM-DD (province time).",
            json_schema_extra=DATE_SCHEMA,
        ),
    ] = None,
    text: Annotated[str | None, Query(description="Text in summary, ids, actor or values.")] = None,
) -> AuditFilters:
    """The filters of a request's query string (empty values mean "any")."""
    return AuditFilters(
        actor=actor or None,
        action=action or None,
        entity_type=entity_type or None,
        entity_id=entity_id or None,
        date_from=_day(date_from, "from"),
        date_to=_day(date_to, "to"),
        text=text or None,
    )


FiltersDep = Annotated[AuditFilters, Depends(audit_filters)]


@router.get("", response_model=AuditPage)
def list_audit(
    principal: Auditor,
    uow: UowDep,
    filters: FiltersDep,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AuditPage:
    """Audit entries, newest first; personal values masked unless you may unmask them."""
    return service.list_entries(
        uow=uow, filters=filters, page=page, page_size=page_size, unmask=may_unmask(principal)
    )


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "UTF-8 CSV with BOM."}},
)
def export_audit(principal: AuditExporter, uow: UowDep, filters: FiltersDep) -> StreamingResponse:
    """The matching entries as CSV (Excel-ready); the export itself is audited."""
    chunks = service.export_csv(uow=uow, filters=filters, unmask=may_unmask(principal))
    return csv_download(chunks, "telmark-audit")
