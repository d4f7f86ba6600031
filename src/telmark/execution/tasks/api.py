"""JSON routes of front-line tasks (``/api/tasks``).

Listing and reading tasks needs tasks:work (the front line) or tasks:manage
(their managers); recording an outcome and revealing the number to call need
tasks:work; completion reports, reassigning and cancelling need tasks:manage,
and generating tasks from a run needs tasks:manage at the province. Every
route sees only the tasks of the caller's unit and below (404 otherwise).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from telmark.auth.deps import CurrentPrincipal, require
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.errors import Forbidden
from telmark.execution.tasks import service
from telmark.execution.tasks.domain import Dimension, View
from telmark.execution.tasks.schemas import (
    CancelIn,
    CaseChoice,
    ContactRead,
    GenerateIn,
    GenerateRead,
    OutcomeIn,
    ReassignIn,
    ReportRead,
    TaskPage,
    TaskRead,
)
from telmark.privacy.service import may_unmask
from telmark.web.deps import SettingsDep, UowDep, WarehouseDep
from telmark.web.errors import ErrorRead

router = APIRouter(prefix="/api/tasks", tags=["tasks"])


def task_reader(principal: CurrentPrincipal) -> Principal:
    """The caller, if they work tasks or manage those who do."""
    if not (principal.can(Action.TASK_WORK) or principal.can(Action.TASK_MANAGE)):
        raise Forbidden(f"your roles do not allow {Action.TASK_WORK} or {Action.TASK_MANAGE}")
    return principal


READ = [Depends(task_reader)]
WORK = [require(Action.TASK_WORK)]
MANAGE = [require(Action.TASK_MANAGE)]
Worker = Annotated[Principal, require(Action.TASK_WORK)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorRead, "description": "No such task in your organisation."}
}
CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    409: {"model": ErrorRead, "description": "Changed meanwhile, or not allowed in its state."},
    422: {"model": ErrorRead, "description": "Invalid input: details name the field."},
}


@router.get("", response_model=TaskPage, dependencies=READ)
def list_tasks(
    uow: UowDep,
    con: WarehouseDep,
    view: View = View.OPEN,
    case_id: int | None = None,
    org_code: str | None = None,
    staff_code: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
) -> TaskPage:
    """Your tasks (your unit and below): open by due day, overdue, done, or all."""
    return service.list_tasks(
        uow=uow, view=view, case_id=case_id, org_code=org_code, staff_code=staff_code,
        offset=offset, limit=limit, con=con,
    )  # fmt: skip


@router.get("/cases", response_model=list[CaseChoice], dependencies=READ)
def task_cases(uow: UowDep) -> list[CaseChoice]:
    """The marketing cases that have tasks in your organisation."""
    return service.task_cases(uow=uow)


@router.get("/report", response_model=ReportRead, dependencies=MANAGE)
def report(uow: UowDep, case_id: int | None = None, by: Dimension = Dimension.UNIT) -> ReportRead:
    """Completion per unit, city, person or recorder: assigned, done, outcomes, overdue, rate."""
    return service.report(uow=uow, case_id=case_id, by=by)


@router.post("/generate", response_model=GenerateRead, dependencies=MANAGE)
def generate(spec: GenerateIn, uow: UowDep, settings: SettingsDep) -> GenerateRead:
    """Create the tasks of a complete run's front-line contacts; a rerun creates nothing new."""
    return service.generate(
        uow=uow,
        run_id=spec.run_id,
        directory=settings.resolved_targeting_dir,
        sla_days=settings.task_due_days,
    )


@router.get("/{task_id}", response_model=TaskRead, dependencies=READ, responses=NOT_FOUND)
def get_task(task_id: int, uow: UowDep, con: WarehouseDep) -> TaskRead:
    """One task with its history."""
    return service.get_task(uow=uow, task_id=task_id, con=con)


@router.get("/{task_id}/contact", response_model=ContactRead, responses=NOT_FOUND)
def contact(
    task_id: int, uow: UowDep, con: WarehouseDep, principal: Worker, unmask: bool = False
) -> ContactRead:
    """The number to call: masked, or in clear (``unmask``; audited) for those who may."""
    if unmask and not may_unmask(principal):
        raise Forbidden("you may not see personal data unmasked")
    return service.contact(uow=uow, con=con, task_id=task_id, unmask=unmask)


@router.post(
    "/{task_id}/outcome", response_model=TaskRead, dependencies=WORK, responses=CHANGE_ERRORS
)
def record_outcome(task_id: int, spec: OutcomeIn, uow: UowDep) -> TaskRead:
    """Record the outcome of an open task; a done task is refused (409: correct it instead)."""
    return service.record_outcome(uow=uow, task_id=task_id, spec=spec)


@router.post(
    "/{task_id}/correction", response_model=TaskRead, dependencies=READ, responses=CHANGE_ERRORS
)
def correct_outcome(task_id: int, spec: OutcomeIn, uow: UowDep) -> TaskRead:
    """Correct a done task's outcome (a note is required; the history keeps the old one)."""
    return service.correct_outcome(uow=uow, task_id=task_id, spec=spec)


@router.post(
    "/{task_id}/reassign", response_model=TaskRead, dependencies=MANAGE, responses=CHANGE_ERRORS
)
def reassign(task_id: int, spec: ReassignIn, uow: UowDep) -> TaskRead:
    """Give an open task to another unit or member of staff in your organisation."""
    return service.reassign(uow=uow, task_id=task_id, spec=spec)


@router.post(
    "/{task_id}/cancel", response_model=TaskRead, dependencies=MANAGE, responses=CHANGE_ERRORS
)
def cancel(task_id: int, spec: CancelIn, uow: UowDep) -> TaskRead:
    """Withdraw an open task (a note says why)."""
    return service.cancel(uow=uow, task_id=task_id, spec=spec)
