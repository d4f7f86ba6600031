"""The SMPP channel against a real SMSC: the ``smpp34`` server in its own process."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from telmark.execution.channels.base import Message, Outcome, ReceiptStatus, SendResult
from telmark.execution.channels.smpp import SmppChannel
from telmark.execution.channels.sms_text import DataCoding, shape
from tests._support.aio import run_async
from tests._support.smsc import SmscSimulator, reassemble

LONG_CHINESE = (
    "尊敬的客户：您好！感谢您一直以来对我们的支持。即日起至月底，办理融合套餐即可享受宽带免费提速、"
    "家庭副卡共享流量以及电视会员权益，详情请咨询当地营业厅或回复1了解更多。"
)


@pytest.fixture
def smsc(tmp_path: Path) -> Iterator[SmscSimulator]:
    with SmscSimulator(tmp_path) as simulator:
        yield simulator


def numbered(count: int, *, prefix: str = "86138") -> list[Message]:
    return [
        Message(key=f"case-1:{i}", to=f"{prefix}{i:07d}1", body=f"【营销中心】第{i}号客户您好")
        for i in range(count)
    ]


async def send(settings_channel: SmppChannel, messages: list[Message]) -> list[SendResult]:
    try:
        return await settings_channel.send_batch(messages)
    finally:
        await settings_channel.close()


def test_batch_with_long_chinese_message_arrives_whole(smsc: SmscSimulator) -> None:
    messages = [
        Message(key="a", to="8613800000001", body="Your bill is ready: 58.00 CNY"),
        Message(key="b", to="+8613800000002", body=LONG_CHINESE),
        Message(key="c", to="8613800000003", body="话费余额不足10元，请及时充值"),
        Message(key="d", to="8613800000004", body="x" * 200),  # GSM-7, 2 parts
    ]
    results = run_async(send(SmppChannel(smsc.settings()), messages))

    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 4
    long_shape = shape(LONG_CHINESE)
    assert long_shape.coding is DataCoding.UCS2
    assert long_shape.segments == 2
    assert len(results[1].provider_ids) == long_shape.segments
    records = smsc.records()
    assert len(records) == 1 + 2 + 1 + 2
    long_parts = [r for r in records if r["to"] == "8613800000002"]
    assert {r["dc"] for r in long_parts} == {8}
    assert all(r["esm"] & 0x40 for r in long_parts)  # UDHI set on every part
    assert Counter(reassemble(records)) == Counter(m.body for m in messages)
    # Each provider id names the submit_sm the SMSC received for that message.
    by_id = {r["id"]: r for r in records}
    for message, result in zip(messages, results, strict=True):
        assert {by_id[i]["to"] for i in result.provider_ids} == {message.to.removeprefix("+")}


def test_delivery_receipts_reach_the_queue(smsc: SmscSimulator) -> None:
    delivered = Message(key="ok", to="8613811112222", body=LONG_CHINESE)
    undeliverable = Message(key="ko", to="8613811110000", body="您的验证码是 123456")

    async def run() -> tuple[list[SendResult], dict[str, ReceiptStatus]]:
        channel = SmppChannel(smsc.settings())
        results = await channel.send_batch([delivered, undeliverable])
        receipts: dict[str, ReceiptStatus] = {}
        async with asyncio.timeout(5):
            while len(receipts) < 3:
                receipt = await channel.receipts.get()
                receipts[receipt.provider_id] = receipt.status
        await channel.close()
        return results, receipts

    results, receipts = run_async(run())
    assert receipts == {
        **dict.fromkeys(results[0].provider_ids, ReceiptStatus.DELIVERED),
        results[1].provider_ids[0]: ReceiptStatus.FAILED,
    }


def test_refusals_are_classified(smsc: SmscSimulator) -> None:
    messages = [
        Message(key="bad-number", to="8613800009999", body="hi"),  # ESME_RINVDSTADR
        Message(key="throttled", to="8613800008888", body="hi"),  # ESME_RTHROTTLED
        Message(key="not-a-number", to="张三", body="hi"),
        Message(key="fine", to="8613800000005", body="hi"),
    ]
    results = run_async(send(SmppChannel(smsc.settings()), messages))

    assert [r.outcome for r in results] == [
        Outcome.PERMANENT,
        Outcome.TRANSIENT,
        Outcome.PERMANENT,
        Outcome.ACCEPTED,
    ]
    assert "0x0B" in (results[0].error or "")
    assert "0x58" in (results[1].error or "")
    assert results[2].attempts == 0  # never submitted
    assert len(smsc.records()) == 3


def test_disconnect_mid_run_reconnects_and_completes(tmp_path: Path) -> None:
    window = 20
    messages = numbered(1500)
    with SmscSimulator(tmp_path, drop_after=500) as smsc:
        channel = SmppChannel(smsc.settings(window=window))
        results = run_async(send(channel, messages))
        records = smsc.records()
        assert smsc.command("stats")["binds"] == 2

    assert all(r.outcome is Outcome.ACCEPTED for r in results)
    assert channel.stats.drops == 1
    assert channel.stats.binds == 2
    assert 1 <= channel.stats.resubmitted <= window
    received = Counter(r["to"] for r in records)
    assert all(received[m.to] >= 1 for m in messages)  # every message reached the SMSC
    # A message whose submit_sm_resp came back on the first connection was never sent again.
    connection_of = {r["id"]: r["conn"] for r in records}
    acked_first = [
        m for m, r in zip(messages, results, strict=True) if connection_of[r.provider_ids[0]] == 1
    ]
    assert len(acked_first) >= 400
    assert all(received[m.to] == 1 for m in acked_first)
    # Duplicates at the SMSC: only resubmitted parts, whose response the drop swallowed.
    duplicated = sum(n - 1 for n in received.values())
    assert duplicated <= channel.stats.resubmitted
    assert sum(r.attempts for r in results) == len(messages) + channel.stats.resubmitted


def test_keepalive_keeps_an_idle_session_bound(smsc: SmscSimulator) -> None:
    async def run() -> SmppChannel:
        channel = SmppChannel(smsc.settings(enquire_link_interval=0.1, response_timeout=1.0))
        await channel.send_batch(numbered(3))
        await asyncio.sleep(0.6)  # several enquire_link round trips
        await channel.send_batch(numbered(3, prefix="86139"))
        await channel.close()
        return channel

    channel = run_async(run())
    assert channel.stats.binds == 1
    assert channel.stats.drops == 0
    assert len(smsc.records()) == 6


def test_unreachable_smsc_gives_transient_results(tmp_path: Path) -> None:
    with SmscSimulator(tmp_path) as smsc:
        settings = smsc.settings(reconnect_give_up=0.3)
    # The simulator has exited: nothing listens on the port any more.
    results = run_async(send(SmppChannel(settings), numbered(2)))
    assert [r.outcome for r in results] == [Outcome.TRANSIENT] * 2
    assert "no bind" in (results[0].error or "")


@pytest.mark.slow
def test_configured_tps_is_honoured(smsc: SmscSimulator) -> None:
    tps, count = 200.0, 600
    run_async(send(SmppChannel(smsc.settings(tps=tps, window=50)), numbered(count)))
    times = sorted(r["t"] for r in smsc.records())
    measured = (len(times) - 1) / (times[-1] - times[0])
    assert len(times) == count
    assert measured == pytest.approx(tps, rel=0.05)


@pytest.mark.slow
def test_unthrottled_throughput(smsc: SmscSimulator) -> None:
    import time

    count = 3000
    channel = SmppChannel(smsc.settings(window=50))
    started = time.perf_counter()
    results = run_async(send(channel, numbered(count)))
    rate = count / (time.perf_counter() - started)
    assert all(r.accepted for r in results)
    assert rate >= 500, f"{rate:.0f} messages/s"
