"""JSON routes of responses (``/api/responses``).

Sending events (batches, idempotent by ``event_id``) and re-running attribution
need responses:import, at the province (events come from the whole province).
Reading a case's responses needs cases:read and shows only the case's
exposures and attributions within the caller's organisation (404 for a case
the caller cannot see). Setting a case's attribution window needs cases:manage
over the case's own unit.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from telmark.auth.deps import require
from telmark.auth.permissions import Action
from telmark.execution.responses import service
from telmark.execution.responses.domain import Breakdown
from telmark.execution.responses.schemas import (
    AttributionRead,
    CaseChoice,
    CaseResponsesRead,
    EventBatchIn,
    ImportRead,
    ResponseCount,
    WindowIn,
    WindowRead,
)
from telmark.web.deps import SettingsDep, UowDep, WarehouseDep
from telmark.web.errors import ErrorRead

router = APIRouter(prefix="/api/responses", tags=["responses"])

IMPORT = [require(Action.RESPONSE_IMPORT)]
READ = [require(Action.CASE_READ)]
MANAGE = [require(Action.CASE_MANAGE)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorRead, "description": "No such case in your organisation."}
}
REFUSED: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorRead, "description": "Only a province user sends events."},
    422: {"model": ErrorRead, "description": "A bad event: details name it and its field."},
}


@router.post("/events", response_model=ImportRead, dependencies=IMPORT, responses=REFUSED)
def send_events(batch: EventBatchIn, uow: UowDep, settings: SettingsDep) -> ImportRead:
    """Store a batch of order events (known event ids are skipped) and attribute the new ones.

    All or nothing: one bad event refuses the batch, naming ``events[i].field``.
    """
    return service.ingest(uow=uow, events=batch.events, directory=settings.resolved_targeting_dir)


@router.post("/attribute", response_model=AttributionRead, dependencies=IMPORT)
def attribute(uow: UowDep, settings: SettingsDep, case_id: int | None = None) -> AttributionRead:
    """Collect new contacts and control rows, and attribute the events again (idempotent)."""
    return service.attribute(uow=uow, case_id=case_id, directory=settings.resolved_targeting_dir)


@router.get("/cases", response_model=list[CaseChoice], dependencies=READ)
def cases(uow: UowDep) -> list[CaseChoice]:
    """The cases with contacts or control rows in your organisation, with their totals."""
    return service.response_cases(uow=uow)


@router.get(
    "/cases/{case_id}", response_model=CaseResponsesRead, dependencies=READ, responses=NOT_FOUND
)
def case_responses(
    case_id: int,
    uow: UowDep,
    con: WarehouseDep,
    by: Breakdown | None = None,
    recent: Annotated[int, Query(ge=0, le=service.MAX_RECENT)] = 20,
) -> CaseResponsesRead:
    """Exposed, responders, take-up and revenue per group (and per city, outlet, channel or
    offer), with the latest responses (numbers masked)."""
    return service.case_responses(uow=uow, case_id=case_id, by=by, recent=recent, con=con)


@router.get(
    "/cases/{case_id}/counts",
    response_model=list[ResponseCount],
    dependencies=READ,
    responses=NOT_FOUND,
)
def counts(case_id: int, uow: UowDep, by: Breakdown | None = None) -> list[ResponseCount]:
    """The read model alone: per group and breakdown key (what monitoring and evaluation use)."""
    return service.response_counts(uow=uow, case_id=case_id, by=by)


@router.put(
    "/cases/{case_id}/window", response_model=WindowRead, dependencies=MANAGE, responses=NOT_FOUND
)
def set_window(case_id: int, spec: WindowIn, uow: UowDep, settings: SettingsDep) -> WindowRead:
    """Set the case's attribution window in days (null: the default) and attribute again."""
    return service.set_window(
        uow=uow,
        case_id=case_id,
        days=spec.days,
        version=spec.version,
        directory=settings.resolved_targeting_dir,
    )
