"""Shapes of front-line tasks for the API, the console and the CLI."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from telmark.execution.tasks.domain import (
    Dimension,
    Outcome,
    TaskAction,
    TaskState,
)


class GenerateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: int = Field(ge=1, description="A complete targeting run.")


class GenerateRead(BaseModel):
    """What generating tasks from a run did; running it again creates nothing new."""

    run_id: int
    considered: int = Field(description="Treatment rows of the run on the front-line channel.")
    created: int
    existing: int = Field(description="Rows that already had their task (idempotency key).")
    unplaced: int = Field(description="Rows whose outlet/manager is not in the org tree.")
    unplaced_units: list[str] = Field(description="Codes of those units (first 50).")


class OutcomeIn(BaseModel):
    """Record (or correct) a task's outcome; ``version`` is the task version the page showed."""

    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    note: str = ""
    version: int | None = Field(
        default=None, ge=1, description="Refused with 409 if the task changed meanwhile."
    )


class ReassignIn(BaseModel):
    """Give an open task to another unit in the manager's scope and/or a member of its staff."""

    model_config = ConfigDict(extra="forbid")

    org_code: str | None = Field(default=None, max_length=40)
    staff_code: str | None = Field(default=None, max_length=40)
    note: str = ""
    version: int | None = Field(default=None, ge=1)


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str
    version: int | None = Field(default=None, ge=1)


class TaskEventRead(BaseModel):
    seq: int
    action: TaskAction
    from_state: TaskState | None
    to_state: TaskState
    outcome: Outcome | None
    note: str
    org_code: str
    staff_code: str | None
    actor: str
    created_at: datetime


class TaskRead(BaseModel):
    id: int
    run_id: int
    case_id: int
    case_code: str
    subscriber_id: int
    msisdn: str | None = Field(
        default=None, description="Masked in lists; in clear only from the contact route."
    )
    offer_code: str | None
    city_code: str | None
    org_code: str
    org_name: str | None
    staff_code: str | None
    staff_name: str | None
    planned_on: date
    due_on: date
    state: TaskState
    overdue: bool
    outcome: Outcome | None
    note: str
    done_at: datetime | None
    done_by: str | None
    version: int
    history: list[TaskEventRead] = Field(default_factory=list)


class TaskPage(BaseModel):
    total: int
    offset: int
    limit: int
    tasks: list[TaskRead]


class ContactRead(BaseModel):
    """The number to call for a task (in clear only for those who may unmask; audited)."""

    task_id: int
    subscriber_id: int
    msisdn: str | None
    masked: bool


class ReportRow(BaseModel):
    key: str | None = Field(description="Unit, city, staff code or username; None: none named.")
    label: str | None
    assigned: int = Field(description="Tasks given (cancelled ones excluded).")
    open: int
    done: int
    overdue: int
    cancelled: int
    outcomes: dict[Outcome, int]
    completion_bp: int | None = Field(description="done / assigned in basis points.")


class ReportRead(BaseModel):
    case_id: int | None
    by: Dimension
    as_of: date
    total: ReportRow
    rows: list[ReportRow]


class CaseChoice(BaseModel):
    case_id: int
    case_code: str
    tasks: int
