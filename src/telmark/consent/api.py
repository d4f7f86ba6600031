"""JSON and CSV routes of the consent register.

Entries are province-wide (no org-scope filter): see ``consent.domain``.
MSISDNs are masked unless the caller may unmask; unmasked responses are audited.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile, status
from fastapi.responses import StreamingResponse

from telmark.auth.deps import require
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.consent import service
from telmark.consent.domain import Channel, ConsentKind, Source
from telmark.consent.schemas import (
    ConsentEntryCreate,
    ConsentEntryRead,
    ConsentFilters,
    ConsentImportRead,
    ConsentPage,
    ConsentRevoke,
    ContactCheck,
    EntryStatus,
)
from telmark.errors import InvalidInput
from telmark.privacy.export import csv_download
from telmark.privacy.service import may_unmask
from telmark.web.deps import UowDep

router = APIRouter(prefix="/api/consent", tags=["consent"])

Reader = Annotated[Principal, require(Action.CONSENT_READ)]
Manager = Annotated[Principal, require(Action.CONSENT_MANAGE)]
# Larger files go through `telmark consent import`, which reads from disk.
MAX_UPLOAD_BYTES = 64 << 20
_E = TypeVar("_E", bound=StrEnum)


def _choice(enum: type[_E], value: str | None, name: str) -> _E | None:
    # Plain strings, not enum parameters: an HTML filter form sends ``kind=`` for "any".
    if not value:
        return None
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise InvalidInput(
            f"{name}: {value!r} is not one of {allowed}",
            details=[{"field": name, "value": value}],
        ) from None


def _enum_query(enum: type[StrEnum], description: str) -> Any:
    return Query(description=description, json_schema_extra={"enum": [m.value for m in enum]})


def consent_filters(
    msisdn: Annotated[str | None, Query(description="Exact number.")] = None,
    kind: Annotated[str | None, _enum_query(ConsentKind, "Kind of entry.")] = None,
    channel: Annotated[
        str | None, _enum_query(Channel, "Entries blocking this channel (incl. 'all').")
    ] = None,
    source: Annotated[str | None, _enum_query(Source, "Where entries came from.")] = None,
    status: Annotated[str | None, _enum_query(EntryStatus, "Default in_force.")] = None,
) -> ConsentFilters:
    """The filters of a request's query string (empty values mean "any")."""
    return ConsentFilters(
        msisdn=(msisdn or "").strip() or None,
        kind=_choice(ConsentKind, kind, "kind"),
        channel=_choice(Channel, channel, "channel"),
        source=_choice(Source, source, "source"),
        status=_choice(EntryStatus, status, "status") or EntryStatus.IN_FORCE,
    )


FiltersDep = Annotated[ConsentFilters, Depends(consent_filters)]


@router.get("/entries", response_model=ConsentPage)
def list_entries(
    principal: Reader,
    uow: UowDep,
    filters: FiltersDep,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ConsentPage:
    """Entries of the register, newest first."""
    return service.list_entries(
        uow=uow, filters=filters, page=page, page_size=page_size, unmask=may_unmask(principal)
    )


@router.post("/entries", response_model=ConsentEntryRead, status_code=status.HTTP_201_CREATED)
def add_entry(body: ConsentEntryCreate, principal: Manager, uow: UowDep) -> ConsentEntryRead:
    """Put a number on the register (409 if the same entry is already in force)."""
    return service.add_entry(uow=uow, entry=body, unmask=may_unmask(principal))


@router.post("/entries/{entry_id}/revoke", response_model=ConsentEntryRead)
def revoke_entry(
    entry_id: int, body: ConsentRevoke, principal: Manager, uow: UowDep
) -> ConsentEntryRead:
    """Lift an entry; it stays on record. Blacklist entries need a reason."""
    return service.revoke_entry(
        uow=uow,
        entry_id=entry_id,
        reason=body.reason,
        may_manage=principal.can(Action.CONSENT_MANAGE),
        unmask=may_unmask(principal),
    )


@router.post(
    "/imports",
    response_model=ConsentImportRead,
    dependencies=[require(Action.CONSENT_MANAGE)],
)
def import_file(
    uow: UowDep,
    file: Annotated[UploadFile, File(description="CSV: msisdn,kind,channel[,reason,source]")],
    encoding: Annotated[str, Form(description="auto, utf-8, gbk or gb18030")] = "auto",
) -> ConsentImportRead:
    """Import a CSV, all rows or none; importing the same file again adds nothing."""
    data = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput(
            f"the file is larger than {MAX_UPLOAD_BYTES >> 20} MB; "
            "use `telmark consent import` on the server"
        )
    return service.import_file(
        uow=uow, data=data, file_name=file.filename or "upload.csv", encoding=encoding
    )


@router.get(
    "/imports",
    response_model=list[ConsentImportRead],
    dependencies=[require(Action.CONSENT_READ)],
)
def list_imports(uow: UowDep) -> list[ConsentImportRead]:
    """The most recent imports, newest first."""
    return service.list_imports(uow=uow)


@router.get("/check", response_model=ContactCheck)
def check_contact(principal: Reader, uow: UowDep, msisdn: str, channel: Channel) -> ContactCheck:
    """May this number be contacted on this channel now, and which entries say no."""
    return service.check_contact(
        uow=uow, msisdn=msisdn, channel=channel, unmask=may_unmask(principal)
    )


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "UTF-8 CSV with BOM."}},
)
def export_entries(principal: Reader, uow: UowDep, filters: FiltersDep) -> StreamingResponse:
    """The matching entries as CSV, masked unless you may unmask; the export is audited."""
    chunks = service.export_csv(uow=uow, filters=filters, unmask=may_unmask(principal))
    return csv_download(chunks, "telmark-consent")
