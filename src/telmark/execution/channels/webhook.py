"""App push / WeChat-style webhook: signed JSON POSTs over HTTP.

Signature scheme (version ``v1``), for whoever writes the receiver
-----------------------------------------------------------------
Each request carries::

    Content-Type: application/json; charset=utf-8
    X-Telmark-Timestamp: 1764151200            (Unix seconds when signed)
    X-Telmark-Signature: v1=<hex HMAC-SHA256>
    Idempotency-Key: <the outbox key>

where the HMAC key is the shared secret (UTF-8) and the signed bytes are
``timestamp + "." + body``: the decimal timestamp, a full stop, and the raw
request body exactly as received (UTF-8 JSON, not re-serialised). A receiver
recomputes it, compares in constant time, and rejects timestamps more than
five minutes from its clock, which bounds replays; within that window it
deduplicates on ``Idempotency-Key`` (a retry after a timeout repeats it).
``verify`` below does all of that and is what a Python receiver should call.

The body is ``{"id", "to", "title", "body", "metadata"}`` with Chinese kept as
UTF-8 (not ``\\u`` escapes). A 2xx answer accepts the message (a JSON ``id``
in the answer, if any, becomes the provider id); 408, 425, 429, 5xx, time-outs
and connection errors are ``TRANSIENT``; any other 4xx is ``PERMANENT``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping, Sequence

import httpx

from telmark.execution.channels.base import ChannelKind, Message, Outcome, Receipt, SendResult
from telmark.execution.channels.config import WebhookSettings

SIGNATURE_HEADER = "X-Telmark-Signature"
TIMESTAMP_HEADER = "X-Telmark-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SCHEME = "v1"
TOLERANCE_SECONDS = 300
RETRYABLE_4XX = frozenset({408, 425, 429})


class SignatureInvalid(ValueError):
    """A request whose signature or timestamp does not check out."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Telmark-Signature`` value for ``body`` signed at ``timestamp``."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={digest.hexdigest()}"


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    """Raise SignatureInvalid unless ``body`` was signed with ``secret`` within ``tolerance`` s.

    ``headers`` is looked up case-insensitively, as HTTP headers are.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    stamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    given = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not stamp.isdigit():
        raise SignatureInvalid("missing or malformed timestamp")
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > tolerance:
        raise SignatureInvalid("timestamp outside the allowed window")
    if not hmac.compare_digest(given.encode(), sign(secret, int(stamp), body).encode()):
        raise SignatureInvalid("signature does not match")


def payload(message: Message) -> bytes:
    return json.dumps(
        {
            "id": message.key,
            "to": message.to,
            "title": message.subject,
            "body": message.body,
            "metadata": dict(message.metadata),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")


def classify(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome.ACCEPTED
    if status >= 500 or status in RETRYABLE_4XX:
        return Outcome.TRANSIENT
    return Outcome.PERMANENT


class WebhookChannel:
    """The push channel: concurrent signed POSTs to one endpoint."""

    kind = ChannelKind.WEBHOOK

    def __init__(
        self,
        settings: WebhookSettings,
        *,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not settings.url or not settings.secret.get_secret_value():
            raise ValueError("a webhook needs a URL and a secret")
        self.settings = settings
        self.receipts: asyncio.Queue[Receipt] = asyncio.Queue()  # no delivery reports
        self._clock = clock
        self._client = httpx.AsyncClient(timeout=settings.timeout, transport=transport)
        self._limit = asyncio.Semaphore(settings.concurrency)

    async def send_batch(self, messages: Sequence[Message]) -> list[SendResult]:
        return list(await asyncio.gather(*(self._post(m) for m in messages)))

    async def _post(self, message: Message) -> SendResult:
        body = payload(message)
        stamp = int(self._clock())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: sign(self.settings.secret.get_secret_value(), stamp, body),
            IDEMPOTENCY_HEADER: message.key,
        }
        async with self._limit:
            try:
                response = await self._client.post(self.settings.url, content=body, headers=headers)
            except httpx.TimeoutException as error:
                return SendResult(message.key, Outcome.TRANSIENT, error=f"timeout: {error!r}")
            except httpx.TransportError as error:
                return SendResult(message.key, Outcome.TRANSIENT, error=f"transport: {error!r}")
        outcome = classify(response.status_code)
        if outcome is not Outcome.ACCEPTED:
            text = response.text[:200]
            return SendResult(message.key, outcome, error=f"HTTP {response.status_code} {text}")
        return SendResult(message.key, outcome, _provider_id(response))

    async def close(self) -> None:
        await self._client.aclose()


def _provider_id(response: httpx.Response) -> tuple[str, ...]:
    try:
        answer = response.json()
    except ValueError:
        return ()
    if isinstance(answer, dict) and isinstance(answer.get("id"), str | int):
        return (str(answer["id"]),)
    return ()
