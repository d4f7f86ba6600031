"""Console page of the churn model: the active model, its charts, versions and risk by city.

Training and scoring are synchronous form posts: at demo scale (tens of
thousands of lines) they take seconds; for millions of lines use the CLI.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from ibis.backends import BaseBackend
from starlette.responses import Response

from telmark.analysis.churn import service
from telmark.analysis.churn.schemas import ChurnModelRead, RiskDistributionRead
from telmark.auth.deps import ScopedWarehouseDep, require
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.errors import DomainError, Forbidden
from telmark.org.domain import is_root_path
from telmark.translation import N_
from telmark.uow import UnitOfWork
from telmark.warehouse.scope import scoped
from telmark.web.deps import LocaleDep, SettingsDep, TemplatesDep, UowDep, WarehouseDep
from telmark.web.i18n import gettext_for, html_lang
from telmark.web.templating import ConsoleTemplates

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, require(Action.OVERVIEW_READ)]
Runner = Annotated[Principal, require(Action.ANALYSIS_RUN)]

PAGE = "/analysis/churn"
TOP_FEATURES = 12

# Readable names of the model's features (the API and CLI keep the identifiers).
FEATURE_LABELS = {
    "tenure_months": N_("Tenure (months)"),
    "prepaid": N_("Prepaid"),
    "plan_fee_yuan": N_("Plan fee"),
    "plan_family": N_("Plan family"),
    "plan_5g": N_("5G plan"),
    "handset_5g": N_("5G handset"),
    "days_to_contract_end": N_("Days to contract end"),
    "contract_ended_recently": N_("Contract ended in last 92 days"),
    "handset_age_months": N_("Handset age (months)"),
    "arpu_last": N_("ARPU last month"),
    "arpu_mean_3m": N_("ARPU, 3-month mean"),
    "arpu_change": N_("ARPU change"),
    "data_last": N_("Data last month"),
    "data_mean_3m": N_("Data, 3-month mean"),
    "data_change": N_("Data use change"),
    "voice_last": N_("Voice last month"),
    "voice_mean_3m": N_("Voice, 3-month mean"),
    "voice_change": N_("Voice use change"),
    "overage_share_3m": N_("Overage share of bill"),
    "overage_fen_last": N_("Overage last month"),
    "data_fit": N_("Data used / plan allowance"),
    "dropped_last": N_("Dropped calls last month"),
    "dropped_3m": N_("Dropped calls, 3 months"),
    "complaints_3m": N_("Complaints, 3 months"),
    "complaints_network_3m": N_("Network complaints"),
    "complaints_billing_3m": N_("Billing complaints"),
    "household": N_("Household member"),
    "bundle": N_("Converged bundle"),
    "enterprise": N_("Enterprise member"),
}
CHART_LABELS = {
    "lift": N_("Lift"),
    "gain": N_("Cumulative gain"),
    "random": N_("Random targeting"),
    "decile": N_("Decile"),
    "predicted": N_("Mean predicted"),
    "observed": N_("Observed rate"),
    "importance": N_("Drop in AUC when shuffled"),
    "high": N_("High risk"),
    "medium": N_("Medium risk"),
    "low": N_("Low risk"),
}
DONE_MESSAGES = {
    "trained": N_("A new model version was trained and is now active."),
    "scored": N_("Every active line was scored; churn_scores was replaced."),
    "activated": N_("The model version is now active."),
}


def chart_data(
    model: ChurnModelRead | None, risk: RiskDistributionRead, *, locale: str
) -> dict[str, Any]:
    """What the page's charts draw, as JSON-ready data (percentages for display)."""
    english = locale == "en"
    data: dict[str, Any] = {
        "locale": html_lang(locale),
        "echartsLocale": "EN" if english else "ZH",
        "labels": {key: gettext_for(locale, msgid) for key, msgid in CHART_LABELS.items()},
        "cities": [
            {
                "name": (c.name_en or c.name) if english else c.name,
                "high": c.high,
                "medium": c.medium,
                "low": c.low,
            }
            for c in risk.cities
        ],
    }
    if model is not None:
        metrics = model.metrics
        data["lift"] = [
            {
                "decile": d.decile,
                "lift": round(d.lift, 3),
                "gain": round(d.cumulative_gain * 100, 2),
            }
            for d in metrics.lift
        ]
        data["calibration"] = [
            {
                "decile": c.decile,
                "predicted": round(c.mean_predicted * 100, 3),
                "observed": round(c.observed_rate * 100, 3),
            }
            for c in metrics.calibration
        ]
        data["importance"] = [
            {
                "feature": gettext_for(locale, FEATURE_LABELS.get(f.feature, f.feature)),
                "value": round(f.importance, 4),
            }
            for f in metrics.importance[:TOP_FEATURES]
        ]
    return data


def _render(
    request: Request,
    templates: ConsoleTemplates,
    locale: str,
    principal: Principal,
    uow: UnitOfWork,
    con: BaseBackend,
    *,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    model = service.active_model(uow=uow)
    risk = service.risk_distribution(con=con)
    done = request.query_params.get("done", "")
    context: dict[str, Any] = {
        "page_title": gettext_for(locale, N_("Churn risk")),
        "model": model,
        "versions": service.list_models(uow=uow),
        "risk": risk,
        "can_run": principal.can(Action.ANALYSIS_RUN) and is_root_path(principal.org_path),
        "scope_name": None if is_root_path(principal.org_path) else principal.org_name,
        "errors": errors or [],
        "done": DONE_MESSAGES.get(done),
        "chart_data": chart_data(model, risk, locale=locale),
    }
    return templates.render(request, "analysis/churn.html", context, status_code=status_code)


@router.get(PAGE, response_class=HTMLResponse, name="churn")
def churn_page(
    request: Request,
    principal: Reader,
    uow: UowDep,
    con: ScopedWarehouseDep,
    templates: TemplatesDep,
    locale: LocaleDep,
) -> Response:
    """The active model's metrics, the versions, and scored lines by city in the user's scope."""
    return _render(request, templates, locale, principal, uow, con)


def _failed(
    request: Request,
    templates: ConsoleTemplates,
    locale: str,
    principal: Principal,
    uow: UnitOfWork,
    con: BaseBackend,
    error: DomainError,
) -> Response:
    uow.rollback()
    view = scoped(con, org_code=principal.org_code, org_path=principal.org_path)
    message = error.message
    if isinstance(error, Forbidden):
        message = gettext_for(
            locale,
            N_(
                "Churn models cover the whole province: only province-level users may "
                "train, score or activate them."
            ),
        )
    return _render(
        request, templates, locale, principal, uow, view,
        errors=[message], status_code=error.status_code,
    )  # fmt: skip


def _run(
    request: Request,
    templates: ConsoleTemplates,
    locale: str,
    principal: Principal,
    uow: UnitOfWork,
    con: BaseBackend,
    action: Callable[[], object],
    done: str,
) -> Response:
    """Run ``action``: back to the page with the ``done`` message, or the page with the error."""
    try:
        action()
    except DomainError as error:
        return _failed(request, templates, locale, principal, uow, con, error)
    return RedirectResponse(f"{PAGE}?done={done}", status_code=303)


@router.post(f"{PAGE}/train", response_class=HTMLResponse)
def train(
    request: Request,
    principal: Runner,
    uow: UowDep,
    con: WarehouseDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    locale: LocaleDep,
) -> Response:
    """Train a new version (synchronously) and show it."""
    models_dir = service.models_dir(settings.data_dir)
    return _run(
        request, templates, locale, principal, uow, con,
        lambda: service.train_model(uow=uow, con=con, models_dir=models_dir), "trained",
    )  # fmt: skip


@router.post(f"{PAGE}/score", response_class=HTMLResponse)
def score(
    request: Request,
    principal: Runner,
    uow: UowDep,
    con: WarehouseDep,
    templates: TemplatesDep,
    locale: LocaleDep,
) -> Response:
    """Score every active line with the active model."""
    return _run(
        request, templates, locale, principal, uow, con,
        lambda: service.score(uow=uow, con=con), "scored",
    )  # fmt: skip


@router.post(f"{PAGE}/models/{{version}}/activate", response_class=HTMLResponse)
def activate(
    request: Request,
    version: Annotated[int, Path(ge=1)],
    principal: Runner,
    uow: UowDep,
    con: WarehouseDep,
    templates: TemplatesDep,
    locale: LocaleDep,
) -> Response:
    """Make a retired version the active one."""
    return _run(
        request, templates, locale, principal, uow, con,
        lambda: service.activate(uow=uow, version=version), "activated",
    )  # fmt: skip
