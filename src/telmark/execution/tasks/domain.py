"""Front-line tasks (一线任务): the pure rules — states, outcomes, due dates, tallies.

A targeting run's treatment rows on the ``frontline`` channel (face to face, in
a hall or by a grid manager; ``frontline_task`` in the contact history) become one
task each, assigned to the unit that serves the line (its home outlet or grid)
or, for an enterprise line, to its account manager (and that manager's unit).
``outbound_call`` rows are not tasks: they go to the call centre as a call
list whose results come back by file (``execution.channels.calls``); making
them tasks too would contact the customer twice.

The life of a task is one table, ``TRANSITIONS``: action → (states it may be
taken from, state it leads to). ``record`` closes an open task with an
outcome; a second ``record`` is refused, because the page a worker acts on may
be stale and silently overwriting a colleague's outcome would lose it. An
outcome that was wrong is changed with ``correct``, which needs a note saying
why and keeps the earlier outcome in the task's history. ``reassign`` moves an
open task to another unit or person and leaves it open; ``cancel`` withdraws
it. "Overdue" is not stored: it is an open task whose due day has passed in
the province's time zone, derived on every read so it never goes stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from telmark.consent.domain import Channel
from telmark.errors import InvalidInput, InvalidTransition
from telmark.translation import N_

PROVINCE_TZ = ZoneInfo("Asia/Shanghai")
TASK_CHANNEL = Channel.FRONTLINE.value
MAX_NOTE = 1000
BP = 10_000


class TaskState(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class Outcome(StrEnum):
    REACHED = "reached"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    UNREACHABLE = "unreachable"


class TaskAction(StrEnum):
    RECORD = "record"
    CORRECT = "correct"
    REASSIGN = "reassign"
    CANCEL = "cancel"


class View(StrEnum):
    """Which of the actor's tasks a list shows."""

    OPEN = "open"
    OVERDUE = "overdue"
    DONE = "done"
    ALL = "all"


class Dimension(StrEnum):
    """What a completion report groups by."""

    UNIT = "unit"  # the outlet, grid or centre the task is assigned to
    CITY = "city"
    STAFF = "staff"  # the named person (account manager, or whom a manager gave it to)
    RECORDER = "recorder"  # the user who recorded the outcome


TRANSITIONS: Mapping[TaskAction, tuple[frozenset[TaskState], TaskState]] = {
    TaskAction.RECORD: (frozenset({TaskState.OPEN}), TaskState.DONE),
    TaskAction.CORRECT: (frozenset({TaskState.DONE}), TaskState.DONE),
    TaskAction.REASSIGN: (frozenset({TaskState.OPEN}), TaskState.OPEN),
    TaskAction.CANCEL: (frozenset({TaskState.OPEN}), TaskState.CANCELLED),
}

STATE_LABELS: Mapping[TaskState, str] = {
    TaskState.OPEN: N_("open"),
    TaskState.DONE: N_("done"),
    TaskState.CANCELLED: N_("cancelled"),
}
OUTCOME_LABELS: Mapping[Outcome, str] = {
    Outcome.REACHED: N_("reached"),
    Outcome.ACCEPTED: N_("accepted"),
    Outcome.DECLINED: N_("declined"),
    Outcome.UNREACHABLE: N_("unreachable"),
}
ACTION_LABELS: Mapping[TaskAction, str] = {
    TaskAction.RECORD: N_("outcome recorded"),
    TaskAction.CORRECT: N_("outcome corrected"),
    TaskAction.REASSIGN: N_("reassigned"),
    TaskAction.CANCEL: N_("cancelled"),
}
VIEW_LABELS: Mapping[View, str] = {
    View.OPEN: N_("To do"),
    View.OVERDUE: N_("Overdue"),
    View.DONE: N_("Done"),
    View.ALL: N_("All"),
}


def transition(task_id: int, state: TaskState, action: TaskAction) -> TaskState:
    """The state ``action`` leads to from ``state``; InvalidTransition naming both otherwise."""
    sources, target = TRANSITIONS[action]
    if state in sources:
        return target
    if action is TaskAction.RECORD and state is TaskState.DONE:
        message = (
            f"task {task_id} already has an outcome; reload it, and correct the outcome "
            "(with a note) if it is wrong"
        )
    else:
        message = f"task {task_id} is {state}: it cannot be {ACTION_LABELS[action]}"
    raise InvalidTransition(
        message, details=[{"field": "state", "from": str(state), "to": str(target)}]
    )


def clean_note(note: str | None, *, required: bool, field_name: str = "note") -> str:
    """The note trimmed; InvalidInput naming the field if it is missing or too long."""
    text = (note or "").strip()
    if required and not text:
        raise InvalidInput(
            f"{field_name}: say why (a note is required)", details=[{"field": field_name}]
        )
    if len(text) > MAX_NOTE:
        raise InvalidInput(
            f"{field_name}: at most {MAX_NOTE} characters, got {len(text)}",
            details=[{"field": field_name}],
        )
    return text


def local_day(moment: datetime) -> date:
    """The province's calendar day at ``moment`` (due days are local days)."""
    return moment.astimezone(PROVINCE_TZ).date()


def due_day(planned_on: date, case_ends_on: date | None, sla_days: int) -> date:
    """When a task is due: ``sla_days`` after the list's day, but never after the case ends
    (nor before the list's day, for a case that has already ended)."""
    due = planned_on + timedelta(days=sla_days)
    if case_ends_on is not None:
        due = min(due, max(case_ends_on, planned_on))
    return due


def is_overdue(state: TaskState, due_on: date, today: date) -> bool:
    """An open task whose due day has passed (the due day itself is still on time)."""
    return state is TaskState.OPEN and today > due_on


def rate_bp(done: int, countable: int) -> int | None:
    """``done`` of ``countable`` in basis points, rounded half up (None when nothing counts)."""
    if countable <= 0:
        return None
    return (2 * BP * done + countable) // (2 * countable)


@dataclass(slots=True)
class Tally:
    """Counts of one group of tasks. Cancelled tasks are not counted as assigned: they were
    withdrawn, so they neither help nor hurt anyone's completion rate."""

    assigned: int = 0
    done: int = 0
    overdue: int = 0
    cancelled: int = 0
    outcomes: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))

    def add(self, state: TaskState, outcome: Outcome | None, overdue: bool, n: int = 1) -> None:
        if state is TaskState.CANCELLED:
            self.cancelled += n
            return
        self.assigned += n
        if state is TaskState.DONE:
            self.done += n
            if outcome is not None:
                self.outcomes[outcome] += n
        if overdue:
            self.overdue += n

    @property
    def open(self) -> int:
        return self.assigned - self.done

    @property
    def completion_bp(self) -> int | None:
        return rate_bp(self.done, self.assigned)
