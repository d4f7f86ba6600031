"""Monitor shapes: a case's funnel and checkpoints, per org level; alerts; scans; settings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from telmark.cases.domain import AlertKind, AlertStatus, CaseStatus, Metric
from telmark.execution.monitor.domain import CheckpointState, EmailState, Level


class Funnel(BaseModel):
    """planned → sent → delivered (messages), assigned → done (tasks), contacts, takers."""

    planned: int = Field(description="Messages planned (not cancelled) plus tasks assigned.")
    sent: int = Field(description="Messages accepted by the channel.")
    delivered: int = Field(description="Messages confirmed delivered.")
    failed: int = Field(description="Messages that failed.")
    suppressed: int = Field(description="Messages stopped at send time (opt-out, no template).")
    tasks_assigned: int = Field(description="Front-line tasks assigned (not cancelled).")
    tasks_done: int = Field(description="Front-line tasks with an outcome.")
    contacts: int = Field(description="Messages sent plus tasks done with the customer reached.")
    takers: int = Field(description="Responses: messages responded to plus tasks accepted.")
    sent_bp: int | None = Field(description="Sent of planned messages.")
    delivered_bp: int | None = Field(description="Delivered of sent messages.")
    done_bp: int | None = Field(description="Done of assigned tasks.")
    take_up_bp: int | None = Field(description="Takers of contacts.")


class Responses(BaseModel):
    """Attributed responses (``execution.responses``): the treatment group against control."""

    exposed: int = Field(description="Treatment subscribers exposed (contacted).")
    responders: int = Field(description="Treatment subscribers with an attributed take-up.")
    take_up_bp: int | None
    control_exposed: int
    control_take_up_bp: int | None


class CheckpointRead(BaseModel):
    on: date
    metric: Metric
    target: int
    due: bool = Field(description="The checkpoint's day is over (province time).")
    actual: int | None = Field(description="As of the checkpoint's end, or now if not yet due.")
    plan_now: int | None = Field(description="The plan today (linear between checkpoints).")
    state: CheckpointState


class BreakdownRow(BaseModel):
    key: str | None
    label: str | None
    funnel: Funnel
    responses: Responses | None = Field(description="Per city or outlet; none per manager.")
    share_bp: int | None = Field(description="The unit's share of the case's planned contacts.")
    plan_contacts: int | None = Field(description="Its share of the plan for contacts today.")
    state: CheckpointState | None = Field(description="Its worst checkpoint state so far.")


class ProgressRead(BaseModel):
    case_id: int
    case_code: str
    case_name: str
    org_code: str
    status: CaseStatus
    starts_on: date
    ends_on: date
    as_of: datetime
    funnel: Funnel
    responses: Responses
    checkpoints: list[CheckpointRead]
    by: Level | None
    rows: list[BreakdownRow]
    open_alerts: int


class CaseProgress(BaseModel):
    """One line of the monitor's overview."""

    case_id: int
    case_code: str
    case_name: str
    org_code: str
    status: CaseStatus
    ends_on: date
    funnel: Funnel
    worst: CheckpointState | None
    next_checkpoint: CheckpointRead | None
    open_alerts: int


class MonitorAlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int
    case_code: str
    kind: AlertKind
    status: AlertStatus
    org_code: str | None
    issue_id: int | None
    message: str
    details: dict[str, Any] | None
    raised_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    ack_note: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    resolve_note: str | None
    email_state: EmailState
    email_attempts: int
    email_error: str | None


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=1000)


class MailRead(BaseModel):
    sent: int = Field(description="Alert e-mails the relay accepted in this scan.")
    failed: int = Field(description="Alert e-mails that failed (retried by the next scan).")
    waiting: int = Field(description="Alerts with no recipients configured yet.")


class MonitorScanRead(BaseModel):
    as_of: datetime
    cases: int = Field(description="Running cases evaluated.")
    raised: list[MonitorAlertRead]
    skipped: list[str] = Field(description="Rules not evaluated, and why.")
    mail: MailRead
    open: int = Field(description="Open alerts after the scan.")


class SettingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thresholds: dict[str, int] = Field(
        default_factory=dict, description="Only the thresholds that differ from the defaults."
    )
    recipients: list[str] = Field(default_factory=list, max_length=50)


class SettingRead(BaseModel):
    org_code: str
    configured_at: str | None = Field(description="The unit whose row applies (None: defaults).")
    thresholds: dict[str, int]
    recipients: list[str]
    updated_by: str | None
    updated_at: datetime | None
