"""JSON routes of the analysis domain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from telmark.analysis import service
from telmark.analysis.schemas import OverviewRead
from telmark.web.deps import WarehouseDep
from telmark.web.errors import ErrorRead

router = APIRouter(prefix="/api/analysis", tags=["analysis"])

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
def overview(con: WarehouseDep, months: MonthsQuery = None) -> OverviewRead:
    """Province overview: subscribers, revenue, ARPU and port-out churn by city and month."""
    return service.province_overview(con=con, months=months)
