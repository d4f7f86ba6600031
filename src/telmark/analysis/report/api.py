"""JSON route of the monthly report (the Excel and PDF downloads are console routes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from telmark.analysis.report import service
from telmark.analysis.report.build import build_report
from telmark.analysis.report.schemas import ReportRead
from telmark.auth.deps import ScopedWarehouseDep, require
from telmark.auth.permissions import Action
from telmark.web.deps import UowDep, WarehouseDep
from telmark.web.errors import ErrorRead

router = APIRouter(
    prefix="/api/analysis", tags=["analysis"], dependencies=[require(Action.OVERVIEW_READ)]
)

CityQuery = Annotated[
    str | None, Query(description="City code (C01); default: your own city (or the first).")
]
MonthQuery = Annotated[
    str | None, Query(description="YYYY-MM; default: the latest month of the KPI cube.")
]


@router.get(
    "/report",
    response_model=ReportRead,
    responses={404: {"model": ErrorRead, "description": "The city is outside your scope."}},
)
def report(
    uow: UowDep,
    con: ScopedWarehouseDep,
    ranking_con: WarehouseDep,
    city: CityQuery = None,
    month: MonthQuery = None,
) -> ReportRead:
    """The monthly operating-analysis report of a city: KPIs, ranks, risks, segments, market.

    Ranks are the city's place among all the province's cities; no other city's
    figures are returned.
    """
    return build_report(
        uow=uow,
        con=con,
        ranking_con=ranking_con,
        city=city or None,
        month=service.month_param(month),
    )
