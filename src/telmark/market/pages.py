"""Console page of market inputs: share trend, offers beside our plans, own KPIs, and forms.

Form posts carry the CSRF field; successes redirect back to the page with a
``done`` message, problems re-render it with the message and status 422.
Out-of-scope entries answer 404 through the app's error handler.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.responses import Response

from telmark.analysis.pages import kpi_cards
from telmark.analysis.schemas import OverviewRead
from telmark.auth.deps import ScopedWarehouseDep, require
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.errors import DomainError, InvalidInput, NotFound
from telmark.market import service
from telmark.market.api import read_upload
from telmark.market.domain import Competitor, parse_month
from telmark.market.schemas import MarketView, OfferCreate, ShareCreate
from telmark.org.domain import is_root_path
from telmark.translation import N_
from telmark.uow import UnitOfWork
from telmark.web.deps import LocaleDep, TemplatesDep, UowDep
from telmark.web.i18n import gettext_for
from telmark.web.templating import ConsoleTemplates

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, require(Action.OVERVIEW_READ)]
Manager = Annotated[Principal, require(Action.MARKET_MANAGE)]
MANAGE = [require(Action.MARKET_MANAGE)]

COMPETITOR_LABELS = {
    Competitor.CHINA_MOBILE: N_("China Mobile"),
    Competitor.CHINA_UNICOM: N_("China Unicom"),
    Competitor.CHINA_TELECOM: N_("China Telecom"),
    Competitor.CHINA_BROADNET: N_("China Broadnet"),
    Competitor.OTHER: N_("Other"),
}
OWN_LABEL = N_("Our share")
DONE_MESSAGES = {
    "offer": N_("The offer was recorded."),
    "share": N_("The share entry was recorded."),
    "deleted": N_("The entry was deleted; the audit trail keeps its values."),
    "imported": N_("The file was imported."),
}


def chart_data(view: MarketView, *, locale: str, month_labels: list[str]) -> dict[str, Any]:
    """The share trend as JSON-ready percent series (own share dashed, when computed)."""
    labels = {c.value: gettext_for(locale, m) for c, m in COMPETITOR_LABELS.items()}
    labels[service.OWN] = gettext_for(locale, OWN_LABEL)
    return {
        "echartsLocale": "EN" if locale == "en" else "ZH",
        "monthLabels": month_labels,
        "series": [
            {
                "key": s.competitor,
                "name": labels[s.competitor],
                "own": s.competitor == service.OWN,
                "data": [None if p.share_bp is None else p.share_bp / 100 for p in s.points],
            }
            for s in view.shares
        ],
    }


def _may_change_city(principal: Principal, city: str) -> bool:
    return principal.can(Action.MARKET_MANAGE) and (
        is_root_path(principal.org_path) or principal.org_code == city
    )


def _render(
    request: Request,
    templates: ConsoleTemplates,
    locale: str,
    principal: Principal,
    uow: UnitOfWork,
    con: Any,
    city: str | None,
    *,
    errors: list[str] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    code = city or service.default_city(uow=uow)
    context: dict[str, Any] = {
        "page_title": gettext_for(locale, N_("Market")),
        "cities": service.readable_cities(uow=uow),
        "competitors": COMPETITOR_LABELS,
        "errors": errors or [],
        "form": form or {},
        "done": DONE_MESSAGES.get(request.query_params.get("done", "")),
        "view": None,
    }
    if code is not None:
        view = service.market_view(uow=uow, con=con, city=code)
        month_label = templates.environment(locale).filters["month_label"]
        cards = []
        if view.own_kpis:
            own = OverviewRead(
                months=[k.month for k in view.own_kpis], province=view.own_kpis, cities=[]
            )
            cards = kpi_cards(own)
        context.update(
            view=view,
            city=code,
            cards=cards,
            latest_kpi_month=month_label(view.own_kpis[-1].month) if view.own_kpis else None,
            chart_data=chart_data(
                view, locale=locale, month_labels=[month_label(m) for m in view.months]
            ),
            shares=service.list_shares(uow=uow, city=code),
            can_change_city=_may_change_city(principal, code),
            can_change_province=principal.can(Action.MARKET_MANAGE)
            and is_root_path(principal.org_path),
        )
    return templates.render(request, "market/market.html", context, status_code=status_code)


@router.get("/market", response_class=HTMLResponse, name="market")
def market_page(
    request: Request,
    principal: Reader,
    uow: UowDep,
    con: ScopedWarehouseDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    city: str | None = None,
) -> Response:
    """One city's market: share trend, competitor offers beside our plans, own KPIs."""
    return _render(request, templates, locale, principal, uow, con, city or None)


def _back(city: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"/market?{urlencode({'city': city, 'done': done})}", status_code=303)


def _form_errors(error: DomainError | ValidationError) -> list[str]:
    if isinstance(error, ValidationError):
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()]
    listed = [f"{d.get('file', '')} {d.get('row', '')} {d.get('column') or ''}: {d['reason']}"
              for d in error.details if "reason" in d and "row" in d]  # fmt: skip
    return listed or [error.message]


def _refused(
    request: Request,
    templates: ConsoleTemplates,
    locale: str,
    principal: Principal,
    uow: UnitOfWork,
    con: Any,
    error: DomainError | ValidationError,
    *,
    org_code: str = "",
    form: dict[str, Any] | None = None,
) -> Response:
    """Roll back and re-render the page (of ``org_code``'s city unless unknown) with 422."""
    uow.rollback()
    city = org_code if org_code and not isinstance(error, NotFound) else None
    return _render(
        request, templates, locale, principal, uow, con, city,
        errors=_form_errors(error), form=form, status_code=422,
    )  # fmt: skip


@router.post("/market/offers", response_class=HTMLResponse)
def add_offer(
    request: Request,
    principal: Manager,
    uow: UowDep,
    con: ScopedWarehouseDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    org_code: Annotated[str, Form()] = "",
    competitor: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    monthly_fee_yuan: Annotated[str, Form()] = "",
    data_mb: Annotated[str, Form()] = "0",
    voice_min: Annotated[str, Form()] = "0",
    is_5g: Annotated[str, Form()] = "",
    launched_on: Annotated[str, Form()] = "",
    withdrawn_on: Annotated[str, Form()] = "",
    notes: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "",
) -> Response:
    """Record an offer from the form (fee in yuan)."""
    form = {
        "org_code": org_code, "competitor": competitor, "name": name,
        "monthly_fee_yuan": monthly_fee_yuan, "data_mb": data_mb, "voice_min": voice_min,
        "is_5g": is_5g, "launched_on": launched_on, "withdrawn_on": withdrawn_on,
        "notes": notes, "source": source,
    }  # fmt: skip
    try:
        offer = OfferCreate.model_validate(
            {
                **form,
                "org_code": org_code or None,
                "monthly_fee_fen": _hundredths(monthly_fee_yuan, "monthly_fee_yuan"),
                "data_mb": data_mb or 0,
                "voice_min": voice_min or 0,
                "is_5g": bool(is_5g),
                "withdrawn_on": withdrawn_on or None,
            }
        )
        created = service.add_offer(uow=uow, offer=offer)
    except (DomainError, ValidationError) as error:
        return _refused(
            request, templates, locale, principal, uow, con, error, org_code=org_code, form=form
        )
    return _back(org_code or service.default_city(uow=uow) or created.org_code, "offer")


def _hundredths(raw: str, field: str) -> int:
    """Yuan to fen, or percent to basis points: ``"12.5"`` → 1250."""
    text = raw.strip()
    # Decimal, not float: money is exact (0.29 yuan is 29 fen, not 28.999…).
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise InvalidInput(
            f"{field}: {text!r} is not a number", details=[{"field": field, "value": text}]
        )
    return int((amount * 100).to_integral_value(rounding=ROUND_HALF_UP))


@router.post("/market/offers/{offer_id}/delete", response_class=HTMLResponse, dependencies=MANAGE)
def delete_offer(offer_id: int, uow: UowDep) -> Response:
    """Delete an offer (404 outside your scope)."""
    deleted = service.delete_offer(uow=uow, offer_id=offer_id)
    city = None if deleted.province_wide else deleted.org_code
    return _back(city or service.default_city(uow=uow) or "", "deleted")


@router.post("/market/shares", response_class=HTMLResponse)
def add_share(
    request: Request,
    principal: Manager,
    uow: UowDep,
    con: ScopedWarehouseDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    org_code: Annotated[str, Form()] = "",
    month: Annotated[str, Form()] = "",
    competitor: Annotated[str, Form()] = "",
    share_pct: Annotated[str, Form()] = "",
    subscribers: Annotated[str, Form()] = "",
    notes: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "",
) -> Response:
    """Record a share (percent in the form) or a subscriber estimate."""
    form = {
        "org_code": org_code, "month": month, "competitor": competitor, "share_pct": share_pct,
        "subscribers": subscribers, "notes": notes, "source": source,
    }  # fmt: skip
    try:
        first = parse_month(month)
        if first is None:
            raise InvalidInput(f"month: {month!r} is not a month (YYYY-MM)")
        share = ShareCreate.model_validate(
            {
                **form,
                "month": first,
                "share_bp": _hundredths(share_pct, "share_pct") if share_pct.strip() else None,
                "subscribers": subscribers.strip() or None,
            }
        )
        service.add_share(uow=uow, share=share)
    except (DomainError, ValidationError) as error:
        return _refused(
            request, templates, locale, principal, uow, con, error, org_code=org_code, form=form
        )
    return _back(org_code, "share")


@router.post("/market/shares/{share_id}/delete", response_class=HTMLResponse, dependencies=MANAGE)
def delete_share(share_id: int, uow: UowDep) -> Response:
    """Delete a share entry (404 outside your scope)."""
    deleted = service.delete_share(uow=uow, share_id=share_id)
    return _back(deleted.org_code, "deleted")


@router.post("/market/imports", response_class=HTMLResponse)
def import_file(
    request: Request,
    principal: Manager,
    uow: UowDep,
    con: ScopedWarehouseDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    file: Annotated[UploadFile, File()],
    kind: Annotated[str, Form()] = "offers",
    encoding: Annotated[str, Form()] = "auto",
) -> Response:
    """Import an offers or shares CSV; every problem is listed and nothing imported."""
    try:
        data = read_upload(file)
        name = file.filename or f"{kind}.csv"
        importer = service.import_shares if kind == "shares" else service.import_offers
        importer(uow=uow, data=data, file_name=name, encoding=encoding)
    except DomainError as error:
        return _refused(request, templates, locale, principal, uow, con, error)
    return _back(service.default_city(uow=uow) or "", "imported")
