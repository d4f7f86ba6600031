"""The monthly report's shape (API JSON, and what the HTML, Excel and PDF render).

Money is integer fen; rates are fractions (0.012 = 1.2%); MoM/YoY changes follow
``telmark.analysis.kpi.domain.KPIS`` (relative for counts and money, a
difference of fractions for rates).
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from telmark.market.schemas import OfferBeside, ShareSeries


class Missing(BaseModel):
    """A section that could not be built: what is missing and the command that builds it."""

    what: str = Field(description="The missing warehouse table.")
    message: str
    command: str = Field(description="The command that builds it.")


class KpiLine(BaseModel):
    key: str = Field(description="KPI key (telmark.analysis.kpi.domain.KPIS).")
    label: str = Field(description="English label.")
    value: float | None
    format: str = Field(description="number, yuan, yuan_compact, percent or decimal.")
    change_kind: str = Field(description="relative or difference (fraction points).")
    higher_is_better: bool
    mom: float | None
    yoy: float | None
    rank: int | None = Field(description="Rank among the province's cities, 1 = best.")


class KpiSection(BaseModel):
    lines: list[KpiLine]
    cities_ranked: int = Field(description="How many cities the ranks are among.")
    yoy_available: bool


class Risk(BaseModel):
    key: str = Field(description="The KPI that worsened.")
    label: str
    rule: str = Field(description="The documented threshold it crossed (English).")
    change: float = Field(description="The change that crossed it (as the rule measures it).")
    value: float | None


class DistrictChurn(BaseModel):
    org_id: str
    name: str
    name_en: str | None
    subscribers: int
    port_outs: int
    churn_rate: float | None


class Segment(BaseModel):
    plan_family: str
    payment_type: str
    tenure_band: str = Field(description="0-1y, 1-3y, 3-5y or 5y+ at the month's end.")
    lines: int
    high_risk_lines: int = Field(description="Lines in the 'high' risk band.")
    expected_churners: float = Field(description="Σ churn probability.")
    revenue_at_risk_fen: int = Field(description="Σ probability × the line's ARPU in the month.")
    mean_probability: float


class SegmentSection(BaseModel):
    model_version: int
    feature_month: date
    scored_lines: int
    segments: list[Segment] = Field(description="Top segments by revenue at risk.")


class MarketSection(BaseModel):
    shares: list[ShareSeries] = Field(description="The month's entries (and own share if derived).")
    market_size: int | None
    offers: list[OfferBeside] = Field(description="Offers on sale at the month's end.")


class ReportRead(BaseModel):
    """The monthly operating-analysis report of one city."""

    city_code: str
    city_name: str
    city_name_en: str | None
    month: date
    generated_at: datetime
    kpis: KpiSection | None
    kpis_missing: Missing | None
    risks: list[Risk]
    worst_districts: list[DistrictChurn]
    segments: SegmentSection | None
    segments_missing: Missing | None
    market: MarketSection
