"""Counting a case's funnel in the database, per org level and at cut-off moments.

One grouped query over the case's outbox rows and one over its front-line
tasks, with a conditional sum per cut-off moment (each checkpoint's end, the
chart's days, now), so the cost does not grow with the number of contacts.
Contacts are messages the channel accepted plus tasks done with the customer
reached (an ``unreachable`` visit is an attempt, not a contact); takers are
messages responded to plus tasks accepted.

Outbox rows are placed by their outlet (else city), tasks by their unit's
path, and a reader counts the rows of their unit and below. A unit's targets
are the case's scaled by its share of the case's planned contacts
(``domain`` says why).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy import case as when
from sqlalchemy.orm import aliased

from telmark.cases.domain import Metric
from telmark.cases.models import Case
from telmark.execution.domain import OutboxState
from telmark.execution.models import OutboxMessage
from telmark.execution.monitor import domain
from telmark.execution.monitor.domain import (
    Checkpoint,
    CheckpointState,
    Level,
)
from telmark.execution.monitor.schemas import (
    Funnel,
)
from telmark.execution.tasks.domain import Outcome, TaskState
from telmark.execution.tasks.models import Task
from telmark.org.models import OrgUnit
from telmark.org.scope import visible
from telmark.uow import UnitOfWork

WORST = (CheckpointState.MISSED, CheckpointState.BEHIND, CheckpointState.ON_TRACK,
         CheckpointState.MET)  # fmt: skip


# -- counting ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Tally:
    """The counts of one group (the case, or one unit) and its actuals at each cut-off."""

    cutoffs: int
    msg_planned: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    suppressed: int = 0
    responded: int = 0
    assigned: int = 0
    done: int = 0
    reached: int = 0
    accepted: int = 0
    contacts_by: list[int] = field(default_factory=list)
    takers_by: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.contacts_by = self.contacts_by or [0] * self.cutoffs
        self.takers_by = self.takers_by or [0] * self.cutoffs

    @property
    def planned(self) -> int:
        return self.msg_planned + self.assigned

    def actual(self, metric: Metric, at: int) -> int | None:
        return domain.metric_value(metric, contacts=self.contacts_by[at], takers=self.takers_by[at])

    def funnel(self) -> Funnel:
        contacts, takers = self.sent + self.reached, self.responded + self.accepted
        return Funnel(
            planned=self.planned, sent=self.sent, delivered=self.delivered, failed=self.failed,
            suppressed=self.suppressed, tasks_assigned=self.assigned, tasks_done=self.done,
            contacts=contacts, takers=takers,
            sent_bp=domain.rate_bp(self.sent, self.msg_planned),
            delivered_bp=domain.rate_bp(self.delivered, self.sent),
            done_bp=domain.rate_bp(self.done, self.assigned),
            take_up_bp=domain.rate_bp(takers, contacts),
        )  # fmt: skip


def _outbox_in_scope(uow: UnitOfWork, stmt: Select[Any]) -> Select[Any]:
    """Rows whose outlet (or, without one, city) lies in the actor's scope."""
    scope = uow.actor.scope_path
    if scope is None:
        return stmt
    unit = aliased(OrgUnit)
    return stmt.join(
        unit, unit.code == func.coalesce(OutboxMessage.outlet_id, OutboxMessage.city_id)
    ).where(unit.path.startswith(scope, autoescape=True))


def _keys(level: Level | None) -> tuple[Any, Any]:
    if level is Level.CITY:
        return OutboxMessage.city_id, Task.city_code
    if level is Level.OUTLET:
        return OutboxMessage.outlet_id, Task.org_code
    if level is Level.STAFF:
        return OutboxMessage.account_manager_id, Task.staff_code
    return None, None


def ones(condition: Any) -> Any:
    return func.sum(when((condition, 1), else_=0))


def tallies(
    uow: UnitOfWork,
    case_id: int,
    *,
    level: Level | None,
    cutoffs: Sequence[datetime],
    scoped: bool = True,
) -> dict[str | None, Tally]:
    """Counts per unit of ``level`` (or one group, key None), within the actor's scope."""
    o, t = OutboxMessage, Task
    o_key, t_key = _keys(level)
    n = len(cutoffs)
    o_cols = [
        ones(o.state != OutboxState.CANCELLED), ones(o.sent_at.is_not(None)),
        ones(or_(o.delivered_at.is_not(None), o.state == OutboxState.DELIVERED)),
        ones(o.state == OutboxState.FAILED), ones(o.state == OutboxState.SUPPRESSED),
        ones(o.responded_at.is_not(None)),
        *[ones(o.sent_at < c) for c in cutoffs], *[ones(o.responded_at < c) for c in cutoffs],
    ]  # fmt: skip
    stmt = select(*([o_key] if o_key is not None else []), *o_cols).where(o.case_id == case_id)
    if o_key is not None:
        stmt = stmt.group_by(o_key)
    if scoped:
        stmt = _outbox_in_scope(uow, stmt)
    found: dict[str | None, Tally] = {}
    for row in uow.session.execute(stmt):
        values = list(row)
        key = values.pop(0) if o_key is not None else None
        counts = [int(v or 0) for v in values]
        if o_key is None and not any(counts):
            continue  # an aggregate over no rows is one row of NULLs
        tally = found.setdefault(key, Tally(n))
        tally.msg_planned, tally.sent, tally.delivered, tally.failed = counts[:4]
        tally.suppressed, tally.responded = counts[4:6]
        tally.contacts_by = counts[6 : 6 + n]
        tally.takers_by = counts[6 + n : 6 + 2 * n]
    reached = and_(t.state == TaskState.DONE, t.outcome != Outcome.UNREACHABLE)
    accepted = and_(t.state == TaskState.DONE, t.outcome == Outcome.ACCEPTED)
    t_cols = [
        ones(t.state != TaskState.CANCELLED), ones(t.state == TaskState.DONE), ones(reached),
        ones(accepted),
        *[ones(and_(reached, t.done_at < c)) for c in cutoffs],
        *[ones(and_(accepted, t.done_at < c)) for c in cutoffs],
    ]  # fmt: skip
    stmt = select(*([t_key] if t_key is not None else []), *t_cols).where(t.case_id == case_id)
    if t_key is not None:
        stmt = stmt.group_by(t_key)
    if scoped:
        stmt = stmt.where(visible(uow, t.org_path))
    for row in uow.session.execute(stmt):
        values = list(row)
        key = values.pop(0) if t_key is not None else None
        counts = [int(v or 0) for v in values]
        if t_key is None and not any(counts):
            continue
        tally = found.setdefault(key, Tally(n))
        tally.assigned, tally.done, tally.reached, tally.accepted = counts[:4]
        for i in range(n):
            tally.contacts_by[i] += counts[4 + i]
            tally.takers_by[i] += counts[4 + n + i]
    return found


# -- progress ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Evaluation:
    """A case evaluated at a moment: what the reads and the alert rules share."""

    case: Case
    now: datetime
    checkpoints: list[Checkpoint]
    cutoffs: list[datetime]  # one per checkpoint (its end, or now if not due), then now
    total: Tally
    whole_planned: int  # the case's planned contacts in every unit (the shares' denominator)
    units: dict[str | None, Tally]
    level: Level | None
    ratio_bp: int

    @property
    def today(self) -> date:
        return domain.local_day(self.now)

    def due(self, i: int) -> bool:
        return domain.day_end(self.checkpoints[i].on) <= self.now

    def scaled(self, checkpoint: Checkpoint, part: int) -> int:
        """The checkpoint's target for a group holding ``part`` of the planned contacts."""
        if checkpoint.metric not in domain.CUMULATIVE:
            return checkpoint.target
        return domain.share_of(checkpoint.target, part, self.whole_planned)

    def plan_now(self, checkpoint: Checkpoint, part: int) -> int | None:
        plan = domain.planned_at(
            self.checkpoints, checkpoint.metric, starts_on=self.case.starts_on, day=self.today
        )
        if plan is None or checkpoint.metric not in domain.CUMULATIVE:
            return plan
        return domain.share_of(plan, part, self.whole_planned)

    def state(self, i: int, tally: Tally) -> CheckpointState:
        checkpoint = self.checkpoints[i]
        return domain.checkpoint_state(
            metric=checkpoint.metric,
            target=self.scaled(checkpoint, tally.planned),
            actual=tally.actual(checkpoint.metric, i),
            plan_now=self.plan_now(checkpoint, tally.planned),
            due=self.due(i),
            ratio_bp=self.ratio_bp,
        )

    def worst(self, tally: Tally) -> CheckpointState | None:
        states = {self.state(i, tally) for i in range(len(self.checkpoints))}
        return next((s for s in WORST if s in states), None)


def evaluate(
    uow: UnitOfWork, case: Case, *, now: datetime, level: Level | None, ratio_bp: int
) -> Evaluation:
    """Count ``case`` at each checkpoint and now, in total and per unit of ``level``."""
    checkpoints = domain.checkpoints_of(case.checkpoints)
    cutoffs = [min(domain.day_end(c.on), now) for c in checkpoints] + [now]
    total = tallies(uow, case.id, level=None, cutoffs=cutoffs).get(None) or Tally(len(cutoffs))
    whole = tallies(uow, case.id, level=None, cutoffs=[], scoped=False).get(None)
    units = {} if level is None else tallies(uow, case.id, level=level, cutoffs=cutoffs)
    return Evaluation(
        case=case, now=now, checkpoints=checkpoints, cutoffs=cutoffs, total=total,
        whole_planned=whole.planned if whole else 0, units=units, level=level, ratio_bp=ratio_bp,
    )  # fmt: skip
