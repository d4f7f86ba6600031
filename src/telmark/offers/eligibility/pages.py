"""Console page of the eligibility explainer: one subscriber, every offer, and why not.

The subscriber is looked up from a form POST (the number stays out of the URL);
with HTMX only the result section is swapped. Reasons are shown in the page's
language: each reason's msgid is translated and its coded parameters (line
status, payment type, offer status, the failed rule condition) are labelled.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from telmark.auth.deps import ScopedWarehouseDep, require
from telmark.auth.permissions import Action
from telmark.customers.domain import NOT_A_MSISDN, NOT_A_SUBSCRIBER_ID
from telmark.errors import InvalidInput, NotFound, WarehouseEmpty
from telmark.offers.domain import ACTION_LABELS, STATUS_LABELS, OfferStatus, ProductAction
from telmark.offers.eligibility import service
from telmark.offers.eligibility.domain import ReasonCode
from telmark.offers.eligibility.schemas import EligibilityRead, ReasonRead
from telmark.segments.labels import SegmentLabels
from telmark.translation import N_
from telmark.web.deps import LocaleDep, TemplatesDep, UowDep
from telmark.web.i18n import gettext_for

router = APIRouter(include_in_schema=False, dependencies=[require(Action.CUSTOMER_READ)])

PAGE = "/offers/eligibility"
LINE_STATUS_LABELS = {
    "active": N_("Active"),
    "suspended": N_("Suspended"),
    "ported_out": N_("Ported out"),
    "terminated": N_("Terminated"),
}
PAYMENT_LABELS = {"prepaid": N_("Prepaid"), "postpaid": N_("Postpaid"), "any": N_("Any")}
GIVE_ONE = N_("Enter a mobile number or a subscriber id.")
INPUT_ERRORS = {
    NOT_A_MSISDN: N_("Enter the full 11-digit mobile number (starting 13–19)."),
    NOT_A_SUBSCRIBER_ID: N_("A subscriber id is a whole number."),
    GIVE_ONE: GIVE_ONE,
}
NOT_FOUND = N_("No subscriber with this mobile number or id in your scope.")


async def _form_fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {name: str(form.get(name) or "") for name in form}


FormDep = Annotated[dict[str, str], Depends(_form_fields)]


def reason_text(reason: ReasonRead, locale: str) -> str:
    """A reason in ``locale``: its msgid translated, coded parameters labelled."""
    params = dict(reason.params)

    def label(key: str, labels: dict[str, str]) -> None:
        value = str(params.get(key, ""))
        if value in labels:
            params[key] = gettext_for(locale, labels[value])

    if reason.code is ReasonCode.LINE_STATUS:
        label("status", LINE_STATUS_LABELS)
    elif reason.code is ReasonCode.NOT_ON_SALE:
        label("status", {s.value: m for s, m in STATUS_LABELS.items()})
    elif reason.code is ReasonCode.PAYMENT_TYPE:
        label("required", PAYMENT_LABELS)
        label("actual", PAYMENT_LABELS)
    if reason.condition is not None:
        params["condition"] = service.describe(reason.condition, SegmentLabels(locale))
    return gettext_for(locale, reason.template) % params


def _view(result: EligibilityRead, locale: str) -> dict[str, Any]:
    return {
        "result": result,
        "eligible": [o for o in result.offers if o.eligible],
        "excluded": [
            {"offer": o, "reasons": [reason_text(r, locale) for r in o.reasons]}
            for o in result.offers
            if not o.eligible
        ],
        "action_labels": {a.value: ACTION_LABELS[a] for a in ProductAction},
        "offer_status_labels": {s.value: STATUS_LABELS[s] for s in OfferStatus},
        "line_status_labels": LINE_STATUS_LABELS,
        "payment_labels": PAYMENT_LABELS,
    }


@router.get(PAGE, response_class=HTMLResponse, name="offer_eligibility")
def eligibility_page(request: Request, templates: TemplatesDep, locale: LocaleDep) -> Response:
    """The explainer's form: a subscriber by mobile number or id."""
    context = {
        "page_title": gettext_for(locale, N_("Offer eligibility")),
        "query": {"msisdn": "", "subscriber_id": "", "include_all": False},
        "view": None,
        "problem": None,
    }
    return templates.render(request, "offers/eligibility.html", context)


@router.post(PAGE, response_class=HTMLResponse)
def explain(
    request: Request,
    con: ScopedWarehouseDep,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    form: FormDep,
) -> Response:
    """Judge every offer for the subscriber; HTMX swaps the result section only."""
    msisdn = form.get("msisdn", "").strip()
    subscriber_id = form.get("subscriber_id", "").strip()
    include_all = bool(form.get("include_all"))
    view: dict[str, Any] | None = None
    problem: str | None = None
    status = 200
    try:
        if not subscriber_id.isdigit() and subscriber_id:
            raise InvalidInput(NOT_A_SUBSCRIBER_ID, details=[{"field": "subscriber_id"}])
        if not msisdn and not subscriber_id:
            raise InvalidInput(GIVE_ONE, details=[{"field": "msisdn"}])
        result = service.explain(
            uow=uow,
            con=con,
            msisdn=msisdn or None,
            subscriber_id=int(subscriber_id) if subscriber_id else None,
            include_all=include_all,
        )
        view = _view(result, locale)
    except InvalidInput as error:
        message = INPUT_ERRORS.get(error.message)
        problem = gettext_for(locale, message) if message else error.message
        status = 422
    except NotFound:
        problem = gettext_for(locale, NOT_FOUND)
        status = 404
    except WarehouseEmpty as error:
        problem = error.message
        status = 409
    context = {
        "page_title": gettext_for(locale, N_("Offer eligibility")),
        "query": {"msisdn": msisdn, "subscriber_id": subscriber_id, "include_all": include_all},
        "view": view,
        "problem": problem,
    }
    if request.headers.get("HX-Request") == "true":
        # HTMX swaps only 2xx answers: the problem is shown in the swapped section instead.
        return templates.render(request, "offers/eligibility_result.html", context)
    return templates.render(request, "offers/eligibility.html", context, status_code=status)
