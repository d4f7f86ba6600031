"""The case list, the approval inbox, the wizard (from a template or blank) and the draft
editor."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from telmark.auth.deps import ScopedWarehouseDep
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.cases import forms, planning, service
from telmark.cases.domain import (
    METRIC_LABELS,
    OBJECTIVE_LABELS,
    CaseLevel,
    CaseStatus,
)
from telmark.cases.pages.common import (
    APPROVE,
    MANAGE,
    FormDep,
    Manager,
    Reader,
    done_message,
    labels,
    load_case,
    may_manage,
    to_case,
)
from telmark.cases.schemas import (
    CaseCreate,
    CaseRead,
    CaseUpdate,
)
from telmark.cases.templates import BY_KEY, TEMPLATES
from telmark.consent.domain import CONTACT_CHANNELS
from telmark.errors import Conflict, Forbidden, InvalidInput, InvalidTransition
from telmark.offers import service as offers
from telmark.offers.domain import OfferStatus
from telmark.org import service as org_service
from telmark.org.domain import OrgKind
from telmark.segments import service as segments
from telmark.segments.domain import SnapshotStatus
from telmark.segments.snapshots import store
from telmark.translation import N_
from telmark.uow import UnitOfWork
from telmark.web.deps import LocaleDep, SettingsDep, TemplatesDep, UowDep
from telmark.web.i18n import gettext_for
from telmark.web.templating import ConsoleTemplates

router = APIRouter(include_in_schema=False)

SNAPSHOTS_PER_SEGMENT = 3
DEFAULT_DAYS = 30


# --- the list -------------------------------------------------------------------------------------


@router.get("/cases", response_class=HTMLResponse, name="cases")
def cases_page(
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    principal: Reader,
    status: str = "",
    level: str = "",
) -> Response:
    """Cases in your scope (and province cases issued to it), filtered by status and level."""
    chosen_status = CaseStatus(status) if status in CaseStatus.__members__.values() else None
    chosen_level = CaseLevel(level) if level in CaseLevel.__members__.values() else None
    cases = service.list_cases(uow=uow, status=chosen_status)
    if chosen_level is not None:
        cases = [c for c in cases if c.level is chosen_level]
    context = {
        "page_title": gettext_for(locale, N_("Marketing cases")),
        "cases": cases,
        "status": chosen_status or "",
        "level": chosen_level or "",
        "can_create": principal.can(Action.CASE_MANAGE),
        "can_approve": principal.can(Action.CASE_APPROVE),
        "done": done_message(request),
        **labels(),
    }
    return templates.render(request, "cases/list.html", context)


# --- the approval inbox ---------------------------------------------------------------------------


def render_inbox(
    request: Request,
    uow: UnitOfWork,
    templates: ConsoleTemplates,
    locale: str,
    *,
    refused: str | None = None,
    comment_errors: dict[int, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "page_title": gettext_for(locale, N_("Approval inbox")),
        "items": service.inbox(uow=uow),
        "done": done_message(request),
        "refused": refused,
        "comment_errors": comment_errors or {},
        **labels(),
    }
    return templates.render(request, "cases/inbox.html", context, status_code=status_code)


@router.get("/cases/inbox", response_class=HTMLResponse, dependencies=APPROVE)
def inbox_page(
    request: Request, uow: UowDep, templates: TemplatesDep, locale: LocaleDep
) -> Response:
    """Submitted cases waiting for your approval, at your level (never your own)."""
    return render_inbox(request, uow, templates, locale)


# --- the wizard and the editor -------------------------------------------------------------------


def _org_choices(uow: UnitOfWork) -> list[tuple[str, str]]:
    """The units a case may belong to within the actor's scope: the province and its cities."""
    units = org_service.list_units(uow=uow, max_depth=1)
    return [(u.code, u.name) for u in units if u.kind in (OrgKind.PROVINCE, OrgKind.CITY)]


def _snapshot_choices(uow: UnitOfWork) -> list[tuple[int, str]]:
    """Ready snapshots the actor sees (a few latest per segment), as (id, description)."""
    found: list[tuple[int, str]] = []
    for segment in segments.list_segments(uow=uow):
        ready = [
            s
            for s in store.list_snapshots(uow=uow, segment_id=segment.id)
            if s.status is SnapshotStatus.READY
        ]
        for snap in ready[:SNAPSHOTS_PER_SEGMENT]:
            found.append(
                (
                    snap.id,
                    f"#{snap.id} {segment.name} · {snap.org_code} · {snap.as_of.isoformat()} · "
                    f"{snap.member_count or 0:,}",
                )
            )
    return found


def _offer_choices(uow: UnitOfWork) -> list[tuple[str, str]]:
    return [(o.code, o.name) for o in offers.list_offers(uow=uow, status=OfferStatus.ACTIVE)]


def _form_context(uow: UnitOfWork) -> dict[str, Any]:
    return {
        "orgs": _org_choices(uow),
        "snapshots": _snapshot_choices(uow),
        "offers": _offer_choices(uow),
        "channels": [c.value for c in CONTACT_CHANNELS],
        "objectives": OBJECTIVE_LABELS,
        "metrics": METRIC_LABELS,
        **labels(),
    }


def _render_form(
    request: Request,
    uow: UnitOfWork,
    templates: ConsoleTemplates,
    locale: str,
    state: forms.FormState,
    *,
    case: CaseRead | None,
    problems: list[tuple[str, str]] | None = None,
    conflict: bool = False,
    status_code: int = 200,
) -> Response:
    found = [(p, gettext_for(locale, m)) for p, ms in state.problems.items() for m in ms]
    found += problems or []
    by_field, general = forms.place_problems(found, forms.plan_slots(state))
    heading = N_("Edit draft case") if case else N_("New blank case")
    context = {
        "page_title": gettext_for(locale, heading),
        "case": case,
        "action": f"/cases/{case.id}/edit" if case else "/cases/new",
        "form": state.values,
        "lines": state.shown_rows("lines"),
        "kpis": state.shown_rows("kpis"),
        "checkpoints": state.shown_rows("checkpoints"),
        "field_errors": by_field,
        "errors": general,
        "conflict": conflict,
        **_form_context(uow),
    }
    return templates.render(request, "cases/form.html", context, status_code=status_code)


def _render_template_form(
    request: Request,
    uow: UnitOfWork,
    templates: ConsoleTemplates,
    locale: str,
    state: forms.FormState,
    *,
    problems: list[tuple[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    template = BY_KEY[state.values["template"]]
    found = [(p, gettext_for(locale, m)) for p, ms in state.problems.items() for m in ms]
    found += problems or []
    slots = [*forms.TEMPLATE_FIELDS, "offer_codes"]
    by_field, general = forms.place_problems(found, slots)
    context = {
        "page_title": gettext_for(locale, N_("New case from template: %(name)s"))
        % {"name": gettext_for(locale, template.name)},
        "template": template,
        "form": state.values,
        "chosen_offers": set(state.values.get("offer_codes", "").split(",")),
        "field_errors": by_field,
        "errors": general,
        **_form_context(uow),
    }
    return templates.render(request, "cases/from_template.html", context, status_code=status_code)


def _defaults(principal: Principal) -> tuple[str, date, date]:
    start = offers.province_today() + timedelta(days=7)
    return principal.org_code, start, start + timedelta(days=DEFAULT_DAYS - 1)


@router.get("/cases/new", response_class=HTMLResponse)
def new_page(
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    principal: Manager,
    template: str = "",
    blank: str = "",
) -> Response:
    """Step 1: choose a template or a blank case; step 2: its form."""
    org, start, end = _defaults(principal)
    if template in BY_KEY:
        values = {
            "template": template, "name": "", "org_code": org, "snapshot_id": "",
            "starts_on": start.isoformat(), "budget_fen": "0", "offer_codes": "",
        }  # fmt: skip
        return _render_template_form(
            request, uow, templates, locale, forms.FormState(values=values)
        )
    if blank:
        state = forms.blank_state(org_code=org, starts_on=start, ends_on=end)
        return _render_form(request, uow, templates, locale, state, case=None)
    context = {
        "page_title": gettext_for(locale, N_("New marketing case")),
        "templates": TEMPLATES,
        **labels(),
    }
    return templates.render(request, "cases/new.html", context)


@router.post("/cases/new", response_class=HTMLResponse, dependencies=MANAGE)
def create(
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    con: ScopedWarehouseDep,
    settings: SettingsDep,
    form: FormDep,
) -> Response:
    """Save the wizard as a new draft (from its template, or the blank plan)."""
    directory = settings.resolved_snapshot_dir
    if form.get("template") in BY_KEY:
        state = forms.read_template_form(form)
        spec = forms.from_template(state)
        problems: list[tuple[str, str]] = []
        if spec is not None:
            try:
                detail = planning.create_from_template(
                    uow=uow, spec=spec, con=con, directory=directory
                )
            except (InvalidInput, Conflict) as error:
                uow.rollback()
                problems = forms.refusal_problems(error)
            else:
                return to_case(detail.case.id, "created")
        return _render_template_form(
            request, uow, templates, locale, state, problems=problems, status_code=422
        )
    state = forms.read_form(form)
    plan = forms.parse(CaseCreate, forms.plan_document(state), state)
    problems = []
    if plan is not None:
        try:
            detail = planning.create_case(uow=uow, spec=plan, con=con, directory=directory)
        except (InvalidInput, Conflict) as error:
            uow.rollback()
            problems = forms.refusal_problems(error)
        else:
            return to_case(detail.case.id, "created")
    return _render_form(
        request, uow, templates, locale, state, case=None, problems=problems, status_code=422
    )


@router.get("/cases/{case_id}/edit", response_class=HTMLResponse)
def edit_page(
    case_id: int,
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    principal: Manager,
) -> Response:
    """The draft's plan in the form, with the version it was read at."""
    case = load_case(uow, case_id)
    _check_editable(principal, case)
    return _render_form(request, uow, templates, locale, forms.state_of(case), case=case)


def _check_editable(principal: Principal, case: CaseRead) -> None:
    if not may_manage(principal, case):
        raise Forbidden(f"case {case.code} belongs to {case.org_code}: it is changed there")
    if case.status is not CaseStatus.DRAFT:
        raise InvalidTransition(
            f"case {case.code} is {case.status}: only a draft is edited (a rejected case goes "
            "back to draft with rework)"
        )


@router.post("/cases/{case_id}/edit", response_class=HTMLResponse, dependencies=MANAGE)
def update(
    case_id: int,
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    con: ScopedWarehouseDep,
    settings: SettingsDep,
    form: FormDep,
) -> Response:
    """Save the form as the draft's plan, if the draft is still at the version edited."""
    case = load_case(uow, case_id)
    state = forms.read_form(form)
    doc = forms.plan_document(state)
    doc.pop("org_code", None)  # a case stays with its unit: the editor shows it, never sends it
    plan = forms.parse(CaseUpdate, doc, state)
    problems: list[tuple[str, str]] = []
    if plan is not None:
        try:
            planning.update_case(
                uow=uow,
                case_id=case.id,
                spec=plan,
                con=con,
                directory=settings.resolved_snapshot_dir,
            )
        except Conflict:
            uow.rollback()
            return _render_form(
                request, uow, templates, locale, state, case=load_case(uow, case_id),
                conflict=True, status_code=409,
            )  # fmt: skip
        except (InvalidInput, InvalidTransition) as error:
            uow.rollback()
            problems = forms.refusal_problems(error)
        else:
            return to_case(case.id, "saved")
    return _render_form(
        request, uow, templates, locale, state, case=case, problems=problems, status_code=422
    )
