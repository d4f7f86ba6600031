"""Console pages of the execution monitor: cases in execution against plan, and the alert inbox.

``/monitor`` lists the cases in execution in the reader's scope with their
funnel and worst checkpoint, and the alert inbox; a row's acknowledge and
resolve forms post with HTMX and the row is replaced in place by the alert as
it now is. HTMX swaps only successful responses, so a refused change (a note
missing, the alert changed meanwhile) answers 200 with the row showing the
problem. ``/monitor/cases/{id}`` draws the case's planned and actual line
through its checkpoints and a bar per unit (ECharts), with the breakdown per
city, outlet or account manager.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from telmark.auth.deps import require
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.cases.domain import (
    ALERT_STATUS_LABELS,
    METRIC_LABELS,
    STATUS_LABELS,
    AlertStatus,
    Metric,
)
from telmark.errors import InvalidInput, InvalidTransition
from telmark.execution.monitor import scan as monitor_scan
from telmark.execution.monitor import service
from telmark.execution.monitor.domain import (
    EMAIL_LABELS,
    KIND_LABELS,
    LEVEL_LABELS,
    STATE_LABELS,
    Level,
)
from telmark.execution.monitor.schemas import MonitorAlertRead
from telmark.org.domain import is_root_path
from telmark.translation import N_
from telmark.uow import UnitOfWork
from telmark.web.deps import LocaleDep, SettingsDep, TemplatesDep, UowDep, WarehouseDep
from telmark.web.i18n import gettext_for

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, require(Action.CASE_READ)]
Handler = Annotated[Principal, require(Action.MONITOR_MANAGE)]
INBOX = {
    "": N_("Not resolved"),
    AlertStatus.OPEN.value: N_("Awaiting follow-up"),
    AlertStatus.ACKNOWLEDGED.value: N_("Being followed up"),
    AlertStatus.RESOLVED.value: N_("Cleared"),
    "all": N_("All"),
}


async def _form_fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {name: str(form.get(name) or "") for name in form}


FormDep = Annotated[dict[str, str], Depends(_form_fields)]


def _labels() -> dict[str, Any]:
    return {
        "kind_labels": KIND_LABELS,
        "alert_status_labels": ALERT_STATUS_LABELS,
        "email_labels": EMAIL_LABELS,
        "state_labels": STATE_LABELS,
        "metric_labels": METRIC_LABELS,
        "status_labels": STATUS_LABELS,
        "level_labels": LEVEL_LABELS,
    }


def _inbox(uow: UnitOfWork, view: str, case_id: int | None = None) -> list[MonitorAlertRead]:
    if view == "all":
        return service.list_alerts(uow=uow, case_id=case_id)
    if view in {s.value for s in AlertStatus}:
        return service.list_alerts(uow=uow, status=AlertStatus(view), case_id=case_id)
    alerts = service.list_alerts(uow=uow, case_id=case_id)
    return [a for a in alerts if a.status is not AlertStatus.RESOLVED]


def _row_context(
    principal: Principal, alert: MonitorAlertRead, locale: str, error: str | None = None
) -> dict[str, Any]:
    return {
        "alert": alert,
        "text": monitor_scan.describe(alert, locale),
        "can_handle": principal.can(Action.MONITOR_MANAGE),
        "error": error,
        **_labels(),
    }


@router.get("/monitor", response_class=HTMLResponse, name="monitor")
def monitor(
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    principal: Reader,
    view: str = "",
    scanned: int | None = None,
) -> Response:
    """Cases in execution against plan, and the alert inbox."""
    alerts = _inbox(uow, view if view in INBOX else "")
    scope = uow.actor.scope_path
    context = {
        "page_title": gettext_for(locale, N_("Execution monitor")),
        "cases": service.overview(uow=uow),
        "alerts": alerts,
        "texts": {a.id: monitor_scan.describe(a, locale) for a in alerts},
        "open_count": service.open_count(uow=uow),
        "view": view if view in INBOX else "",
        "views": INBOX,
        "scanned": scanned,
        "can_handle": principal.can(Action.MONITOR_MANAGE),
        "can_scan": principal.can(Action.MONITOR_MANAGE) and (scope is None or is_root_path(scope)),
        **_labels(),
    }
    return templates.render(request, "monitor/index.html", context)


@router.get("/monitor/cases/{case_id}", response_class=HTMLResponse, name="monitor_case")
def case_page(
    case_id: int,
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    principal: Reader,
    by: Level = Level.CITY,
) -> Response:
    """One case's funnel, checkpoints and breakdown per city, outlet or account manager."""
    result = service.progress(uow=uow, case_id=case_id, by=by)
    line = service.chart_series(uow=uow, case_id=case_id)
    none = gettext_for(locale, N_("(none named)"))
    names = [row.label or row.key or none for row in result.rows]
    metric = line["metric"]
    chart = {
        "locale": locale.replace("_", "-"),
        "days": line["days"],
        "planned": line["planned"],
        "actual": line["actual"],
        "planned_name": gettext_for(locale, N_("Planned")),
        "actual_name": gettext_for(locale, N_("Actual")),
        "metric": None if metric is None else gettext_for(locale, METRIC_LABELS[Metric(metric)]),
        "names": names,
        "contacts": [r.funnel.contacts for r in result.rows],
        "plan": [r.plan_contacts for r in result.rows],
        "contacts_name": gettext_for(locale, N_("Contacts")),
        "plan_name": gettext_for(locale, N_("Plan to date")),
    }
    alerts = service.list_alerts(uow=uow, case_id=case_id)
    context = {
        "page_title": f"{result.case_code} · {gettext_for(locale, N_('Execution monitor'))}",
        "progress": result,
        "names": names,
        "chart": chart,
        "by": by,
        "alerts": alerts,
        "texts": {a.id: monitor_scan.describe(a, locale) for a in alerts},
        "can_handle": principal.can(Action.MONITOR_MANAGE),
        **_labels(),
    }
    return templates.render(request, "monitor/case.html", context)


@router.post("/monitor/scan", response_class=HTMLResponse)
def scan(
    uow: UowDep,
    con: WarehouseDep,
    settings: SettingsDep,
    principal: Handler,  # noqa: ARG001 - demands monitor:manage
) -> Response:
    """Run the scan now (province only) and go back to the inbox."""
    result = monitor_scan.scan(uow=uow, con=con, directory=settings.resolved_targeting_dir)
    return RedirectResponse(f"/monitor?scanned={len(result.raised)}", status_code=303)


def _change(
    request: Request,
    uow: UnitOfWork,
    templates: TemplatesDep,
    locale: str,
    principal: Principal,
    alert_id: int,
    form: dict[str, str],
    *,
    resolve: bool,
) -> Response:
    error: str | None = None
    try:
        if resolve:
            alert = service.resolve(uow=uow, alert_id=alert_id, note=form.get("note", ""))
        else:
            alert = service.acknowledge(uow=uow, alert_id=alert_id, note=form.get("note", ""))
    except (InvalidInput, InvalidTransition) as refused:
        error = refused.message
        alert = service.get_alert(uow=uow, alert_id=alert_id)
    context = _row_context(principal, alert, locale, error)
    return templates.render(request, "monitor/_alert.html", context)


@router.post("/monitor/alerts/{alert_id}/acknowledge", response_class=HTMLResponse)
def acknowledge(
    alert_id: int,
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    principal: Handler,
    form: FormDep,
) -> Response:
    """Acknowledge an alert from the inbox; answers with its row as it is now."""
    return _change(request, uow, templates, locale, principal, alert_id, form, resolve=False)


@router.post("/monitor/alerts/{alert_id}/resolve", response_class=HTMLResponse)
def resolve(
    alert_id: int,
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    principal: Handler,
    form: FormDep,
) -> Response:
    """Resolve an alert with a note; answers with its row as it is now."""
    return _change(request, uow, templates, locale, principal, alert_id, form, resolve=True)
