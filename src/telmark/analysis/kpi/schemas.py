"""API schemas of the KPI cube. Money is integer fen; rates are fractions (0.012 = 1.2%).

A ``KpiPoint`` carries one month of one slice (a unit, a plan family, ...):
the additive counts exactly as summed from ``kpi_cube``, the ratios derived
from them, and the month-on-month / year-on-year changes keyed by ratio or
count name (see ``telmark.analysis.kpi.domain.KPIS`` for each key's change
kind: a relative change for counts and money, a difference of fractions for
rates such as churn and penetration).
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class KpiCounts(BaseModel):
    """The additive measures of one slice in one month (sums of ``kpi_cube`` rows)."""

    model_config = ConfigDict(frozen=True)

    subscribers: int = Field(description="Lines in the base at the month's end.")
    opening_subscribers: int = Field(description="Lines in the base at the previous month's end.")
    gross_adds: int = Field(description="Lines opened (join_date) in the month.")
    port_outs: int = Field(
        description="Lines whose number ported out (port_out_date) in the month."
    )
    terminations: int = Field(description="Lines terminated (status terminated) in the month.")
    revenue_fen: int = Field(description="Sum of the month's usage_monthly.arpu_fen (fen).")
    billed_lines: int = Field(description="Lines with a usage_monthly row in the month.")
    data_mb: int = Field(description="Data used by the billed lines (MB).")
    voice_min: int = Field(description="Voice minutes of the billed lines.")
    lines_5g: int = Field(description="Base lines at month end whose plan is a 5G plan.")
    bundle_lines: int = Field(description="Base lines at month end in a household with a bundle.")
    complaints: int = Field(description="Complaints lodged in the month by the slice's lines.")


class KpiRatios(BaseModel):
    """Ratios derived in Python from the exact counts; null when the denominator is zero."""

    model_config = ConfigDict(frozen=True)

    net_adds: int = Field(description="subscribers - opening_subscribers.")
    churn_rate: float | None = Field(description="port_outs / opening_subscribers.")
    arpu_fen: int | None = Field(description="revenue_fen / billed_lines, whole fen half up.")
    dou_mb: float | None = Field(description="data_mb / billed_lines (MB per line).")
    mou_min: float | None = Field(description="voice_min / billed_lines (minutes per line).")
    penetration_5g: float | None = Field(description="lines_5g / subscribers.")
    bundle_penetration: float | None = Field(description="bundle_lines / subscribers.")
    complaint_rate: float | None = Field(description="Complaints per 1,000 billed lines.")


class KpiPoint(BaseModel):
    """One slice in one month: counts, ratios and changes on the month and year before."""

    model_config = ConfigDict(frozen=True)

    month: date = Field(description="First day of the month.")
    counts: KpiCounts
    ratios: KpiRatios
    mom: dict[str, float | None] = Field(
        description="Change on the previous month per KPI key (see domain.KPIS for the kind); "
        "every value null when the previous month is not in the cube."
    )
    yoy: dict[str, float | None] | None = Field(
        description="Change on the same month a year earlier; null when that month is absent."
    )


class KpiUnit(BaseModel):
    """An org unit as the cube shows it."""

    model_config = ConfigDict(frozen=True)

    org_id: str
    kind: str = Field(description="province, city, district, outlet, grid, key_account_centre.")
    name: str = Field(description="Chinese name.")
    name_en: str | None = Field(description="English name, when the org tree has one.")
    parent_id: str | None
    has_children: bool = Field(description="Whether any unit lies below it (drill-down).")


class KpiChildRow(BaseModel):
    """A child unit of the viewed unit in the latest month (rankings, treemap, table)."""

    model_config = ConfigDict(frozen=True)

    unit: KpiUnit
    point: KpiPoint


class KpiBreakdownRow(BaseModel):
    """The viewed unit's latest month for one plan family or payment type."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="The plan family (products.family) or payment type.")
    point: KpiPoint


class KpiFilters(BaseModel):
    """Filters applied to the cube before rolling up."""

    model_config = ConfigDict(frozen=True)

    months: int | None = Field(description="Only the latest N months of the cube (None = all).")
    plan_family: str | None = None
    payment_type: str | None = None


class KpiRead(BaseModel):
    """One unit's KPIs: monthly series, children and breakdowns in the latest month."""

    model_config = ConfigDict(frozen=True)

    unit: KpiUnit
    path: list[KpiUnit] = Field(
        description="Breadcrumb from the top unit of the caller's scope down to ``unit``."
    )
    filters: KpiFilters
    months: list[date] = Field(description="Reported months, oldest first.")
    series: list[KpiPoint] = Field(description="The unit's KPIs per reported month.")
    children: list[KpiChildRow] = Field(description="Child units in the latest month.")
    by_plan_family: list[KpiBreakdownRow]
    by_payment_type: list[KpiBreakdownRow]
    plan_families: list[str] = Field(description="Every plan family in the cube (filter choices).")
    payment_types: list[str] = Field(description="Every payment type in the cube.")
    yoy_available: bool = Field(
        description="Whether the month a year before the latest month is in the cube."
    )
    built_at: datetime | None = Field(description="When ``kpi_cube`` was last refreshed (UTC).")

    @property
    def latest(self) -> KpiPoint:
        return self.series[-1]


class KpiPeerRow(BaseModel):
    """A unit among its siblings in one month, with its rank per KPI (1 = best)."""

    model_config = ConfigDict(frozen=True)

    unit: KpiUnit
    point: KpiPoint
    ranks: dict[str, int | None] = Field(
        description="Rank among the peers per KPI key, 1 = best (higher or lower per KPI); "
        "null when the KPI is undefined for this unit."
    )


class KpiUnitMonthRead(BaseModel):
    """One unit's KPIs in one month with MoM/YoY and its ranking among its siblings."""

    model_config = ConfigDict(frozen=True)

    unit: KpiUnit
    month: date
    point: KpiPoint
    ranks: dict[str, int | None] = Field(description="The unit's rank per KPI among ``peers``.")
    peers: list[KpiPeerRow] = Field(
        description="Units with the same parent visible in the caller's scope (including "
        "this one), ordered by subscribers, largest first."
    )


class KpiRefreshRead(BaseModel):
    """What ``refresh`` built."""

    model_config = ConfigDict(frozen=True)

    table: str = Field(description="Warehouse table written (kpi_cube).")
    rows: int = Field(description="Rows at the finest grain.")
    months: list[date] = Field(description="Months the cube covers, oldest first.")
    missing_tables: list[str] = Field(
        description="Optional source tables that were absent (households: bundle_lines = 0; "
        "complaints: complaints = 0)."
    )
    built_at: datetime = Field(description="When the build finished (UTC).")
    seconds: float = Field(description="Wall-clock build time.")
