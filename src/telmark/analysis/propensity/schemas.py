"""What the propensity trainer reports."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

FeatureKind = Literal["numeric", "boolean", "categorical", "date", "dropped"]


class FeatureRead(BaseModel):
    """How one input column was used (or why it was not)."""

    column: str
    kind: FeatureKind
    note: str | None = None


class DecileRead(BaseModel):
    """One tenth of the holdout, highest scores first."""

    decile: int
    rows: int
    positives: int
    positive_rate: float
    lift: float  # positive_rate / the holdout's overall positive rate
    cumulative_gain: float  # share of all holdout positives found in deciles 1..this
    min_score: float
    max_score: float


class ImportanceRead(BaseModel):
    """Mean drop in holdout AUC when the feature's values are shuffled."""

    feature: str
    importance: float
    std: float


class ScoreRead(BaseModel):
    id: str
    score: float


class PropensityReport(BaseModel):
    label: str
    id_column: str
    rows: int
    labelled_rows: int
    positives: int
    train_rows: int
    holdout_rows: int
    holdout_positives: int
    holdout: float
    seed: int
    calibration: Literal["isotonic", "sigmoid"]
    auc: float
    baseline_auc: float
    baseline_feature: str | None
    lift: list[DecileRead]
    top_features: list[ImportanceRead]
    features: list[FeatureRead]
    scores: list[ScoreRead]
