"""What every case page shares: the rights, the label tables, the buttons a user may press,
and loading a case before a form is looked at."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse

from telmark.auth.deps import require
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.cases import planning
from telmark.cases.domain import (
    ACTION_LABELS,
    ALERT_STATUS_LABELS,
    ISSUE_STATUS_LABELS,
    LEVEL_LABELS,
    METRIC_LABELS,
    OBJECTIVE_LABELS,
    STATUS_LABELS,
    CaseAction,
    CaseStatus,
)
from telmark.cases.schemas import CaseRead
from telmark.consent.domain import CONTACT_CHANNELS
from telmark.consent.pages import CHANNEL_LABELS
from telmark.org.domain import is_root_path
from telmark.targeting.domain import RUN_STATUS_LABELS
from telmark.translation import N_
from telmark.uow import UnitOfWork

Reader = Annotated[Principal, require(Action.CASE_READ)]
Manager = Annotated[Principal, require(Action.CASE_MANAGE)]
Approver = Annotated[Principal, require(Action.CASE_APPROVE)]
Runner = Annotated[Principal, require(Action.TARGETING_RUN)]
MANAGE = [require(Action.CASE_MANAGE)]
APPROVE = [require(Action.CASE_APPROVE)]
ISSUE = [require(Action.CASE_ISSUE)]
ACK = [require(Action.CASE_ACKNOWLEDGE)]

# Life-cycle buttons the case page offers (approval and issuing have their own forms).
BUTTONS = (
    CaseAction.SUBMIT, CaseAction.WITHDRAW, CaseAction.REWORK, CaseAction.SCHEDULE,
    CaseAction.START, CaseAction.PAUSE, CaseAction.RESUME, CaseAction.COMPLETE,
    CaseAction.EVALUATE, CaseAction.CLOSE, CaseAction.CANCEL,
)  # fmt: skip
BUTTON_LABELS = {
    CaseAction.SUBMIT: N_("Submit for approval"),
    CaseAction.WITHDRAW: N_("Withdraw"),
    CaseAction.REWORK: N_("Rework"),
    CaseAction.SCHEDULE: N_("Schedule"),
    CaseAction.START: N_("Start"),
    CaseAction.PAUSE: N_("Pause"),
    CaseAction.RESUME: N_("Resume"),
    CaseAction.COMPLETE: N_("Complete"),
    CaseAction.EVALUATE: N_("Mark evaluated"),
    CaseAction.CLOSE: N_("Close"),
    CaseAction.CANCEL: N_("Call off"),
}
STATUS_TONES = {
    CaseStatus.DRAFT: "neutral",
    CaseStatus.SUBMITTED: "wait",
    CaseStatus.APPROVED: "ok",
    CaseStatus.REJECTED: "bad",
    CaseStatus.SCHEDULED: "ok",
    CaseStatus.ISSUED: "ok",
    CaseStatus.RUNNING: "run",
    CaseStatus.PAUSED: "wait",
    CaseStatus.COMPLETED: "off",
    CaseStatus.EVALUATED: "off",
    CaseStatus.CLOSED: "off",
    CaseStatus.CANCELLED: "bad",
}
DONE_MESSAGES = {
    "created": N_("The case was saved as a draft."),
    "saved": N_("The draft was saved."),
    "issued": N_("The case was issued; each unit has its target and an acknowledgement deadline."),
    "acknowledged": N_("Receipt acknowledged."),
    "localised": N_("Your unit's local settings were saved."),
    "reissued": N_("Your part was passed on."),
    "followed": N_("The alert is marked as being followed up."),
    "approved": N_("Your approval was recorded."),
    "rejected": N_("The case was rejected; its owner sees your comment."),
    **{a.value: ACTION_LABELS[a] for a in BUTTONS},
}


async def form_fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {name: str(form.get(name) or "") for name in form}


FormDep = Annotated[dict[str, str], Depends(form_fields)]


def labels() -> dict[str, Any]:
    """Label tables every case template reads."""
    return {
        "status_labels": STATUS_LABELS,
        "status_tones": STATUS_TONES,
        "action_labels": ACTION_LABELS,
        "button_labels": BUTTON_LABELS,
        "level_labels": LEVEL_LABELS,
        "objective_labels": OBJECTIVE_LABELS,
        "metric_labels": METRIC_LABELS,
        "channel_labels": {c.value: CHANNEL_LABELS[c] for c in CONTACT_CHANNELS},
        "issue_status_labels": ISSUE_STATUS_LABELS,
        "alert_status_labels": ALERT_STATUS_LABELS,
        "run_status_labels": RUN_STATUS_LABELS,
    }


def may_manage(principal: Principal, case: CaseRead) -> bool:
    """cases:manage over the case's own unit: cases belong to the province or a city, so a
    province user manages them all and a city user only their city's."""
    return principal.can(Action.CASE_MANAGE) and (
        is_root_path(principal.org_path) or principal.org_code == case.org_code
    )


def may_target(principal: Principal) -> bool:
    return principal.can(Action.TARGETING_RUN) and is_root_path(principal.org_path)


def load_case(uow: UnitOfWork, case_id: int) -> CaseRead:
    """The case (NotFound outside the actor's scope), read before a form is looked at, so an
    out-of-scope id answers 404 whatever was posted."""
    return planning.get_case(uow=uow, case_id=case_id).case


def done_message(request: Request) -> str | None:
    return DONE_MESSAGES.get(request.query_params.get("done", ""))


def to_case(case_id: int, done: str) -> RedirectResponse:
    return RedirectResponse(f"/cases/{case_id}?{urlencode({'done': done})}", status_code=303)


def int_or_none(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None
