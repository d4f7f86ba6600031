"""JSON routes of execution: load a run into the outbox, follow it, edit message templates.

Reading the outbox and templates needs execution:read and is org-scoped (a city
sees the rows of its outlets and itself; templates of cases it sees). Loading a
run (province-wide, like the run) and editing templates need execution:run.
Numbers are masked unless the caller may unmask and asks.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from telmark.auth.deps import CurrentPrincipal, ScopedWarehouseDep, require
from telmark.auth.permissions import Action
from telmark.errors import Forbidden
from telmark.execution import loading, service
from telmark.execution.domain import OutboxState
from telmark.execution.schemas import (
    LoadRead,
    OutboxPage,
    PreviewIn,
    PreviewRead,
    StateCount,
    TemplateIn,
    TemplateRead,
)
from telmark.privacy.service import may_unmask
from telmark.web.deps import SettingsDep, UowDep
from telmark.web.errors import ErrorRead

router = APIRouter(prefix="/api/execution", tags=["execution"])

READ = [require(Action.EXECUTION_READ)]
RUN = [require(Action.EXECUTION_RUN)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorRead, "description": "No such run, case or template."}
}


class TemplateSet(TemplateIn):
    channel: str


class TemplatePreview(PreviewIn):
    channel: str


@router.post(
    "/runs/{run_id}/load",
    response_model=LoadRead,
    status_code=status.HTTP_200_OK,
    dependencies=RUN,
    responses=NOT_FOUND,
)
def load_run(run_id: int, uow: UowDep, con: ScopedWarehouseDep, settings: SettingsDep) -> LoadRead:
    """Put the run's treatment contacts into the outbox; a repeat adds nothing."""
    return loading.load_run(
        uow=uow, con=con, run_id=run_id, directory=settings.resolved_targeting_dir
    )


@router.get("/outbox/counts", response_model=list[StateCount], dependencies=READ)
def counts(uow: UowDep, case_id: int | None = None, run_id: int | None = None) -> list[StateCount]:
    """Outbox rows by case, channel, city and state (your scope)."""
    return service.counts(uow=uow, case_id=case_id, run_id=run_id)


@router.get("/outbox", response_model=OutboxPage, dependencies=READ)
def list_rows(
    uow: UowDep,
    principal: CurrentPrincipal,
    case_id: int | None = None,
    state: OutboxState | None = None,
    channel: str | None = None,
    city_id: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = 50,
    unmask: bool = False,
) -> OutboxPage:
    """Outbox rows (your scope), numbers masked unless you may unmask and ask to."""
    if unmask and not may_unmask(principal):
        raise Forbidden("you may not see personal data in clear")
    return service.list_rows(
        uow=uow, case_id=case_id, state=state, channel=channel, city_id=city_id,
        page=page, page_size=page_size, unmask=unmask,
    )  # fmt: skip


@router.get(
    "/cases/{case_id}/templates",
    response_model=list[TemplateRead],
    dependencies=READ,
    responses=NOT_FOUND,
)
def list_templates(case_id: int, uow: UowDep) -> list[TemplateRead]:
    """The case's message templates, one per channel."""
    return service.list_templates(uow=uow, case_id=case_id)


@router.put(
    "/cases/{case_id}/templates",
    response_model=TemplateRead,
    dependencies=RUN,
    responses=NOT_FOUND,
)
def set_template(case_id: int, spec: TemplateSet, uow: UowDep) -> TemplateRead:
    """Save the case's message for a channel (its variables are checked first)."""
    return service.set_template(
        uow=uow,
        case_id=case_id,
        channel=spec.channel,
        spec=TemplateIn(body=spec.body, subject=spec.subject),
    )


@router.delete(
    "/cases/{case_id}/templates/{channel}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=RUN,
    responses=NOT_FOUND,
)
def delete_template(case_id: int, channel: str, uow: UowDep) -> None:
    """Remove the case's message for ``channel``."""
    service.delete_template(uow=uow, case_id=case_id, channel=channel)


@router.post(
    "/cases/{case_id}/templates/preview",
    response_model=PreviewRead,
    dependencies=READ,
    responses=NOT_FOUND,
)
def preview_template(
    case_id: int, spec: TemplatePreview, uow: UowDep, con: ScopedWarehouseDep, settings: SettingsDep
) -> PreviewRead:
    """Render a template for sample rows (a run's, or an example) before saving it."""
    return service.preview_template(
        uow=uow,
        con=con,
        case_id=case_id,
        channel=spec.channel,
        spec=PreviewIn(
            body=spec.body, subject=spec.subject, run_id=spec.run_id, samples=spec.samples
        ),
        directory=settings.resolved_targeting_dir,
    )
