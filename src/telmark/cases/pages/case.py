"""One case's page: plan, projection (tables and charts), life-cycle buttons, approval,
timeline, and targeting from the case (run, or simulate what it would take from the others)."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from telmark.auth.deps import ScopedWarehouseDep
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.cases import forms, planning, service
from telmark.cases.domain import (
    TARGETABLE,
    CaseAction,
    CaseStatus,
)
from telmark.cases.pages.common import (
    BUTTONS,
    Approver,
    FormDep,
    Manager,
    Reader,
    Runner,
    done_message,
    int_or_none,
    labels,
    load_case,
    may_manage,
    may_target,
    to_case,
)
from telmark.cases.pages.plans import render_inbox
from telmark.cases.schemas import (
    ActionIn,
    CaseDetail,
    CaseRead,
    ProjectionRead,
    RejectIn,
)
from telmark.config import Settings
from telmark.errors import Conflict, DomainError, Forbidden, InvalidInput, InvalidTransition
from telmark.offers import service as offers
from telmark.segments.snapshots import store
from telmark.targeting import service as targeting
from telmark.targeting.domain import STEP_LABELS
from telmark.targeting.schemas import RunListItem
from telmark.translation import N_
from telmark.uow import UnitOfWork
from telmark.web.deps import LocaleDep, SettingsDep, TemplatesDep, UowDep
from telmark.web.i18n import gettext_for, html_lang
from telmark.web.templating import ConsoleTemplates

router = APIRouter(include_in_schema=False)

CHART_LABELS = {
    "net": N_("Net contribution"),
    "roi": N_("ROI"),
    "factor": N_("Take-up as planned"),
    "cumulative": N_("Cumulative net"),
    "benefit": N_("Benefit"),
    "cost": N_("Cost"),
    "month": N_("Month"),
    "payback": N_("Payback"),
}
RECENT_RUNS = 100


# --- one case -------------------------------------------------------------------------------------


def _yuan(fen: int) -> float:
    return fen / 100  # display only: the tables show the exact amounts


def projection_charts(projection: ProjectionRead, locale: str) -> dict[str, Any] | None:
    """Chart data: net contribution and ROI by take-up factor; cumulative net by month."""
    if not projection.available or projection.totals is None:
        return None
    return {
        "locale": html_lang(locale),
        "echartsLocale": "EN" if locale == "en" else "ZH",
        "factors": [f"{s.take_up_factor_bp / 100:g}%" for s in projection.sensitivity],
        "netYuan": [_yuan(s.totals.net_fen) for s in projection.sensitivity],
        "roiPct": [
            None if s.totals.roi_bp is None else s.totals.roi_bp / 100
            for s in projection.sensitivity
        ],
        "months": [m.month for m in projection.series],
        "cumulativeYuan": [_yuan(m.cumulative_net_fen) for m in projection.series],
        "benefitYuan": [_yuan(m.benefit_fen) for m in projection.series],
        "costYuan": [_yuan(m.cost_fen) for m in projection.series],
        "payback": projection.totals.payback_month,
        "labels": {k: gettext_for(locale, v) for k, v in CHART_LABELS.items()},
    }


def _snapshot_label(uow: UnitOfWork, snapshot_id: int | None) -> str | None:
    if snapshot_id is None:
        return None
    try:
        snap = store.get_snapshot(uow=uow, snapshot_id=snapshot_id)
    except DomainError:  # a province snapshot a city user receiving the case does not see
        return f"#{snapshot_id}"
    return f"#{snap.id} · {snap.org_code} · {snap.as_of.isoformat()} · {snap.member_count or 0:,}"


def runs_of(uow: UnitOfWork, code: str) -> list[RunListItem]:
    """The recent targeting runs that included the case."""
    return [r for r in targeting.list_runs(uow=uow, limit=RECENT_RUNS) if code in r.case_codes]


def _default_day(case: CaseRead) -> date:
    today = offers.province_today()
    return min(max(today, case.starts_on), case.ends_on)


def case_context(
    uow: UnitOfWork, principal: Principal, detail: CaseDetail, locale: str
) -> dict[str, Any]:
    """Everything the case page shows, for the user looking at it."""
    case = detail.case
    manage = may_manage(principal, case)
    buttons = [a for a in BUTTONS if a in case.next_actions] if manage else []
    waiting = (
        {i.case.id for i in service.inbox(uow=uow)}
        if principal.can(Action.CASE_APPROVE) and case.status is CaseStatus.SUBMITTED
        else set()
    )
    targeter = may_target(principal)
    day = _default_day(case)
    return {
        "page_title": f"{case.code} · {case.name}",
        "case": case,
        "projection": detail.projection,
        "chart_data": projection_charts(detail.projection, locale),
        "snapshot_label": _snapshot_label(uow, case.snapshot_id),
        "buttons": buttons,
        "can_edit": manage and case.status is CaseStatus.DRAFT,
        "can_decide": case.id in waiting,
        "can_issue": manage
        and principal.can(Action.CASE_ISSUE)
        and case.status is CaseStatus.SCHEDULED,
        "timeline": service.timeline(uow=uow, case_id=case.id),
        "can_target": targeter,
        "targetable": case.status in TARGETABLE,
        "runs": runs_of(uow, case.code) if targeter else [],
        "run_defaults": {"run_key": f"{case.code}-{day.isoformat()}", "on": day.isoformat()},
        "field_errors": {},
        "errors": [],
        "refused": None,
        **labels(),
    }


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    case_id: int,
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    con: ScopedWarehouseDep,
    settings: SettingsDep,
    principal: Reader,
) -> Response:
    """One case: plan, projection (live, or frozen at approval), buttons, timeline, runs."""
    detail = planning.get_case(
        uow=uow, case_id=case_id, con=con, directory=settings.resolved_snapshot_dir
    )
    context = case_context(uow, principal, detail, locale)
    context["done"] = done_message(request)
    return templates.render(request, "cases/detail.html", context)


def render_refused(
    request: Request,
    uow: UnitOfWork,
    templates: ConsoleTemplates,
    locale: str,
    principal: Principal,
    case_id: int,
    error: DomainError,
    settings: Settings,
    con: Any,
    *,
    field_errors: dict[str, list[str]] | None = None,
) -> Response:
    """The case page again, with why the action was refused (nothing changed)."""
    uow.rollback()
    detail = planning.get_case(
        uow=uow, case_id=case_id, con=con, directory=settings.resolved_snapshot_dir
    )
    context = case_context(uow, principal, detail, locale)
    context["refused"] = error.message
    context["errors"] = [
        f"{d['field']}: {d['reason']}" for d in error.details if "field" in d and "reason" in d
    ]
    context["field_errors"] = field_errors or {}
    return templates.render(request, "cases/detail.html", context, status_code=error.status_code)


@router.post("/cases/{case_id}/act", response_class=HTMLResponse)
def act(
    case_id: int,
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    con: ScopedWarehouseDep,
    settings: SettingsDep,
    form: FormDep,
    principal: Manager,
) -> Response:
    """Take a life-cycle step (``action``) from the version the page showed."""
    load_case(uow, case_id)
    try:
        action = CaseAction(form.get("action", ""))
        if action not in BUTTONS:
            raise ValueError(action)
    except ValueError:
        error = InvalidInput("action: not a life-cycle step", details=[{"field": "action"}])
        return render_refused(request, uow, templates, locale, principal, case_id, error,
                              settings, con)  # fmt: skip
    body = ActionIn.model_validate(
        {"comment": form.get("comment", "")[:1000], "version": int_or_none(form.get("version"))}
    )
    run = service.submit if action is CaseAction.SUBMIT else service.LIFE_CYCLE[action]
    try:
        run(uow=uow, case_id=case_id, body=body)
    except (InvalidInput, InvalidTransition, Conflict, Forbidden) as error:
        return render_refused(request, uow, templates, locale, principal, case_id, error,
                              settings, con)  # fmt: skip
    return to_case(case_id, action.value)


# --- approval -------------------------------------------------------------------------------------


def _back(form: dict[str, str], case_id: int, done: str) -> RedirectResponse:
    if form.get("from") == "inbox":
        return RedirectResponse(f"/cases/inbox?{urlencode({'done': done})}", status_code=303)
    return to_case(case_id, done)


@router.post("/cases/{case_id}/approve", response_class=HTMLResponse)
def approve(
    case_id: int,
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    con: ScopedWarehouseDep,
    settings: SettingsDep,
    form: FormDep,
    principal: Approver,
) -> Response:
    """Approve at your level, from the version shown (the last level freezes the projection)."""
    load_case(uow, case_id)
    body = ActionIn.model_validate(
        {"comment": form.get("comment", "")[:1000], "version": int_or_none(form.get("version"))}
    )
    try:
        service.approve(
            uow=uow, case_id=case_id, body=body, con=con, directory=settings.resolved_snapshot_dir
        )
    except (InvalidInput, InvalidTransition, Conflict, Forbidden) as error:
        if form.get("from") == "inbox":
            uow.rollback()
            return render_inbox(request, uow, templates, locale, refused=error.message,
                                 status_code=error.status_code)  # fmt: skip
        return render_refused(request, uow, templates, locale, principal, case_id, error,
                              settings, con)  # fmt: skip
    return _back(form, case_id, "approved")


@router.post("/cases/{case_id}/reject", response_class=HTMLResponse)
def reject(
    case_id: int,
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    con: ScopedWarehouseDep,
    settings: SettingsDep,
    form: FormDep,
    principal: Approver,
) -> Response:
    """Reject at your level; the comment (required) is what the owner reworks the case from."""
    load_case(uow, case_id)
    comment = form.get("comment", "").strip()
    if not comment:
        message = gettext_for(locale, N_("Say why the case is rejected."))
        if form.get("from") == "inbox":
            return render_inbox(request, uow, templates, locale,
                                 comment_errors={case_id: message}, status_code=422)  # fmt: skip
        error = InvalidInput("comment: say why the case is rejected")
        return render_refused(request, uow, templates, locale, principal, case_id, error,
                              settings, con, field_errors={"comment": [message]})  # fmt: skip
    try:
        body = RejectIn(comment=comment[:1000], version=int_or_none(form.get("version")))
        service.reject(uow=uow, case_id=case_id, body=body)
    except (InvalidInput, InvalidTransition, Conflict, Forbidden) as error:
        if form.get("from") == "inbox":
            uow.rollback()
            return render_inbox(request, uow, templates, locale, refused=error.message,
                                 status_code=error.status_code)  # fmt: skip
        return render_refused(request, uow, templates, locale, principal, case_id, error,
                              settings, con)  # fmt: skip
    return _back(form, case_id, "rejected")


# --- targeting from a case ------------------------------------------------------------------------


def _run_request(
    form: dict[str, str], locale: str
) -> tuple[str, date | None, dict[str, list[str]]]:
    key = form.get("run_key", "").strip()
    problems: dict[str, list[str]] = {}
    if not key:
        problems["run_key"] = [gettext_for(locale, forms.MSG_REQUIRED)]
    try:
        day: date | None = date.fromisoformat(form.get("on", "").strip())
    except ValueError:
        day = None
        problems["on"] = [gettext_for(locale, forms.MSG_NOT_DATE)]
    return key, day, problems


def _running_that_day(uow: UnitOfWork, case: CaseRead, day: date) -> list[int]:
    """The case and every other targetable case in scope whose dates cover ``day``: targeting
    arbitrates between the cases that compete for the same people that day."""
    others = [
        c.id
        for c in service.list_cases(uow=uow)
        if c.status in TARGETABLE and c.starts_on <= day <= c.ends_on and c.id != case.id
    ]
    return [*others, case.id]


@router.post("/cases/{case_id}/targeting", response_class=HTMLResponse)
def run_targeting(
    case_id: int,
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    con: ScopedWarehouseDep,
    settings: SettingsDep,
    form: FormDep,
    principal: Runner,
) -> Response:
    """Run targeting for the case and the cases competing with it that day; show the run."""
    case = load_case(uow, case_id)
    key, day, problems = _run_request(form, locale)
    if day is None or problems:
        error = InvalidInput("the run was not started: correct the fields marked")
        return render_refused(request, uow, templates, locale, principal, case_id, error,
                              settings, con, field_errors=problems)  # fmt: skip
    try:
        if case.status not in TARGETABLE:
            raise InvalidTransition(
                f"case {case.code} is {case.status}: only a scheduled, issued or running case is "
                "targeted; simulate it to see its effect"
            )
        run = targeting.run_targeting(
            uow=uow,
            con=con,
            cases=service.targeting_inputs(uow=uow, case_ids=_running_that_day(uow, case, day)),
            run_key=key,
            on=day,
            directory=settings.resolved_targeting_dir,
            snapshot_dir=settings.resolved_snapshot_dir,
            holdout_key=settings.holdout_key.get_secret_value(),
        )
    except (InvalidInput, InvalidTransition, Conflict, Forbidden) as error:
        return render_refused(request, uow, templates, locale, principal, case_id, error,
                              settings, con)  # fmt: skip
    return RedirectResponse(f"/targeting/runs/{run.id}", status_code=303)


@router.post("/cases/{case_id}/simulate", response_class=HTMLResponse)
def simulate(
    case_id: int,
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    con: ScopedWarehouseDep,
    settings: SettingsDep,
    form: FormDep,
    principal: Runner,
) -> Response:
    """What targeting would give the case that day, and what it would take from the others
    (nothing is stored)."""
    case = load_case(uow, case_id)
    key, day, problems = _run_request(form, locale)
    if day is None or problems:
        error = InvalidInput("the simulation was not run: correct the fields marked")
        return render_refused(request, uow, templates, locale, principal, case_id, error,
                              settings, con, field_errors=problems)  # fmt: skip
    try:
        result = targeting.run_targeting(
            uow=uow,
            con=con,
            cases=service.targeting_inputs(uow=uow, case_ids=_running_that_day(uow, case, day)),
            run_key=key,
            on=day,
            simulate=True,
            new_case_id=case.id,
            directory=settings.resolved_targeting_dir,
            snapshot_dir=settings.resolved_snapshot_dir,
            holdout_key=settings.holdout_key.get_secret_value(),
        )
    except (InvalidInput, InvalidTransition, Conflict, Forbidden) as error:
        return render_refused(request, uow, templates, locale, principal, case_id, error,
                              settings, con)  # fmt: skip
    summary = result.summary
    step_labels = {s.value: gettext_for(locale, label) for s, label in STEP_LABELS.items()}
    chart = {
        "locale": html_lang(locale),
        "steps": [step_labels[s.step] for s in summary.funnel[0].steps] if summary else [],
        "series": [
            {"name": f.case_code if f.case_id is not None else gettext_for(locale, N_("All cases")),
             "counts": [s.count for s in f.steps]}
            for f in (summary.funnel if summary else [])
        ],
    }  # fmt: skip
    context = {
        "page_title": gettext_for(locale, N_("Simulated targeting of %(code)s"))
        % {"code": case.code},
        "case": case,
        "run": result,
        "chart": chart,
        "step_labels": step_labels,
        "codes": {c.case_id: c.code for c in result.cases},
        **labels(),
    }
    return templates.render(request, "cases/simulation.html", context)
