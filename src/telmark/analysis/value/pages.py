"""Console pages of customer value: tiers, decay, CLV and cohorts; and the fit forms."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from telmark.analysis.service import EMPTY_WAREHOUSE_HINT
from telmark.analysis.value import service
from telmark.analysis.value.cohorts import DEFAULT_COHORT_MONTHS
from telmark.analysis.value.rfm import TIER_CUTOFFS, ValueTier
from telmark.analysis.value.schemas import CohortsRead, TierCount, ValueSummaryRead
from telmark.auth.deps import CurrentPrincipal, ScopedWarehouseDep, require
from telmark.auth.permissions import Action
from telmark.errors import DomainError, WarehouseEmpty
from telmark.org.domain import is_root_path
from telmark.translation import N_
from telmark.web.deps import LocaleDep, TemplatesDep
from telmark.web.i18n import gettext_for, html_lang

router = APIRouter(include_in_schema=False, dependencies=[require(Action.OVERVIEW_READ)])

# The seed's membership levels (会员等级), in display order.
TIER_LABELS: dict[str, str] = {
    ValueTier.VIP: N_("VIP"),
    ValueTier.GOLD: N_("Gold"),
    ValueTier.STAR: N_("Star"),
    ValueTier.NON_MEMBER: N_("Non-member"),
}
MODEL_LABELS: dict[str, str] = {
    "sbg": N_("Contract lines (sBG)"),
    "bgnbd_gg": N_("Prepaid recharges (BG/NBD + Gamma-Gamma)"),
}
CHART_LABELS = {
    "lines": N_("Lines"),
    "revenue": N_("Monthly revenue"),
    "linesShare": N_("Share of lines"),
    "revenueShare": N_("Share of revenue"),
    "kept": N_("Value kept"),
    "months": N_("Months since last activity"),
    "observed": N_("Observed"),
    "fitted": N_("sBG fit"),
    "pooled": N_("Pooled sBG fit"),
    "month": N_("Month of life"),
    "retention": N_("Still active"),
    "clv": N_("CLV (yuan)"),
    "expected": N_("Projected"),
    "period": N_("Period"),
    "survivors": N_("Survivors"),
}


def _labels(locale: str, table: dict[str, str]) -> dict[str, str]:
    return {key: gettext_for(locale, msgid) for key, msgid in table.items()}


def tier_cutoffs() -> list[tuple[str, int, int]]:
    """(tier, lowest, highest) RFM totals of each member tier, top first."""
    rows = []
    highest = 15
    for tier, lowest in TIER_CUTOFFS:
        rows.append((str(tier), lowest, highest))
        highest = lowest - 1
    rows.append((str(ValueTier.NON_MEMBER), 3, highest))
    return rows


def _shares(tiers: list[TierCount]) -> list[dict[str, Any]]:
    lines = sum(t.subscribers for t in tiers)
    revenue = sum(t.revenue_fen for t in tiers)
    return [
        {
            "tier": t.tier,
            "lines": t.subscribers,
            "revenue_fen": t.revenue_fen,
            "lines_share": t.subscribers / lines if lines else None,
            "revenue_share": t.revenue_fen / revenue if revenue else None,
        }
        for t in tiers
    ]


def value_chart_data(
    summary: ValueSummaryRead, cohorts: CohortsRead | None, *, locale: str
) -> dict[str, Any]:
    """What the value page's charts draw (yuan, not fen), JSON-ready."""
    english = locale == "en"
    tier_names = _labels(locale, TIER_LABELS)
    models = _labels(locale, MODEL_LABELS)
    data: dict[str, Any] = {
        "locale": html_lang(locale),
        "echartsLocale": "EN" if english else "ZH",
        "labels": _labels(locale, CHART_LABELS),
        "tiers": [
            {**row, "name": tier_names[row["tier"]], "revenueYuan": row["revenue_fen"] / 100}
            for row in _shares(summary.tiers)
        ],
        "units": [
            {
                "id": unit.org_id,
                "name": (unit.name_en or unit.name) if english else unit.name,
                "lines": {t.tier: t.subscribers for t in unit.tiers},
            }
            for unit in summary.units
        ],
        "tierOrder": [str(t) for t in TIER_LABELS],
        "tierNames": tier_names,
        "recency": [
            {
                "months": r.recency_months,
                "lines": r.subscribers,
                "kept": (r.decayed_value_fen / r.monetary_fen) if r.monetary_fen else None,
            }
            for r in summary.recency
        ],
        "clv": [
            {
                "model": b.model,
                "modelName": models.get(b.model, b.model),
                "lower": b.lower_yuan,
                "upper": b.upper_yuan,
                "lines": b.subscribers,
            }
            for b in summary.clv_buckets
        ],
        "cohorts": [],
    }
    if cohorts is not None:
        data["cohorts"] = [
            {
                "name": c.join_month.isoformat()[:7],
                "first": c.first_period,
                "observed": c.observed_retention,
                "fitted": c.fitted_retention or c.pooled_retention,
                "own": c.fitted_retention is not None,
            }
            for c in cohorts.cohorts
            if len(c.survivors) >= 2
        ]
    return data


def _scope_title(locale: str, msgid: str, principal: Any) -> str:
    title = gettext_for(locale, msgid)
    if is_root_path(principal.org_path):
        return title
    return f"{title} · {principal.org_name}"


@router.get("/analysis/value", response_class=HTMLResponse, name="customer_value")
def value_page(
    request: Request,
    con: ScopedWarehouseDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    principal: CurrentPrincipal,
) -> Response:
    """Tier distribution, value decay, CLV distribution and cohort retention in the user's scope."""
    context: dict[str, Any] = {
        "page_title": _scope_title(locale, N_("Customer value"), principal),
        "tier_labels": TIER_LABELS,
        "model_labels": MODEL_LABELS,
        "cutoffs": tier_cutoffs(),
        "may_refresh": principal.can(Action.ANALYSIS_RUN) and is_root_path(principal.org_path),
    }
    try:
        summary = service.value_summary(con=con, org_code=service.scope_unit(principal))
    except WarehouseEmpty as empty:
        if service.value_built(con=con):
            context["empty"] = empty  # built once, but no rows in this scope
        elif {"subscribers", "usage_monthly"} <= set(con.list_tables()):
            context["not_built"] = True
        else:
            context["empty"] = WarehouseEmpty(
                EMPTY_WAREHOUSE_HINT,
                details=[{"table": "subscribers"}, {"table": "usage_monthly"}],
            )
        return templates.render(request, "analysis/value.html", context)
    cohorts: CohortsRead | None = None
    try:
        cohorts = service.retention_cohorts(con=con, cohort_months=DEFAULT_COHORT_MONTHS)
    except DomainError as error:
        context["cohort_problem"] = error.message
    context.update(
        summary=summary,
        shares=_shares(summary.tiers),
        cohorts=cohorts,
        chart_data=value_chart_data(summary, cohorts, locale=locale),
    )
    return templates.render(request, "analysis/value.html", context)


@router.get("/analysis/fits", response_class=HTMLResponse, name="value_fits")
def fits_page(request: Request, templates: TemplatesDep, locale: LocaleDep) -> Response:
    """Forms that fit retention to typed survivor counts and CLV to an uploaded file."""
    context = {
        "page_title": gettext_for(locale, N_("Value model fits")),
        "chart_data": {
            "locale": html_lang(locale),
            "echartsLocale": "EN" if locale == "en" else "ZH",
            "labels": _labels(locale, CHART_LABELS),
        },
    }
    return templates.render(request, "analysis/fits.html", context)
