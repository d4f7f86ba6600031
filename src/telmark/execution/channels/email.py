"""E-mail over SMTP: UTF-8 Chinese subject and body, Message-ID from the idempotency key.

The standard library's ``smtplib`` on a worker thread (``asyncio.to_thread``)
rather than ``aiosmtplib``: a batch goes out over one connection, one message
after another, as relays expect, so an asyncio client would save no waiting
and would be one more dependency to pin.

* The subject is an RFC 2047 encoded word and the body text/plain UTF-8,
  base64 or quoted-printable, whichever ``email`` finds shorter (base64 for
  Chinese), so any relay and client reads them without SMTPUTF8.
* ``Message-ID`` is made from ``Message.key`` (characters not allowed in an id
  percent-encoded), so a resend of the same outbox row carries the same id
  and mail systems and recipients can tell it is one message.
* Outcome by reply code: 4xx (and a dropped connection) is ``TRANSIENT``,
  5xx ``PERMANENT``. A refused login raises ``ChannelUnavailable``.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import quote

from telmark.execution.channels.base import (
    ChannelKind,
    ChannelUnavailable,
    Message,
    Outcome,
    Receipt,
    SendResult,
)
from telmark.execution.channels.config import SmtpSettings

# atext of RFC 5322 without "%" (the escape) and "." (dot-atoms forbid leading or double dots).
_ID_SAFE = "!#$&'*+-/=?^_`{|}~"


def message_id(key: str, domain: str) -> str:
    """``<telmark.KEY@domain>`` with KEY percent-encoded where RFC 5322 forbids a character."""
    return f"<telmark.{quote(key, safe=_ID_SAFE)}@{domain}>"


def build(message: Message, settings: SmtpSettings) -> EmailMessage:
    """The MIME message for ``message``."""
    mail = EmailMessage()
    sender_name = settings.sender_name
    if sender_name:
        local, _, domain = settings.sender.partition("@")
        mail["From"] = Address(sender_name, local, domain)
    else:
        mail["From"] = settings.sender
    mail["To"] = message.to
    mail["Subject"] = message.subject or ""
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = message_id(message.key, settings.message_id_domain)
    # base64 for non-ASCII text: a third longer, where quoted-printable triples Chinese text;
    # both keep the message 7-bit, so relays without 8BITMIME pass it unchanged.
    mail.set_content(
        message.body, charset="utf-8", cte="7bit" if message.body.isascii() else "base64"
    )
    return mail


def _outcome(code: int) -> Outcome:
    return Outcome.TRANSIENT if 400 <= code < 500 else Outcome.PERMANENT


class SmtpChannel:
    """The e-mail channel: one SMTP connection per batch."""

    kind = ChannelKind.EMAIL

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.receipts: asyncio.Queue[Receipt] = asyncio.Queue()  # SMTP has no receipts

    async def send_batch(self, messages: Sequence[Message]) -> list[SendResult]:
        return await asyncio.to_thread(self._send, list(messages))

    async def close(self) -> None:
        """Nothing stays open between batches."""

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.username:
                password = s.password.get_secret_value() if s.password else ""
                smtp.login(s.username, password)
        except smtplib.SMTPAuthenticationError as error:
            smtp.close()
            raise ChannelUnavailable(f"SMTP login refused: {error.smtp_code}") from error
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _send(self, messages: list[Message]) -> list[SendResult]:
        results: list[SendResult] = []
        try:
            smtp = self._connect()
        except (OSError, smtplib.SMTPException) as error:
            return [SendResult(m.key, Outcome.TRANSIENT, error=f"SMTP: {error}") for m in messages]
        try:
            for index, message in enumerate(messages):
                try:
                    mail = build(message, self.settings)
                    smtp.send_message(mail)
                except smtplib.SMTPRecipientsRefused as error:
                    code, reply = next(iter(error.recipients.values()))
                    results.append(_refused(message, code, reply))
                except smtplib.SMTPResponseException as error:
                    results.append(_refused(message, error.smtp_code, error.smtp_error))
                except (smtplib.SMTPServerDisconnected, OSError) as error:
                    # The rest of the batch was not attempted: all of it may be retried.
                    results.extend(
                        SendResult(m.key, Outcome.TRANSIENT, error=f"SMTP: {error}")
                        for m in messages[index:]
                    )
                    return results
                except ValueError as error:  # an address the email package cannot write
                    results.append(SendResult(message.key, Outcome.PERMANENT, error=str(error)))
                else:
                    results.append(
                        SendResult(message.key, Outcome.ACCEPTED, (str(mail["Message-ID"]),))
                    )
            return results
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


def _refused(message: Message, code: int, reply: bytes | str) -> SendResult:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return SendResult(message.key, _outcome(code), error=f"SMTP {code} {text}")
