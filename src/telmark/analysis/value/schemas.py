"""Pydantic shapes of the value fits (CLI ``--json`` and API bodies)."""

from __future__ import annotations

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
