"""The SMS channel as the outbox needs it: no blind resubmission, receipts with address and text.

``execution.dispatch`` explains why (the "in doubt" rows).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from telmark.db import utcnow
from telmark.execution.channels import smpp_pdu as pdu
from telmark.execution.channels.base import (
    Message,
    Receipt,
    SendResult,
)
from telmark.execution.channels.config import SmppSettings
from telmark.execution.channels.smpp import RECEIPT_STATUS, SmppChannel

log = logging.getLogger(__name__)

_TEXT_FIELD = re.compile(r"text:(.*)$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class SmsReceipt(Receipt):
    """A receipt with what in-doubt matching needs: destination and text start."""

    address: str = ""
    text: str = ""


class SmsDispatchChannel(SmppChannel):
    """SMPP without blind resubmission: see the module docstring ("in doubt").

    ``SmppChannel`` resubmits, on the next session, every ``submit_sm`` a
    dropped session had not answered (at least once). Here they are not
    resubmitted: their messages are listed in ``in_doubt`` after ``send_batch``
    and the dispatcher settles them from receipts before sending any again.
    """

    def __init__(self, settings: SmppSettings) -> None:
        super().__init__(settings)
        self._lost: set[int] = set()
        self.in_doubt: set[str] = set()

    def _requeue(self, session: Any, queue: Any) -> None:  # noqa: ARG002 - parent's signature
        reason = session.reason
        lost = list(session.inflight.values())
        session.inflight.clear()
        self._lost.update(part.message for part in lost)
        if self._session is session:
            self.stats.drops += 1
            log.warning(
                "SMPP session dropped (%s); %d unanswered submit_sm are in doubt",
                reason,
                len(lost),
            )
            self._session = None

    async def send_batch(self, messages: Sequence[Message]) -> list[SendResult]:
        self._lost = set()
        results = await super().send_batch(messages)
        self.in_doubt = {messages[i].key for i in self._lost if not results[i].accepted}
        return results

    async def keep_bound(self) -> None:
        """Bind again if the session dropped while idle: receipts arrive only on a bound one."""
        await self._ensure_session()

    def _on_deliver(self, message: pdu.ShortMessage) -> None:
        try:
            fields = pdu.parse_receipt(message)
        except pdu.PduError as error:
            log.warning("ignored a malformed delivery receipt: %s", error)
            return
        if fields is None:
            return
        status = RECEIPT_STATUS.get(fields.stat)
        if status is None:
            return
        self.stats.receipts += 1
        found = _TEXT_FIELD.search(message.short_message.decode("latin-1"))
        self.receipts.put_nowait(
            SmsReceipt(
                fields.message_id,
                status,
                utcnow(),
                f"stat:{fields.stat} err:{fields.err}",
                address=message.source_addr,
                text=found.group(1).strip() if found else "",
            )
        )
