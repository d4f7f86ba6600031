"""The dispatch worker: claims outbox rows, re-checks them, sends, records, reconciles.

One worker process per channel (several may run side by side). A round:

1. **Claim** up to ``batch`` due ``planned`` rows: one ``WITH due AS
   MATERIALIZED (SELECT id ... ORDER BY next_attempt_at LIMIT n FOR UPDATE
   SKIP LOCKED) UPDATE outbox SET state='sending', claimed_by, claimed_until
   ... FROM due WHERE outbox.id = due.id RETURNING ...``, committed before
   anything is written to a socket. On PostgreSQL the ``SKIP LOCKED`` select
   lets concurrent workers take disjoint rows without waiting on each other;
   it is a materialised CTE, not ``WHERE id IN (subquery)``, because the planner
   may run such a subquery again per outer row, and a ``LIMIT`` evaluated twice
   claims more rows than asked (the test saw 300 for 200). SQLite has no row
   locks and ignores the clause, but serialises writers, so the single
   statement is atomic there too. The lease (``claimed_until``) is how a dead
   worker's rows come back (step 5).
2. **Re-check at send time**: a number the consent register blocks *now*
   (an opt-out recorded after the list was built) → ``suppressed`` with the
   reason; a row outside the send window of the policy in force now (quiet
   hours) → back to ``planned`` with ``next_attempt_at`` at the window's next
   opening (a reschedule, not a state). Committed.
3. **Send** the rest through the channel, paced by a token bucket at ``tps``
   messages per second, and **record** each result in the same commit:
   accepted → ``sent`` with the provider's ids (one per SMS segment, also in
   ``outbox_provider_id`` for receipts); transient → ``planned`` again after an
   exponential backoff with jitter, or ``failed`` after ``max_attempts``;
   permanent → ``failed``. Every send appends an ``outbox_attempt`` row.
4. **Receipts** from the channel set ``delivered``/``failed`` by provider id.
5. **In doubt.** A row still ``sending`` after its lease expired belongs to a
   worker that died between step 1 and the commit of step 3.

Never twice, never skipped: the window the database cannot close
----------------------------------------------------------------
Between the SMSC accepting a ``submit_sm`` and our commit of ``sent`` there is
a moment in which a SIGKILL loses the knowledge that the message went out; no
ordering of database writes removes it, because the send and the commit are
in two systems. Marking rows ``sending`` before the write (step 1) and
committing results per batch make the window small and *visible*: after a
crash exactly the rows of the batch in hand are ``sending`` — every other row
is ``planned`` (never sent) or settled. Those rows are **in doubt**, and are
settled from the one witness outside our process, the SMSC:

* SMSCs send a delivery receipt (``deliver_sm``, receipt ``esm_class``) for
  each accepted message, to a session bound with the same ``system_id`` —
  including a session bound after the one that submitted has gone — holding
  it until a receiver is bound. The receipt carries the SMSC's message id,
  the original destination (as ``source_addr``) and, per SMPP 3.4 Appendix B,
  the first 20 characters of the text (``text:``).
* The restarted worker binds first, marks the expired-lease rows in doubt
  (``in_doubt_at``), and for ``in_doubt_grace`` matches incoming receipts that
  no stored provider id claims against them by (address, text prefix). A
  matched row was sent: it becomes ``delivered``/``failed`` from the receipt,
  with the receipt's message id, and is not sent again (attempt ``confirmed``).
* An in-doubt row no receipt claims within the grace period did not reach the
  SMSC (or reached an SMSC that sends no receipts): it goes back to
  ``planned`` (attempt ``lost``) and is sent again.

The same applies to a dropped SMSC connection during a batch: the channel
(``SmsDispatchChannel``) does not blindly resubmit the ``submit_sm`` whose
response the drop swallowed; it reports their messages in doubt and they are
settled as above. Parts never written are simply sent on the new session.

What this guarantee rests on, stated plainly: exactly-once needs the SMSC to
route receipts of pre-crash messages to the new session and to fill ``text:``.
The smpp34-based test simulator as first written does neither (it sends the
receipt only on the submitting session, with an empty ``text:``);
``tests/_support/smsc_receipts.py`` runs it with both, as a production SMSC
does, and the crash tests use it. Against an SMSC without them, an in-doubt
row is sent again after the grace period: at least once, at most the in-doubt
batch twice. One window stays open: the ESME acknowledges a ``deliver_sm`` on
arrival, so a receipt acknowledged just before a crash, for a row of the batch
in hand, is lost and that row is resent; receipts normally come seconds after
the submit, after the batch's commit (closing it needs the ESME to acknowledge
only once the receipt is committed). E-mail and webhook have no receipts; they carry the outbox key
(``Message-ID``, ``Idempotency-Key``) so the receiver drops a resend, and their
in-doubt rows go straight back to ``planned``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from telmark.db import utcnow
from telmark.execution.channels.base import (
    Channel,
    ChannelKind,
    Message,
    Receipt,
)
from telmark.execution.dispatch_sms import SmsDispatchChannel, SmsReceipt
from telmark.execution.dispatch_steps import (
    Claimed,
    Counters,
    DispatchConfig,
    adopt_in_doubt,
    apply_receipts,
    claim,
    default_worker_id,
    pending,
    recheck,
    record,
    settle_lost,
)
from telmark.execution.domain import (
    TokenBucket,
    default_jitter,
)
from telmark.execution.schemas import DispatchRead
from telmark.uow import UnitOfWork

log = logging.getLogger(__name__)

__all__ = [
    "Claimed",
    "Counters",
    "DispatchConfig",
    "Dispatcher",
    "SmsDispatchChannel",
    "SmsReceipt",
    "claim",
    "default_worker_id",
]


# -- the worker --------------------------------------------------------------------------------


class Dispatcher:
    """One worker's loop over one channel (module doc). ``run`` returns its counters."""

    def __init__(
        self,
        config: DispatchConfig,
        channel: Channel,
        *,
        uow_factory: Callable[[], UnitOfWork] = UnitOfWork,
        now: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = default_jitter,
    ) -> None:
        self.config = config
        self.channel = channel
        self.counters = Counters()
        self._uow = uow_factory
        self._now = now
        self._jitter = jitter
        self._bucket = TokenBucket(config.tps, clock=monotonic) if config.tps else None
        self._held: list[tuple[datetime, Receipt]] = []  # receipts no row claims yet

    def _read(self) -> DispatchRead:
        return DispatchRead(
            channel=self.config.channel, worker=self.config.worker, **_counts(self.counters)
        )

    async def run(self) -> DispatchRead:
        """Dispatch until stopped (or, with ``until_empty``, until nothing is left to do now)."""
        log.info("dispatching %s as %s", self.config.channel, self.config.worker)
        if isinstance(self.channel, SmsDispatchChannel):
            await self.channel.connect()  # receipts of messages sent before a crash come on bind
        while True:
            worked = await self.round()
            if worked:
                continue
            with self._uow() as uow:
                left = pending(uow=uow, channel=self.config.channel, now=self._now())
            if self.config.until_empty and left == 0:
                await asyncio.sleep(0)
                self._receipts()
                log.info("nothing left to send on %s: %s", self.config.channel, self.counters)
                return self._read()
            await asyncio.sleep(self.config.idle)
            if isinstance(self.channel, SmsDispatchChannel):
                await self.channel.keep_bound()

    async def round(self) -> bool:
        """One pass: receipts, in-doubt rows, one claimed batch. True if a batch was sent."""
        config = self.config
        self._receipts()
        now = self._now()
        with self._uow() as uow:
            adopted = adopt_in_doubt(uow=uow, config=config, now=now)
        if adopted:
            log.warning("%d rows of %s were in doubt (lease expired)", len(adopted), config.channel)
            self.counters.in_doubt += len(adopted)
        # Only SMS has receipts to wait for; e-mail and push receivers dedupe on the key.
        has_receipts = self.channel.kind is ChannelKind.SMS
        grace = config.in_doubt_grace if has_receipts else timedelta(0)
        with self._uow() as uow:
            settle_lost(uow=uow, config=config, now=now, grace=grace, counters=self.counters)
        with self._uow() as uow:
            rows = claim(
                uow=uow, channel=config.channel, worker=config.worker, limit=config.batch,
                lease=config.lease, now=now,
            )  # fmt: skip
        if not rows:
            return False
        self.counters.claimed += len(rows)
        with self._uow() as uow:
            rows = recheck(
                uow=uow, channel=config.channel, rows=rows, now=self._now(), counters=self.counters
            )
        for chunk in self._chunks(rows):
            await self._send(chunk)
        self._receipts()
        return True

    def _chunks(self, rows: list[Claimed]) -> list[list[Claimed]]:
        # With a TPS limit, small chunks keep the rate even within a second.
        size = max(1, len(rows) if self._bucket is None else int(self._bucket.burst))
        return [rows[i : i + size] for i in range(0, len(rows), size)]

    async def _send(self, rows: list[Claimed]) -> None:
        if self._bucket is not None:
            await asyncio.sleep(self._bucket.reserve(len(rows)))
        messages = [Message(r.key, r.address, r.body, r.subject) for r in rows]
        results = await self.channel.send_batch(messages)
        in_doubt: set[str] = getattr(self.channel, "in_doubt", set())
        with self._uow() as uow:
            record(
                uow=uow, config=self.config, rows=rows, results=results, in_doubt=in_doubt,
                now=self._now(), counters=self.counters, jitter=self._jitter,
            )  # fmt: skip

    def _receipts(self) -> None:
        now = self._now()
        fresh: list[Receipt] = []
        while not self.channel.receipts.empty():
            fresh.append(self.channel.receipts.get_nowait())
        # A receipt may precede the row it is for: the commit of ``sent`` (not yet done),
        # or the in-doubt marking after a restart (the lease has yet to expire).
        keep_for = self.config.lease + self.config.in_doubt_grace * 2
        waiting = [r for seen, r in self._held if seen > now - keep_for]
        if len(waiting) < len(self._held):
            log.warning("%d receipts matched no outbox row", len(self._held) - len(waiting))
        batch = waiting + fresh
        if not batch:
            self._held = []
            return
        first_seen = {id(r): seen for seen, r in self._held}
        with self._uow() as uow:
            left = apply_receipts(
                uow=uow, config=self.config, receipts=batch, now=now, counters=self.counters
            )
        self._held = [(first_seen.get(id(r), now), r) for r in left]


def _counts(counters: Counters) -> dict[str, int]:
    return {name: getattr(counters, name) for name in Counters.__dataclass_fields__}
