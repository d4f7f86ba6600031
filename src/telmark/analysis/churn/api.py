"""JSON routes of the churn model: train, score, list, show, activate, risk by city.

Models are province-wide (trained on and scoring the whole province): any
reader of aggregates may list them; training, scoring and activation need
ANALYSIS_RUN at province level (the service refuses city users with 403).
The risk distribution reads ``churn_scores`` through the caller's scope.
Training runs inside the request (a few seconds at demo scale, minutes at
a million lines; use ``telmark analysis churn train`` for large provinces).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path

from telmark.analysis.churn import service
from telmark.analysis.churn.schemas import (
    ChurnModelRead,
    ChurnModelSummary,
    RiskDistributionRead,
    ScoreRunRead,
)
from telmark.auth.deps import ScopedWarehouseDep, require
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.web.deps import SettingsDep, UowDep, WarehouseDep
from telmark.web.errors import ErrorRead

router = APIRouter(prefix="/api/analysis/churn", tags=["analysis"])

Reader = Annotated[Principal, require(Action.OVERVIEW_READ)]
Runner = Annotated[Principal, require(Action.ANALYSIS_RUN)]
VersionPath = Annotated[int, Path(ge=1, description="Model version.")]

_RUN_ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": ErrorRead, "description": "Not a province-level user with analysis:run."},
    409: {"model": ErrorRead, "description": "Not enough data in the warehouse."},
    422: {"model": ErrorRead, "description": "Too few port-outs, or a changed model file."},
}


@router.post("/train", response_model=ChurnModelRead, responses=_RUN_ERRORS)
def train(
    _principal: Runner,
    uow: UowDep,
    con: WarehouseDep,
    settings: SettingsDep,
    seed: Annotated[int, Body(embed=True)] = 0,
) -> ChurnModelRead:
    """Train a new version on the second-to-last month and make it the active model."""
    return service.train_model(
        uow=uow, con=con, models_dir=service.models_dir(settings.data_dir), seed=seed
    )


@router.post("/score", response_model=ScoreRunRead, responses=_RUN_ERRORS)
def score(
    _principal: Runner,
    uow: UowDep,
    con: WarehouseDep,
    version: Annotated[int | None, Body(embed=True, ge=1)] = None,
) -> ScoreRunRead:
    """Score every active line with the active model (or ``version``) into churn_scores."""
    return service.score(uow=uow, con=con, version=version)


@router.get("/models", response_model=list[ChurnModelSummary])
def models(_principal: Reader, uow: UowDep) -> list[ChurnModelSummary]:
    """Every model version, newest first."""
    return service.list_models(uow=uow)


@router.get(
    "/models/{version}",
    response_model=ChurnModelRead,
    responses={404: {"model": ErrorRead, "description": "No such version."}},
)
def show(version: VersionPath, _principal: Reader, uow: UowDep) -> ChurnModelRead:
    """One version: holdout AUC and baseline, lift, calibration and feature importance."""
    return service.get_model(uow=uow, version=version)


@router.post(
    "/models/{version}/activate",
    response_model=ChurnModelRead,
    responses={
        403: _RUN_ERRORS[403],
        404: {"model": ErrorRead, "description": "No such version."},
        409: {"model": ErrorRead, "description": "Already the active version."},
    },
)
def activate(version: VersionPath, _principal: Runner, uow: UowDep) -> ChurnModelRead:
    """Make a retired version the active one."""
    return service.activate(uow=uow, version=version)


@router.get("/risk", response_model=RiskDistributionRead)
def risk(_principal: Reader, con: ScopedWarehouseDep) -> RiskDistributionRead:
    """Scored lines by city and risk band, in the caller's scope."""
    return service.risk_distribution(con=con)
