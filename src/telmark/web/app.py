"""The FastAPI application: REST API under /api, the server-rendered console elsewhere.

A domain joins the app by adding its routers to ``ROUTERS`` and, if it has a
console page, an entry to ``NAV``. Nothing here opens a database: the
warehouse connection is opened on the first request that needs it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from telmark import __version__
from telmark.analysis import api as analysis_api
from telmark.analysis import pages as analysis_pages
from telmark.analysis.churn import api as churn_api
from telmark.analysis.churn import pages as churn_pages
from telmark.analysis.kpi import api as kpi_api
from telmark.analysis.kpi import pages as kpi_pages
from telmark.analysis.propensity import api as propensity_api
from telmark.analysis.report import api as report_api
from telmark.analysis.report import pages as report_pages
from telmark.analysis.uplift import api as uplift_api
from telmark.analysis.uplift import pages as uplift_pages
from telmark.analysis.value import api as value_api
from telmark.analysis.value import pages as value_pages
from telmark.audit import api as audit_api
from telmark.audit import pages as audit_pages
from telmark.auth import admin_pages as auth_admin_pages
from telmark.auth import api as auth_api
from telmark.auth import pages as auth_pages
from telmark.auth.deps import not_authenticated_handler
from telmark.auth.permissions import Action
from telmark.cases import api as cases_api
from telmark.cases import pages as cases_pages
from telmark.catalog import api as catalog_api
from telmark.catalog import pages as catalog_pages
from telmark.config import Settings, get_settings
from telmark.consent import api as consent_api
from telmark.consent import pages as consent_pages
from telmark.customers import api as customers_api
from telmark.customers import pages as customers_pages
from telmark.errors import DomainError, NotAuthenticated
from telmark.evaluation import api as evaluation_api
from telmark.evaluation import pages as evaluation_pages
from telmark.evaluation.cases import api as case_evaluation_api
from telmark.evaluation.cases import pages as case_evaluation_pages
from telmark.execution import api as execution_api
from telmark.execution.monitor import api as monitor_api
from telmark.execution.monitor import pages as monitor_pages
from telmark.execution.responses import api as responses_api
from telmark.execution.responses import pages as responses_pages
from telmark.execution.tasks import api as tasks_api
from telmark.execution.tasks import pages as tasks_pages
from telmark.execution.triggers import api as triggers_api
from telmark.execution.triggers import pages as triggers_pages
from telmark.market import api as market_api
from telmark.market import pages as market_pages
from telmark.offers import api as offers_api
from telmark.offers import pages as offers_pages
from telmark.offers.eligibility import api as eligibility_api
from telmark.offers.eligibility import pages as eligibility_pages
from telmark.org import api as org_api
from telmark.org import pages as org_pages
from telmark.segments import api as segments_api
from telmark.segments import pages as segments_pages
from telmark.targeting import api as targeting_api
from telmark.targeting import pages as targeting_pages
from telmark.translation import N_
from telmark.web import system
from telmark.web.deps import Warehouse
from telmark.web.errors import domain_error_handler, http_error_handler
from telmark.web.i18n import LOCALE_COOKIE, LOCALE_QUERY, normalize_locale
from telmark.web.templating import STATIC_DIR, ConsoleTemplates, NavItem

# Each domain adds its JSON router and its console router here.
ROUTERS: list[APIRouter] = [
    system.router,
    analysis_api.router,
    value_api.router,
    value_pages.router,
    analysis_pages.router,
    kpi_api.router,
    kpi_pages.router,
    propensity_api.router,
    churn_api.router,
    churn_pages.router,
    uplift_api.router,
    uplift_pages.router,
    org_api.router,
    org_pages.router,
    auth_api.router,
    auth_pages.router,
    auth_admin_pages.router,
    consent_api.router,
    consent_pages.router,
    audit_api.router,
    audit_pages.router,
    customers_api.router,
    customers_pages.router,
    market_api.router,
    market_pages.router,
    segments_api.router,
    segments_pages.router,
    catalog_api.router,
    catalog_pages.router,
    # Before the offer routes: /offers/eligibility must not be taken for an offer code.
    eligibility_api.router,
    eligibility_pages.router,
    offers_api.router,
    offers_pages.router,
    cases_api.router,
    cases_pages.router,
    targeting_api.router,
    execution_api.router,
    targeting_pages.router,
    tasks_api.router,
    tasks_pages.router,
    monitor_api.router,
    monitor_pages.router,
    responses_api.router,
    responses_pages.router,
    triggers_api.router,
    triggers_pages.router,
    report_api.router,
    report_pages.router,
    evaluation_api.router,
    evaluation_pages.router,
    case_evaluation_api.router,
    case_evaluation_pages.router,
]

# The console's navigation, in display order; labels are English msgids.
NAV: list[NavItem] = [
    # The analysis pages in the order an analyst reads a month: the picture, the cube behind
    # it, who is worth what, who is at risk, one customer, whom to target, the market, the report.
    NavItem(path="/", label=N_("Overview"), icon="overview", action=Action.OVERVIEW_READ),
    NavItem(
        path="/analysis/kpi", label=N_("KPI cube"), icon="overview", action=Action.OVERVIEW_READ
    ),
    NavItem(
        path="/analysis/value",
        label=N_("Customer value"),
        icon="value",
        action=Action.OVERVIEW_READ,
    ),
    NavItem(
        path="/analysis/churn", label=N_("Churn risk"), icon="alert", action=Action.OVERVIEW_READ
    ),
    NavItem(
        path="/analysis/uplift",
        label=N_("Uplift models"),
        icon="value",
        action=Action.OVERVIEW_READ,
    ),
    NavItem(path="/customers", label=N_("Customers"), icon="customer", action=Action.CUSTOMER_READ),
    NavItem(path="/segments", label=N_("Segments"), icon="segments", action=Action.OVERVIEW_READ),
    NavItem(path="/catalog", label=N_("Catalog"), icon="database", action=Action.OVERVIEW_READ),
    NavItem(path="/offers", label=N_("Offer book"), icon="offers", action=Action.OVERVIEW_READ),
    NavItem(path="/cases", label=N_("Marketing cases"), icon="report", action=Action.CASE_READ),
    NavItem(
        path="/targeting/runs", label=N_("Targeting"), icon="segments", action=Action.TARGETING_RUN
    ),
    NavItem(path="/tasks/mine", label=N_("My tasks"), icon="consent", action=Action.TASK_WORK),
    NavItem(
        path="/evaluation/experiments",
        label=N_("Experiments"),
        icon="report",
        action=Action.EVALUATION_READ,
    ),
    NavItem(
        path="/evaluation/league",
        label=N_("Case evaluation"),
        icon="report",
        action=Action.EVALUATION_READ,
    ),
    NavItem(
        path="/triggers", label=N_("Real-time triggers"), icon="alert", action=Action.TRIGGER_MANAGE
    ),
    NavItem(
        path="/tasks/completion",
        label=N_("Task completion"),
        icon="report",
        action=Action.TASK_MANAGE,
    ),
    NavItem(path="/monitor", label=N_("Execution monitor"), icon="alert", action=Action.CASE_READ),
    NavItem(path="/responses", label=N_("Responses"), icon="report", action=Action.CASE_READ),
    NavItem(path="/market", label=N_("Market"), icon="market", action=Action.OVERVIEW_READ),
    NavItem(
        path="/analysis/report",
        label=N_("Monthly report"),
        icon="report",
        action=Action.OVERVIEW_READ,
    ),
    NavItem(path="/org", label=N_("Organisation"), icon="org", action=Action.ORG_READ),
    NavItem(path="/users", label=N_("Users"), icon="users", action=Action.USERS_READ),
    NavItem(path="/roles", label=N_("Roles"), icon="roles", action=Action.USERS_READ),
    NavItem(path="/consent", label=N_("Consent"), icon="consent", action=Action.CONSENT_READ),
    NavItem(path="/audit", label=N_("Audit trail"), icon="audit", action=Action.AUDIT_READ),
]

LOCALE_COOKIE_MAX_AGE = 365 * 24 * 3600


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    app.state.warehouse.close()


async def _remember_locale(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Keep a language chosen with ``?lang=`` in the ``telmark_lang`` cookie."""
    response = await call_next(request)
    chosen = normalize_locale(request.query_params.get(LOCALE_QUERY))
    if chosen and request.cookies.get(LOCALE_COOKIE) != chosen:
        response.set_cookie(
            LOCALE_COOKIE, chosen, max_age=LOCALE_COOKIE_MAX_AGE, httponly=True, samesite="lax"
        )
    return response


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the telmark web app (API, console, static files) for ``settings``."""
    settings = settings or get_settings()
    app = FastAPI(
        title="telmark",
        version=__version__,
        summary="Marketing system for full-service telecom operators.",
        openapi_url="/api/openapi.json",
        # Served below from vendored files: the default pages load Swagger UI from a CDN.
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.warehouse = Warehouse(settings)
    app.state.templates = ConsoleTemplates(
        nav=NAV, version=__version__, default_locale=settings.default_locale
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(DomainError, domain_error_handler)
    app.add_exception_handler(NotAuthenticated, not_authenticated_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.middleware("http")(_remember_locale)

    @app.get("/api/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/api/openapi.json",
            title="telmark API",
            swagger_js_url=f"/static/vendor/swagger-ui/swagger-ui-bundle.js?v={__version__}",
            swagger_css_url=f"/static/vendor/swagger-ui/swagger-ui.css?v={__version__}",
            swagger_favicon_url="/static/img/favicon.svg",
        )

    return app
