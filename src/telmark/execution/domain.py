"""Outbox rules: the state table, idempotency keys, send windows, backoff, throttling, matching.

Pure: no SQLAlchemy, FastAPI or sockets, so every rule the dispatcher applies
is tested here in milliseconds (``dispatch`` explains how they fit together).

States of an outbox row::

    planned ──claim──▶ sending ──accepted──▶ sent ──receipt──▶ delivered ──▶ responded
       ▲                  │ │                  │                              ▲
       └──transient/lost──┘ └──permanent──▶ failed ◀──receipt──┘              │
    planned/sending ──opt-out, DND──▶ suppressed        sent ─────────────────┘
    planned ──case stopped──▶ cancelled

Quiet hours are not a state: a row due outside its send window keeps its
state and gets a later ``next_attempt_at``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from telmark.errors import InvalidInput, InvalidTransition
from telmark.execution.channels.base import ChannelKind
from telmark.translation import N_

PROVINCE_TZ = ZoneInfo("Asia/Shanghai")
# wechat is a webhook target like app push; the contact channels of cases and lists
# (consent.domain.Channel) have no wechat today, so no list row carries it yet.
DISPATCH_CHANNELS = ("sms", "email", "app_push", "wechat")
CHANNEL_KINDS: dict[str, ChannelKind] = {
    "sms": ChannelKind.SMS,
    "email": ChannelKind.EMAIL,
    "app_push": ChannelKind.WEBHOOK,
    "wechat": ChannelKind.WEBHOOK,
}
MAX_KEY = 120


class OutboxState(StrEnum):
    PLANNED = "planned"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SUPPRESSED = "suppressed"
    RESPONDED = "responded"


STATES = tuple(s.value for s in OutboxState)

OUTBOX_STATE_LABELS: dict[OutboxState, str] = {
    OutboxState.PLANNED: N_("planned"),
    OutboxState.SENDING: N_("sending"),
    OutboxState.SENT: N_("sent"),
    OutboxState.DELIVERED: N_("delivered"),
    OutboxState.FAILED: N_("failed"),
    OutboxState.CANCELLED: N_("cancelled"),
    OutboxState.SUPPRESSED: N_("suppressed"),
    OutboxState.RESPONDED: N_("responded"),
}

ALLOWED: dict[OutboxState, frozenset[OutboxState]] = {
    OutboxState.PLANNED: frozenset(
        {OutboxState.SENDING, OutboxState.SUPPRESSED, OutboxState.CANCELLED}
    ),
    OutboxState.SENDING: frozenset(
        {
            OutboxState.SENT,
            OutboxState.DELIVERED,  # an in-doubt row confirmed by its delivery receipt
            OutboxState.FAILED,
            OutboxState.PLANNED,  # transient failure, or in doubt and not confirmed: again
            OutboxState.SUPPRESSED,
        }
    ),
    OutboxState.SENT: frozenset({OutboxState.DELIVERED, OutboxState.FAILED, OutboxState.RESPONDED}),
    OutboxState.DELIVERED: frozenset({OutboxState.RESPONDED}),
    OutboxState.FAILED: frozenset(),
    OutboxState.CANCELLED: frozenset(),
    OutboxState.SUPPRESSED: frozenset(),
    OutboxState.RESPONDED: frozenset(),
}


def check_transition(current: OutboxState, to: OutboxState) -> None:
    """InvalidTransition unless the state table allows ``current`` → ``to``."""
    if to not in ALLOWED[current]:
        raise InvalidTransition(f"an outbox row cannot go from {current} to {to}")


class AttemptOutcome(StrEnum):
    ACCEPTED = "accepted"
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    CONFIRMED = "confirmed"  # in doubt after a crash; the SMSC's receipt says it arrived
    LOST = "lost"  # in doubt after a crash; no receipt within the grace period: sent again


ATTEMPT_OUTCOMES = tuple(o.value for o in AttemptOutcome)


class Suppression(StrEnum):
    """Why a row was not sent (``outbox.reason``)."""

    OPT_OUT = "opt_out"  # the consent register blocks the number on this channel now
    NO_TEMPLATE = "no_template"
    CASE_STOPPED = "case_stopped"


def outbox_key(*, run_id: int, case_id: int, subscriber_id: int, channel: str) -> str:
    """The idempotency key of one planned contact: the same inputs, the same key, forever."""
    return f"r{run_id}-c{case_id}-s{subscriber_id}-{channel}"


def check_channel(channel: str) -> str:
    if channel not in DISPATCH_CHANNELS:
        raise InvalidInput(
            f"channel {channel!r} is not dispatched from the outbox "
            f"(one of {', '.join(DISPATCH_CHANNELS)})",
            details=[{"field": "channel", "reason": "unknown", "allowed": DISPATCH_CHANNELS}],
        )
    return channel


# -- send windows --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """Local times a message may be sent: [start, end), wrapping midnight when start > end."""

    start: time
    end: time

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> Window | None:
        if not start or not end:
            return None
        return cls(time.fromisoformat(start), time.fromisoformat(end))

    def contains(self, local: time) -> bool:
        if self.start == self.end:
            return True
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


def next_send_time(
    now: datetime, *, planned_on: date, window: Window | None, tz: ZoneInfo = PROVINCE_TZ
) -> datetime:
    """``now`` if a message may go now, else the first moment it may (aware, UTC).

    Not before the planned day's start (local), and inside the window.
    """
    earliest = datetime.combine(planned_on, time(0), tzinfo=tz)
    moment = max(now.astimezone(tz), earliest)
    if window is None or window.contains(moment.timetz().replace(tzinfo=None)):
        return moment.astimezone(UTC) if moment != now.astimezone(tz) else now
    opening = datetime.combine(moment.date(), window.start, tzinfo=tz)
    if opening <= moment:
        opening += timedelta(days=1)
    return opening.astimezone(UTC)


# -- retries -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InvalidInput(
                "max_attempts must be at least 1",
                details=[{"field": "max_attempts", "reason": "minimum 1"}],
            )


def backoff(attempts: int, policy: RetryPolicy, *, jitter: Callable[[], float]) -> timedelta:
    """Delay before attempt ``attempts + 1``: exponential, capped, with "full jitter".

    Full jitter (a uniform draw up to the exponential bound) spreads the
    retries of a batch that failed together, so they do not hit the provider
    together again. ``jitter`` returns a float in [0, 1).
    """
    bound: timedelta = min(policy.base * 2 ** max(attempts - 1, 0), policy.cap)
    return timedelta(
        seconds=bound.total_seconds() * (0.5 + jitter() / 2)
    )  # never less than half: a retry storm has a floor


def default_jitter() -> float:
    return random.random()  # noqa: S311 - spreading retries, not a secret


# -- throttling ----------------------------------------------------------------------------


class TokenBucket:
    """At most ``rate`` sends per second on average, bursts up to ``burst``.

    ``reserve(n)`` says how long to wait before ``n`` more may go; the caller
    sleeps (the bucket never does, so tests drive it with a fake clock).
    """

    def __init__(self, rate: float, *, burst: float | None = None, clock: Callable[[], float]):
        if rate <= 0:
            raise InvalidInput(
                "tps must be positive", details=[{"field": "tps", "reason": "must be > 0"}]
            )
        self.rate = rate
        self.burst = burst if burst is not None else max(rate / 10, 1.0)
        self._clock = clock
        self._tokens = self.burst
        self._at = clock()

    def reserve(self, n: float = 1.0) -> float:
        """Take ``n`` tokens now; the seconds to wait before using them (0: go now).

        Tokens may go negative (a debt the caller sleeps off), so a batch larger
        than the burst is paced rather than refused, and the long-run rate is
        exactly ``rate``.
        """
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        self._tokens -= n
        return max(0.0, -self._tokens / self.rate)


# -- in-doubt reconciliation -----------------------------------------------------------------

RECEIPT_TEXT_CHARS = 20  # SMPP 3.4 Appendix B: "text: the first 20 characters of the message"


def receipt_matches(*, receipt_text: str, body: str) -> bool:
    """May a receipt whose ``text:`` field reads ``receipt_text`` be for a message with ``body``?

    The text is the start of one segment as the SMSC wrote it; characters it
    could not write in its receipt's alphabet come as ``?``, which matches any
    character here. It must be non-empty and occur in the body. An empty text
    matches nothing: without it two in-doubt messages to the same number could
    not be told apart, and a wrong match would skip a contact.
    """
    text = receipt_text.strip()
    if not text or text.count("?") == len(text):
        return False
    pattern = ".".join(re.escape(part) for part in text.split("?"))
    return re.search(pattern, body, re.DOTALL) is not None
