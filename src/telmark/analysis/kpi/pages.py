"""Console page of the KPI cube: cards, trends, ranking and treemap of a unit's children."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from telmark.analysis.kpi import domain, service
from telmark.analysis.kpi.schemas import KpiPoint, KpiRead, KpiUnit
from telmark.auth.deps import ScopedWarehouseDep, require
from telmark.auth.permissions import Action
from telmark.errors import InvalidInput, WarehouseEmpty
from telmark.translation import N_
from telmark.web.deps import LocaleDep, TemplatesDep
from telmark.web.i18n import gettext_for, html_lang

router = APIRouter(include_in_schema=False, dependencies=[require(Action.OVERVIEW_READ)])

PAGE_PATH = "/analysis/kpi"

# The period selector: query values of ``months`` ("all" = every month in the cube).
MONTH_CHOICES: tuple[tuple[str, str], ...] = (
    ("6", N_("Last 6 months")),
    ("12", N_("Last 12 months")),
    ("all", N_("All months")),
)
DEFAULT_MONTHS = "12"

# Labels of plan families and payment types (values of products.family / payment_type).
FAMILY_LABELS = {
    "5g_plan": N_("5G plans"),
    "4g_plan": N_("4G plans"),
    "converged": N_("Converged"),
    "family": N_("Family plans"),
    "enterprise": N_("Enterprise"),
    "unknown": N_("Unknown plan"),
}
PAYMENT_LABELS = {"prepaid": N_("Prepaid"), "postpaid": N_("Postpaid")}
KIND_LABELS = {
    "province": N_("Province"),
    "city": N_("City"),
    "district": N_("District"),
    "outlet": N_("Outlet"),
    "grid": N_("Grid"),
    "key_account_centre": N_("Key-account centre"),
}
CHART_LABELS = {
    "trend": N_("Trend"),
    "subscribers": N_("Subscribers"),
    "noData": N_("No data"),
}


@dataclass(frozen=True, slots=True)
class KpiCard:
    """A KPI of the latest month with its month-on-month and year-on-year changes."""

    key: str
    label: str  # English msgid
    format: str
    value: float | None
    mom: float | None
    yoy: float | None
    change: Literal["relative", "difference"]
    higher_is_better: bool

    def tone(self, change: float | None) -> Literal["good", "bad", "neutral"]:
        if change is None or abs(change) < 1e-12:
            return "neutral"
        return "good" if (change > 0) == self.higher_is_better else "bad"

    def trend(self, change: float | None) -> Literal["up", "down", "flat"]:
        if change is None or abs(change) < 1e-12:
            return "flat"
        return "up" if change > 0 else "down"


def kpi_cards(point: KpiPoint) -> list[KpiCard]:
    """One card per KPI of ``point``."""
    yoy = point.yoy or {}
    return [
        KpiCard(
            key=kpi.key,
            label=kpi.label,
            format=kpi.format,
            value=domain.kpi_value(point, kpi.key),
            mom=point.mom[kpi.key],
            yoy=yoy.get(kpi.key),
            change=kpi.change,
            higher_is_better=kpi.higher_is_better,
        )
        for kpi in domain.KPIS.values()
    ]


def display_value(key: str, value: float | None) -> float | None:
    """A KPI value as the charts show it: yuan for fen, percent for fractions."""
    if value is None:
        return None
    fmt = domain.KPIS[key].format
    if fmt in ("yuan", "yuan_compact"):
        return round(value / 100, 2)
    if fmt == "percent":
        return round(value * 100, 4)
    return round(value, 2)


def _values(point: KpiPoint) -> dict[str, float | None]:
    return {key: display_value(key, domain.kpi_value(point, key)) for key in domain.KPIS}


def unit_name(unit: KpiUnit, locale: str) -> str:
    return (unit.name_en or unit.name) if locale == "en" else unit.name


def page_url(read: KpiRead, **changes: Any) -> str:
    """The page's URL with the current filters, some of them changed (None drops one)."""
    months = read.filters.months
    params: dict[str, Any] = {
        "unit": read.unit.org_id,
        "months": "all" if months is None else months,
        "plan_family": read.filters.plan_family,
        "payment_type": read.filters.payment_type,
    }
    params.update(changes)
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{PAGE_PATH}?{query}" if query else PAGE_PATH


def chart_data(read: KpiRead, *, locale: str, month_labels: list[str]) -> dict[str, Any]:
    """Everything the charts draw, JSON-ready (yuan and percent for display)."""
    labels = {key: gettext_for(locale, kpi.label) for key, kpi in domain.KPIS.items()}
    return {
        "locale": html_lang(locale),
        "echartsLocale": "EN" if locale == "en" else "ZH",
        "monthLabels": month_labels,
        "unitName": unit_name(read.unit, locale),
        "labels": {key: gettext_for(locale, msgid) for key, msgid in CHART_LABELS.items()},
        "kpis": [
            {"key": key, "label": labels[key], "format": kpi.format, "better": kpi.higher_is_better}
            for key, kpi in domain.KPIS.items()
        ],
        "series": {
            key: [display_value(key, domain.kpi_value(p, key)) for p in read.series]
            for key in domain.KPIS
        },
        "children": [
            {
                "id": child.unit.org_id,
                "name": unit_name(child.unit, locale),
                "href": page_url(read, unit=child.unit.org_id) if child.unit.has_children else None,
                "values": _values(child.point),
            }
            for child in read.children
        ],
    }


def parse_months(value: str) -> int | None:
    """The ``months`` query value: "all" or a whole number of at least 1."""
    if value == "all":
        return None
    if not value.isdigit() or int(value) < 1:
        raise InvalidInput(
            "months must be a whole number of at least 1, or all",
            details=[{"field": "months", "value": value, "reason": "not a month count"}],
        )
    return int(value)


@router.get(PAGE_PATH, response_class=HTMLResponse, name="kpi_cube")
def kpi_page(
    request: Request,
    con: ScopedWarehouseDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    unit: str | None = None,
    months: str = DEFAULT_MONTHS,
    plan_family: str | None = None,
    payment_type: str | None = None,
) -> Response:
    """A unit's KPI dashboard; HTMX requests get only the swappable body."""
    context: dict[str, Any] = {
        "page_title": gettext_for(locale, N_("KPI cube")),
        "month_choices": MONTH_CHOICES,
        "family_labels": FAMILY_LABELS,
        "payment_labels": PAYMENT_LABELS,
        "kind_labels": KIND_LABELS,
        "months": months,
    }
    try:
        read = service.unit_kpis(
            con=con,
            unit=unit or None,
            months=parse_months(months),
            plan_family=plan_family or None,
            payment_type=payment_type or None,
        )
    except WarehouseEmpty as empty:
        context["empty"] = empty
    else:
        month_label = templates.environment(locale).filters["month_label"]
        labels = [month_label(m) for m in read.months]
        context.update(
            read=read,
            latest_month=labels[-1],
            cards=kpi_cards(read.latest),
            page_url=lambda **changes: page_url(read, **changes),
            unit_name=lambda u: unit_name(u, locale),
            chart_data=chart_data(read, locale=locale, month_labels=labels),
            kpi_value=domain.kpi_value,
        )
        context["page_title"] += " · " + unit_name(read.unit, locale)
    htmx = request.headers.get("HX-Request") == "true"
    name = "analysis/_kpi_body.html" if htmx else "analysis/kpi.html"
    response = templates.render(request, name, context)
    response.headers["Vary"] = "HX-Request, Cookie"
    return response
