"""SMS text: choosing GSM-7 or UCS-2, counting segments, splitting with a concatenation UDH.

Pure functions, no I/O: the template preview counts segments with them and the
SMPP channel encodes what it sends with them, so the count shown before a send
is the count the SMSC receives.

* Text whose every character is in the GSM 03.38 default alphabet (or its
  extension table, whose characters cost two septets: ESC + code) is sent as
  GSM-7 with ``data_coding`` 0, one septet per octet (unpacked, as SMPP carries
  it; the SMSC packs it for the air interface). Anything else, Chinese in
  particular, is sent as UCS-2 (UTF-16BE, ``data_coding`` 8).
* One segment holds 160 septets or 70 UCS-2 code units. Longer text is split
  into parts of 153 septets or 67 code units, each prefixed with a 6-octet User
  Data Header (IEI 0x00: 8-bit reference, total, sequence) and sent with the
  UDHI bit (0x40) of ``esm_class`` set. A split never separates an escape
  sequence from its character, nor the two halves of a UTF-16 surrogate pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

# GSM 03.38 default alphabet, index = septet value (0x1B is the escape to the extension table).
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: character -> septet sent after ESC (0x1B).
GSM7_EXTENSION = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
ESCAPE = 0x1B
_BASIC_INDEX = {ch: i for i, ch in enumerate(GSM7_BASIC) if i != ESCAPE}
_BASIC_CHAR = {i: ch for ch, i in _BASIC_INDEX.items()}
_EXTENSION_CHAR = {code: ch for ch, code in GSM7_EXTENSION.items()}

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
UDH_LENGTH = 6
MAX_PARTS = 255  # the 8-bit concatenation header counts parts in one octet


class DataCoding(IntEnum):
    """SMPP ``data_coding`` values this project sends."""

    GSM7 = 0x00  # SMSC default alphabet, which SMSCs take as GSM 03.38
    UCS2 = 0x08


class MessageTooLong(ValueError):
    """The text needs more than 255 concatenated parts."""


@dataclass(frozen=True, slots=True)
class SmsShape:
    """How a text goes out: its coding, length in septets or code units, and segment count."""

    coding: DataCoding
    units: int
    segments: int

    @property
    def per_segment(self) -> int:
        """Units one segment holds for this text (single or concatenated)."""
        if self.coding is DataCoding.GSM7:
            return GSM7_SINGLE if self.segments <= 1 else GSM7_PART
        return UCS2_SINGLE if self.segments <= 1 else UCS2_PART


def is_gsm7(text: str) -> bool:
    """Whether every character of ``text`` has a GSM-7 encoding."""
    return all(ch in _BASIC_INDEX or ch in GSM7_EXTENSION for ch in text)


def encode_gsm7(text: str) -> bytes:
    """``text`` as unpacked GSM-7 septets, one per octet (extension characters take two)."""
    out = bytearray()
    for ch in text:
        code = _BASIC_INDEX.get(ch)
        if code is not None:
            out.append(code)
        else:
            out += bytes((ESCAPE, GSM7_EXTENSION[ch]))  # KeyError: not GSM-7 (callers check)
    return bytes(out)


def decode_gsm7(data: bytes) -> str:
    """Unpacked GSM-7 septets back to text (the inverse of ``encode_gsm7``)."""
    out: list[str] = []
    escaped = False
    for octet in data:
        if escaped:
            out.append(_EXTENSION_CHAR.get(octet, " "))
            escaped = False
        elif octet == ESCAPE:
            escaped = True
        else:
            out.append(_BASIC_CHAR[octet])
    return "".join(out)


def _split(units: bytes, size: int, step: int, *, breaks_after: bytes) -> list[bytes]:
    """``units`` (``step`` octets each) in chunks of ≤ ``size`` units.

    A chunk does not end on a unit in ``breaks_after`` boundaries that would cut a
    pair: for GSM-7 the ESC octet, for UCS-2 a high surrogate's first octet.
    """
    chunks: list[bytes] = []
    start = 0
    width = size * step
    while start < len(units):
        end = min(start + width, len(units))
        if end < len(units) and units[end - step] in breaks_after:
            end -= step
        chunks.append(units[start:end])
        start = end
    return chunks


_HIGH_SURROGATE_FIRST_OCTETS = bytes(range(0xD8, 0xDC))


def shape(text: str) -> SmsShape:
    """The coding, length and number of segments ``text`` needs."""
    if is_gsm7(text):
        units = len(encode_gsm7(text))
        if units <= GSM7_SINGLE:
            return SmsShape(DataCoding.GSM7, units, 1 if units else 0)
        return SmsShape(DataCoding.GSM7, units, len(split_payload(text)[1]))
    units = len(text.encode("utf-16-be")) // 2
    if units <= UCS2_SINGLE:
        return SmsShape(DataCoding.UCS2, units, 1 if units else 0)
    return SmsShape(DataCoding.UCS2, units, len(split_payload(text)[1]))


def split_payload(text: str) -> tuple[DataCoding, list[bytes]]:
    """The encoded text and its segment payloads, without headers (one if it fits)."""
    if is_gsm7(text):
        data = encode_gsm7(text)
        if len(data) <= GSM7_SINGLE:
            return DataCoding.GSM7, [data]
        return DataCoding.GSM7, _split(data, GSM7_PART, 1, breaks_after=bytes((ESCAPE,)))
    data = text.encode("utf-16-be")
    if len(data) <= UCS2_SINGLE * 2:
        return DataCoding.UCS2, [data]
    # In big-endian UTF-16 a high surrogate's first octet is 0xD8-0xDB; a unit is 2 octets,
    # so the octet checked is the first of the chunk's last unit.
    return DataCoding.UCS2, _split(data, UCS2_PART, 2, breaks_after=_HIGH_SURROGATE_FIRST_OCTETS)


def concat_udh(reference: int, total: int, number: int) -> bytes:
    """The 6-octet concatenation header (IEI 0x00, 8-bit ref.): part ``number`` of ``total``."""
    return bytes((0x05, 0x00, 0x03, reference & 0xFF, total, number))


@dataclass(frozen=True, slots=True)
class Segment:
    """One ``submit_sm`` worth of text: ``short_message`` octets and whether it carries a UDH."""

    coding: DataCoding
    short_message: bytes
    has_udh: bool
    number: int
    total: int


def segments(text: str, *, reference: int) -> list[Segment]:
    """``text`` as the short messages to submit; ``reference`` ties the parts together."""
    coding, payloads = split_payload(text)
    total = len(payloads)
    if total > MAX_PARTS:
        raise MessageTooLong(f"the text needs {total} SMS parts; at most {MAX_PARTS} are possible")
    if total == 1:
        return [Segment(coding, payloads[0], False, 1, 1)]
    return [
        Segment(coding, concat_udh(reference, total, n) + payload, True, n, total)
        for n, payload in enumerate(payloads, start=1)
    ]


def parse_udh(short_message: bytes) -> tuple[int, int, int, bytes]:
    """(reference, total, number, payload) of a part with an 8- or 16-bit concatenation UDH."""
    length = short_message[0]
    header, payload = short_message[1 : 1 + length], short_message[1 + length :]
    i = 0
    while i < len(header):
        iei, size = header[i], header[i + 1]
        value = header[i + 2 : i + 2 + size]
        if iei == 0x00 and size == 3:
            return value[0], value[1], value[2], payload
        if iei == 0x08 and size == 4:
            return (value[0] << 8) | value[1], value[2], value[3], payload
        i += 2 + size
    raise ValueError("the user data header has no concatenation element")


def decode_payload(coding: int, payload: bytes) -> str:
    """Segment payload octets back to text, for ``data_coding`` 0 (GSM-7) or 8 (UCS-2)."""
    if coding == DataCoding.UCS2:
        return payload.decode("utf-16-be")
    if coding == DataCoding.GSM7:
        return decode_gsm7(payload)
    raise ValueError(f"data_coding {coding} is not one this project sends")
