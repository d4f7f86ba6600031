"""Console pages of customer 360: the lookup page and one subscriber's 360 page.

Personal values are masked unless the user may unmask and asks to (the
"Show personal data" switch, ``?unmask=true``); the service records each
unmasked view, and every search by mobile number, in the audit trail.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from telmark.auth.deps import CurrentPrincipal, ScopedWarehouseDep, require
from telmark.auth.permissions import Action
from telmark.customers import service
from telmark.customers.domain import NOT_A_MSISDN, NOT_A_SUBSCRIBER_ID, parse_lookup
from telmark.customers.schemas import Customer360
from telmark.errors import InvalidInput
from telmark.privacy.service import may_unmask
from telmark.translation import N_
from telmark.warehouse.labels import INDUSTRY_LABELS, PRODUCT_KIND_LABELS
from telmark.web.deps import LocaleDep, TemplatesDep, UowDep
from telmark.web.i18n import gettext_for, html_lang

router = APIRouter(include_in_schema=False, dependencies=[require(Action.CUSTOMER_READ)])

# Labels of coded warehouse values (English msgids; translated in the templates).
GENDER_LABELS = {"M": N_("Male"), "F": N_("Female")}
PAYMENT_LABELS = {"prepaid": N_("Prepaid"), "postpaid": N_("Postpaid")}
STATUS_LABELS = {
    "active": N_("Active"),
    "suspended": N_("Suspended"),
    "ported_out": N_("Ported out"),
    "terminated": N_("Terminated"),
}
CHANNEL_LABELS = {
    "hall": N_("Business hall"),
    "agent": N_("Agent"),
    "app": N_("App"),
    "wechat": N_("WeChat"),
    "web": N_("Website"),
    "telemarketing": N_("Telemarketing"),
    "account_manager": N_("Account manager"),
}
ORDER_ACTION_LABELS = {
    "new": N_("New line"),
    "change": N_("Plan change"),
    "add": N_("Added"),
    "cancel": N_("Cancelled"),
}
COMPLAINT_LABELS = {
    "network": N_("Network"),
    "billing": N_("Billing"),
    "service": N_("Service"),
    "product": N_("Product"),
    "marketing": N_("Marketing"),
}
SEVERITY_LABELS = {1: N_("Minor"), 2: N_("Serious"), 3: N_("Escalated")}
VALUE_TIER_LABELS = {
    "non_member": N_("Non-member"),
    "star": N_("Star"),
    "gold": N_("Gold"),
    "vip": N_("VIP"),
}
RISK_BAND_LABELS = {"high": N_("High risk"), "medium": N_("Medium risk"), "low": N_("Low risk")}

LABELS: dict[str, dict[Any, str]] = {
    "gender": GENDER_LABELS,
    "payment": PAYMENT_LABELS,
    "status": STATUS_LABELS,
    "channel": CHANNEL_LABELS,
    "order_action": ORDER_ACTION_LABELS,
    "complaint": COMPLAINT_LABELS,
    "severity": SEVERITY_LABELS,
    "product_kind": PRODUCT_KIND_LABELS,
    "industry": INDUSTRY_LABELS,
    "value_tier": VALUE_TIER_LABELS,
    "risk_band": RISK_BAND_LABELS,
}

# Texts the charts draw themselves (translated here, passed in the page's JSON).
CHART_LABELS = {
    "arpu": N_("ARPU (yuan)"),
    "data": N_("Data (MB)"),
    "voice": N_("Voice (minutes)"),
    "dropped": N_("Dropped calls"),
}

INPUT_ERRORS = {
    NOT_A_MSISDN: N_("Enter the full 11-digit mobile number (starting 13–19)."),
    NOT_A_SUBSCRIBER_ID: N_("A subscriber id is a whole number."),
}


def chart_data(view: Customer360, *, locale: str, month_labels: list[str]) -> dict[str, Any]:
    """The usage series the 360 page's charts draw (ARPU in yuan; others as billed)."""
    return {
        "locale": html_lang(locale),
        "echartsLocale": "EN" if locale == "en" else "ZH",
        "months": [u.month.isoformat()[:7] for u in view.usage],
        "monthLabels": month_labels,
        "labels": {key: gettext_for(locale, msgid) for key, msgid in CHART_LABELS.items()},
        "arpuYuan": [u.arpu_fen / 100 for u in view.usage],
        "dataMb": [u.data_mb for u in view.usage],
        "voiceMin": [u.voice_min for u in view.usage],
        "droppedCalls": [u.dropped_calls for u in view.usage],
    }


@router.get("/customers", response_class=HTMLResponse, name="customers")
def search_page(
    request: Request,
    con: ScopedWarehouseDep,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    subscriber_id: Annotated[str | None, Query()] = None,
    msisdn: Annotated[str | None, Query()] = None,
) -> Response:
    """Look a customer up by subscriber id or full mobile number; results are masked."""
    context: dict[str, Any] = {
        "page_title": gettext_for(locale, N_("Customer 360")),
        "query": {"subscriber_id": subscriber_id or "", "msisdn": msisdn or ""},
        "labels": LABELS,
        "result": None,
        "errors": [],
    }
    status = 200
    try:
        lookup = parse_lookup(subscriber_id=subscriber_id, msisdn=msisdn)
        # The list is always masked; the 360 page has the switch to show a customer in clear.
        context["result"] = service.find_customers(con=con, uow=uow, lookup=lookup, unmask=False)
    except InvalidInput as error:
        message = INPUT_ERRORS.get(error.message)
        context["errors"] = [gettext_for(locale, message) if message else error.message]
        status = 422
    return templates.render(request, "customers/search.html", context, status_code=status)


@router.get("/customers/{subscriber_id}", response_class=HTMLResponse, name="customer")
def customer_page(
    request: Request,
    subscriber_id: int,
    con: ScopedWarehouseDep,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    principal: CurrentPrincipal,
    unmask: bool = False,
) -> Response:
    """One subscriber's 360 page, masked unless the user may unmask and asks to."""
    allowed = may_unmask(principal)
    view = service.customer_360(
        con=con, uow=uow, subscriber_id=subscriber_id, unmask=unmask and allowed
    )
    month_label = templates.environment(locale).filters["month_label"]
    labels = [month_label(u.month) for u in view.usage]
    heading = gettext_for(locale, N_("Customer 360"))
    context = {
        "page_title": f"{heading} · {subscriber_id}",
        "view": view,
        "identity": view.identity,
        "can_unmask": allowed,
        "labels": LABELS,
        "month_labels": labels,
        "chart_data": chart_data(view, locale=locale, month_labels=labels),
    }
    response = templates.render(request, "customers/detail.html", context)
    # Personal data: never kept in a shared cache or the browser's back-forward store.
    response.headers["Cache-Control"] = "no-store"
    return response
