"""JSON routes of the analysis domain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from telmark.analysis import service
from telmark.analysis.schemas import OverviewRead
from telmark.auth.deps import ScopedWarehouseDep, require
from telmark.auth.permissions import Action
from telmark.web.errors import ErrorRead

router = APIRouter(
    prefix="/api/analysis", tags=["analysis"], dependencies=[require(Action.OVERVIEW_READ)]
)

MonthsQuery = Annotated[
    int | None,
    Query(ge=1, le=600, description="Only the latest N months of usage data (default: all)."),
]


@router.get(
    "/overview",
    response_model=OverviewRead,
    responses={
        409: {"model": ErrorRead, "description": "No data loaded yet (warehouse_empty)."},
        503: {"model": ErrorRead, "description": "The warehouse cannot be opened."},
    },
)
def overview(con: ScopedWarehouseDep, months: MonthsQuery = None) -> OverviewRead:
    """Subscribers, revenue, ARPU and port-out churn by city and month, in the caller's scope."""
    return service.province_overview(con=con, months=months)
