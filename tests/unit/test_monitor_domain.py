"""The monitor's pure rules: the plan between checkpoints, checkpoint states, the alert rules
at their thresholds and minimum counts, the alert life, notes, recipients and thresholds."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from telmark.cases.domain import AlertStatus, Metric
from telmark.errors import InvalidInput, InvalidTransition
from telmark.execution.monitor import domain
from telmark.execution.monitor.domain import (
    AlertAction,
    Checkpoint,
    CheckpointState,
    Thresholds,
)

START = date(2026, 10, 1)
POINTS = [
    Checkpoint(date(2026, 10, 10), Metric.CONTACTS, 100),
    Checkpoint(date(2026, 10, 20), Metric.CONTACTS, 200),
    Checkpoint(date(2026, 10, 20), Metric.TAKE_UP_BP, 500),
]


@pytest.mark.parametrize(
    ("day", "plan"),
    [
        (date(2026, 9, 30), 0),  # before the start nothing is planned
        (date(2026, 10, 1), 10),  # day 1 of 10 towards 100
        (date(2026, 10, 5), 50),
        (date(2026, 10, 10), 100),
        (date(2026, 10, 12), 120),  # 2 of 10 days from 100 towards 200
        (date(2026, 10, 20), 200),
        (date(2026, 10, 31), 200),  # held at the last target
    ],
)
def test_plan_is_linear_between_checkpoints(day: date, plan: int) -> None:
    assert domain.planned_at(POINTS, Metric.CONTACTS, starts_on=START, day=day) == plan


def test_a_rate_is_the_target_of_its_checkpoint_and_absent_metrics_have_no_plan() -> None:
    assert domain.planned_at(POINTS, Metric.TAKE_UP_BP, starts_on=START, day=START) == 500
    assert domain.planned_at(POINTS, Metric.TAKERS, starts_on=START, day=START) is None


def test_a_checkpoint_is_due_at_the_end_of_its_day_in_the_province() -> None:
    # Midnight in Shanghai is 16:00 UTC the day before.
    assert domain.day_end(date(2026, 10, 10)) == datetime(2026, 10, 10, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("actual", "plan_now", "due", "state"),
    [
        (100, None, True, CheckpointState.MET),
        (90, None, True, CheckpointState.BEHIND),  # exactly 90 %: short, but tolerated
        (89, None, True, CheckpointState.MISSED),
        (54, 60, False, CheckpointState.ON_TRACK),  # 90 % of the plan so far
        (53, 60, False, CheckpointState.BEHIND),
    ],
)
def test_checkpoint_states(actual: int, plan_now: int, due: bool, state: CheckpointState) -> None:
    got = domain.checkpoint_state(
        metric=Metric.CONTACTS, target=100, actual=actual, plan_now=plan_now, due=due,
        ratio_bp=9_000,
    )  # fmt: skip
    assert got is state


def test_evaluation_metrics_are_not_measured_during_execution() -> None:
    got = domain.checkpoint_state(
        metric=Metric.ROI_BP, target=100, actual=0, plan_now=None, due=True, ratio_bp=9_000
    )
    assert got is CheckpointState.NOT_MEASURED
    assert domain.metric_value(Metric.ROI_BP, contacts=1, takers=1) is None
    assert domain.metric_value(Metric.TAKE_UP_BP, contacts=200, takers=7) == 350


def test_share_rounds_half_up_and_is_zero_without_a_base() -> None:
    assert domain.share_of(100, 1, 3) == 33
    assert domain.share_of(100, 1, 2) == 50
    assert domain.share_of(5, 1, 2) == 3
    assert domain.share_of(100, 1, 0) == 0


def _failure(failed: int, settled: int, base_failed: int = 10, base_settled: int = 1000) -> bool:
    return domain.failure_spike(
        failed=failed, settled=settled, base_failed=base_failed, base_settled=base_settled,
        thresholds=Thresholds(),
    ).spike  # fmt: skip


def test_failure_spike_needs_the_rate_the_count_and_significance() -> None:
    assert _failure(5, 50)  # exactly 10 % of exactly 50, against a 1 % history (z ≈ 6.4)
    assert not _failure(4, 50)  # 8 %: under the 10 % rate
    assert not _failure(5, 49)  # 49 settled: under the minimum count
    # Against a history already failing 9 %, 10 % is not significant.
    assert not _failure(5, 50, base_failed=90, base_settled=1000)


def test_failure_baseline_defaults_and_floor() -> None:
    thin = domain.failure_spike(
        failed=0, settled=0, base_failed=0, base_settled=10, thresholds=Thresholds()
    )
    assert thin.baseline_bp == 200  # too little history: the configured default
    clean = domain.failure_spike(
        failed=1, settled=100, base_failed=0, base_settled=10_000, thresholds=Thresholds()
    )
    assert clean.baseline_bp == 50  # a clean history is floored at 0.5 %
    assert not clean.spike


def _complaint(k_t: int, n_t: int, k_c: int, n_c: int) -> bool:
    return domain.complaint_spike(
        complained=k_t, contacted=n_t, compared_complained=k_c, compared=n_c,
        thresholds=Thresholds(),
    ).spike  # fmt: skip


def test_complaint_spike_edges() -> None:
    assert _complaint(10, 120, 0, 120)
    assert not _complaint(4, 40, 0, 120)  # under the minimum of 5 complainers
    assert not _complaint(10, 120, 0, 99)  # comparison group under 100
    assert _complaint(10, 100, 5, 100) is False  # exactly twice, but z ≈ 1.35 < 2.33
    assert not _complaint(200, 1000, 110, 1000)  # significant, but under twice the comparison


def test_alert_life() -> None:
    assert (
        domain.alert_transition(1, AlertStatus.OPEN, AlertAction.ACKNOWLEDGE)
        is AlertStatus.ACKNOWLEDGED
    )
    assert (
        domain.alert_transition(1, AlertStatus.ACKNOWLEDGED, AlertAction.RESOLVE)
        is AlertStatus.RESOLVED
    )
    assert domain.alert_transition(1, AlertStatus.OPEN, AlertAction.RESOLVE) is AlertStatus.RESOLVED
    with pytest.raises(InvalidTransition):
        domain.alert_transition(1, AlertStatus.ACKNOWLEDGED, AlertAction.ACKNOWLEDGE)
    with pytest.raises(InvalidTransition):
        domain.alert_transition(1, AlertStatus.RESOLVED, AlertAction.RESOLVE)


def test_notes_recipients_and_thresholds_are_checked_naming_the_field() -> None:
    with pytest.raises(InvalidInput, match="note"):
        domain.clean_note("  ", required=True)
    with pytest.raises(InvalidInput, match="note"):
        domain.clean_note("x" * 1001, required=False)
    assert domain.clean_recipients([" a@b.cn", "a@b.cn", "c@d.com"]) == ["a@b.cn", "c@d.com"]
    with pytest.raises(InvalidInput, match=r"recipients\[1\]"):
        domain.clean_recipients(["a@b.cn", "not-an-address"])
    with pytest.raises(InvalidInput, match="thresholds.execution_ratio_bp"):
        Thresholds.from_mapping({"execution_ratio_bp": 0})
    with pytest.raises(InvalidInput, match="thresholds.nonsense"):
        Thresholds.from_mapping({"nonsense": 1})
    assert Thresholds.from_mapping({"complaint_days": 3}).complaint_days == 3


def test_alert_keys_are_per_checkpoint_scope_and_day() -> None:
    point = POINTS[0]
    assert domain.behind_key(point, None) == "cp:2026-10-10:contacts:case"
    assert domain.behind_key(point, "C02") == "cp:2026-10-10:contacts:org:C02"
    assert domain.day_key("sms", date(2026, 10, 12)) == "sms:2026-10-12"
