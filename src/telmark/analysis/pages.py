"""Console pages of the analysis domain: the province overview."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from telmark.analysis import service
from telmark.analysis.overview import relative_change
from telmark.analysis.schemas import MonthKpis, OverviewRead
from telmark.auth.deps import CurrentPrincipal, ScopedWarehouseDep, require
from telmark.auth.permissions import Action
from telmark.errors import WarehouseEmpty
from telmark.org.domain import is_root_path
from telmark.translation import N_
from telmark.web.deps import LocaleDep, TemplatesDep
from telmark.web.i18n import gettext_for, html_lang

router = APIRouter(include_in_schema=False, dependencies=[require(Action.OVERVIEW_READ)])

# The months selector above the charts: None shows every month in the warehouse.
MONTH_CHOICES: tuple[tuple[int | None, str], ...] = (
    (6, N_("Last 6 months")),
    (12, N_("Last 12 months")),
    (None, N_("All months")),
)

# Texts the charts draw themselves (translated here, passed in the page's JSON).
CHART_LABELS = {
    "province": N_("Province"),
    "subscribers": N_("Subscribers"),
    "churn": N_("Port-out churn rate"),
}

Format = Literal["number", "yuan", "yuan_compact", "percent"]


@dataclass(frozen=True, slots=True)
class KpiCard:
    """A headline figure of the latest month with its change on the month before."""

    key: str
    label: str  # English msgid
    value: float | None
    format: Format
    change: float | None  # a fraction, or percentage points when ``change_in_points``
    higher_is_better: bool
    change_in_points: bool = False

    @property
    def trend(self) -> Literal["up", "down", "flat"]:
        if self.change is None or abs(self.change) < 1e-12:
            return "flat"
        return "up" if self.change > 0 else "down"

    @property
    def tone(self) -> Literal["good", "bad", "neutral"]:
        if self.trend == "flat":
            return "neutral"
        return "good" if (self.trend == "up") == self.higher_is_better else "bad"


def kpi_cards(overview: OverviewRead) -> list[KpiCard]:
    """Subscribers, ARPU, churn and revenue of the latest month, month on month."""
    now, before = overview.latest, overview.previous

    def prior(name: str) -> float | None:
        return None if before is None else getattr(before, name)

    churn_change = None
    if now.churn_rate is not None and before is not None and before.churn_rate is not None:
        churn_change = (now.churn_rate - before.churn_rate) * 100
    return [
        KpiCard(
            "subscribers", N_("Subscribers"), now.subscribers, "number",
            relative_change(now.subscribers, prior("subscribers")), higher_is_better=True,
        ),
        KpiCard(
            "arpu", N_("ARPU"), now.arpu_fen, "yuan",
            relative_change(now.arpu_fen, prior("arpu_fen")), higher_is_better=True,
        ),
        KpiCard(
            "churn", N_("Port-out churn"), now.churn_rate, "percent",
            churn_change, higher_is_better=False, change_in_points=True,
        ),
        KpiCard(
            "revenue", N_("Revenue"), now.revenue_fen, "yuan_compact",
            relative_change(now.revenue_fen, prior("revenue_fen")), higher_is_better=True,
        ),
    ]  # fmt: skip


def _series(months: list[MonthKpis]) -> dict[str, list[float | int | None]]:
    return {
        "subscribers": [m.subscribers for m in months],
        "arpuYuan": [None if m.arpu_fen is None else m.arpu_fen / 100 for m in months],
        "churnPct": [
            None if m.churn_rate is None else round(m.churn_rate * 100, 4) for m in months
        ],
        "revenueYuan": [m.revenue_fen / 100 for m in months],
    }


def chart_data(
    overview: OverviewRead, *, locale: str, month_labels: list[str], total_label: str | None = None
) -> dict[str, Any]:
    """Everything the overview's charts draw, as JSON-ready data (yuan and percent for display).

    ``total_label`` names the total line when the user's scope is not the province.
    """
    english = locale == "en"
    labels = {key: gettext_for(locale, msgid) for key, msgid in CHART_LABELS.items()}
    if total_label:
        labels["province"] = total_label
    return {
        "locale": html_lang(locale),
        "echartsLocale": "EN" if english else "ZH",
        "months": [m.isoformat()[:7] for m in overview.months],
        "monthLabels": month_labels,
        "labels": labels,
        "province": _series(overview.province),
        "cities": [
            {
                "id": city.city_id,
                "name": (city.name_en or city.name) if english else city.name,
                **_series(city.months),
            }
            for city in overview.cities
        ],
    }


@router.get("/", response_class=HTMLResponse, name="overview")
def overview_page(
    request: Request,
    con: ScopedWarehouseDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    principal: CurrentPrincipal,
    months: int | None = None,
) -> Response:
    """The overview of the user's scope: KPI cards and four charts by city and month."""
    # A city or outlet user sees their own unit, so the page and the total line say so.
    scope_name = None if is_root_path(principal.org_path) else principal.org_name
    title = gettext_for(locale, N_("Province overview"))
    if scope_name:
        heading = gettext_for(locale, N_("Operating overview"))
        title = f"{heading} · {scope_name}"
    context: dict[str, Any] = {
        "page_title": title,
        "months": months,
        "month_choices": MONTH_CHOICES,
    }
    try:
        overview = service.province_overview(con=con, months=months)
    except WarehouseEmpty as empty:
        context["empty"] = empty
    else:
        month_label = templates.environment(locale).filters["month_label"]
        labels = [month_label(m) for m in overview.months]
        context.update(
            overview=overview,
            latest_month=labels[-1],
            cards=kpi_cards(overview),
            chart_data=chart_data(
                overview, locale=locale, month_labels=labels, total_label=scope_name
            ),
        )
    htmx = request.headers.get("HX-Request") == "true"
    name = "analysis/_overview_body.html" if htmx else "analysis/overview.html"
    response = templates.render(request, name, context)
    # The same URL answers with a fragment for HTMX and a page otherwise.
    response.headers["Vary"] = "HX-Request, Cookie"
    return response
