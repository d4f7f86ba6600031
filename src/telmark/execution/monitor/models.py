"""Monitor tables: the alert thresholds and e-mail recipients of a unit.

Alerts themselves are ``cases.models.CaseAlert`` rows (one inbox with the
acknowledgement alerts ``cases.issuing`` raises).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from telmark.db import Base, UTCDateTime, utcnow


class MonitorSetting(Base):
    """A unit's alert thresholds and who is e-mailed its cases' alerts.

    A case uses the row of its own unit or, failing that, of its nearest
    ancestor; without any, ``domain.Thresholds``' defaults and no e-mail.
    ``thresholds`` holds only the values that differ from the defaults, checked
    by ``domain.Thresholds.from_mapping`` on every write and read.
    """

    __tablename__ = "monitor_setting"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_code: Mapped[str] = mapped_column(String(40), unique=True)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON)
    recipients: Mapped[list[str]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
