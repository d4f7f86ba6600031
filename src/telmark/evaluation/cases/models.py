"""The recorded evaluations of marketing cases (one row per recording, never updated).

A case moves to ``evaluated`` only with a row here (``cases.service.evaluate``). The
headline figures are columns so the league sorts and filters in SQL; the full result
(every breakdown, guardrail, curve and the projection comparison) is the JSON it was
shown as, so a recorded evaluation reads back exactly as it was recorded even after
more responses arrive.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from telmark.db import Base, UTCDateTime, utcnow


class CaseEvaluation(Base):
    """One recorded evaluation of a case: who, when, the data cut-off and the results."""

    __tablename__ = "case_evaluation"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("marketing_case.id"))
    case_code: Mapped[str] = mapped_column(String(20))
    # The data the results were computed from: responses up to this moment.
    cutoff_at: Mapped[datetime] = mapped_column(UTCDateTime())
    exposed_treatment: Mapped[int]
    exposed_control: Mapped[int]
    uplift: Mapped[float | None]  # absolute take-up uplift, a fraction
    significant: Mapped[bool]
    incremental_revenue_fen: Mapped[int | None] = mapped_column(BigInteger())
    cost_fen: Mapped[int] = mapped_column(BigInteger())
    roi_bp: Mapped[int | None] = mapped_column(BigInteger())
    results: Mapped[dict[str, Any]] = mapped_column(JSON)
    comment: Mapped[str] = mapped_column(String(1000), default="")
    recorded_by: Mapped[str] = mapped_column(String(120))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint(
            "exposed_treatment >= 0 AND exposed_control >= 0", name="exposed_not_negative"
        ),
        CheckConstraint("cost_fen >= 0", name="cost_not_negative"),
        CheckConstraint("cutoff_at <= recorded_at", name="cutoff_before_recording"),
        Index("ix_case_evaluation_case_recorded", "case_id", "recorded_at"),
    )
