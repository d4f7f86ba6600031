"""Pydantic shapes of the targeting API: policy, cases given to a run, run results."""

from __future__ import annotations

from datetime import date, datetime, time

from pydantic import BaseModel, ConfigDict, Field

from telmark.targeting.domain import (
    BP,
    MAX_CAP,
    MAX_GAP_DAYS,
    Group,
    Period,
    Reason,
    RunStatus,
    Step,
)


class ContactPolicyIn(BaseModel):
    """The editable fields of the contact policy (a save adds the next version)."""

    model_config = ConfigDict(extra="forbid")

    period: Period = Period.WEEK
    global_cap: int = Field(2, ge=1, le=MAX_CAP, description="Contacts per subscriber per period.")
    channel_caps: dict[str, int] = Field(
        default_factory=dict, description="Per channel: contacts per subscriber per period."
    )
    min_gap_days: int = Field(2, ge=0, le=MAX_GAP_DAYS, description="Days between two contacts.")
    quiet_start: time = Field(time(21, 0), description="Local time sending stops.")
    quiet_end: time = Field(time(8, 0), description="Local time sending may start again.")
    global_holdout_bp: int = Field(0, ge=0, lt=BP, description="Share of the base never marketed.")
    global_holdout_key: str = Field("global", min_length=1, max_length=60)
    note: str = Field("", max_length=1000)


class ContactPolicyRead(ContactPolicyIn):
    version: int
    is_default: bool
    created_by: str | None = None
    created_at: datetime | None = None


class CaseIn(BaseModel):
    """A case given to a run (the fields of ``domain.TargetCase``)."""

    model_config = ConfigDict(extra="forbid")

    case_id: int = Field(ge=1)
    code: str = Field(min_length=1, max_length=40)
    org_path: str = Field(min_length=1)
    priority: int = Field(ge=1, le=9)
    business_weight_bp: int = Field(ge=0, le=BP)
    snapshot_id: int = Field(ge=1)
    offer_codes: tuple[str, ...] = ()
    channels: tuple[str, ...] = Field(min_length=1)
    holdout_bp: int = Field(0, ge=0, lt=BP)
    starts_on: date
    ends_on: date
    local_rules: tuple[tuple[str, str], ...] = Field(
        (),
        description="Units' local narrowing: (unit code, segment rule as JSON) pairs; members "
        "under the unit must also meet its rule.",
    )
    local_channels: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = Field(
        (),
        description="Units' channel mixes: (unit code, ((channel, share bp), ...)); lines under "
        "the unit prefer a channel drawn by those shares.",
    )


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_key: str = Field(min_length=1, max_length=100)
    on: date
    cases: list[CaseIn] = Field(min_length=1)
    simulate: bool = False
    new_case_id: int | None = Field(
        None, description="Simulation: the case whose effect on the others is shown (default last)."
    )


class CaseRunCreate(BaseModel):
    """A targeting run over marketing cases (their snapshots, offers, channels, priorities)."""

    model_config = ConfigDict(extra="forbid")

    run_key: str = Field(min_length=1, max_length=100)
    on: date
    case_ids: list[int] | None = Field(
        None, description="The cases to target; default every scheduled, issued or running one."
    )
    simulate: bool = False
    new_case_id: int | None = Field(
        None, description="Simulation: the case whose effect on the others is shown (default last)."
    )


class StepCount(BaseModel):
    step: Step
    count: int


class CaseFunnel(BaseModel):
    case_id: int | None  # None: every case together
    case_code: str
    steps: list[StepCount]
    exclusions: dict[Reason, int]


class BalanceRead(BaseModel):
    case_id: int
    covariate: str
    treatment_n: int
    control_n: int
    treatment_mean: float | None
    control_mean: float | None
    smd: float | None
    flagged: bool


class LossRead(BaseModel):
    """How many targets ``case_id`` lost in arbitration to ``beaten_by``."""

    case_id: int
    beaten_by: int
    count: int


class ListCount(BaseModel):
    case_id: int
    channel: str
    city_id: str | None
    group: Group
    count: int


class SendWindow(BaseModel):
    channel: str
    send_from: time | None
    send_until: time | None


class RunSummary(BaseModel):
    funnel: list[CaseFunnel]
    balance: list[BalanceRead]
    losses: list[LossRead]
    lists: list[ListCount]
    send_windows: list[SendWindow]
    taken_from: dict[int, int] | None = None


class TargetingRunRead(BaseModel):
    id: int | None  # None: a simulation (nothing stored)
    run_key: str
    status: RunStatus | None
    simulated: bool
    on: date
    policy_version: int
    cases: list[CaseIn]
    summary: RunSummary | None
    contacts: int | None
    controls: int | None
    sha256: str | None
    byte_size: int | None
    failure: str | None
    created_by: str | None
    created_at: datetime | None
    completed_at: datetime | None


class RunListItem(BaseModel):
    id: int
    run_key: str
    status: RunStatus
    on: date
    policy_version: int
    case_codes: list[str]
    contacts: int | None
    controls: int | None
    created_by: str
    created_at: datetime


class CandidateRead(BaseModel):
    """One case's claim on the subscriber in a run, with every factor of its score."""

    case_id: int
    case_code: str
    group: Group
    channel: str | None
    offer_code: str | None
    priority: int
    business_weight_bp: int
    propensity_permille: int
    value_yuan: int
    score: int
    rank: int | None
    beaten_by: int | None


class ExplainRead(BaseModel):
    run_id: int
    subscriber_id: int
    rule: str
    candidates: list[CandidateRead]
