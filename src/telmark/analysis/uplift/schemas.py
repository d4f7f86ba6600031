"""What the uplift model's use cases return."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel


class CurvePoint(BaseModel):
    """One point of a curve: the share of holdout lines targeted and the curve's value there."""

    share: float  # 0..1 of the holdout, highest predicted uplift first
    model: float
    random: float  # random targeting's straight line at the same share


class UpliftAtK(BaseModel):
    """Treatment minus control response rate among the top ``k`` of the holdout."""

    k: float  # share of the holdout, e.g. 0.2
    rows: int
    uplift: float
    random: float  # the overall uplift: what targeting ``k`` at random achieves
    treated_rate: float
    control_rate: float


class UpliftMetrics(BaseModel):
    """Holdout measurements stored with a model version."""

    holdout_rows: int
    holdout_treated: int
    treated_rate: float
    control_rate: float
    overall_uplift: float
    qini: float
    auuc: float
    uplift_at_k: list[UpliftAtK]
    qini_curve: list[CurvePoint]  # incremental responders, 101 points
    features: list[str]
    seconds: dict[str, float]  # features, fit, evaluation


class UpliftModelSummary(BaseModel):
    version: int
    status: Literal["trained", "scored"]
    source: Literal["cases", "file"]
    case_ids: list[int]
    source_file: str | None
    trained_at: datetime
    trained_by: str
    seed: int
    feature_month: date
    rows: int
    treated: int
    responders: int
    holdout_rows: int
    qini: float
    auuc: float
    scored_at: datetime | None
    scored_rows: int | None
    scored_month: date | None


class UpliftModelRead(UpliftModelSummary):
    metrics: UpliftMetrics
    artifact_path: str
    artifact_sha256: str


class UpliftScoreRunRead(BaseModel):
    """One scoring run: the model's rows written to ``uplift_scores``."""

    model_version: int
    feature_month: date
    rows: int
    scored_at: datetime
    mean_uplift: float
    positive_share: float  # lines predicted to respond more when treated
    seconds: float


class UpliftTrainRequest(BaseModel):
    """Train from finished cases: their treatment and control lines and attributed responses."""

    case_ids: list[int]
    seed: int = 0
