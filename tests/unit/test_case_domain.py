"""Pure rules of marketing cases: the life-cycle table, approval routing, splitting targets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telmark.cases import domain
from telmark.cases.domain import (
    ALLOWED,
    TRANSITIONS,
    CaseAction,
    CaseLevel,
    CaseStatus,
    IssueStatus,
)
from telmark.errors import Forbidden, InvalidInput, InvalidTransition

S = CaseStatus
A = CaseAction
# Written out independently of TRANSITIONS: (action, from) → to for every allowed move.
EXPECTED: dict[tuple[CaseAction, CaseStatus], CaseStatus] = {
    (A.SUBMIT, S.DRAFT): S.SUBMITTED,
    (A.WITHDRAW, S.SUBMITTED): S.DRAFT,
    (A.APPROVE, S.SUBMITTED): S.APPROVED,
    (A.REJECT, S.SUBMITTED): S.REJECTED,
    (A.REWORK, S.REJECTED): S.DRAFT,
    (A.SCHEDULE, S.APPROVED): S.SCHEDULED,
    (A.ISSUE, S.SCHEDULED): S.ISSUED,
    (A.START, S.SCHEDULED): S.RUNNING,
    (A.START, S.ISSUED): S.RUNNING,
    (A.PAUSE, S.RUNNING): S.PAUSED,
    (A.RESUME, S.PAUSED): S.RUNNING,
    (A.COMPLETE, S.RUNNING): S.COMPLETED,
    (A.COMPLETE, S.PAUSED): S.COMPLETED,
    (A.EVALUATE, S.COMPLETED): S.EVALUATED,
    (A.CLOSE, S.EVALUATED): S.CLOSED,
    **{
        (A.CANCEL, s): S.CANCELLED
        for s in (
            S.DRAFT,
            S.SUBMITTED,
            S.REJECTED,
            S.APPROVED,
            S.SCHEDULED,
            S.ISSUED,
            S.RUNNING,
            S.PAUSED,
        )
    },
}
LIFE_CYCLE_ACTIONS = [a for a in CaseAction if a not in (A.CREATE, A.EDIT)]
EVERY_PAIR = [(a, s) for a in LIFE_CYCLE_ACTIONS for s in CaseStatus]


def test_the_table_matches_the_independent_list() -> None:
    from_table = {(a, s): to for a, (froms, to) in TRANSITIONS.items() for s in froms}
    assert from_table == EXPECTED


@pytest.mark.parametrize(("action", "status"), EVERY_PAIR)
def test_every_action_from_every_status(action: CaseAction, status: CaseStatus) -> None:
    expected = EXPECTED.get((action, status))
    if expected is None:
        with pytest.raises(InvalidTransition) as error:
            domain.transition(status, action)
        assert error.value.details[0]["from"] == status.value
        assert error.value.details[0]["to"] == TRANSITIONS[action][1].value
    else:
        assert domain.transition(status, action) is expected


def test_closed_and_cancelled_are_final() -> None:
    assert ALLOWED[S.CLOSED] == frozenset()
    assert ALLOWED[S.CANCELLED] == frozenset()
    assert domain.actions_from(S.CLOSED) == []


def test_create_and_edit_are_not_life_cycle_actions() -> None:
    with pytest.raises(InvalidTransition):
        domain.transition(S.DRAFT, A.EDIT)


@given(st.lists(st.sampled_from(LIFE_CYCLE_ACTIONS), max_size=30))
def test_any_sequence_stays_on_the_graph(actions: list[CaseAction]) -> None:
    status = S.DRAFT
    for action in actions:
        try:
            after = domain.transition(status, action)
        except InvalidTransition:
            continue
        assert after in ALLOWED[status]
        status = after


# --- approval routing -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "budget", "route"),
    [
        (CaseLevel.PROVINCE, 0, (CaseLevel.PROVINCE,)),
        (CaseLevel.PROVINCE, 10**12, (CaseLevel.PROVINCE,)),
        (CaseLevel.CITY, 50_000_000, (CaseLevel.CITY,)),
        (CaseLevel.CITY, 50_000_001, (CaseLevel.CITY, CaseLevel.PROVINCE)),
    ],
)
def test_approval_route(level: CaseLevel, budget: int, route: tuple[CaseLevel, ...]) -> None:
    assert (
        domain.approval_route(level, budget_fen=budget, province_threshold_fen=50_000_000) == route
    )


@pytest.mark.parametrize(
    ("scope", "case_level", "case_path", "acting"),
    [
        (None, CaseLevel.CITY, "/P/C01/", CaseLevel.PROVINCE),
        ("/P/", CaseLevel.CITY, "/P/C01/", CaseLevel.PROVINCE),
        ("/P/C01/", CaseLevel.CITY, "/P/C01/", CaseLevel.CITY),
        ("/P/C02/", CaseLevel.CITY, "/P/C01/", None),
        ("/P/C01/D1/", CaseLevel.CITY, "/P/C01/", None),
        ("/P/C01/", CaseLevel.PROVINCE, "/P/", None),
    ],
)
def test_approver_level(
    scope: str | None, case_level: CaseLevel, case_path: str, acting: CaseLevel | None
) -> None:
    assert (
        domain.approver_level(approver_scope=scope, case_level=case_level, case_org_path=case_path)
        is acting
    )


def test_levels_approve_in_order_and_not_by_the_submitter() -> None:
    route = (CaseLevel.CITY, CaseLevel.PROVINCE)
    check = domain.check_approval
    assert check(route=route, done=[], acting=CaseLevel.CITY, approver="a", submitter="s") is (
        CaseLevel.CITY
    )
    with pytest.raises(Forbidden, match="city-level"):
        check(route=route, done=[], acting=CaseLevel.PROVINCE, approver="a", submitter="s")
    assert (
        check(
            route=route,
            done=[CaseLevel.CITY],
            acting=CaseLevel.PROVINCE,
            approver="b",
            submitter="s",
        )  # fmt: skip
        is CaseLevel.PROVINCE
    )
    with pytest.raises(Forbidden, match="submitted"):
        check(route=route, done=[], acting=CaseLevel.CITY, approver="s", submitter="s")
    with pytest.raises(Forbidden):
        check(route=route, done=[], acting=None, approver="a", submitter="s")


# --- splitting ------------------------------------------------------------------------


def test_largest_remainder_by_hand() -> None:
    # quotas 3.333…, 3.333…, 3.333…: the leftover unit goes to the largest base, then code
    assert domain.split_by_base(10, {"C01": 1, "C02": 1, "C03": 1}) == {
        "C01": 4,
        "C02": 3,
        "C03": 3,
    }
    # quotas 14.28…, 28.57…, 57.14…: floors 14+28+57 = 99, C02 has the largest remainder
    assert domain.split_by_base(100, {"C01": 1, "C02": 2, "C03": 4}) == {
        "C01": 14,
        "C02": 29,
        "C03": 57,
    }
    assert domain.split_by_base(5, {"C01": 0, "C02": 3}) == {"C01": 0, "C02": 5}


@given(
    st.integers(min_value=0, max_value=10**7),
    st.dictionaries(
        st.text(min_size=1, max_size=4), st.integers(min_value=0, max_value=10**6), min_size=1
    ).filter(lambda d: sum(d.values()) > 0),
)
def test_split_always_sums_exactly(total: int, bases: dict[str, int]) -> None:
    parts = domain.split_by_base(total, bases)
    assert sum(parts.values()) == total
    whole = sum(bases.values())
    for code, part in parts.items():
        assert abs(part - total * bases[code] / whole) < 1


def test_split_refuses_an_empty_base() -> None:
    with pytest.raises(InvalidInput, match="no base"):
        domain.split_by_base(10, {"C01": 0})
    with pytest.raises(InvalidInput, match="add up"):
        domain.check_manual_split(10, {"C01": 4, "C02": 5})


def test_overdue_only_unacknowledged_after_the_deadline() -> None:
    due = datetime(2026, 12, 1, tzinfo=UTC)
    late = due + timedelta(seconds=1)
    assert domain.ack_overdue(status=IssueStatus.ISSUED, due_at=due, now=late)
    assert not domain.ack_overdue(status=IssueStatus.ISSUED, due_at=due, now=due)
    assert not domain.ack_overdue(status=IssueStatus.ACKNOWLEDGED, due_at=due, now=late)


def test_case_code() -> None:
    assert domain.case_code(2026, 1) == "YX-2026-0001"
