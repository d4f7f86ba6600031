"""JSON routes of uplift models: train (from cases or an uploaded file), score, list, show.

Models are province-wide (trained on finished cases, scoring the whole
province): any reader of aggregates may list and show them; training and
scoring need ANALYSIS_RUN at province level (the service refuses city users
with 403), as churn's. Training runs inside the request (seconds for a case of
tens of thousands of lines; use ``telmark analysis uplift train`` for more).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Form, Path, UploadFile

from telmark.analysis.uplift import service
from telmark.analysis.uplift.features import labelled_from_cases, labelled_from_file
from telmark.analysis.uplift.schemas import (
    UpliftModelRead,
    UpliftModelSummary,
    UpliftScoreRunRead,
    UpliftTrainRequest,
)
from telmark.auth.deps import require
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.errors import InvalidInput
from telmark.web.deps import SettingsDep, UowDep, WarehouseDep
from telmark.web.errors import ErrorRead

router = APIRouter(prefix="/api/analysis/uplift", tags=["analysis"])

Reader = Annotated[Principal, require(Action.OVERVIEW_READ)]
Runner = Annotated[Principal, require(Action.ANALYSIS_RUN)]
VersionPath = Annotated[int, Path(ge=1, description="Model version.")]
# The rows are held in memory while the model trains, so the upload is capped.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024

_RUN_ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": ErrorRead, "description": "Not a province-level user with analysis:run."},
    404: {"model": ErrorRead, "description": "No such case or model version."},
    409: {"model": ErrorRead, "description": "Not enough data in the warehouse."},
    422: {
        "model": ErrorRead,
        "description": "Unfinished case, too few responders, bad file, or a changed model file.",
    },
}


@router.post("/train", response_model=UpliftModelRead, responses=_RUN_ERRORS)
def train(
    _principal: Runner,
    uow: UowDep,
    con: WarehouseDep,
    settings: SettingsDep,
    request: Annotated[UpliftTrainRequest, Body()],
) -> UpliftModelRead:
    """Train a new version on the treatment and control lines of finished cases."""
    service.require_province(uow)
    labelled = labelled_from_cases(uow=uow, case_ids=request.case_ids, con=con)
    return service.train_model(
        uow=uow,
        con=con,
        models_dir=service.models_dir(settings.data_dir),
        labelled=labelled,
        seed=request.seed,
    )


@router.post("/train-file", response_model=UpliftModelRead, responses=_RUN_ERRORS)
def train_file(
    _principal: Runner,
    uow: UowDep,
    con: WarehouseDep,
    settings: SettingsDep,
    file: UploadFile,
    seed: Annotated[int, Form()] = 0,
) -> UpliftModelRead:
    """Train a new version on an uploaded CSV/Parquet of subscriber_id, treated, outcome."""
    service.require_province(uow)
    raw = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(raw) > MAX_UPLOAD_BYTES:
        raise InvalidInput(
            f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB",
            details=[{"field": "file"}],
        )
    labelled = labelled_from_file(raw, filename=file.filename or "upload")
    return service.train_model(
        uow=uow,
        con=con,
        models_dir=service.models_dir(settings.data_dir),
        labelled=labelled,
        seed=seed,
    )


@router.post("/models/{version}/score", response_model=UpliftScoreRunRead, responses=_RUN_ERRORS)
def score(
    version: VersionPath, _principal: Runner, uow: UowDep, con: WarehouseDep
) -> UpliftScoreRunRead:
    """Score every active line with the version into uplift_scores (its rows only)."""
    return service.score(uow=uow, con=con, version=version)


@router.get("/models", response_model=list[UpliftModelSummary])
def models(_principal: Reader, uow: UowDep) -> list[UpliftModelSummary]:
    """Every model version, newest first."""
    return service.list_models(uow=uow)


@router.get(
    "/models/{version}",
    response_model=UpliftModelRead,
    responses={404: {"model": ErrorRead, "description": "No such version."}},
)
def show(version: VersionPath, _principal: Reader, uow: UowDep) -> UpliftModelRead:
    """One version: holdout Qini coefficient, AUUC, uplift@k and the Qini curve."""
    return service.get_model(uow=uow, version=version)
