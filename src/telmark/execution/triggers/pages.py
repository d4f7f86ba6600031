"""The triggers console: rules per case, live counters, recent decisions (masked numbers).

Everything here needs triggers:manage and shows only the cases the user sees;
a rule is saved for a case the user manages (another city's case is 404, shown
beside the form). The counters fragment refreshes itself every few seconds.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from telmark.auth.deps import require
from telmark.auth.permissions import Action
from telmark.cases.access import visible_cases
from telmark.cases.domain import STATUS_LABELS, CaseStatus
from telmark.cases.models import Case
from telmark.errors import DomainError, InvalidInput
from telmark.execution.triggers import api, service
from telmark.execution.triggers.domain import (
    EVENT_LABELS,
    OUTCOME_LABELS,
    REASON_LABELS,
    EventType,
    parse_condition,
)
from telmark.execution.triggers.schemas import ConditionIn, TriggerRuleIn
from telmark.translation import N_
from telmark.uow import UnitOfWork
from telmark.web.deps import LocaleDep, SettingsDep, TemplatesDep, UowDep
from telmark.web.i18n import gettext_for

router = APIRouter(include_in_schema=False)
MANAGE = [require(Action.TRIGGER_MANAGE)]
# Cases a rule may be attached to: not yet finished (a rule fires only while running).
OPEN = (
    CaseStatus.DRAFT, CaseStatus.SUBMITTED, CaseStatus.APPROVED, CaseStatus.SCHEDULED,
    CaseStatus.ISSUED, CaseStatus.RUNNING, CaseStatus.PAUSED,
)  # fmt: skip


async def _form_fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {name: str(form.get(name) or "") for name in form}


FormDep = Annotated[dict[str, str], Depends(_form_fields)]


def _context(uow: UnitOfWork, request: Request, settings: Any, locale: str) -> dict[str, Any]:
    cases = uow.session.scalars(
        visible_cases(uow).where(Case.status.in_(OPEN)).order_by(Case.id.desc()).limit(200)
    ).all()
    return {
        "page_title": gettext_for(locale, N_("Real-time triggers")),
        "rules": service.list_rules(uow=uow),
        "cases": cases,
        "events": service.event_types(),
        "event_labels": EVENT_LABELS,
        "status_labels": STATUS_LABELS,
        "counters": service.counters(uow=uow, runtime=api.holder(request, settings).runtime),
        "decisions": service.recent_decisions(uow=uow),
        "outcome_labels": OUTCOME_LABELS,
        "reason_labels": REASON_LABELS,
        "errors": [],
        "form": {},
    }


@router.get("/triggers", response_class=HTMLResponse, name="triggers", dependencies=MANAGE)
def triggers_page(
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    settings: SettingsDep,
) -> Response:
    """Rules per case, today's counters and the latest decisions."""
    context = _context(uow, request, settings, locale) | {"saved": "saved" in request.query_params}
    return templates.render(request, "triggers/index.html", context)


@router.get("/triggers/counters", response_class=HTMLResponse, dependencies=MANAGE)
def counters_fragment(
    request: Request, uow: UowDep, templates: TemplatesDep, settings: SettingsDep
) -> Response:
    """The counters panel alone (HTMX polls it)."""
    context = {
        "counters": service.counters(uow=uow, runtime=api.holder(request, settings).runtime),
        "outcome_labels": OUTCOME_LABELS,
        "reason_labels": REASON_LABELS,
    }
    return templates.render(request, "triggers/_counters.html", context)


def _int(form: dict[str, str], name: str, *, optional: bool = False) -> int | None:
    raw = form.get(name, "").strip()
    if not raw and optional:
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{name}: not a whole number", details=[{"field": name}]) from None


@router.post("/triggers/rules", response_class=HTMLResponse, dependencies=MANAGE)
def save_rule(
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    settings: SettingsDep,
    form: FormDep,
) -> Response:
    """Save a case's rule from the form; problems come back beside it (404 / 422)."""
    try:
        case_id = _int(form, "case_id")
        raw_type = form.get("event_type", "")
        if raw_type not in {t.value for t in EventType}:
            raise InvalidInput("event_type: choose an event", details=[{"field": "event_type"}])
        event_type = EventType(raw_type)
        text = form.get("condition", "").strip()
        condition = None
        if text:
            parsed = parse_condition(event_type, text)
            condition = ConditionIn(field=parsed.field, op=parsed.op, value=parsed.value)
        spec = TriggerRuleIn(
            event_type=event_type,
            condition=condition,
            cooldown_days=_int(form, "cooldown_days") or 0,
            max_per_day=_int(form, "max_per_day", optional=True),
        )
        assert case_id is not None
        service.set_rule(uow=uow, case_id=case_id, spec=spec)
    except (DomainError, ValueError) as error:
        uow.rollback()
        context = _context(uow, request, settings, locale) | {"saved": False, "form": form}
        context["errors"] = [error.message if isinstance(error, DomainError) else str(error)]
        status = error.status_code if isinstance(error, DomainError) else 422
        return templates.render(request, "triggers/index.html", context, status_code=status)
    api._outdate(request)
    return RedirectResponse("/triggers?saved=1", status_code=303)


@router.post("/triggers/rules/{case_id}/remove", dependencies=MANAGE)
def remove_rule(case_id: int, request: Request, uow: UowDep) -> Response:
    """Detach the case's rule (404 for a case outside your scope)."""
    service.remove_rule(uow=uow, case_id=case_id)
    api._outdate(request)
    return RedirectResponse("/triggers", status_code=303)
