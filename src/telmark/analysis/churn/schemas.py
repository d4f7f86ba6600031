"""What the churn model's use cases return."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel

from telmark.analysis.propensity.schemas import DecileRead, ImportanceRead


class CalibrationRead(BaseModel):
    """One tenth of the holdout by predicted probability (lowest first)."""

    decile: int
    rows: int
    mean_predicted: float
    observed_rate: float


class ChurnMetrics(BaseModel):
    """Holdout measurements stored with a model version."""

    holdout_rows: int
    holdout_positives: int
    lift: list[DecileRead]
    calibration: list[CalibrationRead]
    importance: list[ImportanceRead]
    features: list[str]
    seconds: dict[str, float]  # features, fit, evaluation


class ChurnModelSummary(BaseModel):
    version: int
    status: Literal["active", "retired"]
    trained_at: datetime
    trained_by: str
    feature_month: date  # T: features from months up to T
    label_month: date  # T+1: the port-outs the model learned from
    rows: int
    positives: int
    auc: float
    baseline_auc: float  # a tenure-only model on the same split
    calibration_method: str
    scored_at: datetime | None
    scored_rows: int | None
    scored_month: date | None


class ChurnModelRead(ChurnModelSummary):
    metrics: ChurnMetrics
    artifact_path: str
    artifact_sha256: str


class ScoreRunRead(BaseModel):
    """One scoring run: the table written and its risk bands."""

    model_version: int
    feature_month: date
    rows: int
    scored_at: datetime
    mean_probability: float
    bands: dict[str, int]
    seconds: float


class CityRisk(BaseModel):
    city_id: str
    name: str
    name_en: str | None
    lines: int
    high: int
    medium: int
    low: int
    mean_probability: float


class RiskDistributionRead(BaseModel):
    """Scored lines by city and band, within the reader's scope."""

    scored: bool  # False until a scoring run has written churn_scores
    model_version: int | None
    feature_month: date | None
    cities: list[CityRisk]
