"""What every channel offers the dispatcher: send a batch, report receipts, close.

Design
------
Channels are asynchronous (``async def send_batch``) because the dispatcher is
one worker process that keeps a connection open per channel and overlaps the
waits: SMPP pipelines a window of ``submit_sm`` on one TCP connection, and
webhooks post concurrently. A channel never touches the database; the
dispatcher owns the outbox (planned → sent → delivered/failed) and records
what ``send_batch`` returns.

* ``Message.key`` is the outbox's idempotency key. Channels carry it where the
  protocol allows so a resend is recognisable downstream (SMTP ``Message-ID``,
  webhook ``Idempotency-Key`` header); SMPP 3.4 has no such field, see
  ``channels.smpp`` for what that means.
* ``send_batch`` returns one ``SendResult`` per message, in order, and never
  raises for a message's own failure: it classifies it. ``TRANSIENT`` means
  the same message may succeed later (retry with backoff); ``PERMANENT`` means
  it never will (bad address, rejected content) and must not be retried.
  A channel-wide fault that no retry fixes (wrong SMPP password) raises
  ``ChannelUnavailable`` instead, so the dispatcher stops rather than burning
  through the outbox.
* Delivery receipts arrive later and on their own (SMPP ``deliver_sm``):
  a channel that has them puts ``Receipt``s on its ``receipts`` queue, keyed by
  the provider message ids of ``SendResult.provider_ids``; the dispatcher must
  persist those ids with the outbox row to match receipts, including ones that
  arrive after a worker restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable


class ChannelKind(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    WEBHOOK = "webhook"
    CALL = "call"  # outbound-call lists: a file for the call centre, not a live send


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # the provider took the message (not yet delivered)
    TRANSIENT = "transient"  # not accepted now; retrying later may succeed
    PERMANENT = "permanent"  # will never be accepted; do not retry


class ReceiptStatus(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"


class ChannelUnavailable(RuntimeError):
    """The channel cannot send anything (configuration or credentials); stop dispatching."""


@dataclass(frozen=True, slots=True)
class Message:
    """One rendered message to one recipient.

    ``key`` is the outbox idempotency key; ``to`` the address in the channel's
    form (MSISDN, e-mail address, push token or open id); ``subject`` is used by
    e-mail only; ``metadata`` travels with webhooks and is ignored by SMS.
    """

    key: str
    to: str
    body: str
    subject: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class SendResult:
    """What happened to one message of a batch.

    ``provider_ids`` are the ids the provider gave (one per SMS segment, in
    order); a long SMS is accepted only when every segment is. ``attempts`` counts
    the submissions this call made (more than one after a reconnect).
    """

    key: str
    outcome: Outcome
    provider_ids: tuple[str, ...] = ()
    error: str | None = None
    attempts: int = 1

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


@dataclass(frozen=True, slots=True)
class Receipt:
    """A delivery report for one provider message id (for SMS: one segment)."""

    provider_id: str
    status: ReceiptStatus
    at: datetime  # when the receipt reached us (aware, UTC)
    detail: str = ""  # the provider's own status text and error code, as received


@runtime_checkable
class Channel(Protocol):
    """The dispatcher's view of a channel."""

    kind: ChannelKind
    # Receipts in arrival order; channels without delivery reports never put on it.
    receipts: asyncio.Queue[Receipt]

    async def send_batch(self, messages: Sequence[Message]) -> list[SendResult]:
        """Send ``messages``; one result per message, in the same order."""
        ...

    async def close(self) -> None:
        """Finish politely (unbind, QUIT) and release connections."""
        ...
