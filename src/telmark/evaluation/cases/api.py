"""JSON routes of case evaluation (``/api/evaluation/cases``, ``/api/evaluation/league``).

Reading needs evaluation:read and shows the case's contacts and control rows within the
caller's organisation (404 for a case the caller cannot see; a city reads its part of a
province case). Recording needs evaluation:run and the case's own unit within the caller's
scope: a recorded evaluation is the whole case's, the one its ``evaluate`` step relies on.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from telmark.auth.deps import require
from telmark.auth.permissions import Action
from telmark.evaluation.cases import service
from telmark.evaluation.cases.domain import Dimension
from telmark.evaluation.cases.exports import MEDIA_TYPES, ExportFormat, file_name
from telmark.evaluation.cases.schemas import CaseEvaluationRead, LeagueRow, RecordIn, RecordRead
from telmark.web.deps import LocaleDep, UowDep
from telmark.web.errors import ErrorRead

router = APIRouter(
    prefix="/api/evaluation",
    tags=["evaluation"],
    dependencies=[require(Action.EVALUATION_READ)],
)

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorRead, "description": "No such case in your organisation."}
}
ByQuery = Annotated[
    list[Dimension] | None,
    Query(description="Breakdowns (repeatable): city, channel, offer. Default: all three."),
]


@router.get("/cases/{case_id}", response_model=CaseEvaluationRead, responses=NOT_FOUND)
def evaluate_case(uow: UowDep, case_id: int, by: ByQuery = None) -> CaseEvaluationRead:
    """The case's evaluation now: take-up, uplift with 95% intervals, revenue, cost, ROI,
    guardrails, take-up curves, detectable uplift, the projection beside the result."""
    return service.evaluate_case(
        uow=uow, case_id=case_id, by=None if by is None else [d.value for d in by]
    )


@router.get("/cases/{case_id}/recorded", response_model=CaseEvaluationRead, responses=NOT_FOUND)
def recorded(uow: UowDep, case_id: int) -> CaseEvaluationRead:
    """The latest recorded evaluation, exactly as it was recorded."""
    return service.recorded(uow=uow, case_id=case_id)


@router.post(
    "/cases/{case_id}/record",
    response_model=RecordRead,
    status_code=201,
    responses=NOT_FOUND,
    dependencies=[require(Action.EVALUATION_RUN)],
)
def record(uow: UowDep, case_id: int, body: RecordIn | None = None) -> RecordRead:
    """Evaluate the completed case now and record the result (the case may then be marked
    evaluated)."""
    return service.record_evaluation(
        uow=uow, case_id=case_id, comment="" if body is None else body.comment
    )


@router.get(
    "/cases/{case_id}/export",
    responses={
        **NOT_FOUND,
        200: {"content": {m: {} for m in MEDIA_TYPES.values()}, "description": "The file."},
    },
)
def export(
    uow: UowDep,
    locale: LocaleDep,
    case_id: int,
    format: Annotated[ExportFormat, Query(description="xlsx or pdf")] = ExportFormat.XLSX,  # noqa: A002 - the query parameter's public name
) -> Response:
    """The case's evaluation as an Excel workbook or a PDF (the download is audited)."""
    read, data = service.export_evaluation(uow=uow, case_id=case_id, fmt=format, locale=locale)
    return Response(
        data,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{file_name(read, format)}"'},
    )


@router.get("/league", response_model=list[LeagueRow])
def league(uow: UowDep) -> list[LeagueRow]:
    """Cases that have run, by incremental ROI (recorded evaluations where there are)."""
    return service.league(uow=uow)
