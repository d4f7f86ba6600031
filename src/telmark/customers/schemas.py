"""Customer 360 read models: one subscriber's identity, products, usage, value, risk, history."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class OrgRef(BaseModel):
    org_id: str
    name: str | None = Field(None, description="Display name; None when outside your scope.")
    name_en: str | None = None


class Identity(BaseModel):
    """Who the line belongs to; msisdn, customer_name and id_number masked unless ``masked``."""

    msisdn: str
    customer_name: str
    id_number: str
    masked: bool
    gender: str
    birth_year: int
    age: int
    age_band: str
    payment_type: str
    status: str
    status_date: date
    port_out_date: date | None
    join_date: date
    tenure_months: int
    home_outlet: OrgRef
    home_grid: OrgRef
    handset_brand: str
    handset_5g: bool
    handset_date: date
    handset_age_months: int
    contract_end: date | None
    contract_months_left: int | None = Field(
        None, description="Whole months from the data date to contract_end (0 once past)."
    )


class ProductRead(BaseModel):
    product_id: str
    name: str
    kind: str
    family: str
    payment_type: str
    monthly_fee_fen: int
    data_mb: int
    voice_min: int
    is_5g: bool


class SubscriptionRead(BaseModel):
    subscription_id: int
    product_id: str
    product_name: str | None
    kind: str | None
    monthly_fee_fen: int | None
    start_date: date
    channel: str


class HouseholdRead(BaseModel):
    household_id: str
    members: int = Field(description="Lines of the household in your scope.")
    bundle_id: str | None
    bundle_name: str | None
    has_broadband: bool
    broadband_mbps: int
    has_iptv: bool
    created_date: date


class EnterpriseRead(BaseModel):
    """The enterprise account; the account manager's name is masked with the identity."""

    account_id: str
    name: str
    industry: str
    tier: str
    account_manager_id: str
    account_manager_name: str | None = Field(
        None, description="None when the manager is outside your scope."
    )


class UsageMonthRead(BaseModel):
    month: date
    arpu_fen: int
    data_mb: int
    voice_min: int
    sms_count: int
    dropped_calls: int


class RechargeRead(BaseModel):
    recharge_id: int
    recharged_at: datetime
    amount_fen: int
    channel: str


class OrderRead(BaseModel):
    order_id: int
    ordered_at: datetime
    product_id: str
    product_name: str | None
    action: str
    channel: str
    amount_fen: int


class ComplaintRead(BaseModel):
    complaint_id: int
    created_at: datetime
    category: str
    severity: int
    resolved_at: datetime | None


class SectionState(StrEnum):
    AVAILABLE = "available"
    NOT_COMPUTED = "not_computed"  # the warehouse table does not exist yet
    NOT_SCORED = "not_scored"  # the table exists but holds no row for this subscriber


class ValueRead(BaseModel):
    as_of_month: date
    recency_months: int
    frequency: int
    monetary_fen: int
    r_score: int
    f_score: int
    m_score: int
    rfm_score: int
    value_tier: str
    decayed_value_fen: int
    clv_fen: int | None
    clv_model: str | None


class ValueSection(BaseModel):
    state: SectionState
    table: str
    command: str = Field(description="The command that computes the table.")
    value: ValueRead | None = None


class ChurnRead(BaseModel):
    model_version: int = Field(description="The churn model version that scored the line.")
    feature_month: date
    churn_probability: float
    risk_decile: int = Field(description="1 … 10; 10 = the highest-risk tenth.")
    risk_band: str
    scored_at: datetime


class ChurnSection(BaseModel):
    state: SectionState
    table: str
    command: str
    score: ChurnRead | None = None


class History(BaseModel, Generic[T]):
    """The latest rows of a history (newest first) and how many there are in all."""

    items: list[T]
    total: int


class Customer360(BaseModel):
    """Everything the 360 page shows about one subscriber, from the warehouse."""

    subscriber_id: int
    data_date: date = Field(description="The day ages, tenure and months left are measured at.")
    identity: Identity
    plan: ProductRead | None
    subscriptions: list[SubscriptionRead] = Field(description="Products held now.")
    household: HouseholdRead | None
    enterprise: EnterpriseRead | None
    usage: list[UsageMonthRead] = Field(description="Every billed month, oldest first.")
    recharges: History[RechargeRead]
    orders: History[OrderRead]
    complaints: History[ComplaintRead]
    value: ValueSection
    churn: ChurnSection


class CustomerSummary(BaseModel):
    """A search hit; personal values masked unless ``masked`` is false."""

    subscriber_id: int
    msisdn: str
    customer_name: str
    masked: bool
    status: str
    payment_type: str
    plan_id: str
    plan_name: str | None
    join_date: date
    home_outlet: OrgRef


class CustomerSearch(BaseModel):
    by: str | None = Field(description="subscriber_id, msisdn, or None when nothing was asked.")
    items: list[CustomerSummary]
