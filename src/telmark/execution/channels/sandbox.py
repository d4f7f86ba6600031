"""The sandbox channel: messages are written to a file instead of reaching anyone.

For trying telmark without an SMSC, SMTP server or push gateway — the demo's
province has no real subscribers — and for rehearsing a case's messages. It is
never chosen silently: the dispatcher uses it only when asked
(``telmark execution dispatch --sandbox``, or the demo), and every message it
takes carries a provider id starting ``sandbox-``, so a sandbox send cannot be
mistaken for a real one anywhere the outbox is shown.

Each accepted message is one JSON line in ``<directory>/<channel>.jsonl`` with
the outbox key, the masked address, the text and the time; the file is opened
in append mode and flushed per batch. SMS "delivery" is reported at once as a
delivery receipt, so the outbox's delivered state and the funnel behave as
with a live SMSC.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from telmark.execution.channels.base import (
    ChannelKind,
    Message,
    Outcome,
    Receipt,
    ReceiptStatus,
    SendResult,
)
from telmark.privacy.masking import mask_msisdn

PREFIX = "sandbox-"


def provider_id(key: str) -> str:
    """The sandbox's id for the message with outbox key ``key`` (stable across reruns)."""
    return PREFIX + hashlib.sha256(key.encode()).hexdigest()[:20]


class SandboxChannel:
    """A channel of ``kind`` whose messages go to ``directory/<name>.jsonl``."""

    def __init__(self, kind: ChannelKind, directory: Path, name: str) -> None:
        self.kind = kind
        self.receipts: asyncio.Queue[Receipt] = asyncio.Queue()
        self.path = directory / f"{name}.jsonl"
        directory.mkdir(parents=True, exist_ok=True)

    async def send_batch(self, messages: Sequence[Message]) -> list[SendResult]:
        now = datetime.now(UTC)
        results = []
        lines = []
        for message in messages:
            pid = provider_id(message.key)
            to = mask_msisdn(message.to) if self.kind is ChannelKind.SMS else message.to
            lines.append(
                json.dumps(
                    {
                        "key": message.key,
                        "to": to,
                        "subject": message.subject,
                        "body": message.body,
                        "at": now.isoformat(),
                        "provider_id": pid,
                    },
                    ensure_ascii=False,
                )
            )
            results.append(SendResult(message.key, Outcome.ACCEPTED, (pid,)))
        with self.path.open("a", encoding="utf-8") as out:
            out.writelines(line + "\n" for line in lines)
        if self.kind is ChannelKind.SMS:
            for result in results:
                for pid in result.provider_ids:
                    self.receipts.put_nowait(Receipt(pid, ReceiptStatus.DELIVERED, now, "sandbox"))
        return results

    async def close(self) -> None:
        return None
