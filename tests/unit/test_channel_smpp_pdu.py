"""SMPP PDUs, delivery receipts and the TPS token bucket (no sockets)."""

from __future__ import annotations

import pytest

from telmark.execution.channels import smpp_pdu as pdu
from telmark.execution.channels.smpp import TokenBucket
from tests._support.aio import run_async


def test_submit_sm_round_trips() -> None:
    message = pdu.ShortMessage(
        source_addr="10658888",
        destination_addr="8613800000000",
        short_message="你好".encode("utf-16-be"),
        esm_class=pdu.ESM_CLASS_UDHI,
        registered_delivery=1,
        data_coding=8,
        tlvs={0x0204: b"\x00\x01"},
    )
    frame = pdu.encode(pdu.Command.SUBMIT_SM, 42, message.encode())
    length, command, status, sequence = pdu.decode_header(frame[:16])
    assert (length, command, status, sequence) == (len(frame), pdu.Command.SUBMIT_SM, 0, 42)
    assert pdu.decode_short_message(frame[16:]) == message


def test_header_with_absurd_length_is_refused() -> None:
    with pytest.raises(pdu.PduError):
        pdu.decode_header(pdu.HEADER.pack(10**9, pdu.Command.SUBMIT_SM_RESP, 0, 1))


def test_bind_fields_are_limited_to_their_sizes() -> None:
    body = pdu.bind_transceiver(system_id="telmark", password="secret", system_type="MKT")
    assert body == b"telmark\x00secret\x00MKT\x00\x34\x00\x00\x00"
    with pytest.raises(pdu.PduError):
        pdu.bind_transceiver(system_id="telmark", password="longer-than-8")


def receipt(
    text: bytes, *, esm_class: int = 0x04, tlvs: dict[int, bytes] | None = None
) -> pdu.ShortMessage:
    return pdu.ShortMessage("8613800000000", "10658888", text, esm_class=esm_class, tlvs=tlvs or {})


def test_receipt_text_is_parsed() -> None:
    text = (
        b"id:0A1B sub:001 dlvrd:001 submit date:2511261200 done date:2511261201"
        b" stat:DELIVRD err:000 text:hi"
    )
    fields = pdu.parse_receipt(receipt(text))
    assert fields == pdu.ReceiptFields("0A1B", "DELIVRD", "000", "2511261201")


def test_receipt_tlvs_win_over_text() -> None:
    tlvs = {pdu.TLV_RECEIPTED_MESSAGE_ID: b"XYZ\x00", pdu.TLV_MESSAGE_STATE: bytes((5,))}
    fields = pdu.parse_receipt(receipt(b"id:0A1B stat:DELIVRD", tlvs=tlvs))
    assert fields is not None
    assert (fields.message_id, fields.stat) == ("XYZ", "UNDELIV")


def test_mobile_originated_message_is_not_a_receipt() -> None:
    assert pdu.parse_receipt(receipt(b"id:1 stat:DELIVRD", esm_class=0)) is None
    with pytest.raises(pdu.PduError):
        pdu.parse_receipt(receipt(b"no fields here"))


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds + 0.0007  # every sleep overshoots, as real ones do


def test_token_bucket_paces_to_the_rate_without_drift() -> None:
    clock = FakeClock()
    bucket = TokenBucket(200, clock=clock, sleep=clock.sleep)

    async def run() -> None:
        for _ in range(1001):
            await bucket.acquire()
            clock.now += 0.0001  # the send itself

    run_async(run())
    assert 1000 / clock.now == pytest.approx(200, rel=0.01)


def test_token_bucket_allows_a_burst_after_idle() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, burst=5, clock=clock, sleep=clock.sleep)

    async def run() -> None:
        await bucket.acquire()
        clock.now = 10.0  # idle
        for _ in range(5):
            await bucket.acquire()
        assert clock.now == 10.0  # the burst went at once
        await bucket.acquire()

    run_async(run())
    assert clock.now > 10.0  # the sixth waited for its slot
