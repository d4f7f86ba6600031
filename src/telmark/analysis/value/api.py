"""JSON routes of the value fits; they act only on the numbers or file the caller sends."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile

from telmark.analysis.value import service
from telmark.analysis.value.schemas import ClvFitRead, RetentionFitRead, RetentionFitRequest
from telmark.auth.deps import require
from telmark.auth.permissions import Action
from telmark.errors import InvalidInput
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
