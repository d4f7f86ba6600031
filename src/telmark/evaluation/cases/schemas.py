"""What a case evaluation reports (rates and uplifts as fractions, money in fen)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from telmark.cases.domain import CaseStatus
from telmark.evaluation.cases.domain import Dimension
from telmark.evaluation.schemas import ArmRateRead, ComparisonRead


class _FromDomain(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class GuardrailRead(_FromDomain):
    """Complaints, opt-outs or port-outs, treatment against control: a rise is bad."""

    kind: str
    treatment: ArmRateRead
    control: ArmRateRead
    comparison: ComparisonRead
    harmful: bool = Field(description="A significant rise in treatment.")


class RevenueRead(_FromDomain):
    per_subscriber_fen: float | None = Field(
        description="Difference of mean monthly revenue per exposed subscriber (fen)."
    )
    per_subscriber_low: float | None = Field(description="Welch t interval, lower limit.")
    per_subscriber_high: float | None
    p_value: float | None
    total_fen: int | None = Field(description="Per subscriber × treated × horizon months.")
    total_low_fen: int | None
    total_high_fen: int | None


class CostRead(_FromDomain):
    incentive_fen: int = Field(description="Every treatment taker's incentive.")
    contact_fen: int = Field(description="Every contact made at its line's cost per contact.")
    commission_fen: int = Field(description="Channel commission per taker over the horizon.")
    contacts: int
    takers: int
    total_fen: int


class RoiRead(_FromDomain):
    net_fen: int | None
    roi_bp: int | None = Field(description="(incremental revenue − cost) / cost, in bp.")
    low_bp: int | None
    high_bp: int | None


class CellRead(_FromDomain):
    """The whole case (key null) or one key of a breakdown."""

    key: str | None
    label: str | None = None
    treatment: ArmRateRead
    control: ArmRateRead
    comparison: ComparisonRead
    guardrails: list[GuardrailRead]
    revenue: RevenueRead
    cost: CostRead | None
    roi: RoiRead | None


class BreakdownRead(_FromDomain):
    dimension: Dimension
    cells: list[CellRead]


class CurvePointRead(_FromDomain):
    day: int = Field(description="Days since exposure (0: the same day).")
    treatment: float | None
    control: float | None


class EffectRead(_FromDomain):
    part: str = Field(description="size, take_up, value or cost.")
    fen: int | None


class ProjectionComparisonRead(_FromDomain):
    planned_contacts: int
    actual_contacts: int
    planned_take_up: float | None
    actual_uplift: float | None
    planned_value_fen: float | None = Field(description="Monthly revenue per taker.")
    actual_value_fen: float | None = Field(
        description="Incremental monthly revenue per incremental taker."
    )
    planned_revenue_fen: int
    actual_revenue_fen: int | None
    planned_cost_fen: int
    actual_cost_fen: int
    planned_net_fen: int
    actual_net_fen: int | None
    planned_roi_bp: int | None
    actual_roi_bp: int | None
    effects: list[EffectRead] = Field(description="Parts summing to actual − planned net.")


class DetectableRead(_FromDomain):
    planned: float | None = Field(description="At the projection's planned sizes.")
    actual: float | None = Field(description="At the exposed sizes.")


class KpiActualRead(BaseModel):
    metric: str
    target: int
    actual: int | None
    met: bool | None


class CaseEvaluationRead(BaseModel):
    """A case's evaluation as computed now (or as recorded: ``recorded``)."""

    case_id: int
    case_code: str
    case_name: str
    status: CaseStatus
    org_code: str
    partial: bool = Field(description="Only the caller's part of a case of a unit above them.")
    cutoff_at: datetime = Field(description="Responses up to this moment are counted.")
    latest_event_at: datetime | None
    horizon_months: int
    overall: CellRead
    breakdowns: list[BreakdownRead]
    curve: list[CurvePointRead]
    detectable: DetectableRead
    projection: ProjectionComparisonRead | None
    kpis: list[KpiActualRead]
    notes: list[str]
    methods: dict[str, str]
    recorded: RecordRead | None = None


class RecordIn(BaseModel):
    comment: str = Field(default="", max_length=1000)


class RecordRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int
    case_code: str
    cutoff_at: datetime
    recorded_by: str
    recorded_at: datetime
    comment: str


class LeagueRow(BaseModel):
    case_id: int
    case_code: str
    case_name: str
    org_code: str
    status: CaseStatus
    partial: bool
    recorded_at: datetime | None
    exposed_treatment: int
    exposed_control: int
    uplift: float | None
    uplift_low: float | None
    uplift_high: float | None
    significant: bool
    incremental_revenue_fen: int | None
    cost_fen: int | None
    roi_bp: int | None
    roi_low_bp: int | None
    roi_high_bp: int | None


CaseEvaluationRead.model_rebuild()
