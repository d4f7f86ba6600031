"""The churn model registry: one row per trained version."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, String, text
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import Mapped, mapped_column

from telmark.analysis.churn.domain import ModelStatus
from telmark.db import Base, UTCDateTime


class ChurnModel(Base):
    """A trained churn model: its metrics, its artifact's location and checksum, its status."""

    __tablename__ = "churn_models"

    # The version number is the key: scores name it, users type it.
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    status: Mapped[ModelStatus] = mapped_column(
        SAEnum(
            ModelStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
            create_constraint=True,
            name="churn_model_status",
        )
    )
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime())
    trained_by: Mapped[str] = mapped_column(String(120))
    feature_month: Mapped[date]
    label_month: Mapped[date]
    rows: Mapped[int]
    positives: Mapped[int]
    auc: Mapped[float]
    baseline_auc: Mapped[float]
    calibration_method: Mapped[str] = mapped_column(String(16))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    artifact_path: Mapped[str] = mapped_column(String(1000))
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    scored_rows: Mapped[int | None]
    scored_month: Mapped[date | None]

    __table_args__ = (
        # Exactly one active model: the service retires the old one first, and the
        # database refuses a second active row should two trainings race.
        Index(
            "uq_churn_models_one_active",
            "status",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        CheckConstraint("positives >= 0 AND positives <= rows", name="positives_within_rows"),
        CheckConstraint("auc >= 0 AND auc <= 1", name="auc_range"),
    )
