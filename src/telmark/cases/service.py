"""Marketing cases: the life cycle (submit, approve, reject, run), lists, the timeline,
the approver's inbox, and the inputs of a targeting run.

Every change goes through ``save``: the case row carries an optimistic lock
(``Case.version``), so two requests acting on the same version resolve to one
change and a Conflict. Each action then appends one ``CaseTransition`` (the
timeline) whose ``seq`` is the case's new version (``telmark.cases.access``).
Creating, editing and projecting live in ``telmark.cases.planning``; issuing
down the organisation and alerts in ``telmark.cases.issuing``.

Scope: a case is visible to the users of its unit and above, and to the users
of units it was issued to (``access.visible_cases``); changing it (edit, submit, run)
needs its own unit to lie within the actor's scope, so a city that received a
province case can acknowledge and localise its part but not edit the case.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ibis.backends import BaseBackend
from sqlalchemy import select

from telmark.cases import domain
from telmark.cases.access import (
    approvals,
    check_version,
    get_case_row,
    managed,
    pending,
    read,
    record,
    route,
    save,
    summary,
    unit_of,
    visible_cases,
)
from telmark.cases.domain import (
    CaseAction,
    CaseLevel,
    CaseStatus,
    CaseTargeting,
)
from telmark.cases.models import Case, CaseIssue, CaseTransition
from telmark.cases.planning import live_projection
from telmark.cases.schemas import (
    ActionIn,
    CaseRead,
    CaseSummary,
    InboxItem,
    TransitionRead,
)
from telmark.config import get_settings
from telmark.consent.domain import Channel
from telmark.db import utcnow
from telmark.errors import InvalidInput, InvalidTransition
from telmark.evaluation.cases.models import CaseEvaluation
from telmark.offers import service as offers
from telmark.offers.domain import OfferStatus
from telmark.uow import UnitOfWork


def list_cases(
    *, uow: UnitOfWork, status: CaseStatus | None = None, limit: int = 200
) -> list[CaseSummary]:
    """Cases the actor sees, most recently changed first."""
    stmt = visible_cases(uow).order_by(Case.updated_at.desc(), Case.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(Case.status == status)
    return [summary(uow, c) for c in uow.session.scalars(stmt)]


def timeline(*, uow: UnitOfWork, case_id: int) -> list[TransitionRead]:
    """Every action on the case, oldest first."""
    case = get_case_row(uow, case_id)
    rows = uow.session.scalars(
        select(CaseTransition).where(CaseTransition.case_id == case.id).order_by(CaseTransition.seq)
    )
    return [TransitionRead.model_validate(r) for r in rows]


def inbox(*, uow: UnitOfWork) -> list[InboxItem]:
    """Submitted cases waiting for an approval the actor may give (never their own)."""
    scope = uow.actor.scope_path
    items: list[InboxItem] = []
    stmt = visible_cases(uow).where(Case.status == CaseStatus.SUBMITTED).order_by(Case.id)
    for case in uow.session.scalars(stmt):
        waiting = pending(uow, case)
        if waiting is None or case.submitted_by == uow.actor.username:
            continue
        acting = domain.approver_level(
            approver_scope=scope,
            case_level=case.level,
            case_org_path=unit_of(uow, case.org_code).path,
        )
        if acting is waiting:
            items.append(
                InboxItem(
                    case=summary(uow, case),
                    waiting_level=waiting,
                    submitted_by=case.submitted_by,
                )
            )
    return items


# --- the life cycle -----------------------------------------------------------------------


def _act(case: Case, action: CaseAction, body: ActionIn | None) -> tuple[CaseStatus, CaseStatus]:
    """Check the version and the transition table; the (from, to) statuses."""
    check_version(case, None if body is None else body.version)
    before = case.status
    return before, domain.transition(before, action)


def _finish(
    uow: UnitOfWork,
    case: Case,
    action: CaseAction,
    before: CaseStatus,
    *,
    level: CaseLevel | None = None,
    comment: str = "",
) -> CaseRead:
    save(uow, case)
    record(uow, case, action, before, level=level, comment=comment)
    result = read(uow, case)
    uow.commit()
    return result


def submit(*, uow: UnitOfWork, case_id: int, body: ActionIn | None = None) -> CaseRead:
    """Send a draft for approval along its route (city, and province above the threshold)."""
    case, _ = managed(uow, case_id)
    before, to = _act(case, CaseAction.SUBMIT, body)
    problems: list[dict[str, object]] = []
    if case.snapshot_id is None:
        problems.append({"field": "snapshot_id", "reason": "choose a segment snapshot"})
    if not case.lines:
        problems.append({"field": "lines", "reason": "add at least one offer and channel"})
    for i, line in enumerate(case.lines):
        if offers.get_offer(uow=uow, code=line["offer_code"]).status is OfferStatus.RETIRED:
            problems.append({"field": f"lines[{i}].offer_code", "reason": "offer retired"})
    if problems:
        raise InvalidInput(
            f"the case is not ready to submit: {problems[0]['field']}: {problems[0]['reason']}",
            details=problems,
        )
    case.approval_levels = [
        level.value
        for level in domain.approval_route(
            case.level,
            budget_fen=case.budget_fen,
            province_threshold_fen=get_settings().case_province_approval_fen,
        )
    ]
    case.submission += 1
    case.submitted_by = uow.actor.username
    case.status = to
    return _finish(
        uow, case, CaseAction.SUBMIT, before, comment="" if body is None else body.comment
    )


def withdraw(*, uow: UnitOfWork, case_id: int, body: ActionIn | None = None) -> CaseRead:
    """Take a submitted case back to draft (its approvals so far no longer count)."""
    case, _ = managed(uow, case_id)
    before, case.status = _act(case, CaseAction.WITHDRAW, body)
    return _finish(
        uow, case, CaseAction.WITHDRAW, before, comment="" if body is None else body.comment
    )


def _decide(
    uow: UnitOfWork, case_id: int, action: CaseAction, body: ActionIn | None
) -> tuple[Case, CaseStatus, CaseStatus, CaseLevel]:
    case = get_case_row(uow, case_id)
    before, to = _act(case, action, body)
    done = [t.level for t in approvals(uow, case) if t.level is not None]
    acting = domain.approver_level(
        approver_scope=uow.actor.scope_path,
        case_level=case.level,
        case_org_path=unit_of(uow, case.org_code).path,
    )
    level = domain.check_approval(
        route=route(case),
        done=done,
        acting=acting,
        approver=uow.actor.username,
        submitter=case.submitted_by,
    )
    return case, before, to, level


def approve(
    *,
    uow: UnitOfWork,
    case_id: int,
    body: ActionIn | None = None,
    con: BaseBackend | None = None,
    directory: Path | None = None,
) -> CaseRead:
    """Approve at the actor's level; the last level approves the case and freezes its
    projection (stored, never recomputed afterwards)."""
    case, before, to, level = _decide(uow, case_id, CaseAction.APPROVE, body)
    done = [t.level for t in approvals(uow, case) if t.level is not None] + [level]
    if domain.pending_level(route(case), done) is None:
        frozen = live_projection(uow, case, con, directory)
        case.frozen_projection = frozen.model_dump(mode="json")
        case.frozen_at = utcnow()
        case.status = to
    comment = "" if body is None else body.comment
    return _finish(uow, case, CaseAction.APPROVE, before, level=level, comment=comment)


def reject(*, uow: UnitOfWork, case_id: int, body: ActionIn) -> CaseRead:
    """Reject at the actor's level, with the comment the owner reworks the case from."""
    if not body.comment.strip():
        raise InvalidInput("comment: say why the case is rejected", details=[{"field": "comment"}])
    case, before, to, level = _decide(uow, case_id, CaseAction.REJECT, body)
    case.status = to
    return _finish(uow, case, CaseAction.REJECT, before, level=level, comment=body.comment)


def _simple(action: CaseAction, uow: UnitOfWork, case_id: int, body: ActionIn | None) -> CaseRead:
    case, _ = managed(uow, case_id)
    before, case.status = _act(case, action, body)
    return _finish(uow, case, action, before, comment="" if body is None else body.comment)


def rework(*, uow: UnitOfWork, case_id: int, body: ActionIn | None = None) -> CaseRead:
    """Take a rejected case back to draft to address the comments."""
    return _simple(CaseAction.REWORK, uow, case_id, body)


def schedule(*, uow: UnitOfWork, case_id: int, body: ActionIn | None = None) -> CaseRead:
    """Put an approved case on the calendar."""
    return _simple(CaseAction.SCHEDULE, uow, case_id, body)


def start(*, uow: UnitOfWork, case_id: int, body: ActionIn | None = None) -> CaseRead:
    """Start a scheduled or issued case."""
    return _simple(CaseAction.START, uow, case_id, body)


def pause(*, uow: UnitOfWork, case_id: int, body: ActionIn | None = None) -> CaseRead:
    """Pause a running case."""
    return _simple(CaseAction.PAUSE, uow, case_id, body)


def resume(*, uow: UnitOfWork, case_id: int, body: ActionIn | None = None) -> CaseRead:
    """Resume a paused case."""
    return _simple(CaseAction.RESUME, uow, case_id, body)


def complete(*, uow: UnitOfWork, case_id: int, body: ActionIn | None = None) -> CaseRead:
    """Mark a running (or paused) case completed."""
    return _simple(CaseAction.COMPLETE, uow, case_id, body)


def evaluate(*, uow: UnitOfWork, case_id: int, body: ActionIn | None = None) -> CaseRead:
    """Mark a completed case evaluated: only with an evaluation recorded (evaluation.cases)."""
    case, _ = managed(uow, case_id)
    domain.transition(case.status, CaseAction.EVALUATE)  # a case not completed: that error
    recorded = uow.session.scalar(
        select(CaseEvaluation.id).where(CaseEvaluation.case_id == case.id).limit(1)
    )
    if recorded is None:
        raise InvalidTransition(
            f"case {case.code} has no recorded evaluation: record one first "
            f"(telmark evaluate case {case.id} --record, or its evaluation page)"
        )
    return _simple(CaseAction.EVALUATE, uow, case_id, body)


def close(*, uow: UnitOfWork, case_id: int, body: ActionIn | None = None) -> CaseRead:
    """Close an evaluated case for good."""
    return _simple(CaseAction.CLOSE, uow, case_id, body)


def cancel(*, uow: UnitOfWork, case_id: int, body: ActionIn | None = None) -> CaseRead:
    """Cancel a case that has not finished."""
    return _simple(CaseAction.CANCEL, uow, case_id, body)


LIFE_CYCLE = {
    CaseAction.WITHDRAW: withdraw,
    CaseAction.REWORK: rework,
    CaseAction.SCHEDULE: schedule,
    CaseAction.START: start,
    CaseAction.PAUSE: pause,
    CaseAction.RESUME: resume,
    CaseAction.COMPLETE: complete,
    CaseAction.EVALUATE: evaluate,
    CaseAction.CLOSE: close,
    CaseAction.CANCEL: cancel,
}


# --- what targeting needs -----------------------------------------------------------------


def targeting_inputs(
    *, uow: UnitOfWork, case_ids: Sequence[int] | None = None
) -> list[CaseTargeting]:
    """The cases a targeting run works on: the given ones, or every scheduled, issued or
    running case the actor sees; InvalidInput for a given case without a snapshot."""
    stmt = visible_cases(uow).order_by(Case.id)
    if case_ids is None:
        stmt = stmt.where(Case.status.in_(domain.TARGETABLE))
        rows = list(uow.session.scalars(stmt))
    else:
        rows = [get_case_row(uow, case_id) for case_id in dict.fromkeys(case_ids)]
    result: list[CaseTargeting] = []
    for case in rows:
        if case.snapshot_id is None:
            if case_ids is None:
                continue  # cannot happen past submit; skipped rather than failing the run
            raise InvalidInput(
                f"case {case.code} has no segment snapshot", details=[{"field": "case_ids"}]
            )
        result.append(
            CaseTargeting(
                case_id=case.id,
                code=case.code,
                org_path=unit_of(uow, case.org_code).path,
                priority=case.priority,
                business_weight_bp=case.business_weight_bp,
                snapshot_id=case.snapshot_id,
                offer_codes=tuple(dict.fromkeys(line["offer_code"] for line in case.lines)),
                channels=tuple(Channel(c).value for c in case.channels),
                holdout_bp=case.holdout_bp,
                starts_on=case.starts_on,
                ends_on=case.ends_on,
                local_rules=_local_rules(uow, case.id),
                local_channels=_local_channels(uow, case.id),
            )
        )
    return result


def _local_channels(
    uow: UnitOfWork, case_id: int
) -> tuple[tuple[str, tuple[tuple[str, int], ...]], ...]:
    """Each unit's local channel mix (``issuing.localise``), in unit order."""
    rows = uow.session.execute(
        select(CaseIssue.org_code, CaseIssue.local_channels)
        .where(CaseIssue.case_id == case_id)
        .order_by(CaseIssue.org_code)
    ).all()
    return tuple(
        (org, tuple((str(c["channel"]), int(c["share_bp"])) for c in mix))
        for org, mix in rows
        if mix
    )


def _local_rules(uow: UnitOfWork, case_id: int) -> tuple[tuple[str, str], ...]:
    """Each unit's local narrowing of the case, as canonical JSON (the run's fingerprint
    changes when a rule does), in unit order."""
    rows = uow.session.execute(
        select(CaseIssue.org_code, CaseIssue.local_rule)
        .where(CaseIssue.case_id == case_id, CaseIssue.local_rule.is_not(None))
        .order_by(CaseIssue.org_code)
    ).all()
    return tuple(
        (org, json.dumps(rule, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
        for org, rule in rows
    )
