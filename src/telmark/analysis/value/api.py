"""JSON routes of customer value: the fits on the caller's numbers or file, the warehouse's
contract cohorts, and the ``customer_value`` table (built province-wide, read in scope)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile

from telmark.analysis.value import service
from telmark.analysis.value.cohorts import DEFAULT_COHORT_MONTHS
from telmark.analysis.value.schemas import (
    ClvFitRead,
    CohortsRead,
    RetentionFitRead,
    RetentionFitRequest,
    ValueRefreshRead,
    ValueRefreshRequest,
    ValueSummaryRead,
)
from telmark.auth.deps import CurrentPrincipal, ScopedWarehouseDep, require
from telmark.auth.permissions import Action
from telmark.errors import Forbidden, InvalidInput
from telmark.org.domain import is_root_path
from telmark.web.deps import WarehouseDep
from telmark.web.errors import ErrorRead

router = APIRouter(
    prefix="/api/analysis", tags=["analysis"], dependencies=[require(Action.OVERVIEW_READ)]
)

_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorRead, "description": "The data cannot be fitted (invalid_input)."}
}
MAX_UPLOAD_BYTES = 200 * 1024 * 1024


@router.post("/retention/fit", response_model=RetentionFitRead, responses=_INVALID)
def retention_fit(body: RetentionFitRequest) -> RetentionFitRead:
    """Shifted-beta-geometric fit of one cohort's survivor counts, with projected retention."""
    return service.fit_retention(survivors=body.survivors, periods=body.periods)


@router.post("/clv/fit", response_model=ClvFitRead, responses=_INVALID)
def clv_fit(
    transactions: Annotated[UploadFile, File(description="CSV or Parquet transactions.")],
    customer: Annotated[str, Form()],
    date_column: Annotated[str, Form(alias="date")],
    value: Annotated[str, Form()],
    observation_end: Annotated[date, Form()],
    period_days: Annotated[float, Form(gt=0)],
    horizon: Annotated[int, Form(ge=1, le=1000)] = 12,
    discount_rate: Annotated[float, Form(ge=0)] = 0.0,
) -> ClvFitRead:
    """BG/NBD + Gamma-Gamma fit on an uploaded transaction file; value per customer."""
    # Sync route: FastAPI runs it on the thread pool, so the fit does not block the loop.
    content = transactions.file.read(MAX_UPLOAD_BYTES + 1)
    name = transactions.filename or "upload.csv"
    if len(content) > MAX_UPLOAD_BYTES:
        raise InvalidInput(f"{name}: larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    frame = service.read_transactions(
        content, name=name, customer=customer, date_column=date_column, value=value
    )
    return service.fit_clv(
        transactions=frame,
        customer=customer,
        date_column=date_column,
        value=value,
        observation_end=observation_end,
        period_days=period_days,
        horizon=horizon,
        discount_rate=discount_rate,
    )


_NOT_LOADED: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorRead, "description": "No data loaded, or the table not built yet."},
    503: {"model": ErrorRead, "description": "The warehouse cannot be opened."},
}


@router.get("/retention/cohorts", response_model=CohortsRead, responses=_NOT_LOADED)
def retention_cohorts(
    con: ScopedWarehouseDep,
    cohort_months: Annotated[
        int, Query(ge=1, le=600, description="Fit the latest N join-month cohorts.")
    ] = DEFAULT_COHORT_MONTHS,
) -> CohortsRead:
    """sBG fits of the contract cohorts (by join month) in the caller's scope, and a pooled fit."""
    return service.retention_cohorts(con=con, cohort_months=cohort_months)


@router.get("/value/summary", response_model=ValueSummaryRead, responses=_NOT_LOADED)
def value_summary(con: ScopedWarehouseDep, principal: CurrentPrincipal) -> ValueSummaryRead:
    """Value tiers (lines, revenue) of the caller's scope and its child units; recency and CLV."""
    return service.value_summary(con=con, org_code=service.scope_unit(principal))


@router.post(
    "/value/refresh",
    response_model=ValueRefreshRead,
    responses={**_INVALID, **_NOT_LOADED, 403: {"model": ErrorRead, "description": "Forbidden."}},
    dependencies=[require(Action.ANALYSIS_RUN)],
)
def value_refresh(
    con: WarehouseDep, principal: CurrentPrincipal, body: ValueRefreshRequest | None = None
) -> ValueRefreshRead:
    """Rebuild ``customer_value`` for the whole province (province analysts only)."""
    if not is_root_path(principal.org_path):
        # The table covers every city; a city user may read their part, not rebuild it all.
        raise Forbidden("only province users may rebuild the province's customer value")
    options = body or ValueRefreshRequest()
    return service.refresh_customer_value(
        con=con,
        half_life_months=options.half_life_months,
        horizon=options.horizon,
        discount_rate=options.discount_rate,
        cohort_months=options.cohort_months,
    )
