"""The e-mail channel against a real SMTP server (aiosmtpd, in a thread of the test)."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SmtpServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from telmark.execution.channels.base import ChannelUnavailable, Message, Outcome
from telmark.execution.channels.config import SmtpSettings
from telmark.execution.channels.email import SmtpChannel, message_id
from tests._support.aio import run_async

SUBJECT = "【营销中心】您的5G套餐专属优惠"
BODY = "尊敬的王小明：\n即日起升级5G畅享套餐，每月立减20元，另赠10GB流量。\n退订回复TD"


@dataclass
class Inbox:
    """Keeps what the server received; refuses recipients by their local part."""

    received: list[Envelope] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SmtpServer, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        del server, session, options
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        if address.startswith("busy@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SmtpServer, session: Session, envelope: Envelope
    ) -> str:
        del server, session
        self.received.append(envelope)
        return "250 Message accepted"


def _authenticate(
    server: SmtpServer, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    del server, session, envelope, mechanism
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"mkt", b"pw")
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_require_tls=False,  # the test server has no certificate
    )
    controller.start()
    yield inbox, port
    controller.stop()


def test_chinese_mail_arrives_decodable_with_key_in_message_id(
    smtp_server: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_server
    settings = SmtpSettings(
        host="127.0.0.1",
        port=port,
        sender="mkt@telmark.local",
        sender_name="营销中心",
        username="mkt",
        password="pw",
    )
    messages = [
        Message(key="case-7:sub-42", to="wang@example.com", body=BODY, subject=SUBJECT),
        Message(key="case-7:sub-43", to="nobody@example.com", body=BODY, subject=SUBJECT),
        Message(key="case-7:sub-44", to="busy@example.com", body=BODY, subject=SUBJECT),
    ]
    results = run_async(SmtpChannel(settings).send_batch(messages))

    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.PERMANENT, Outcome.TRANSIENT]
    assert "550" in (results[1].error or "")
    assert "451" in (results[2].error or "")
    assert len(inbox.received) == 1
    raw = inbox.received[0].original_content
    assert raw is not None
    assert raw.isascii()  # encoded words and base64: any relay passes it unchanged
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["Subject"] == SUBJECT
    assert mail["From"].addresses[0].display_name == "营销中心"
    assert mail.get_content().strip() == BODY
    assert mail["Message-ID"] == message_id("case-7:sub-42", "telmark.local")
    assert results[0].provider_ids == (mail["Message-ID"],)
    assert "case-7%3Asub-42" in mail["Message-ID"]


def test_refused_login_stops_the_channel(smtp_server: tuple[Inbox, int]) -> None:
    _, port = smtp_server
    settings = SmtpSettings(host="127.0.0.1", port=port, username="mkt", password="wrong")
    with pytest.raises(ChannelUnavailable):
        run_async(SmtpChannel(settings).send_batch([Message(key="k", to="a@b.c", body="x")]))


def test_unreachable_relay_is_transient() -> None:
    settings = SmtpSettings(host="127.0.0.1", port=_free_port(), timeout=2)
    results = run_async(SmtpChannel(settings).send_batch([Message(key="k", to="a@b.c", body="x")]))
    assert results[0].outcome is Outcome.TRANSIENT
