"""API schemas of the analysis domain. Money is integer fen; rates are fractions (0.012 = 1.2%)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class MonthKpis(BaseModel):
    """The overview KPIs of one org unit (a city or the province) in one month."""

    model_config = ConfigDict(frozen=True)

    month: date = Field(description="First day of the month.")
    subscribers: int = Field(description="Lines in the base at the month's end.")
    opening_subscribers: int = Field(description="Lines in the base at the previous month's end.")
    port_outs: int = Field(description="Lines whose number ported out during the month.")
    churn_rate: float | None = Field(
        description="port_outs / opening_subscribers; null when the opening base is empty."
    )
    revenue_fen: int = Field(description="Sum of the month's usage_monthly.arpu_fen (fen).")
    billed_lines: int = Field(description="Lines with a usage_monthly row in the month.")
    arpu_fen: int | None = Field(
        description="revenue_fen / billed_lines in whole fen (half up); null with no lines."
    )


class CityKpis(BaseModel):
    """One city's KPIs for every reported month, oldest first."""

    model_config = ConfigDict(frozen=True)

    city_id: str
    name: str = Field(description="Chinese name.")
    name_en: str | None = Field(description="English name, when the org tree has one.")
    months: list[MonthKpis]


class OverviewRead(BaseModel):
    """Province overview: KPIs by city and month, and province totals."""

    model_config = ConfigDict(frozen=True)

    months: list[date] = Field(description="Reported months, oldest first.")
    province: list[MonthKpis] = Field(
        description="Province totals per month (includes lines homed under no city)."
    )
    cities: list[CityKpis] = Field(description="Cities in org-code order.")

    @property
    def latest(self) -> MonthKpis:
        return self.province[-1]

    @property
    def previous(self) -> MonthKpis | None:
        return self.province[-2] if len(self.province) > 1 else None


class DataStatus(BaseModel):
    """Whether the warehouse holds what the overview needs."""

    loaded: bool = Field(description="All required tables exist and usage_monthly has rows.")
    missing_tables: list[str] = Field(description="Required tables that do not exist yet.")
