"""Front-line task rules: the transition table, notes, due days, overdue, tallies."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telmark.errors import InvalidInput, InvalidTransition
from telmark.execution.tasks import domain
from telmark.execution.tasks.domain import Outcome, Tally, TaskAction, TaskState

# Written out independently of domain.TRANSITIONS: which (state, action) pairs are allowed.
EXPECTED = {
    (TaskState.OPEN, TaskAction.RECORD): TaskState.DONE,
    (TaskState.DONE, TaskAction.CORRECT): TaskState.DONE,
    (TaskState.OPEN, TaskAction.REASSIGN): TaskState.OPEN,
    (TaskState.OPEN, TaskAction.CANCEL): TaskState.CANCELLED,
}


@pytest.mark.parametrize("state", list(TaskState))
@pytest.mark.parametrize("action", list(TaskAction))
def test_every_state_and_action(state: TaskState, action: TaskAction) -> None:
    expected = EXPECTED.get((state, action))
    if expected is None:
        with pytest.raises(InvalidTransition) as refused:
            domain.transition(7, state, action)
        assert refused.value.details[0]["from"] == state.value
        assert "task 7" in refused.value.message
    else:
        assert domain.transition(7, state, action) is expected


def test_a_second_record_says_to_correct() -> None:
    with pytest.raises(InvalidTransition, match="already has an outcome.*correct"):
        domain.transition(3, TaskState.DONE, TaskAction.RECORD)


def test_cancelled_is_final() -> None:
    for action in TaskAction:
        with pytest.raises(InvalidTransition):
            domain.transition(1, TaskState.CANCELLED, action)


def test_notes() -> None:
    assert domain.clean_note("  接通了  ", required=False) == "接通了"
    assert domain.clean_note(None, required=False) == ""
    with pytest.raises(InvalidInput, match="note: say why") as missing:
        domain.clean_note("   ", required=True)
    assert missing.value.details == [{"field": "note"}]
    with pytest.raises(InvalidInput, match="at most 1000"):
        domain.clean_note("字" * 1001, required=False)


def test_due_day_is_capped_by_the_case_end() -> None:
    planned = date(2026, 6, 1)
    assert domain.due_day(planned, None, 7) == date(2026, 6, 8)
    assert domain.due_day(planned, date(2026, 12, 31), 7) == date(2026, 6, 8)
    assert domain.due_day(planned, date(2026, 6, 3), 7) == date(2026, 6, 3)
    # A case that already ended still gives the list's own day, never a day before it.
    assert domain.due_day(planned, date(2026, 5, 1), 7) == planned


def test_overdue_only_when_open_after_the_due_day() -> None:
    due = date(2026, 6, 8)
    assert not domain.is_overdue(TaskState.OPEN, due, due)
    assert domain.is_overdue(TaskState.OPEN, due, date(2026, 6, 9))
    assert not domain.is_overdue(TaskState.DONE, due, date(2026, 7, 1))
    assert not domain.is_overdue(TaskState.CANCELLED, due, date(2026, 7, 1))


def test_local_day_is_the_province_day() -> None:
    # 17:00 UTC is already the next day in Beijing.
    assert domain.local_day(datetime(2026, 6, 8, 17, 0, tzinfo=UTC)) == date(2026, 6, 9)
    assert domain.local_day(datetime(2026, 6, 8, 15, 59, tzinfo=UTC)) == date(2026, 6, 8)


def test_rate_rounds_half_up() -> None:
    assert domain.rate_bp(0, 0) is None
    assert domain.rate_bp(1, 3) == 3333
    assert domain.rate_bp(2, 3) == 6667
    assert domain.rate_bp(1, 8) == 1250
    assert domain.rate_bp(1, 20_000) == 1  # 0.5 bp rounds up


def test_tally_leaves_cancelled_out_of_the_rate() -> None:
    tally = Tally()
    tally.add(TaskState.DONE, Outcome.ACCEPTED, False)
    tally.add(TaskState.DONE, Outcome.UNREACHABLE, False, 2)
    tally.add(TaskState.OPEN, None, True)
    tally.add(TaskState.CANCELLED, None, False, 5)
    assert (tally.assigned, tally.done, tally.open, tally.overdue, tally.cancelled) == (
        4,
        3,
        1,
        1,
        5,
    )
    assert tally.outcomes[Outcome.UNREACHABLE] == 2
    assert tally.completion_bp == 7500


@given(st.lists(st.tuples(st.sampled_from(list(TaskState)), st.booleans()), max_size=40))
def test_tally_adds_up(rows: list[tuple[TaskState, bool]]) -> None:
    tally = Tally()
    for state, late in rows:
        outcome = Outcome.REACHED if state is TaskState.DONE else None
        tally.add(state, outcome, late and state is TaskState.OPEN)
    assert tally.assigned + tally.cancelled == len(rows)
    assert tally.done == sum(tally.outcomes.values())
    assert tally.open + tally.done == tally.assigned
    assert tally.overdue <= tally.open
    if tally.completion_bp is not None:
        assert 0 <= tally.completion_bp <= domain.BP
