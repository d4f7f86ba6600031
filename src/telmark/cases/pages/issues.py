"""Issuing a case down the organisation (下发) in the console: the issue form (split by base
size or by hand), the issue tree with acknowledgement state and deadlines, the receiving
unit's side (acknowledge, localise, re-issue to outlets or account managers), and alerts.

The receiving unit acts only on the node issued to it (the service refuses anyone else), so
the page draws those forms beside the user's own node only. Every route reads the case first
(and the issue through the case's tree), so an id outside the user's scope answers 404
whatever was posted.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from ibis.backends import BaseBackend
from starlette.responses import Response

from telmark.auth.deps import ScopedWarehouseDep, require, safe_next
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.cases import forms, issuing, planning
from telmark.cases.domain import ISSUE_OPEN, AlertStatus, CaseLevel, CaseStatus
from telmark.cases.pages.common import (
    ACK,
    ISSUE,
    FormDep,
    Reader,
    done_message,
    int_or_none,
    labels,
    load_case,
    may_manage,
)
from telmark.cases.schemas import CaseRead, IssueRead
from telmark.config import Settings
from telmark.consent.domain import CONTACT_CHANNELS
from telmark.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
)
from telmark.org import service as org_service
from telmark.org.domain import OrgKind
from telmark.translation import N_
from telmark.uow import UnitOfWork
from telmark.web.deps import LocaleDep, SettingsDep, TemplatesDep, UowDep
from telmark.web.i18n import gettext_for
from telmark.web.templating import ConsoleTemplates

router = APIRouter(include_in_schema=False)

READ = [require(Action.CASE_READ)]
REFUSALS = (InvalidInput, InvalidTransition, Conflict, Forbidden)
OUTLET_KINDS = frozenset({OrgKind.OUTLET, OrgKind.GRID, OrgKind.KEY_ACCOUNT_CENTRE})
MAX_CHOICES = 300  # outlets and staff offered in a unit's forms (codes may also be typed)


def _flatten(nodes: list[IssueRead], depth: int = 0) -> list[tuple[IssueRead, int]]:
    """The tree in display order with each node's depth."""
    out: list[tuple[IssueRead, int]] = []
    for node in nodes:
        out.append((node, depth))
        out.extend(_flatten(node.children, depth + 1))
    return out


def _targets(uow: UnitOfWork, case: CaseRead) -> list[str]:
    """The units a case is issued to by default: a province's cities, a city's children."""
    unit = org_service.get_unit(uow=uow, code=case.org_code)
    wanted = {OrgKind.CITY} if case.level is CaseLevel.PROVINCE else None
    return [c.code for c in unit.children if wanted is None or c.kind in wanted]


def _bases(
    uow: UnitOfWork, case: CaseRead, con: BaseBackend, settings: Settings, units: list[str]
) -> dict[str, int] | None:
    """Snapshot members per unit, to show beside the split (None when they cannot be counted)."""
    if case.snapshot_id is None or not units:
        return None
    try:
        return issuing.base_sizes(
            uow=uow,
            con=con,
            directory=settings.resolved_snapshot_dir,
            snapshot_id=case.snapshot_id,
            units=units,
        )
    except DomainError:
        return None


def _own_choices(uow: UnitOfWork, principal: Principal) -> dict[str, Any]:
    """What the user's unit may re-issue to and name as outlets: units below it and its staff."""
    below = org_service.list_units(uow=uow, root=principal.org_code)
    children = [u for u in below if u.parent_code == principal.org_code]
    outlets = [u for u in below if u.kind in OUTLET_KINDS][:MAX_CHOICES]
    staff = org_service.list_staff(
        uow=uow, code=principal.org_code, include_descendants=True, limit=MAX_CHOICES
    )
    return {
        "to_choices": [(f"org:{u.code}", f"{u.code} {u.name}") for u in children]
        + [(f"staff:{s.code}", f"{s.code} {s.name} · {s.org_name}") for s in staff],
        "outlet_choices": [(u.code, u.name) for u in outlets],
    }


def _issue_context(
    uow: UnitOfWork,
    principal: Principal,
    case: CaseRead,
    con: BaseBackend,
    settings: Settings,
) -> dict[str, Any]:
    manage = may_manage(principal, case)
    can_issue = manage and principal.can(Action.CASE_ISSUE) and case.status is CaseStatus.SCHEDULED
    units = _targets(uow, case) if can_issue else []
    tree = _flatten(issuing.issue_tree(uow=uow, case_id=case.id))
    open_case = case.status in ISSUE_OPEN
    mine = [n.id for n, _ in tree if n.org_code == principal.org_code]
    works_here = open_case and principal.can(Action.CASE_ISSUE) and bool(mine)
    projection = planning.case_projection(uow=uow, case_id=case.id)
    context: dict[str, Any] = {
        "case": case,
        "tree": tree,
        "mine": set(mine),
        "can_issue": can_issue,
        "units": units,
        "bases": _bases(uow, case, con, settings, units) if can_issue else None,
        "projected_targets": projection.targets,
        "can_ack": open_case and principal.can(Action.CASE_ACKNOWLEDGE),
        "can_work": works_here,
        "can_follow": principal.can(Action.CASE_ISSUE),
        "alerts": [a for a in issuing.list_alerts(uow=uow) if a.case_id == case.id],
        "channels": [c.value for c in CONTACT_CHANNELS],
        "reissue_rows": range(forms.REISSUE_ROWS),
        "issue_form": {"split": "base", "ack_hours": ""},
        "forms_at": {},  # issue id → the state of its refused localise/re-issue form
        "field_errors": {},
        "errors": [],
        "refused": None,
        **labels(),
    }
    if works_here:
        context |= _own_choices(uow, principal)
    return context


def _render(
    request: Request,
    uow: UnitOfWork,
    templates: ConsoleTemplates,
    locale: str,
    principal: Principal,
    case_id: int,
    con: BaseBackend,
    settings: Settings,
    *,
    status_code: int = 200,
    **overrides: Any,
) -> Response:
    case = load_case(uow, case_id)
    context = _issue_context(uow, principal, case, con, settings)
    context |= overrides
    context["page_title"] = gettext_for(locale, N_("Issuing %(code)s")) % {"code": case.code}
    context["done"] = done_message(request)
    return templates.render(request, "cases/issue.html", context, status_code=status_code)


def _refused(
    locale: str, state: forms.FormState, error: DomainError | None, slots: list[str]
) -> dict[str, Any]:
    found = [(p, gettext_for(locale, m)) for p, ms in state.problems.items() for m in ms]
    if error is not None:
        found += forms.refusal_problems(error)
    by_field, general = forms.place_problems(found, slots)
    return {"field_errors": by_field, "errors": general}


def _to_issue(case_id: int, done: str) -> RedirectResponse:
    return RedirectResponse(f"/cases/{case_id}/issue?{urlencode({'done': done})}", 303)


def _node(uow: UnitOfWork, case_id: int, issue_id: int) -> IssueRead:
    """The issue of this case the actor sees; NotFound otherwise."""
    for node, _ in _flatten(issuing.issue_tree(uow=uow, case_id=case_id)):
        if node.id == issue_id:
            return node
    raise NotFound(f"issue {issue_id} not found", details=[{"field": "issue_id"}])


@router.get("/cases/alerts", response_class=HTMLResponse, dependencies=READ)
def alerts_page(
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    principal: Reader,
    status: str = "",
) -> Response:
    """Alerts on issues in your scope (overdue acknowledgements), newest first."""
    chosen = AlertStatus(status) if status in AlertStatus.__members__.values() else None
    context = {
        "page_title": gettext_for(locale, N_("Case alerts")),
        "alerts": issuing.list_alerts(uow=uow, status=chosen),
        "status": chosen or "",
        "can_follow": principal.can(Action.CASE_ISSUE),
        "done": done_message(request),
        **labels(),
    }
    return templates.render(request, "cases/alerts.html", context)


@router.post("/cases/alerts/{alert_id}/acknowledge", dependencies=ISSUE)
def acknowledge_alert(alert_id: int, uow: UowDep, form: FormDep) -> Response:
    """Mark an open alert as being followed up; back to the page it was pressed on."""
    issuing.acknowledge_alert(uow=uow, alert_id=alert_id)
    back = safe_next(form.get("next") or "/cases/alerts")
    joiner = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{joiner}{urlencode({'done': 'followed'})}", 303)


@router.get("/cases/{case_id}/issue", response_class=HTMLResponse)
def issue_page(
    case_id: int,
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    con: ScopedWarehouseDep,
    settings: SettingsDep,
    principal: Reader,
) -> Response:
    """The issue form (a scheduled case), the tree, and your unit's side of it."""
    return _render(request, uow, templates, locale, principal, case_id, con, settings)


@router.post("/cases/{case_id}/issue", response_class=HTMLResponse, dependencies=ISSUE)
def issue(
    case_id: int,
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    con: ScopedWarehouseDep,
    settings: SettingsDep,
    form: FormDep,
    principal: Reader,
) -> Response:
    """Issue the case to the units ticked, split by base size or by hand."""
    case = load_case(uow, case_id)
    units = _targets(uow, case)
    state, spec = forms.issue_request(form, units, int_or_none(form.get("version")))
    error: DomainError | None = None
    if spec is not None:
        try:
            issuing.issue(
                uow=uow, case_id=case.id, spec=spec, con=con,
                directory=settings.resolved_snapshot_dir,
            )  # fmt: skip
        except REFUSALS as refusal:
            uow.rollback()
            error = refusal
        else:
            return _to_issue(case.id, "issued")
    slots = ["units", "split", "total", "ack_hours", "parts", *(f"part.{u}" for u in units)]
    problems = _refused(locale, state, error, slots)
    status = error.status_code if error is not None else 422
    return _render(
        request, uow, templates, locale, principal, case_id, con, settings,
        status_code=status, issue_form=state.values, **problems,
    )  # fmt: skip


@router.post(
    "/cases/{case_id}/issues/{issue_id}/acknowledge", response_class=HTMLResponse, dependencies=ACK
)
def acknowledge(case_id: int, issue_id: int, uow: UowDep) -> Response:
    """Confirm your unit received its part."""
    _node(uow, case_id, issue_id)
    issuing.acknowledge(uow=uow, issue_id=issue_id)
    return _to_issue(case_id, "acknowledged")


@router.post(
    "/cases/{case_id}/issues/{issue_id}/localise",
    response_class=HTMLResponse,
    dependencies=ISSUE,
)
def localise(
    case_id: int,
    issue_id: int,
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    con: ScopedWarehouseDep,
    settings: SettingsDep,
    form: FormDep,
    principal: Reader,
) -> Response:
    """Narrow your part with a rule, name its outlets, set its channel mix."""
    _node(uow, case_id, issue_id)
    channels = [c.value for c in CONTACT_CHANNELS]
    state, spec = forms.localise_request(form, channels)
    error: DomainError | None = None
    if spec is not None:
        try:
            issuing.localise(uow=uow, issue_id=issue_id, spec=spec)
        except REFUSALS as refusal:
            uow.rollback()
            error = refusal
        else:
            return _to_issue(case_id, "localised")
    slots = ["rule", "outlets", "channels", "version", *(f"share.{c}" for c in channels)]
    problems = _refused(locale, state, error, slots)
    return _render(
        request, uow, templates, locale, principal, case_id, con, settings,
        status_code=422 if error is None else error.status_code,
        forms_at={issue_id: {"kind": "localise", "values": state.values, **problems}},
    )  # fmt: skip


@router.post(
    "/cases/{case_id}/issues/{issue_id}/reissue",
    response_class=HTMLResponse,
    dependencies=ISSUE,
)
def reissue(
    case_id: int,
    issue_id: int,
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    con: ScopedWarehouseDep,
    settings: SettingsDep,
    form: FormDep,
    principal: Reader,
) -> Response:
    """Pass your part on to units below or account managers (targets sum to your part)."""
    _node(uow, case_id, issue_id)
    state, spec = forms.reissue_request(form)
    error: DomainError | None = None
    if spec is not None:
        try:
            issuing.reissue(
                uow=uow, issue_id=issue_id, spec=spec, con=con,
                directory=settings.resolved_snapshot_dir,
            )  # fmt: skip
        except REFUSALS as refusal:
            uow.rollback()
            error = refusal
        else:
            return _to_issue(case_id, "reissued")
    rows = [f"to.{i}.{n}" for i in range(forms.REISSUE_ROWS) for n in ("to", "target")]
    problems = _refused(locale, state, error, ["to", "split", "ack_hours", *rows])
    values = dict(state.values)
    for i, row in enumerate(state.rows["to"]):
        values |= {f"to.{i}.to": row["to"], f"to.{i}.target": row["target"]}
    return _render(
        request, uow, templates, locale, principal, case_id, con, settings,
        status_code=422 if error is None else error.status_code,
        forms_at={issue_id: {"kind": "reissue", "values": values, **problems}},
    )  # fmt: skip
