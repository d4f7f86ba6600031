"""Console pages of case evaluation: one case's evaluation, its downloads, and the league.

The case page draws, with ECharts, the uplift per city with its 95 % interval and the
cumulative take-up of treatment and control by day since exposure, and lists the whole
case, each breakdown, the guardrails (a rise is bad) and the projection beside the result.
Recording posts a form (evaluation:run) and comes back to the page. Everything is the
caller's organisation only (``service``); a case the caller cannot see is 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from ibis.backends import BaseBackend
from starlette.responses import Response

from telmark.auth.deps import ScopedWarehouseDep, require
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.cases.domain import CaseStatus
from telmark.errors import InvalidInput
from telmark.evaluation.cases import service
from telmark.evaluation.cases.domain import DIMENSION_LABELS, GUARDRAIL_LABELS, Dimension
from telmark.evaluation.cases.exports import EFFECT_LABELS, MEDIA_TYPES, ExportFormat, file_name
from telmark.evaluation.cases.qini import CaseQini, case_qini
from telmark.evaluation.cases.schemas import CaseEvaluationRead
from telmark.translation import N_
from telmark.uow import UnitOfWork
from telmark.web.deps import LocaleDep, TemplatesDep, UowDep
from telmark.web.i18n import gettext_for

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, require(Action.EVALUATION_READ)]
Runner = Annotated[Principal, require(Action.EVALUATION_RUN)]
KPI_LABELS = {
    "contacts": N_("Contacts"),
    "takers": N_("Takers"),
    "take_up_bp": N_("Take-up (bp)"),
    "incremental_revenue_fen": N_("Incremental revenue (fen)"),
    "retained_subscribers": N_("Subscribers retained"),
    "roi_bp": N_("ROI (bp)"),
}


async def _form_fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {name: str(form.get(name) or "") for name in form}


FormDep = Annotated[dict[str, str], Depends(_form_fields)]


def _charts(read: CaseEvaluationRead, locale: str) -> dict[str, Any]:
    """The data the page's two charts draw (rates and uplifts as fractions)."""
    city = next((b for b in read.breakdowns if b.dimension is Dimension.CITY), None)
    none = gettext_for(locale, N_("(none named)"))
    cells = [] if city is None else [c for c in city.cells if c.comparison.uplift is not None]
    return {
        "locale": locale.replace("_", "-"),
        "uplift": {
            "names": [c.label or c.key or none for c in cells],
            "estimate": [c.comparison.uplift for c in cells],
            "low": [c.comparison.uplift_low for c in cells],
            "high": [c.comparison.uplift_high for c in cells],
            "significant": [c.comparison.significant for c in cells],
            "overall": read.overall.comparison.uplift,
            "estimate_name": gettext_for(locale, N_("Uplift")),
            "interval_name": gettext_for(locale, N_("95% interval")),
            "overall_name": gettext_for(locale, N_("Whole case")),
        },
        "curve": {
            "days": [p.day for p in read.curve],
            "treatment": [p.treatment for p in read.curve],
            "control": [p.control for p in read.curve],
            "treatment_name": gettext_for(locale, N_("Treatment")),
            "control_name": gettext_for(locale, N_("Control")),
            "axis_name": gettext_for(locale, N_("Days since exposure")),
        },
    }


def _qini(ranked: CaseQini | None, locale: str) -> dict[str, Any] | None:
    if ranked is None:
        return None
    return {
        "share": ranked.share,
        "incremental": ranked.incremental,
        "model_name": gettext_for(locale, N_("Model v%(version)s")) % {"version": ranked.version},
        "random_name": gettext_for(locale, N_("Random targeting")),
    }


def _page(
    request: Request,
    uow: UnitOfWork,
    templates: TemplatesDep,
    locale: str,
    principal: Principal,
    case_id: int,
    *,
    error: str | None = None,
    con: BaseBackend | None = None,
) -> Response:
    read = service.evaluate_case(uow=uow, case_id=case_id)
    row = service.latest_record(uow, read.case_id)
    ranked = None if con is None else case_qini(uow=uow, con=con, case_id=read.case_id)
    context = {
        "page_title": gettext_for(locale, N_("Evaluation of %(code)s")) % {"code": read.case_code},
        "read": read,
        "chart": {**_charts(read, locale), "qini": _qini(ranked, locale)},
        "qini": ranked,
        "dimension_labels": DIMENSION_LABELS,
        "guardrail_labels": GUARDRAIL_LABELS,
        "effect_labels": EFFECT_LABELS,
        "kpi_labels": KPI_LABELS,
        "record": None if read.partial else row,
        "can_record": principal.can(Action.EVALUATION_RUN)
        and not read.partial
        and read.status in service.EVALUABLE,
        "can_mark": principal.can(Action.CASE_MANAGE)
        and not read.partial
        and read.status is CaseStatus.COMPLETED
        and row is not None,
        "error": error,
    }
    return templates.render(
        request, "evaluation/case.html", context, status_code=422 if error else 200
    )


@router.get("/evaluation/cases/{case_id}", response_class=HTMLResponse, name="case_evaluation")
def case_page(
    case_id: int,
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    principal: Reader,
    con: ScopedWarehouseDep,
) -> Response:
    """One case's evaluation, with its Excel and PDF downloads (and its Qini curve under the
    latest scored uplift model)."""
    return _page(request, uow, templates, locale, principal, case_id, con=con)


@router.post("/evaluation/cases/{case_id}/record", response_class=HTMLResponse)
def record(
    case_id: int,
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    principal: Runner,
    form: FormDep,
) -> Response:
    """Record the evaluation as it is now and go back to the page (or show why not)."""
    try:
        service.record_evaluation(uow=uow, case_id=case_id, comment=form.get("comment", ""))
    except InvalidInput as refused:
        return _page(request, uow, templates, locale, principal, case_id, error=refused.message)
    return RedirectResponse(f"/evaluation/cases/{case_id}?recorded=1", status_code=303)


def _download(uow: UnitOfWork, locale: str, case_id: int, fmt: ExportFormat) -> Response:
    read, data = service.export_evaluation(uow=uow, case_id=case_id, fmt=fmt, locale=locale)
    return Response(
        data,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{file_name(read, fmt)}"'},
    )


@router.get("/evaluation/cases/{case_id}/evaluation.xlsx", name="case_evaluation_xlsx")
def case_xlsx(
    case_id: int,
    uow: UowDep,
    locale: LocaleDep,
    principal: Reader,  # noqa: ARG001 - demands evaluation:read
) -> Response:
    """The evaluation as an Excel workbook (the download is audited)."""
    return _download(uow, locale, case_id, ExportFormat.XLSX)


@router.get("/evaluation/cases/{case_id}/evaluation.pdf", name="case_evaluation_pdf")
def case_pdf(
    case_id: int,
    uow: UowDep,
    locale: LocaleDep,
    principal: Reader,  # noqa: ARG001 - demands evaluation:read
) -> Response:
    """The evaluation as a PDF (the download is audited)."""
    return _download(uow, locale, case_id, ExportFormat.PDF)


@router.get("/evaluation/league", response_class=HTMLResponse, name="case_league")
def league_page(
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    principal: Reader,  # noqa: ARG001 - demands evaluation:read
) -> Response:
    """Cases that have run, ranked by incremental ROI, with significance markers."""
    context = {
        "page_title": gettext_for(locale, N_("Case league")),
        "rows": service.league(uow=uow),
    }
    return templates.render(request, "evaluation/league.html", context)
