"""Console routes of the monthly report: the page and its Excel and PDF downloads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from starlette.responses import Response

from telmark import __version__
from telmark.analysis.report import present, service
from telmark.analysis.report.build import build_report
from telmark.analysis.report.schemas import ReportRead
from telmark.analysis.report.service import MEDIA_TYPES, ReportFormat
from telmark.auth.deps import ScopedWarehouseDep, require
from telmark.auth.permissions import Action
from telmark.market.pages import COMPETITOR_LABELS
from telmark.org.domain import OrgKind
from telmark.org.models import OrgUnit
from telmark.org.scope import visible
from telmark.translation import N_
from telmark.uow import UnitOfWork
from telmark.web.deps import LocaleDep, TemplatesDep, UowDep, WarehouseDep
from telmark.web.i18n import gettext_for
from telmark.web.templating import ConsoleTemplates

router = APIRouter(include_in_schema=False, dependencies=[require(Action.OVERVIEW_READ)])

CityQuery = Annotated[str | None, Query()]
_COMPETITORS = {c.value: label for c, label in COMPETITOR_LABELS.items()}
MonthQuery = Annotated[str | None, Query()]


def report_context(report: ReportRead, *, locale: str) -> dict[str, Any]:
    """What the report templates draw (the page and the standalone HTML document)."""
    name = (report.city_name_en or report.city_name) if locale == "en" else report.city_name
    return {
        "report": report,
        "city_label": name,
        "value_text": lambda line: present.value_text(line, locale),
        "change_text": present.change_text,
        "change_tone": present.change_tone,
        "kpi_label": lambda line: present.label(line, locale),
        "risk_label": lambda risk: gettext_for(
            locale, present.KPI_LABELS.get(risk.key, risk.label)
        ),
        "rule_text": lambda risk: gettext_for(locale, risk.rule),
        "competitor_label": lambda key: gettext_for(
            locale, N_("Our share") if key == "own" else _COMPETITORS.get(str(key), str(key))
        ),
        "sections": {k: gettext_for(locale, v) for k, v in present.SECTION_TITLES.items()},
    }


def document_html(report: ReportRead, *, locale: str) -> str:
    """The report as one standalone HTML document (for ``telmark analysis report``)."""
    templates = ConsoleTemplates(nav=[], version=__version__, default_locale=locale)
    template = templates.environment(locale).get_template("analysis/report_document.html")
    return template.render(report_context(report, locale=locale))


def _cities(uow: UnitOfWork) -> list[OrgUnit]:
    """The cities the user may report on (their own, or every city for the province)."""
    stmt = select(OrgUnit).where(OrgUnit.kind == OrgKind.CITY, visible(uow, OrgUnit.path))
    return list(uow.session.scalars(stmt.order_by(OrgUnit.code)))


@router.get("/analysis/report", response_class=HTMLResponse, name="report")
def report_page(
    request: Request,
    uow: UowDep,
    con: ScopedWarehouseDep,
    ranking_con: WarehouseDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    city: CityQuery = None,
    month: MonthQuery = None,
) -> Response:
    """The monthly operating-analysis report of a city, with Excel and PDF downloads."""
    report = build_report(
        uow=uow,
        con=con,
        ranking_con=ranking_con,
        city=city or None,
        month=service.month_param(month),
    )
    query = f"city={report.city_code}&month={report.month:%Y-%m}"
    shown = report_context(report, locale=locale)
    context = {
        "page_title": gettext_for(locale, N_("Monthly report")) + f" · {shown['city_label']}",
        "cities": _cities(uow),
        "query": query,
        **shown,
    }
    return templates.render(request, "analysis/report.html", context)


def _download(
    uow: UnitOfWork,
    con: Any,
    ranking_con: Any,
    locale: str,
    city: str | None,
    month: str | None,
    fmt: ReportFormat,
) -> Response:
    report, data = service.export_report(
        uow=uow,
        con=con,
        ranking_con=ranking_con,
        city=city or None,
        month=service.month_param(month),
        fmt=fmt,
        locale=locale,
    )
    name = service.file_name(report, fmt)
    return Response(
        data,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/analysis/report.xlsx", name="report_xlsx")
def report_xlsx(
    uow: UowDep,
    con: ScopedWarehouseDep,
    ranking_con: WarehouseDep,
    locale: LocaleDep,
    city: CityQuery = None,
    month: MonthQuery = None,
) -> Response:
    """The report as an Excel workbook (the download is audited)."""
    return _download(uow, con, ranking_con, locale, city, month, ReportFormat.XLSX)


@router.get("/analysis/report.pdf", name="report_pdf")
def report_pdf(
    uow: UowDep,
    con: ScopedWarehouseDep,
    ranking_con: WarehouseDep,
    locale: LocaleDep,
    city: CityQuery = None,
    month: MonthQuery = None,
) -> Response:
    """The report as a PDF (the download is audited)."""
    return _download(uow, con, ranking_con, locale, city, month, ReportFormat.PDF)
