"""JSON routes of marketing cases: create/edit, projection, the life cycle, approval,
issuing down the organisation, acknowledgement, timeline, inbox and alerts.

Reading needs cases:read (and org scope: a unit's own cases and those issued to
it); drafting and running needs cases:manage; approving needs cases:approve (at
the approver's own level); issuing, localising and re-issuing need cases:issue;
acknowledging needs cases:acknowledge. Every action takes an optional
``version``: a stale one (or a lost race) answers 409.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from telmark.auth.deps import ScopedWarehouseDep, require
from telmark.auth.permissions import Action
from telmark.cases import issuing, planning, service
from telmark.cases.domain import AlertStatus, CaseAction, CaseStatus
from telmark.cases.schemas import (
    ActionIn,
    AlertRead,
    CaseCreate,
    CaseDetail,
    CaseRead,
    CaseSummary,
    CaseUpdate,
    FromTemplate,
    InboxItem,
    IssueIn,
    IssueRead,
    LocaliseIn,
    ProjectionRead,
    ReissueIn,
    RejectIn,
    ScanRead,
    TemplateRead,
    TransitionRead,
)
from telmark.db import utcnow
from telmark.errors import Forbidden
from telmark.org.domain import is_root_path
from telmark.web.deps import SettingsDep, UowDep
from telmark.web.errors import ErrorRead

router = APIRouter(tags=["cases"])

READ = [require(Action.CASE_READ)]
MANAGE = [require(Action.CASE_MANAGE)]
APPROVE = [require(Action.CASE_APPROVE)]
ISSUE = [require(Action.CASE_ISSUE)]
ACK = [require(Action.CASE_ACKNOWLEDGE)]

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorRead, "description": "No such case in your scope."}
}
INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorRead, "description": "Invalid input: details name the fields."}
}
ACTION: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    **INVALID,
    403: {"model": ErrorRead, "description": "Not yours to do (scope, level or own case)."},
    409: {
        "model": ErrorRead,
        "description": "Wrong status (details name from/to), or changed meanwhile (version).",
    },
}


@router.get("/api/cases", response_model=list[CaseSummary], dependencies=READ)
def list_cases(uow: UowDep, status: CaseStatus | None = None) -> list[CaseSummary]:
    """Cases in your scope (and province cases issued to it), most recently changed first."""
    return service.list_cases(uow=uow, status=status)


@router.post(
    "/api/cases",
    response_model=CaseDetail,
    status_code=status.HTTP_201_CREATED,
    dependencies=MANAGE,
    responses=ACTION,
)
def create_case(
    body: CaseCreate, uow: UowDep, con: ScopedWarehouseDep, settings: SettingsDep
) -> CaseDetail:
    """Save a blank draft case (with its live projection)."""
    return planning.create_case(
        uow=uow, spec=body, con=con, directory=settings.resolved_snapshot_dir
    )


@router.get("/api/cases/templates", response_model=list[TemplateRead], dependencies=READ)
def list_templates() -> list[TemplateRead]:
    """Templates for common cases."""
    return planning.list_templates()


@router.post(
    "/api/cases/from-template",
    response_model=CaseDetail,
    status_code=status.HTTP_201_CREATED,
    dependencies=MANAGE,
    responses=ACTION,
)
def create_from_template(
    body: FromTemplate, uow: UowDep, con: ScopedWarehouseDep, settings: SettingsDep
) -> CaseDetail:
    """Save a draft filled from a template (KPI targets from its projection)."""
    return planning.create_from_template(
        uow=uow, spec=body, con=con, directory=settings.resolved_snapshot_dir
    )


@router.get("/api/cases/inbox", response_model=list[InboxItem], dependencies=APPROVE)
def inbox(uow: UowDep) -> list[InboxItem]:
    """Submitted cases waiting for your approval (at your level; never your own)."""
    return service.inbox(uow=uow)


@router.get("/api/cases/alerts", response_model=list[AlertRead], dependencies=READ)
def list_alerts(uow: UowDep, status: AlertStatus | None = None) -> list[AlertRead]:
    """Alerts on issues in your scope, newest first."""
    return issuing.list_alerts(uow=uow, status=status)


@router.post(
    "/api/cases/alerts/scan",
    response_model=ScanRead,
    dependencies=ISSUE,
    responses={403: {"model": ErrorRead, "description": "Only at the province."}},
)
def scan_alerts(uow: UowDep) -> ScanRead:
    """Raise an alert for every issue not acknowledged by its deadline (idempotent)."""
    scope = uow.actor.scope_path
    if scope is not None and not is_root_path(scope):
        raise Forbidden("the overdue scan covers the province: run it at the province")
    return issuing.overdue_issues(uow=uow, now=utcnow())


@router.post(
    "/api/cases/alerts/{alert_id}/acknowledge",
    response_model=AlertRead,
    dependencies=ISSUE,
    responses=ACTION,
)
def acknowledge_alert(alert_id: int, uow: UowDep) -> AlertRead:
    """Note that an open alert is being followed up."""
    return issuing.acknowledge_alert(uow=uow, alert_id=alert_id)


@router.post(
    "/api/cases/issues/{issue_id}/acknowledge",
    response_model=IssueRead,
    dependencies=ACK,
    responses=ACTION,
)
def acknowledge_issue(issue_id: int, uow: UowDep) -> IssueRead:
    """Confirm your unit received its part of a case (resolves an overdue alert)."""
    return issuing.acknowledge(uow=uow, issue_id=issue_id)


@router.post(
    "/api/cases/issues/{issue_id}/localise",
    response_model=IssueRead,
    dependencies=ISSUE,
    responses=ACTION,
)
def localise(issue_id: int, body: LocaliseIn, uow: UowDep) -> IssueRead:
    """Narrow your part with a rule, name outlets, set the local channel mix."""
    return issuing.localise(uow=uow, issue_id=issue_id, spec=body)


@router.post(
    "/api/cases/issues/{issue_id}/reissue",
    response_model=list[IssueRead],
    status_code=status.HTTP_201_CREATED,
    dependencies=ISSUE,
    responses=ACTION,
)
def reissue(
    issue_id: int, body: ReissueIn, uow: UowDep, con: ScopedWarehouseDep, settings: SettingsDep
) -> list[IssueRead]:
    """Pass your part on to outlets or account managers (targets sum to your part)."""
    return issuing.reissue(
        uow=uow, issue_id=issue_id, spec=body, con=con, directory=settings.resolved_snapshot_dir
    )


@router.get(
    "/api/cases/{case_id}", response_model=CaseDetail, dependencies=READ, responses=NOT_FOUND
)
def get_case(
    case_id: int, uow: UowDep, con: ScopedWarehouseDep, settings: SettingsDep
) -> CaseDetail:
    """One case with its projection (live until approval, frozen after)."""
    return planning.get_case(
        uow=uow, case_id=case_id, con=con, directory=settings.resolved_snapshot_dir
    )


@router.put(
    "/api/cases/{case_id}", response_model=CaseDetail, dependencies=MANAGE, responses=ACTION
)
def update_case(
    case_id: int, body: CaseUpdate, uow: UowDep, con: ScopedWarehouseDep, settings: SettingsDep
) -> CaseDetail:
    """Replace a draft's plan; the projection is recomputed."""
    return planning.update_case(
        uow=uow, case_id=case_id, spec=body, con=con, directory=settings.resolved_snapshot_dir
    )


@router.get(
    "/api/cases/{case_id}/projection",
    response_model=ProjectionRead,
    dependencies=READ,
    responses=NOT_FOUND,
)
def projection(
    case_id: int, uow: UowDep, con: ScopedWarehouseDep, settings: SettingsDep
) -> ProjectionRead:
    """Revenue projection: totals, per line, monthly series and take-up sensitivity."""
    return planning.case_projection(
        uow=uow, case_id=case_id, con=con, directory=settings.resolved_snapshot_dir
    )


@router.get(
    "/api/cases/{case_id}/timeline",
    response_model=list[TransitionRead],
    dependencies=READ,
    responses=NOT_FOUND,
)
def timeline(case_id: int, uow: UowDep) -> list[TransitionRead]:
    """Every action on the case, oldest first."""
    return service.timeline(uow=uow, case_id=case_id)


@router.get(
    "/api/cases/{case_id}/issues",
    response_model=list[IssueRead],
    dependencies=READ,
    responses=NOT_FOUND,
)
def issues(case_id: int, uow: UowDep) -> list[IssueRead]:
    """The issue tree of the case (the parts you see)."""
    return issuing.issue_tree(uow=uow, case_id=case_id)


@router.post(
    "/api/cases/{case_id}/submit", response_model=CaseRead, dependencies=MANAGE, responses=ACTION
)
def submit(case_id: int, uow: UowDep, body: ActionIn | None = None) -> CaseRead:
    """Send a draft for approval (city; and province above the budget threshold)."""
    return service.submit(uow=uow, case_id=case_id, body=body)


@router.post(
    "/api/cases/{case_id}/approve", response_model=CaseRead, dependencies=APPROVE, responses=ACTION
)
def approve(
    case_id: int,
    uow: UowDep,
    con: ScopedWarehouseDep,
    settings: SettingsDep,
    body: ActionIn | None = None,
) -> CaseRead:
    """Approve at your level; the last level approves the case and freezes its projection."""
    return service.approve(
        uow=uow, case_id=case_id, body=body, con=con, directory=settings.resolved_snapshot_dir
    )


@router.post(
    "/api/cases/{case_id}/reject", response_model=CaseRead, dependencies=APPROVE, responses=ACTION
)
def reject(case_id: int, body: RejectIn, uow: UowDep) -> CaseRead:
    """Reject at your level, with the comment the owner reworks the case from."""
    return service.reject(uow=uow, case_id=case_id, body=body)


@router.post(
    "/api/cases/{case_id}/issue", response_model=CaseRead, dependencies=ISSUE, responses=ACTION
)
def issue(
    case_id: int,
    uow: UowDep,
    con: ScopedWarehouseDep,
    settings: SettingsDep,
    body: IssueIn | None = None,
) -> CaseRead:
    """Issue a scheduled case to the units below (split by base size, or by hand)."""
    return issuing.issue(
        uow=uow,
        case_id=case_id,
        spec=body or IssueIn(),
        con=con,
        directory=settings.resolved_snapshot_dir,
    )


def _life_cycle_route(action: CaseAction) -> None:
    run = service.LIFE_CYCLE[action]

    def endpoint(case_id: int, uow: UowDep, body: ActionIn | None = None) -> CaseRead:
        return run(uow=uow, case_id=case_id, body=body)

    endpoint.__name__ = f"{action.value}_case"
    endpoint.__doc__ = run.__doc__
    router.add_api_route(
        f"/api/cases/{{case_id}}/{action.value}",
        endpoint,
        methods=["POST"],
        response_model=CaseRead,
        dependencies=MANAGE,
        responses=ACTION,
        summary=f"{action.value.capitalize()} a case",
    )


for _action in service.LIFE_CYCLE:
    _life_cycle_route(_action)
