"""``POST /api/analysis/propensity/train``: train on an uploaded labelled file."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, UploadFile

from telmark.analysis.propensity.files import read_table
from telmark.analysis.propensity.schemas import PropensityReport
from telmark.analysis.propensity.service import train_propensity
from telmark.auth.deps import require
from telmark.auth.permissions import Action
from telmark.errors import InvalidInput
from telmark.web.errors import ErrorRead

# The model is trained in the request and held in memory, so the upload is capped.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024

router = APIRouter(
    prefix="/api/analysis/propensity",
    tags=["analysis"],
    dependencies=[require(Action.OVERVIEW_READ)],
)


@router.post(
    "/train",
    response_model=PropensityReport,
    responses={422: {"model": ErrorRead, "description": "Unreadable file, bad label or id."}},
)
def train(
    file: UploadFile,
    label: Annotated[
        str, Form(description="Binary label column (1/0, true/false, yes/no, 是/否).")
    ],
    id_column: Annotated[str, Form(alias="id", description="Column identifying each row.")],
    holdout: Annotated[float, Form(ge=0.05, le=0.5)] = 0.25,
    seed: Annotated[int, Form()] = 0,
) -> PropensityReport:
    """Train a calibrated propensity model on the uploaded CSV (UTF-8/GBK) or Parquet file.

    Reads only the caller's upload (no warehouse data); returns holdout AUC, a
    single-feature baseline AUC, lift by decile, top features and every row's score.
    """
    # A sync route: FastAPI runs it on the thread pool, so training does not block the loop.
    raw = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(raw) > MAX_UPLOAD_BYTES:
        raise InvalidInput(f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    frame = read_table(raw, filename=file.filename or "upload")
    return train_propensity(
        data=frame, label=label, id_column=id_column, holdout=holdout, seed=seed
    )
