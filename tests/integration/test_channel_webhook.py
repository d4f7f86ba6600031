"""The webhook channel against a local HTTP server that verifies signatures as a receiver would."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from telmark.execution.channels.base import Message, Outcome
from telmark.execution.channels.config import WebhookSettings
from telmark.execution.channels.webhook import SignatureInvalid, WebhookChannel, verify
from tests._support.aio import run_async

SECRET = "s3cret-共享密钥"


class Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:  # noqa: N802 - http.server's method name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            verify(SECRET, dict(self.headers.items()), body)
        except SignatureInvalid:
            self._answer(401, {"error": "bad signature"})
            return
        document = json.loads(body.decode("utf-8"))
        self.received.append({"headers": dict(self.headers.items()), "json": document})
        if self.path == "/slow":
            time.sleep(1.0)
        status = {"/ok": 200, "/gone": 410, "/broken": 503, "/slow": 200}[self.path]
        self._answer(status, {"id": f"push-{len(self.received)}"})

    def _answer(self, status: int, document: dict[str, str]) -> None:
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        # The /slow client has given up by now: that is the point of that test.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base signature
        del format, args  # keep test output quiet


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("BoundReceiver", (Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()
    thread.join()


def send(
    url: str, messages: list[Message], *, secret: str = SECRET, timeout: float = 5
) -> list[Any]:
    async def run() -> list[Any]:
        channel = WebhookChannel(WebhookSettings(url=url, secret=secret, timeout=timeout))
        try:
            return await channel.send_batch(messages)
        finally:
            await channel.close()

    return run_async(run())


MESSAGE = Message(
    key="case-3:sub-9",
    to="openid-abc",
    body="您的积分即将到期",
    subject="积分提醒",
    metadata={"case": "3"},
)


def test_signed_push_is_accepted_and_verified(receiver: tuple[str, list[dict[str, Any]]]) -> None:
    url, received = receiver
    results = send(f"{url}/ok", [MESSAGE])
    assert results[0].outcome is Outcome.ACCEPTED
    assert results[0].provider_ids == ("push-1",)
    assert received[0]["json"] == {
        "id": "case-3:sub-9",
        "to": "openid-abc",
        "title": "积分提醒",
        "body": "您的积分即将到期",
        "metadata": {"case": "3"},
    }
    assert received[0]["headers"]["Idempotency-Key"] == "case-3:sub-9"


def test_wrong_secret_is_refused_by_the_receiver(
    receiver: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = receiver
    results = send(f"{url}/ok", [MESSAGE], secret="not-the-secret")
    assert results[0].outcome is Outcome.PERMANENT
    assert "401" in (results[0].error or "")
    assert received == []


def test_failures_are_classified(receiver: tuple[str, list[dict[str, Any]]]) -> None:
    url, _ = receiver
    assert send(f"{url}/gone", [MESSAGE])[0].outcome is Outcome.PERMANENT
    assert send(f"{url}/broken", [MESSAGE])[0].outcome is Outcome.TRANSIENT
    slow = send(f"{url}/slow", [MESSAGE], timeout=0.2)[0]
    assert slow.outcome is Outcome.TRANSIENT
    assert "timeout" in (slow.error or "")
