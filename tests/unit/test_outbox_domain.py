"""Outbox rules without a database: states, keys, send windows, backoff, the bucket, matching."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from telmark.errors import InvalidInput, InvalidTransition
from telmark.execution.domain import (
    OutboxState,
    RetryPolicy,
    TokenBucket,
    Window,
    backoff,
    check_channel,
    check_transition,
    next_send_time,
    outbox_key,
    receipt_matches,
)

DAY = date(2026, 10, 5)
WINDOW = Window(time(8), time(21))


def test_the_state_table_refuses_what_would_send_twice_or_revive_a_row() -> None:
    check_transition(OutboxState.PLANNED, OutboxState.SENDING)
    check_transition(OutboxState.SENDING, OutboxState.PLANNED)  # transient, or in doubt: again
    for done in (OutboxState.FAILED, OutboxState.SUPPRESSED, OutboxState.CANCELLED):
        with pytest.raises(InvalidTransition):
            check_transition(done, OutboxState.PLANNED)
    with pytest.raises(InvalidTransition):
        check_transition(OutboxState.SENT, OutboxState.SENDING)


def test_the_key_is_the_same_for_the_same_contact_and_differs_otherwise() -> None:
    key = outbox_key(run_id=1, case_id=2, subscriber_id=3, channel="sms")
    assert key == outbox_key(run_id=1, case_id=2, subscriber_id=3, channel="sms")
    assert key != outbox_key(run_id=1, case_id=2, subscriber_id=3, channel="app_push")
    assert key != outbox_key(run_id=2, case_id=2, subscriber_id=3, channel="sms")


def test_an_unknown_channel_is_named() -> None:
    with pytest.raises(InvalidInput, match="outbound_call"):
        check_channel("outbound_call")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 10, 5, 2, 0, tzinfo=UTC), datetime(2026, 10, 5, 2, 0, tzinfo=UTC)),
        # 21:30 local → 08:00 the next morning (00:00 UTC).
        (datetime(2026, 10, 5, 13, 30, tzinfo=UTC), datetime(2026, 10, 6, 0, 0, tzinfo=UTC)),
        # 06:00 local → 08:00 the same morning.
        (datetime(2026, 10, 4, 22, 0, tzinfo=UTC), datetime(2026, 10, 5, 0, 0, tzinfo=UTC)),
        # The day before the planned day → its window's opening.
        (datetime(2026, 10, 3, 5, 0, tzinfo=UTC), datetime(2026, 10, 5, 0, 0, tzinfo=UTC)),
    ],
)
def test_the_next_send_time_respects_the_window_and_the_planned_day(
    now: datetime, expected: datetime
) -> None:
    assert next_send_time(now, planned_on=DAY, window=WINDOW) == expected


def test_a_window_across_midnight() -> None:
    night = Window(time(22), time(6))
    assert night.contains(time(23))
    assert night.contains(time(5))
    assert not night.contains(time(12))


def test_backoff_grows_is_capped_and_jitters_within_half_to_full() -> None:
    policy = RetryPolicy(max_attempts=8, base=timedelta(seconds=10), cap=timedelta(seconds=60))
    assert backoff(1, policy, jitter=lambda: 0.0) == timedelta(seconds=5)
    assert backoff(3, policy, jitter=lambda: 0.999999) < timedelta(seconds=40)
    assert backoff(3, policy, jitter=lambda: 0.0) == timedelta(seconds=20)
    assert backoff(9, policy, jitter=lambda: 0.0) == timedelta(seconds=30)  # capped at 60 / 2


def test_the_bucket_paces_a_batch_larger_than_its_burst() -> None:
    clock = [0.0]
    bucket = TokenBucket(100, burst=10, clock=lambda: clock[0])
    assert bucket.reserve(10) == 0.0
    assert bucket.reserve(50) == pytest.approx(0.5)  # 50 tokens of debt at 100/s
    clock[0] = 0.5
    assert bucket.reserve(1) == pytest.approx(0.01)
    clock[0] = 10.0
    assert bucket.reserve(10) == 0.0  # refilled, but never beyond the burst
    assert bucket.reserve(1) == pytest.approx(0.01)


def test_receipt_text_matches_with_placeholders_and_never_when_empty() -> None:
    body = "M000042 尊敬的客户，您的续约礼包已到账。"
    assert receipt_matches(receipt_text="M000042 ????????????", body=body)
    assert not receipt_matches(receipt_text="M000043 ????????????", body=body)
    assert not receipt_matches(receipt_text="", body=body)
    assert not receipt_matches(receipt_text="????", body=body)
