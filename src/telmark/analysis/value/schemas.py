"""Pydantic shapes of the value fits (CLI ``--json`` and API bodies)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class RetentionFitRequest(BaseModel):
    survivors: list[int] = Field(min_length=2, max_length=1000, examples=[[1000, 631, 468, 382]])
    periods: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Project this many periods (default: twice the data).",
    )


class RetentionPeriod(BaseModel):
    period: int
    survival: float
    retention: float
    expected_survivors: float
    observed_survivors: int | None


class RetentionFitRead(BaseModel):
    model: str = "shifted-beta-geometric"
    alpha: float
    beta: float
    log_likelihood: float
    cohort_size: int
    observed_periods: int
    converged: bool
    projection: list[RetentionPeriod]


class PurchaseModelRead(BaseModel):
    model: str = "BG/NBD"
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int
    converged: bool


class SpendModelRead(BaseModel):
    model: str = "Gamma-Gamma"
    p: float
    q: float
    gamma: float
    log_likelihood: float
    repeat_buyers: int
    converged: bool


class CustomerValueRead(BaseModel):
    customer: str
    frequency: int
    recency: float
    age: float
    monetary: float
    probability_alive: float
    expected_purchases: float
    expected_spend: float
    clv: float


class ClvFitRead(BaseModel):
    period_days: float
    horizon: int
    discount_rate: float
    purchases: PurchaseModelRead
    spend: SpendModelRead
    customers: list[CustomerValueRead]  # highest CLV first


# --- Customer value in the warehouse (``customer_value``) ---------------------------------


class ValueRefreshRequest(BaseModel):
    half_life_months: float = Field(
        default=3.0, gt=0, le=1200, description="Months after which inactive value counts half."
    )
    horizon: int = Field(default=12, ge=1, le=120, description="CLV horizon in months.")
    discount_rate: float = Field(default=0.0, ge=0, lt=1, description="Monthly discount rate.")
    cohort_months: int = Field(
        default=12, ge=1, le=600, description="Latest join months fitted on their own."
    )


class SbgPooledRead(BaseModel):
    alpha: float
    beta: float
    log_likelihood: float
    cohorts: int
    lines: int  # lines in the cohorts when the data begins
    converged: bool


class CohortRead(BaseModel):
    join_month: date
    first_period: int  # the first period (month of life) the warehouse observes
    survivors: list[int]  # after first_period, first_period + 1, ... months
    alpha: float | None
    beta: float | None
    log_likelihood: float | None
    problem: str | None  # why this cohort has no fit of its own
    observed_retention: list[float]  # survivors relative to the first observed count
    fitted_retention: list[float] | None  # S(t) / S(first_period) of the cohort's own fit
    pooled_retention: list[float] | None  # the same under the pooled fit


class CohortsRead(BaseModel):
    as_of_month: date
    data_start_month: date
    min_cohort_lines: int
    cohorts: list[CohortRead]  # the latest join months, oldest first
    pooled: SbgPooledRead | None
    pooled_problem: str | None


class RechargeModelRead(BaseModel):
    purchases: PurchaseModelRead
    spend: SpendModelRead
    fitted_on: int  # prepaid lines the models were fitted on (a seeded sample if fewer)
    lines: int  # prepaid lines valued
    dropout_free: bool  # BG/NBD found no dropout; valued with its limit, the NBD


class TierCount(BaseModel):
    tier: str
    subscribers: int
    revenue_fen: int  # sum of monetary_fen (average monthly revenue)


class ValueRefreshRead(BaseModel):
    table: str = "customer_value"
    as_of_month: date
    window_months: int
    subscribers: int
    half_life_months: float
    horizon: int
    discount_rate: float
    tiers: list[TierCount]
    sbg: SbgPooledRead | None
    sbg_cohorts_fitted: int
    recharge_model: RechargeModelRead | None
    problems: list[str]  # models that could not be fitted (their lines have no CLV)
    seconds: float


class UnitTiers(BaseModel):
    org_id: str
    name: str
    name_en: str | None
    tiers: list[TierCount]


class RecencyBucket(BaseModel):
    recency_months: int  # the last bucket holds this many months or more
    subscribers: int
    monetary_fen: int
    decayed_value_fen: int


class ClvBucket(BaseModel):
    model: str
    lower_yuan: int
    upper_yuan: int | None  # None: and above
    subscribers: int


class ClvTotals(BaseModel):
    model: str | None
    subscribers: int
    clv_fen: int


class ValueSummaryRead(BaseModel):
    as_of_month: date
    subscribers: int
    tiers: list[TierCount]  # every tier, top tier first
    units: list[UnitTiers]  # the scope's child units
    recency: list[RecencyBucket]
    clv_buckets: list[ClvBucket]
    clv_totals: list[ClvTotals]
