"""The uplift model registry: one row per trained version."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, String
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import Mapped, mapped_column

from telmark.analysis.uplift.domain import ModelStatus, Source
from telmark.db import Base, UTCDateTime


def _enum(enum: type[ModelStatus] | type[Source], name: str) -> SAEnum:
    return SAEnum(
        enum,
        native_enum=False,
        length=16,
        values_callable=lambda e: [m.value for m in e],
        create_constraint=True,
        name=name,
    )


class UpliftModel(Base):
    """A trained uplift model: where its rows came from, its holdout figures, its artifact."""

    __tablename__ = "uplift_models"

    # The version number is the key: scores and segment conditions name it.
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    status: Mapped[ModelStatus] = mapped_column(_enum(ModelStatus, "uplift_model_status"))
    source: Mapped[Source] = mapped_column(_enum(Source, "uplift_model_source"))
    # The cases whose treatment and control lines it learned from (empty for a file).
    case_ids: Mapped[list[int]] = mapped_column(JSON)
    source_file: Mapped[str | None] = mapped_column(String(500))
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime())
    trained_by: Mapped[str] = mapped_column(String(120))
    seed: Mapped[int]
    feature_month: Mapped[date]
    rows: Mapped[int]
    treated: Mapped[int]
    responders: Mapped[int]
    holdout_rows: Mapped[int]
    qini: Mapped[float]
    auuc: Mapped[float]
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    artifact_path: Mapped[str] = mapped_column(String(1000))
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    scored_rows: Mapped[int | None]
    scored_month: Mapped[date | None]

    __table_args__ = (
        CheckConstraint("treated >= 0 AND treated <= rows", name="treated_within_rows"),
        CheckConstraint("responders >= 0 AND responders <= rows", name="responders_within_rows"),
        CheckConstraint("holdout_rows > 0 AND holdout_rows < rows", name="holdout_within_rows"),
        CheckConstraint(
            "status != 'scored' OR (scored_at IS NOT NULL AND scored_rows IS NOT NULL "
            "AND scored_month IS NOT NULL)",
            name="scored_is_complete",
        ),
    )
