"""Pure targeting rules: policy periods and allowance, arbitration, holdout hash, balance."""

from __future__ import annotations

from datetime import date, time

import numpy as np
import pytest

from telmark.errors import InvalidInput
from telmark.targeting.domain import (
    BP,
    DEFAULT_POLICY,
    Candidate,
    CaseSpec,
    ContactPolicy,
    Period,
    Reason,
    Step,
    allowance,
    arbitrate,
    balance,
    check_cases,
    check_policy,
    funnel,
    gap_bounds,
    holdout_bucket,
    holdout_buckets,
    in_holdout,
    period_bounds,
    propensity_permille,
    score,
    send_window,
    value_factor,
)


def _case(**changes: object) -> CaseSpec:
    fields: dict[str, object] = {
        "case_id": 1, "code": "C1", "org_path": "/P/", "priority": 5,
        "business_weight_bp": 5000, "snapshot_id": 1, "offer_codes": (),
        "channels": ("sms",), "holdout_bp": 1000,
        "starts_on": date(2026, 10, 1), "ends_on": date(2026, 10, 31),
    }  # fmt: skip
    fields.update(changes)
    return CaseSpec(**fields)  # type: ignore[arg-type]


def test_periods_are_calendar_day_iso_week_and_month() -> None:
    wednesday = date(2026, 10, 7)
    assert period_bounds(wednesday, Period.DAY) == (wednesday, wednesday)
    assert period_bounds(wednesday, Period.WEEK) == (date(2026, 10, 5), date(2026, 10, 11))
    assert period_bounds(wednesday, Period.MONTH) == (date(2026, 10, 1), date(2026, 10, 31))
    assert period_bounds(date(2026, 12, 31), Period.MONTH) == (
        date(2026, 12, 1),
        date(2026, 12, 31),
    )


def test_gap_covers_days_closer_than_the_gap_on_both_sides() -> None:
    assert gap_bounds(date(2026, 10, 7), 0) is None
    assert gap_bounds(date(2026, 10, 7), 1) == (date(2026, 10, 7), date(2026, 10, 7))
    assert gap_bounds(date(2026, 10, 7), 3) == (date(2026, 10, 5), date(2026, 10, 9))


def test_allowance_is_cap_room_and_one_per_day_under_a_gap() -> None:
    capped = ContactPolicy(version=1, global_cap=3, min_gap_days=0)
    assert allowance(capped, in_period=0, within_gap=False) == 3
    assert allowance(capped, in_period=2, within_gap=False) == 1
    assert allowance(capped, in_period=5, within_gap=False) == 0
    gapped = ContactPolicy(version=1, global_cap=3, min_gap_days=1)
    assert allowance(gapped, in_period=0, within_gap=False) == 1
    assert allowance(gapped, in_period=0, within_gap=True) == 0


def test_quiet_hours_give_the_send_window_except_for_frontline_tasks() -> None:
    policy = ContactPolicy(version=1, quiet_start=time(21, 30), quiet_end=time(8, 0))
    assert send_window(policy, "sms") == (time(8, 0), time(21, 30))
    assert send_window(policy, "frontline") is None


def test_policy_and_cases_are_checked_field_by_field() -> None:
    assert check_policy(DEFAULT_POLICY) is DEFAULT_POLICY
    with pytest.raises(InvalidInput) as raised:
        check_policy(ContactPolicy(version=1, global_cap=0, channel_caps={"fax": 1}))
    assert {d["field"] for d in raised.value.details} == {"global_cap", "channel_caps"}
    with pytest.raises(InvalidInput, match="outside the case's dates"):
        check_cases([_case()], date(2026, 11, 1))
    with pytest.raises(InvalidInput, match="twice"):
        check_cases([_case(), _case()], date(2026, 10, 5))
    with pytest.raises(InvalidInput, match="channels"):
        check_cases([_case(channels=("sms", "sms"))], date(2026, 10, 5))


def test_score_factors_are_integers_that_never_zero_the_score() -> None:
    assert propensity_permille(None) == 500
    assert propensity_permille(0.1234) == 123
    assert propensity_permille(1.7) == 1000
    assert value_factor(None) == 1
    assert value_factor(0) == 1
    assert value_factor(123_456) == 1234
    assert score(1, 0, 0, 1) == 1
    top = score(9, BP, 1000, 1_000_000)
    assert top < 2**63
    assert score(5, 5000, 500, 10) == 5 * 5001 * 501 * 10


def test_arbitration_orders_by_score_then_case_id_and_names_the_winner() -> None:
    candidates = [Candidate(3, "sms", 100), Candidate(1, "sms", 100), Candidate(2, "app_push", 50)]
    verdicts = {v.case_id: v for v in arbitrate(candidates, allowance=1, channel_room={})}
    assert verdicts[1].won  # same score as case 3: the lower case id wins
    assert (verdicts[3].won, verdicts[3].beaten_by) == (False, 1)
    assert (verdicts[2].won, verdicts[2].beaten_by) == (False, 1)
    # Channel room first: only one sms slot, so case 3 loses on the channel, case 2 gets in.
    verdicts = {v.case_id: v for v in arbitrate(candidates, allowance=2, channel_room={"sms": 1})}
    assert [c for c, v in sorted(verdicts.items()) if v.won] == [1, 2]
    assert verdicts[3].beaten_by == 1
    # Same inputs in any order: same verdicts.
    again = arbitrate(list(reversed(candidates)), allowance=2, channel_room={"sms": 1})
    assert {v.case_id: v for v in again} == verdicts


def test_holdout_hash_is_stable_and_the_numpy_form_equals_the_reference() -> None:
    # Pinned values: a changed hash would silently redraw every control group.
    assert holdout_bucket("telmark-holdout", 1, 123_456_789) == 1154
    assert [holdout_bucket("k", 7, s) for s in (1, 2, 3)] == [77, 689, 846]
    ids = np.arange(1, 5001, dtype=np.int64) * 7919
    vectorised = holdout_buckets("k", 42, ids).tolist()
    assert vectorised == [holdout_bucket("k", 42, int(i)) for i in ids]


def test_holdout_share_is_within_sampling_error_and_cases_are_independent() -> None:
    ids = np.arange(1, 200_001, dtype=np.int64)
    share = 0.1
    a = in_holdout("key", 1, ids, 1000)
    b = in_holdout("key", 2, ids, 1000)
    sigma = np.sqrt(len(ids) * share * (1 - share))
    assert abs(a.sum() - len(ids) * share) < 4 * sigma
    # Independent draws: the overlap is share², not share.
    both = (a & b).sum()
    expected = len(ids) * share * share
    assert abs(both - expected) < 4 * np.sqrt(expected)
    # Another key redraws.
    assert (in_holdout("other", 1, ids, 1000) != a).any()


def test_funnel_subtracts_each_step_s_exclusions() -> None:
    steps = funnel(100, {Reason.NOT_ELIGIBLE: 10, Reason.CAP: 5, Reason.MIN_GAP: 5,
                         Reason.ARBITRATION_LOST: 20, Reason.CONTROL: 6})  # fmt: skip
    assert steps == [
        (Step.SNAPSHOT, 100), (Step.ELIGIBLE, 90), (Step.CONSENT, 90), (Step.POLICY, 80),
        (Step.ARBITRATION, 60), (Step.HOLDOUT, 54), (Step.LISTS, 54),
    ]  # fmt: skip


def test_balance_reports_smd_and_flags_large_differences() -> None:
    same = balance("x", np.array([1.0, 2, 3, 4]), np.array([1.0, 2, 3, 4, np.nan]))
    assert same.smd == 0.0
    assert not same.flagged
    assert same.control_n == 4
    shifted = balance("x", np.array([1.0, 2, 3, 4]), np.array([2.0, 3, 4, 5]))
    assert shifted.smd is not None
    assert shifted.flagged
    assert balance("x", np.array([1.0]), np.array([])).smd is None
