"""SMS encoding: GSM-7 or UCS-2, segment counts, concatenation headers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telmark.execution.channels.sms_text import (
    DataCoding,
    MessageTooLong,
    decode_payload,
    encode_gsm7,
    is_gsm7,
    parse_udh,
    segments,
    shape,
)


@pytest.mark.parametrize(
    ("text", "coding", "units", "count"),
    [
        ("", DataCoding.GSM7, 0, 0),
        ("a" * 160, DataCoding.GSM7, 160, 1),
        ("a" * 161, DataCoding.GSM7, 161, 2),
        ("a" * 306, DataCoding.GSM7, 306, 2),
        ("a" * 307, DataCoding.GSM7, 307, 3),
        ("€" * 80, DataCoding.GSM7, 160, 1),  # extension characters cost two septets
        ("€" * 81, DataCoding.GSM7, 162, 2),
        ("中" * 70, DataCoding.UCS2, 70, 1),
        ("中" * 71, DataCoding.UCS2, 71, 2),
        ("中" * 134, DataCoding.UCS2, 134, 2),
        ("中" * 135, DataCoding.UCS2, 135, 3),
        ("price `5`", DataCoding.UCS2, 9, 1),  # the backtick is ASCII but not GSM-7
        ("😀" * 35, DataCoding.UCS2, 70, 1),  # outside the BMP: two code units each
    ],
)
def test_shape(text: str, coding: DataCoding, units: int, count: int) -> None:
    assert shape(text) == (shape(text).__class__(coding, units, count))
    assert len(segments(text, reference=1)) == max(count, 1)


def test_gsm7_detection_covers_extension_table() -> None:
    assert is_gsm7("Hello {world} [ok] €5 ~ ^ | \\")
    assert not is_gsm7("您好")
    assert encode_gsm7("@{") == bytes((0x00, 0x1B, 0x28))


def test_concatenated_parts_carry_udh_and_reassemble() -> None:
    text = "尊敬的客户" * 30  # 150 UCS-2 units: 67 + 67 + 16
    parts = segments(text, reference=0xAB)
    assert [p.has_udh for p in parts] == [True, True, True]
    assert parts[0].short_message[:6] == bytes((0x05, 0x00, 0x03, 0xAB, 3, 1))
    assert [len(p.short_message) for p in parts] == [6 + 134, 6 + 134, 6 + 32]
    payloads = [parse_udh(p.short_message) for p in parts]
    assert [(ref, total, n) for ref, total, n, _ in payloads] == [
        (0xAB, 3, 1),
        (0xAB, 3, 2),
        (0xAB, 3, 3),
    ]
    assert decode_payload(8, b"".join(p for *_, p in payloads)) == text


def test_split_keeps_escape_sequences_and_surrogate_pairs_whole() -> None:
    gsm = "a" * 152 + "€" + "b" * 10  # the escape would be septet 153, the last of part 1
    first = segments(gsm, reference=1)[0].short_message[6:]
    assert len(first) == 152
    assert first[-1] != 0x1B
    emoji = "中" * 66 + "😀" + "中" * 10  # the pair would straddle units 67/68
    parts = segments(emoji, reference=1)
    assert [decode_payload(8, p.short_message[6:]) for p in parts] == ["中" * 66, "😀" + "中" * 10]


def test_more_than_255_parts_is_refused() -> None:
    with pytest.raises(MessageTooLong):
        segments("中" * (67 * 255 + 1), reference=0)


@given(st.text(alphabet=st.sampled_from("ab€{中文😀 \n"), max_size=400))
def test_segments_round_trip(text: str) -> None:
    parts = segments(text, reference=7)
    payloads = [parse_udh(p.short_message)[3] if p.has_udh else p.short_message for p in parts]
    assert decode_payload(parts[0].coding, b"".join(payloads)) == text
    assert len(parts) == max(shape(text).segments, 1)
    limit = 140 if parts[0].coding is DataCoding.UCS2 else 160
    assert all(len(p.short_message) <= limit for p in parts)
