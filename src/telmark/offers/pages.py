"""Console pages of the offer book: the book, an offer's terms and economics, the draft
editor with its live economics preview, and lottery draws with their replay.

The book is province-wide: everyone with overview:read reads it; offers:manage at the province
creates, edits, activates and retires (the service refuses below the province). Redemptions
and draws belong to a subscriber's home unit, so the offer page lists only the caller's scope
and the draw pages need customer:read, as the JSON API does.

The editor never saves a refused form: every problem is shown beside its field (keyed by the
offer document's field paths, see ``offers.forms``) and the page comes back with status 422.
The preview answers with 200 even when the input is invalid, because HTMX swaps only successful
responses; its field problems travel as out-of-band swaps into the fields' error places.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import TypeAdapter
from starlette.responses import Response

from telmark.auth.deps import require
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.errors import Conflict, InvalidInput, InvalidTransition
from telmark.offers import forms, service
from telmark.offers.domain import (
    ACTION_LABELS,
    STATUS_LABELS,
    OfferStatus,
    PoolKind,
    RedemptionStatus,
)
from telmark.offers.schemas import EconomicsRead, OfferRead, PoolRead, parse_offer
from telmark.offers.tools import PPM, TOOL_LABELS, AnyTool, Leverage, Lottery, Points, Referral
from telmark.offers.tools import Tool as ToolField
from telmark.org.domain import is_root_path
from telmark.segments.labels import SegmentLabels, describe_rule
from telmark.translation import N_
from telmark.uow import UnitOfWork
from telmark.web.deps import LocaleDep, TemplatesDep, UowDep
from telmark.web.i18n import gettext_for, html_lang
from telmark.web.templating import ConsoleTemplates

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, require(Action.OVERVIEW_READ)]
Manager = Annotated[Principal, require(Action.OFFER_MANAGE)]
READ = [require(Action.OVERVIEW_READ)]
MANAGE = [require(Action.OFFER_MANAGE)]
FRONT = [require(Action.CUSTOMER_READ)]

_TOOL: TypeAdapter[AnyTool] = TypeAdapter(ToolField)
CHART_MONTHS = 24  # the cumulative chart's horizon, longer when payback comes later
MAX_CHART_MONTHS = 60
RECENT_REDEMPTIONS = 20
POOL_LABELS = {
    PoolKind.GIFT_STOCK: N_("Gift stock"),
    PoolKind.RED_PACKET_BUDGET: N_("Red packet budget"),
    PoolKind.LOTTERY_BUDGET: N_("Lottery budget"),
    PoolKind.PRIZE_STOCK: N_("Prize stock"),
    PoolKind.REFERRAL_CAP: N_("Referral caps"),
}
REDEMPTION_LABELS = {
    RedemptionStatus.RESERVED: N_("Reserved"),
    RedemptionStatus.CONSUMED: N_("Delivered"),
    RedemptionStatus.RELEASED: N_("Released"),
}
BUDGET_KINDS = frozenset({PoolKind.RED_PACKET_BUDGET, PoolKind.LOTTERY_BUDGET})
DONE_MESSAGES = {
    "created": N_("The offer was saved as a draft."),
    "saved": N_("The draft was saved as a new version."),
    "activated": N_("The offer is on sale; its stock and budget pools were created full."),
    "retired": N_("The offer was retired; its redemptions, pools and draws stay."),
}
CHART_LABELS = {
    "cumulative": N_("Cumulative contribution per taker"),
    "payback": N_("Payback"),
    "month": N_("Month"),
}


async def _form_fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {name: str(form.get(name) or "") for name in form}


FormDep = Annotated[dict[str, str], Depends(_form_fields)]


def _may_change(principal: Principal) -> bool:
    return principal.can(Action.OFFER_MANAGE) and is_root_path(principal.org_path)


def _labels() -> dict[str, Any]:
    return {
        "tool_labels": TOOL_LABELS,
        "action_labels": ACTION_LABELS,
        "status_labels": STATUS_LABELS,
        "pool_labels": POOL_LABELS,
        "redemption_labels": REDEMPTION_LABELS,
        "slug": forms.slug,
    }


def economics_chart(economics: EconomicsRead, locale: str) -> dict[str, Any]:
    """Cumulative contribution of one taker by month: minus the net incentive cost at month 0,
    plus the net monthly contribution each month; it crosses zero at the payback month."""
    payback = economics.payback_months
    months = CHART_MONTHS
    if payback is not None and payback > CHART_MONTHS - 6:
        months = min(MAX_CHART_MONTHS, payback + 6)
    cost = economics.net_incentive_cost_fen
    step = economics.net_monthly_contribution_fen
    return {
        "locale": html_lang(locale),
        "echartsLocale": "EN" if locale == "en" else "ZH",
        "months": list(range(months + 1)),
        # Yuan for display only; the card shows the exact fen amounts.
        "cumulativeYuan": [(m * step - cost) / 100 for m in range(months + 1)],
        "payback": payback,
        "labels": {k: gettext_for(locale, v) for k, v in CHART_LABELS.items()},
    }


def _pool_view(pool: PoolRead, prizes: dict[str, str]) -> dict[str, Any]:
    name = (
        prizes.get(pool.key.removeprefix("prize:"), "") if pool.kind is PoolKind.PRIZE_STOCK else ""
    )
    return {
        "pool": pool,
        "name": name,
        "money": pool.kind in BUDGET_KINDS,
        "percent": 0 if pool.total <= 0 else round(100 * pool.remaining / pool.total),
    }


def _pool_views(offer: OfferRead, pools: list[PoolRead]) -> tuple[list[dict[str, Any]], int]:
    """Stock and budget pools to show, and how many referrers have a cap pool (one each)."""
    prizes = {
        str(p["code"]): str(p["name"])
        for t in offer.tools
        if t["tool"] == "lottery"
        for p in t["prizes"]
    }
    shown = [_pool_view(p, prizes) for p in pools if p.kind is not PoolKind.REFERRAL_CAP]
    return shown, sum(1 for p in pools if p.kind is PoolKind.REFERRAL_CAP)


@router.get("/offers", response_class=HTMLResponse, name="offers", dependencies=READ)
def offers_page(
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    principal: Reader,
    status: str = "",
    tool: str = "",
) -> Response:
    """The offer book with each offer's tools, economics and what is left of its pools."""
    chosen_status = OfferStatus(status) if status in OfferStatus.__members__.values() else None
    chosen_tool = tool if tool in TOOL_LABELS else ""
    offers = service.list_offers(uow=uow, status=chosen_status)
    if chosen_tool:
        offers = [o for o in offers if any(t["tool"] == chosen_tool for t in o.tools)]
    pools = {
        o.code: _pool_views(o, service.list_pools(uow=uow, code=o.code))[0]
        for o in offers
        if o.status is not OfferStatus.DRAFT
    }
    context = {
        "page_title": gettext_for(locale, N_("Offer book")),
        "offers": offers,
        "pools": pools,
        "status": chosen_status or "",
        "tool": chosen_tool,
        "can_change": _may_change(principal),
        "done": DONE_MESSAGES.get(request.query_params.get("done", "")),
        **_labels(),
    }
    return templates.render(request, "offers/list.html", context)


# --- the editor ---------------------------------------------------------------------------------


def _render_editor(
    request: Request,
    templates: ConsoleTemplates,
    locale: str,
    state: forms.EditorState,
    *,
    code: str | None,
    field_errors: dict[str, list[str]] | None = None,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    heading = N_("Edit offer") if code else N_("New offer")
    context = {
        "page_title": gettext_for(locale, heading),
        "code": code,
        "action": f"/offers/{quote(code)}/edit" if code else "/offers/new",
        "form": state.values,
        "tools": forms.tool_views(state),
        "economics_widgets": forms.economics_widgets(state),
        "field_errors": field_errors or {},
        "errors": errors or [],
        **_labels(),
    }
    return templates.render(request, "offers/editor.html", context, status_code=status_code)


def _problems(state: forms.EditorState, doc: dict[str, Any], locale: str) -> list[tuple[str, str]]:
    """Problems of the form: unparseable fields, then the document's own (validation) ones."""
    found = [
        (path, gettext_for(locale, m))
        for path, messages in state.problems.items()
        for m in messages
    ]
    try:
        parse_offer(doc)
    except InvalidInput as error:
        found.extend(
            (str(d.get("field", "")), str(d.get("message") or error.message))
            for d in error.details
            if str(d.get("field", "")) not in state.problems  # said already, in the planner's terms
        )
    return found


def _refused(error: InvalidInput | Conflict | InvalidTransition) -> list[tuple[str, str]]:
    if not error.details:
        return [("", error.message)]
    return [
        (str(d.get("field", "")), str(d.get("message") or error.message)) for d in error.details
    ]


def _save(
    request: Request,
    uow: UnitOfWork,
    templates: ConsoleTemplates,
    locale: str,
    form: dict[str, str],
    *,
    code: str | None,
) -> Response:
    state = forms.read_form(form)
    doc = forms.offer_document(state)
    problems = _problems(state, doc, locale)
    if not problems:
        try:
            spec = parse_offer(doc)
            if code is None:
                saved = service.create_offer(uow=uow, spec=spec)
            else:
                saved = service.update_offer(uow=uow, code=code, spec=spec)
        except (InvalidInput, Conflict, InvalidTransition) as error:
            uow.rollback()
            problems = _refused(error)
        else:
            done = "created" if code is None else "saved"
            return RedirectResponse(f"/offers/{quote(saved.code)}?{urlencode({'done': done})}", 303)
    by_field, general = forms.place_problems(problems, forms.all_slots(state))
    return _render_editor(
        request, templates, locale, state, code=code,
        field_errors=by_field, errors=general, status_code=422,
    )  # fmt: skip


@router.get("/offers/new", response_class=HTMLResponse, dependencies=MANAGE)
def new_page(request: Request, templates: TemplatesDep, locale: LocaleDep) -> Response:
    """An empty draft: common fields, tools added one by one, the economics preview."""
    return _render_editor(request, templates, locale, forms.empty_state(), code=None)


@router.post("/offers/new", response_class=HTMLResponse, dependencies=MANAGE)
def create(
    request: Request, uow: UowDep, templates: TemplatesDep, locale: LocaleDep, form: FormDep
) -> Response:
    """Save the editor as a new draft offer."""
    return _save(request, uow, templates, locale, form, code=None)


@router.post("/offers/preview", response_class=HTMLResponse, dependencies=READ)
def preview(
    request: Request, templates: TemplatesDep, locale: LocaleDep, form: FormDep
) -> Response:
    """The economics card of the editor's current input; nothing is read or saved."""
    state = forms.read_form(form)
    doc = forms.preview_document(state, service.province_today())
    problems = _problems(state, doc, locale)
    slots = forms.preview_slots(state)
    by_field, general = forms.place_problems(problems, slots)
    economics = None
    if not problems:
        economics = service.economics_of(parse_offer(doc))
    context = {
        "economics": economics,
        "chart_data": economics_chart(economics, locale) if economics else None,
        "slots": slots,
        "field_errors": by_field,
        # Naming fields are filled in for the preview; their problems wait for saving.
        "errors": [e for e in general if not e.startswith(forms.COMMON)],
        "no_tools": not state.tools,
        **_labels(),
    }
    return templates.render(request, "offers/_preview.html", context)


@router.post("/offers/editor/tools", response_class=HTMLResponse, dependencies=MANAGE)
def edit_tools(request: Request, templates: TemplatesDep, form: FormDep) -> Response:
    """The editor's tool list with a tool added (``add_tool``) or removed (``remove_tool``)."""
    state = forms.read_form(form)
    added = form.get("add_tool", "")
    if added in forms.TOOL_MODELS and all(t.kind != added for t in state.tools):
        state.tools.append(forms.new_tool(added))
    removed = form.get("remove_tool", "")
    if removed.isdigit() and int(removed) < len(state.tools):
        del state.tools[int(removed)]
    context = {"tools": forms.tool_views(state), "field_errors": {}, **_labels()}
    return templates.render(request, "offers/_tools.html", context)


# --- one offer ------------------------------------------------------------------------------------


def _derived(tool: AnyTool) -> list[tuple[str, str, int]]:
    """Figures a tool's parameters imply: (label, format, value)."""
    if isinstance(tool, Points):
        return [(N_("Extra points per taker"), "number", tool.extra_points())]
    if isinstance(tool, Leverage):
        return [(N_("Partner pays"), "yuan", tool.partner_funded_fen())]
    if isinstance(tool, Lottery):
        return [(N_("No prize"), "odds", tool.no_prize_ppm())]
    if isinstance(tool, Referral):
        return [(N_("Most one referrer can earn"), "yuan", tool.max_referrer_earning_fen())]
    return []


@router.get("/offers/{code}", response_class=HTMLResponse)
def offer_page(
    code: str,
    request: Request,
    principal: Reader,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
) -> Response:
    """One offer: terms, eligibility, economics with its chart, pools, versions, redemptions."""
    offer = service.get_offer(uow=uow, code=code)
    pools, referrers = _pool_views(offer, service.list_pools(uow=uow, code=code))
    costs = {c.tool: c.expected_cost_fen for c in offer.tool_costs}
    tools = [
        {
            "kind": t["tool"],
            "terms": forms.tool_terms(t),
            "cost": costs.get(t["tool"]),
            "derived": _derived(_TOOL.validate_python(t)),
        }
        for t in offer.tools
    ]
    readers = principal.can(Action.CUSTOMER_READ)
    context = {
        "page_title": f"{offer.name} · {gettext_for(locale, N_('Offer book'))}",
        "offer": offer,
        "tools": tools,
        "rule_words": describe_rule(offer.eligibility["root"], SegmentLabels(locale))
        if offer.eligibility
        else None,
        "pools": pools,
        "referrers": referrers,
        "versions": list(reversed(service.list_versions(uow=uow, code=code))),
        "redemptions": service.list_redemptions(uow=uow, code=code, limit=RECENT_REDEMPTIONS)
        if readers
        else None,
        "chart_data": economics_chart(offer.economics, locale),
        "can_change": _may_change(principal),
        "ppm": PPM,
        "done": DONE_MESSAGES.get(request.query_params.get("done", "")),
        **_labels(),
    }
    return templates.render(request, "offers/detail.html", context)


@router.get("/offers/{code}/edit", response_class=HTMLResponse, dependencies=MANAGE)
def edit_page(
    code: str, request: Request, uow: UowDep, templates: TemplatesDep, locale: LocaleDep
) -> Response:
    """The draft's editor, prefilled with its current terms."""
    offer = service.get_offer(uow=uow, code=code)
    if offer.status is not OfferStatus.DRAFT:
        raise InvalidTransition(
            f"offer {code} is {offer.status}: only a draft is edited "
            "(retire it and create a new one)"
        )
    return _render_editor(request, templates, locale, forms.state_of(offer), code=code)


@router.post("/offers/{code}/edit", response_class=HTMLResponse, dependencies=MANAGE)
def update(
    code: str,
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    form: FormDep,
) -> Response:
    """Save the editor as the draft's next version."""
    service.get_offer(uow=uow, code=code)  # 404 before anything is parsed
    return _save(request, uow, templates, locale, form, code=code)


@router.post("/offers/{code}/activate", dependencies=MANAGE)
def activate(code: str, uow: UowDep) -> Response:
    """Put the draft on sale (its pools are created full)."""
    service.activate_offer(uow=uow, code=code)
    return RedirectResponse(f"/offers/{quote(code)}?{urlencode({'done': 'activated'})}", 303)


@router.post("/offers/{code}/retire", dependencies=MANAGE)
def retire(code: str, uow: UowDep) -> Response:
    """Take the offer off sale for good."""
    service.retire_offer(uow=uow, code=code)
    return RedirectResponse(f"/offers/{quote(code)}?{urlencode({'done': 'retired'})}", 303)


# --- draws ----------------------------------------------------------------------------------------


@router.get("/draws/{draw_id}", response_class=HTMLResponse, dependencies=FRONT)
def draw_page(
    draw_id: int, request: Request, uow: UowDep, templates: TemplatesDep, locale: LocaleDep
) -> Response:
    """A recorded lottery draw: its seed, the prize table it was drawn from, and a replay."""
    draw = service.get_draw(uow=uow, draw_id=draw_id)
    table = Lottery.model_validate(draw.prize_table)
    context = {
        "page_title": gettext_for(locale, N_("Lottery draw %(id)s")) % {"id": draw.id},
        "draw": draw,
        "table": table,
        "no_prize_ppm": table.no_prize_ppm(),
        "ppm": PPM,
        **_labels(),
    }
    return templates.render(request, "offers/draw.html", context)


@router.get("/draws/{draw_id}/replay", response_class=HTMLResponse, dependencies=FRONT)
def replay(draw_id: int, request: Request, uow: UowDep, templates: TemplatesDep) -> Response:
    """The draw recomputed from its seed, beside what was recorded."""
    result = service.replay_draw(uow=uow, draw_id=draw_id)
    return templates.render(request, "offers/_replay.html", {"replay": result})
