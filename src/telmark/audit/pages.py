"""Console page of the audit trail: filter, read each entry's before/after, export."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from telmark.audit import service
from telmark.audit.api import Auditor, FiltersDep
from telmark.audit.domain import PROVINCE_TZ, AuditAction, diff
from telmark.auth.permissions import Action
from telmark.privacy.service import may_unmask
from telmark.translation import N_
from telmark.web.deps import LocaleDep, TemplatesDep, UowDep
from telmark.web.i18n import gettext_for

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
ACTION_LABELS = {
    AuditAction.CREATE: N_("Added"),
    AuditAction.UPDATE: N_("Changed"),
    AuditAction.DELETE: N_("Deleted"),
    AuditAction.READ: N_("Viewed in clear"),
    AuditAction.EXPORT: N_("Exported"),
    AuditAction.LOGIN: N_("Logged in"),
    AuditAction.LOGIN_FAILED: N_("Login failed"),
    AuditAction.LOGOUT: N_("Logged out"),
}
CHANNEL_LABELS = {
    "web": N_("Console"),
    "api": N_("API"),
    "cli": N_("Command line"),
    "system": N_("System"),
}


def _query(request: Request, **changes: Any) -> str:
    """The current query string with ``changes`` applied (None removes a key)."""
    params = {k: v for k, v in request.query_params.items() if v}
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return urlencode(params)


@router.get("/audit", response_class=HTMLResponse, name="audit")
def audit_page(
    request: Request,
    principal: Auditor,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    filters: FiltersDep,
    page: int = Query(1, ge=1),
) -> Response:
    """The trail, newest first, with filters; HTMX requests get only the results."""
    result = service.list_entries(
        uow=uow, filters=filters, page=page, page_size=PAGE_SIZE, unmask=may_unmask(principal)
    )
    context: dict[str, Any] = {
        "page_title": gettext_for(locale, N_("Audit trail")),
        "result": result,
        "changes": {e.id: diff(e.before, e.after) for e in result.items},
        "filters": filters,
        "form": {k: v for k, v in request.query_params.items() if k != "page"},
        "entity_types": service.entity_types(uow=uow),
        "action_labels": ACTION_LABELS,
        "channel_labels": CHANNEL_LABELS,
        "tz": PROVINCE_TZ,
        "export_query": _query(request, page=None),
        "can_export": principal.can(Action.AUDIT_EXPORT),
        "prev_query": _query(request, page=page - 1) if page > 1 else None,
        "next_query": _query(request, page=page + 1) if page < result.pages else None,
    }
    if request.headers.get("HX-Request") == "true":
        return templates.render(request, "audit/_results.html", context)
    return templates.render(request, "audit/list.html", context)
