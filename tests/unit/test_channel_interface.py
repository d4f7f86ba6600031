"""Every sending channel offers the dispatcher the same interface."""

from __future__ import annotations

from telmark.execution.channels.base import Channel, ChannelKind, Message, SendResult
from telmark.execution.channels.config import SmppSettings, SmtpSettings, WebhookSettings
from telmark.execution.channels.email import SmtpChannel
from telmark.execution.channels.smpp import SmppChannel
from telmark.execution.channels.webhook import WebhookChannel
from tests._support.aio import run_async


def test_channels_implement_the_protocol() -> None:
    async def build() -> list[Channel]:
        # Typed as Channel: mypy checks the signatures, isinstance the attributes.
        made: list[Channel] = [
            SmppChannel(SmppSettings()),
            SmtpChannel(SmtpSettings()),
            WebhookChannel(WebhookSettings(url="http://127.0.0.1:1/", secret="k")),
        ]
        for channel in made:
            await channel.close()
        return made

    channels = run_async(build())
    assert all(isinstance(c, Channel) for c in channels)
    assert [c.kind for c in channels] == [ChannelKind.SMS, ChannelKind.EMAIL, ChannelKind.WEBHOOK]


def test_invalid_sms_messages_fail_permanently_without_a_connection() -> None:
    # Nothing listens on the port: had the channel tried to bind, the result would be TRANSIENT.
    channel = SmppChannel(SmppSettings(port=1, reconnect_give_up=0.1))
    messages = [
        Message(key="no-text", to="8613800000000", body=""),
        Message(key="no-number", to="客服", body="您好"),
        Message(key="too-long", to="8613800000000", body="中" * 20_000),
    ]
    results: list[SendResult] = run_async(channel.send_batch(messages))
    assert [r.outcome.value for r in results] == ["permanent"] * 3
    assert [r.attempts for r in results] == [0, 0, 0]
