"""JSON routes of the KPI cube: roll-ups for any unit in scope, and the cube's refresh."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from telmark.analysis.kpi import service
from telmark.analysis.kpi.schemas import KpiRead, KpiRefreshRead, KpiUnitMonthRead
from telmark.auth.deps import CurrentPrincipal, ScopedWarehouseDep, require
from telmark.auth.permissions import Action
from telmark.errors import Forbidden
from telmark.org.domain import is_root_path
from telmark.web.deps import WarehouseDep
from telmark.web.errors import ErrorRead

router = APIRouter(prefix="/api/analysis/kpi", tags=["analysis"])

_READ_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorRead, "description": "The unit is not in the caller's scope."},
    409: {"model": ErrorRead, "description": "kpi_cube not built yet (warehouse_empty)."},
    422: {"model": ErrorRead, "description": "Unknown plan family, payment type or month."},
}

UnitQuery = Annotated[
    str | None, Query(description="Org unit id (default: the top unit of the caller's scope).")
]


@router.get(
    "", response_model=KpiRead, responses=_READ_ERRORS, dependencies=[require(Action.OVERVIEW_READ)]
)
def kpis(
    con: ScopedWarehouseDep,
    unit: UnitQuery = None,
    months: Annotated[int | None, Query(ge=1, le=600, description="Latest N months.")] = None,
    plan_family: Annotated[str | None, Query(description="Only this plan family.")] = None,
    payment_type: Annotated[str | None, Query(description="prepaid or postpaid.")] = None,
) -> KpiRead:
    """A unit's monthly KPIs with MoM/YoY, its children and breakdowns in the latest month."""
    return service.unit_kpis(
        con=con, unit=unit, months=months, plan_family=plan_family, payment_type=payment_type
    )


@router.get(
    "/month",
    response_model=KpiUnitMonthRead,
    responses=_READ_ERRORS,
    dependencies=[require(Action.OVERVIEW_READ)],
)
def unit_month(
    con: ScopedWarehouseDep,
    unit: UnitQuery = None,
    month: Annotated[
        date | None, Query(description="First day of the month (default: latest).")
    ] = None,
) -> KpiUnitMonthRead:
    """One unit's KPIs in one month with MoM/YoY and its rank among its siblings in scope."""
    return service.unit_month(con=con, unit=unit, month=month)


@router.post(
    "/refresh",
    response_model=KpiRefreshRead,
    responses={
        403: {"model": ErrorRead, "description": "Needs analysis rights and province scope."},
        409: {"model": ErrorRead, "description": "No data loaded yet (warehouse_empty)."},
    },
    dependencies=[require(Action.ANALYSIS_RUN)],
)
def refresh(con: WarehouseDep, principal: CurrentPrincipal) -> KpiRefreshRead:
    """Rebuild ``kpi_cube`` from the warehouse (province-wide data, so province scope only)."""
    if not is_root_path(principal.org_path):
        raise Forbidden(
            "refreshing the KPI cube needs a province-level account",
            details=[{"reason": "the cube is built from every city's data"}],
        )
    return service.refresh_cube(con=con)
