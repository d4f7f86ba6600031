"""API schemas of marketing cases: what is sent to create, edit and act on a case, and
the read models a console shows (case, projection, timeline, issue tree, inbox, alerts)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from telmark.cases.domain import (
    BP,
    MAX_HOLDOUT_BP,
    MAX_HORIZON_MONTHS,
    AlertKind,
    AlertStatus,
    CaseAction,
    CaseLevel,
    CaseStatus,
    IssueStatus,
    Metric,
    Objective,
)
from telmark.consent.domain import CONTACT_CHANNELS, Channel

Bp = Annotated[int, Field(ge=0, le=BP)]
Fen = Annotated[int, Field(ge=0)]
Text = Annotated[str, Field(max_length=2000)]


def _contact_channel(value: Channel) -> Channel:
    if value not in CONTACT_CHANNELS:
        raise ValueError(f"{value} is not a contact channel")
    return value


class LineIn(BaseModel):
    """One offer through one channel; contact cost defaults to the channel's planning cost."""

    model_config = ConfigDict(extra="forbid")

    offer_code: str = Field(min_length=1, max_length=40)
    channel: Channel
    reach_bp: Bp = Field(description="Share of the targets this line contacts.")
    take_up_bp: Bp = Field(description="Expected share of contacts who take the offer.")
    contact_cost_fen: Fen | None = None

    _channel = field_validator("channel")(_contact_channel)


class ClaimIn(BaseModel):
    """The measurable claim: offer X raises take-up in the case's segment by p points."""

    model_config = ConfigDict(extra="forbid")

    offer_code: str = Field(min_length=1, max_length=40)
    uplift_bp: int = Field(ge=-BP, le=BP, description="Take-up uplift over the control (bp).")


class KpiIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: Metric
    target: int


class CheckpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: date
    metric: Metric
    target: int


class CasePlan(BaseModel):
    """The editable plan of a case (everything but where it belongs)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    owner: str | None = Field(default=None, max_length=120)
    objective: Objective
    hypothesis: Text = ""
    claim: ClaimIn | None = None
    snapshot_id: int | None = None
    lines: list[LineIn] = Field(default_factory=list, max_length=40)
    channels: list[Channel] | None = Field(
        default=None, description="Preference order; default the lines' channels in order."
    )
    starts_on: date
    ends_on: date
    horizon_months: int = Field(default=12, ge=1, le=MAX_HORIZON_MONTHS)
    checkpoints: list[CheckpointIn] = Field(default_factory=list, max_length=40)
    kpis: list[KpiIn] = Field(default_factory=list, max_length=20)
    budget_fen: Fen = 0
    holdout_bp: int = Field(default=1_000, ge=0, le=MAX_HOLDOUT_BP)
    priority: int = Field(default=5, ge=1, le=9)
    business_weight_bp: Bp = 5_000

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[Channel] | None) -> list[Channel] | None:
        if value is None:
            return None
        for channel in value:
            _contact_channel(channel)
        if len(set(value)) != len(value):
            raise ValueError("a channel is listed twice")
        return value

    @model_validator(mode="after")
    def _dates(self) -> CasePlan:
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on: must not be before starts_on")
        return self


class CaseCreate(CasePlan):
    org_code: str = Field(min_length=1, max_length=40, description="The issuing unit.")


class CaseUpdate(CasePlan):
    version: int | None = Field(default=None, description="The version edited (optimistic lock).")


class FromTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=120)
    org_code: str = Field(min_length=1, max_length=40)
    snapshot_id: int | None = None
    offer_codes: list[str] = Field(default_factory=list, max_length=10)
    starts_on: date
    budget_fen: Fen = 0


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field(default="", max_length=1000)
    version: int | None = Field(default=None, description="The version acted on (optimistic).")


class RejectIn(ActionIn):
    comment: str = Field(min_length=1, max_length=1000)


class IssueIn(BaseModel):
    """Issue a scheduled case to units: split by base size, or parts given by hand."""

    model_config = ConfigDict(extra="forbid")

    total: int | None = Field(default=None, ge=0, description="Default: the projected targets.")
    units: list[str] | None = Field(default=None, description="Default: every city in scope.")
    parts: dict[str, int] | None = Field(default=None, description="By hand: unit → target.")
    ack_hours: int | None = Field(default=None, ge=1, le=24 * 30)
    version: int | None = None


class LocalChannel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel
    share_bp: Bp

    _channel = field_validator("channel")(_contact_channel)


class LocaliseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: dict[str, Any] | None = Field(
        default=None, description="A segment rule ANDed with the case's segment locally."
    )
    outlets: list[str] = Field(default_factory=list, max_length=200)
    channels: list[LocalChannel] = Field(default_factory=list, max_length=5)
    version: int | None = None


class ReissuePart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org_code: str | None = Field(default=None, max_length=40)
    staff_code: str | None = Field(default=None, max_length=40)
    target: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one(self) -> ReissuePart:
        if (self.org_code is None) == (self.staff_code is None):
            raise ValueError("give exactly one of org_code and staff_code")
        return self


class ReissueIn(BaseModel):
    """Re-issue a unit's part to outlets or staff; targets by hand, or split by base size."""

    model_config = ConfigDict(extra="forbid")

    to: list[ReissuePart] = Field(min_length=1, max_length=200)
    split: Literal["base", "manual"] = "manual"
    ack_hours: int | None = Field(default=None, ge=1, le=24 * 30)


# --- reads ------------------------------------------------------------------------------


class LineRead(BaseModel):
    offer_code: str
    channel: str
    reach_bp: int
    take_up_bp: int
    contact_cost_fen: int


class TotalsRead(BaseModel):
    contacts: int
    takers: int
    incremental_revenue_fen: int
    retained_revenue_fen: int
    incentive_cost_fen: int
    channel_cost_fen: int
    cost_fen: int
    net_fen: int
    roi_bp: int | None
    payback_month: int | None


class LineResultRead(BaseModel):
    offer_code: str
    channel: str
    contacts: int
    takers: int
    incentive_cost_fen: int
    contact_cost_fen: int
    monthly_revenue_fen: int
    monthly_channel_cost_fen: int
    monthly_retained_revenue_fen: int


class MonthRead(BaseModel):
    month: int
    benefit_fen: int
    cost_fen: int
    cumulative_net_fen: int


class SensitivityRead(BaseModel):
    take_up_factor_bp: int
    totals: TotalsRead


class OfferBasis(BaseModel):
    """The offer economics a projection used (per taker)."""

    offer_code: str
    offer_version: int
    net_incentive_cost_fen: int
    incremental_monthly_revenue_fen: int
    channel_cost_fen_per_month: int


class RetentionRead(BaseModel):
    churn_probability_bp: int
    arpu_fen: int
    scored_members: int


class ProjectionRead(BaseModel):
    """A case's projection: live (recomputed) before approval, frozen from approval on."""

    available: bool
    frozen: bool
    frozen_at: datetime | None = None
    members: int = 0
    targets: int = 0
    control: int = 0
    horizon_months: int = 0
    budget_fen: int = 0
    within_budget: bool | None = None
    lines: list[LineResultRead] = Field(default_factory=list)
    totals: TotalsRead | None = None
    series: list[MonthRead] = Field(default_factory=list)
    sensitivity: list[SensitivityRead] = Field(default_factory=list)
    offers: list[OfferBasis] = Field(default_factory=list)
    retention_applied: bool = False
    retention: RetentionRead | None = None
    notes: list[str] = Field(default_factory=list)


class ApprovalRead(BaseModel):
    level: CaseLevel
    actor: str
    comment: str
    at: datetime


class CaseSummary(BaseModel):
    id: int
    code: str
    name: str
    owner: str
    level: CaseLevel
    org_code: str
    objective: Objective
    status: CaseStatus
    version: int
    priority: int
    budget_fen: int
    starts_on: date
    ends_on: date
    pending_level: CaseLevel | None
    updated_at: datetime


class CaseRead(CaseSummary):
    template: str | None
    hypothesis: str
    claim: ClaimIn | None
    snapshot_id: int | None
    lines: list[LineRead]
    channels: list[str]
    horizon_months: int
    checkpoints: list[CheckpointIn]
    kpis: list[KpiIn]
    holdout_bp: int
    business_weight_bp: int
    submission: int
    approval_route: list[CaseLevel]
    approvals: list[ApprovalRead]
    submitted_by: str | None
    next_actions: list[CaseAction]
    created_by: str
    created_at: datetime


class CaseDetail(BaseModel):
    """A case with its projection (live before approval, frozen after)."""

    case: CaseRead
    projection: ProjectionRead


class TransitionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    action: str
    from_status: CaseStatus | None
    to_status: CaseStatus
    level: CaseLevel | None
    submission: int
    comment: str
    actor: str
    created_at: datetime


class IssueRead(BaseModel):
    id: int
    case_id: int
    case_code: str
    parent_id: int | None
    org_code: str
    org_name: str | None
    staff_code: str | None
    target: int
    status: IssueStatus
    due_at: datetime
    overdue: bool
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    local_rule: dict[str, Any] | None
    local_outlets: list[str]
    local_channels: list[dict[str, Any]]
    version: int
    children: list[IssueRead] = Field(default_factory=list)


class AlertRead(BaseModel):
    id: int
    case_id: int
    case_code: str
    issue_id: int
    org_code: str
    kind: AlertKind
    status: AlertStatus
    message: str
    raised_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None


class ScanRead(BaseModel):
    raised: list[AlertRead] = Field(description="Alerts raised by this scan.")
    open: int = Field(description="Open alerts in scope after the scan.")


class InboxItem(BaseModel):
    case: CaseSummary
    waiting_level: CaseLevel
    submitted_by: str | None


class TemplateRead(BaseModel):
    key: str
    name: str
    description: str
    objective: Objective
    hypothesis: str
    channels: list[dict[str, Any]]
    duration_days: int
    horizon_months: int
    holdout_bp: int
    priority: int
    business_weight_bp: int
    kpis: list[dict[str, Any]]
    checkpoints: list[dict[str, Any]]
