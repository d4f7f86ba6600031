"""Console pages of the org domain: browse the tree, see a unit and its staff."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from telmark.auth.deps import require
from telmark.auth.permissions import Action
from telmark.org import service
from telmark.translation import N_
from telmark.uow import UnitOfWork
from telmark.web.deps import LocaleDep, TemplatesDep, UowDep
from telmark.web.i18n import gettext_for

router = APIRouter(include_in_schema=False, dependencies=[require(Action.ORG_READ)])

# Display names of org kinds (English msgids, translated in templates).
KIND_LABELS = {
    "province": N_("Provincial company"),
    "city": N_("City branch"),
    "district": N_("District"),
    "outlet": N_("Business hall"),
    "grid": N_("Grid"),
    "key_account_centre": N_("Key-account centre"),
}
POSITION_LABELS = {
    "marketing_planner": N_("Marketing planner"),
    "analyst": N_("Business analyst"),
    "approver": N_("Approver"),
    "city_marketing_manager": N_("City marketing manager"),
    "outlet_manager": N_("Business hall manager"),
    "grid_manager": N_("Grid manager"),
    "account_manager": N_("Account manager"),
    "service_agent": N_("Service agent"),
    "sales_rep": N_("Sales representative"),
}
STAFF_SHOWN = 200


@router.get("/org", response_class=HTMLResponse, name="org_tree")
def org_tree_page(
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    unit: str | None = None,
) -> Response:
    """The org tree (province and cities open) with the selected unit's details beside it."""
    top = service.list_units(uow=uow, max_depth=1)
    context: dict[str, Any] = {
        "page_title": gettext_for(locale, N_("Organisation")),
        "roots": [u for u in top if u.depth == 0],
        "cities": [u for u in top if u.depth == 1],
        "kind_labels": KIND_LABELS,
    }
    selected = unit or (top[0].code if top else None)
    if selected is not None:
        context.update(_unit_context(uow=uow, code=selected))
    return templates.render(request, "org/tree.html", context)


@router.get("/org/units/{code}/children", response_class=HTMLResponse)
def org_children_fragment(
    request: Request, code: str, uow: UowDep, templates: TemplatesDep
) -> Response:
    """HTMX fragment: the children of one unit, each expandable in turn."""
    detail = service.get_unit(uow=uow, code=code)
    return templates.render(
        request, "org/_children.html", {"units": detail.children, "kind_labels": KIND_LABELS}
    )


@router.get("/org/units/{code}", response_class=HTMLResponse, name="org_unit")
def org_unit_page(
    request: Request, code: str, uow: UowDep, templates: TemplatesDep, locale: LocaleDep
) -> Response:
    """One unit's details: a fragment for HTMX, the whole tree page otherwise."""
    if request.headers.get("HX-Request") != "true":
        return org_tree_page(request, uow, templates, locale, unit=code)
    return templates.render(request, "org/_unit.html", _unit_context(uow=uow, code=code))


def _unit_context(*, uow: UnitOfWork, code: str) -> dict[str, Any]:
    detail = service.get_unit(uow=uow, code=code)
    staff = service.list_staff(
        uow=uow, code=code, include_descendants=detail.depth >= 2, limit=STAFF_SHOWN
    )
    return {
        "unit": detail,
        "staff": staff,
        "staff_shown": STAFF_SHOWN,
        "kind_labels": KIND_LABELS,
        "position_labels": POSITION_LABELS,
    }
