"""Loading cases within the actor's scope, saving them under the optimistic lock,
recording the timeline, and the read models built from a row (see ``service``)."""

from __future__ import annotations

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.orm.exc import StaleDataError

from telmark.cases import domain
from telmark.cases.domain import (
    CaseAction,
    CaseLevel,
    CaseStatus,
)
from telmark.cases.models import Case, CaseIssue, CaseTransition
from telmark.cases.schemas import (
    ApprovalRead,
    CaseRead,
    CaseSummary,
    CheckpointIn,
    ClaimIn,
    KpiIn,
    LineRead,
)
from telmark.db import utcnow
from telmark.errors import Conflict, Forbidden, NotFound
from telmark.org.models import OrgUnit
from telmark.org.scope import visible
from telmark.uow import UnitOfWork


def unit_of(uow: UnitOfWork, code: str) -> OrgUnit:
    """The org unit ``code`` regardless of scope (the caller has already checked the case)."""
    unit = uow.session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    if unit is None:
        raise NotFound(f"org unit {code} not found")
    return unit


def visible_cases(uow: UnitOfWork) -> Select[Case]:
    """Cases of units in the actor's scope, and cases issued to a unit in it."""
    owner, receiver = aliased(OrgUnit), aliased(OrgUnit)
    issued_here = (
        select(CaseIssue.case_id)
        .join(receiver, receiver.code == CaseIssue.org_code)
        .where(visible(uow, receiver.path))
    )
    return (
        select(Case)
        .join(owner, owner.code == Case.org_code)
        .where(or_(visible(uow, owner.path), Case.id.in_(issued_here)))
    )


def get_case_row(uow: UnitOfWork, case_id: int) -> Case:
    case = uow.session.scalar(visible_cases(uow).where(Case.id == case_id))
    if case is None:
        raise NotFound(f"case {case_id} not found", details=[{"field": "case_id"}])
    return case


def managed(uow: UnitOfWork, case_id: int) -> tuple[Case, OrgUnit]:
    """A case the actor may change: visible, and its own unit within the actor's scope."""
    case = get_case_row(uow, case_id)
    unit = unit_of(uow, case.org_code)
    scope = uow.actor.scope_path
    if scope is not None and not unit.path.startswith(scope):
        raise Forbidden(f"case {case.code} belongs to {unit.code}: it is changed there")
    return case, unit


def check_version(case: Case, version: int | None) -> None:
    if version is not None and version != case.version:
        raise Conflict(
            f"case {case.code} is at version {case.version}, not {version}: it was changed "
            "meanwhile; reload it and try again",
            details=[{"field": "version", "current": case.version}],
        )


def save(uow: UnitOfWork, case: Case) -> None:
    """Flush the case under its optimistic lock; Conflict if another change came first."""
    case.updated_at = utcnow()  # every action is a change, so the version always moves
    try:
        uow.session.flush()
    except StaleDataError:
        uow.rollback()
        raise Conflict(
            f"case {case.code} was changed by someone else meanwhile; reload it and try again",
            details=[{"field": "version"}],
        ) from None


def record(
    uow: UnitOfWork,
    case: Case,
    action: CaseAction,
    before: CaseStatus | None,
    *,
    level: CaseLevel | None = None,
    comment: str = "",
) -> None:
    uow.session.add(
        CaseTransition(
            case_id=case.id,
            seq=case.version,
            action=action.value,
            from_status=before,
            to_status=case.status,
            level=level,
            submission=case.submission,
            comment=comment.strip(),
            actor=uow.actor.username,
        )
    )
    uow.session.flush()


def approvals(uow: UnitOfWork, case: Case) -> list[CaseTransition]:
    """This submission's level approvals, in order."""
    return list(
        uow.session.scalars(
            select(CaseTransition)
            .where(
                CaseTransition.case_id == case.id,
                CaseTransition.submission == case.submission,
                CaseTransition.action == CaseAction.APPROVE.value,
            )
            .order_by(CaseTransition.seq)
        )
    )


def route(case: Case) -> list[CaseLevel]:
    return [CaseLevel(v) for v in case.approval_levels]


def pending(uow: UnitOfWork, case: Case) -> CaseLevel | None:
    if case.status is not CaseStatus.SUBMITTED:
        return None
    done = [t.level for t in approvals(uow, case) if t.level is not None]
    return domain.pending_level(route(case), done)


def summary(uow: UnitOfWork, case: Case) -> CaseSummary:
    return CaseSummary(
        id=case.id,
        code=case.code,
        name=case.name,
        owner=case.owner,
        level=case.level,
        org_code=case.org_code,
        objective=case.objective,
        status=case.status,
        version=case.version,
        priority=case.priority,
        budget_fen=case.budget_fen,
        starts_on=case.starts_on,
        ends_on=case.ends_on,
        pending_level=pending(uow, case),
        updated_at=case.updated_at,
    )


def read(uow: UnitOfWork, case: Case) -> CaseRead:
    given = approvals(uow, case) if case.submission else []
    return CaseRead(
        **summary(uow, case).model_dump(),
        template=case.template,
        hypothesis=case.hypothesis,
        claim=None if case.claim is None else ClaimIn.model_validate(case.claim),
        snapshot_id=case.snapshot_id,
        lines=[LineRead.model_validate(line) for line in case.lines],
        channels=list(case.channels),
        horizon_months=case.horizon_months,
        checkpoints=[CheckpointIn.model_validate(c) for c in case.checkpoints],
        kpis=[KpiIn.model_validate(k) for k in case.kpis],
        holdout_bp=case.holdout_bp,
        business_weight_bp=case.business_weight_bp,
        submission=case.submission,
        approval_route=route(case),
        approvals=[
            ApprovalRead(level=t.level, actor=t.actor, comment=t.comment, at=t.created_at)
            for t in given
            if t.level is not None
        ],
        submitted_by=case.submitted_by,
        next_actions=domain.actions_from(case.status),
        created_by=case.created_by,
        created_at=case.created_at,
    )
