"""The SMPP 3.4 PDUs an ESME needs, encoded and decoded (pure, no I/O).

Only the operations ``channels.smpp`` uses: bind_transceiver, submit_sm,
deliver_sm (receipts), enquire_link, unbind, generic_nack and their responses.
Field layout and sizes follow the SMPP 3.4 specification, section 4.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from enum import IntEnum

HEADER = struct.Struct(">IIII")  # command_length, command_id, command_status, sequence_number
MAX_PDU_LENGTH = 64 * 1024  # far above any PDU we exchange; guards against a garbage length
MAX_SEQUENCE = 0x7FFFFFFF
INTERFACE_VERSION = 0x34


class Command(IntEnum):
    GENERIC_NACK = 0x80000000
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015


class Status(IntEnum):
    """command_status values the channel tells apart (the rest are kept as numbers)."""

    ROK = 0x00
    RINVMSGLEN = 0x01
    RINVCMDLEN = 0x02
    RINVCMDID = 0x03
    RINVBNDSTS = 0x04
    RALYBND = 0x05
    RSYSERR = 0x08
    RINVSRCADR = 0x0A
    RINVDSTADR = 0x0B
    RBINDFAIL = 0x0D
    RINVPASWD = 0x0E
    RINVSYSID = 0x0F
    RMSGQFUL = 0x14
    RTHROTTLED = 0x58
    RX_T_APPN = 0x64  # ESME receiver temporary app error
    RX_P_APPN = 0x65
    RX_R_APPN = 0x66


# Statuses after which the same submit_sm may well be accepted later.
TRANSIENT_STATUSES = frozenset(
    {Status.RSYSERR, Status.RMSGQFUL, Status.RTHROTTLED, Status.RX_T_APPN, Status.RINVBNDSTS}
)

ESM_CLASS_UDHI = 0x40
ESM_CLASS_TYPE_MASK = 0x3C  # deliver_sm message type, bits 2-5
ESM_CLASS_RECEIPT = 0x04  # message type: SMSC delivery receipt
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427


class PduError(ValueError):
    """Bytes that are not a well-formed PDU."""


@dataclass(frozen=True, slots=True)
class Pdu:
    command: int
    status: int
    sequence: int
    body: bytes = b""


def encode(command: int, sequence: int, body: bytes = b"", status: int = 0) -> bytes:
    return HEADER.pack(HEADER.size + len(body), command, status, sequence) + body


def decode_header(header: bytes) -> tuple[int, int, int, int]:
    """(length, command, status, sequence); the length is checked to be sane."""
    length, command, status, sequence = HEADER.unpack(header)
    if not HEADER.size <= length <= MAX_PDU_LENGTH:
        raise PduError(f"command_length {length} is out of range")
    return length, command, status, sequence


def cstring(value: str, limit: int) -> bytes:
    """A C-Octet String of at most ``limit`` octets including the terminating NUL."""
    data = value.encode("ascii")
    if len(data) >= limit:
        raise PduError(f"{value!r} is longer than {limit - 1} octets")
    return data + b"\x00"


def bind_transceiver(
    *,
    system_id: str,
    password: str,
    system_type: str = "",
    addr_ton: int = 0,
    addr_npi: int = 0,
    address_range: str = "",
) -> bytes:
    return (
        cstring(system_id, 16)
        + cstring(password, 9)
        + cstring(system_type, 13)
        + bytes((INTERFACE_VERSION, addr_ton, addr_npi))
        + cstring(address_range, 41)
    )


@dataclass(frozen=True, slots=True)
class ShortMessage:
    """The fields submit_sm and deliver_sm share (SMPP 3.4 §4.4.1 / §4.6.1)."""

    source_addr: str
    destination_addr: str
    short_message: bytes
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    dest_addr_ton: int = 1  # international
    dest_addr_npi: int = 1  # E.164
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    data_coding: int = 0
    tlvs: dict[int, bytes] = field(default_factory=dict)

    def encode(self) -> bytes:
        if len(self.short_message) > 254:
            raise PduError("short_message is longer than 254 octets")
        tlvs = b"".join(
            struct.pack(">HH", tag, len(value)) + value for tag, value in self.tlvs.items()
        )
        return (
            cstring(self.service_type, 6)
            + bytes((self.source_addr_ton, self.source_addr_npi))
            + cstring(self.source_addr, 21)
            + bytes((self.dest_addr_ton, self.dest_addr_npi))
            + cstring(self.destination_addr, 21)
            + bytes((self.esm_class, self.protocol_id, self.priority_flag))
            + cstring(self.schedule_delivery_time, 17)
            + cstring(self.validity_period, 17)
            # registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id
            + bytes((self.registered_delivery, 0, self.data_coding, 0, len(self.short_message)))
            + self.short_message
            + tlvs
        )


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def cstring(self, limit: int) -> str:
        end = self.data.find(b"\x00", self.at, self.at + limit)
        if end < 0:
            raise PduError(f"unterminated C-Octet String at offset {self.at}")
        value = self.data[self.at : end].decode("latin-1")
        self.at = end + 1
        return value

    def octets(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise PduError("the body ends early")
        value = self.data[self.at : self.at + n]
        self.at += n
        return value

    def byte(self) -> int:
        return self.octets(1)[0]


def decode_short_message(body: bytes) -> ShortMessage:
    """A submit_sm or deliver_sm body."""
    r = _Reader(body)
    service_type = r.cstring(6)
    source_ton, source_npi = r.byte(), r.byte()
    source = r.cstring(21)
    dest_ton, dest_npi = r.byte(), r.byte()
    dest = r.cstring(21)
    esm_class, protocol_id, priority = r.byte(), r.byte(), r.byte()
    schedule, validity = r.cstring(17), r.cstring(17)
    registered, _replace, coding, _default_id, length = (r.byte() for _ in range(5))
    text = r.octets(length)
    tlvs: dict[int, bytes] = {}
    while r.at < len(body):
        tag, size = struct.unpack(">HH", r.octets(4))
        tlvs[tag] = r.octets(size)
    return ShortMessage(
        source_addr=source,
        destination_addr=dest,
        short_message=text,
        service_type=service_type,
        source_addr_ton=source_ton,
        source_addr_npi=source_npi,
        dest_addr_ton=dest_ton,
        dest_addr_npi=dest_npi,
        esm_class=esm_class,
        protocol_id=protocol_id,
        priority_flag=priority,
        schedule_delivery_time=schedule,
        validity_period=validity,
        registered_delivery=registered,
        data_coding=coding,
        tlvs=tlvs,
    )


def decode_message_id(body: bytes) -> str:
    """The message_id of a submit_sm_resp (empty when the SMSC sent no body)."""
    if not body:
        return ""
    return _Reader(body).cstring(65)


# -- delivery receipts ------------------------------------------------------------------

# SMPP 3.4 Appendix B; every SMSC writes the same keys, some in other cases or orders.
_RECEIPT_FIELD = re.compile(r"(id|stat|err|done date|submit date):\s*(\S*)", re.IGNORECASE)
# message_state TLV values (SMPP 3.4 §5.2.28) as the stat words of the receipt text.
MESSAGE_STATES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}


@dataclass(frozen=True, slots=True)
class ReceiptFields:
    message_id: str
    stat: str
    err: str
    done_date: str


def parse_receipt(message: ShortMessage) -> ReceiptFields | None:
    """The receipt a deliver_sm carries, or None if it is not a receipt (a mobile-originated SMS).

    The receipted_message_id and message_state TLVs win over the text when
    present: the text format is only an appendix of the specification.
    """
    if message.esm_class & ESM_CLASS_TYPE_MASK != ESM_CLASS_RECEIPT:
        return None
    text = message.short_message.decode("latin-1")
    found = {key.lower(): value for key, value in _RECEIPT_FIELD.findall(text)}
    message_id = found.get("id", "")
    stat = found.get("stat", "").upper()
    if TLV_RECEIPTED_MESSAGE_ID in message.tlvs:
        message_id = message.tlvs[TLV_RECEIPTED_MESSAGE_ID].rstrip(b"\x00").decode("latin-1")
    if TLV_MESSAGE_STATE in message.tlvs and message.tlvs[TLV_MESSAGE_STATE]:
        stat = MESSAGE_STATES.get(message.tlvs[TLV_MESSAGE_STATE][0], stat)
    if not message_id or not stat:
        raise PduError(f"a delivery receipt without id or stat: {text!r}")
    return ReceiptFields(message_id, stat, found.get("err", ""), found.get("done date", ""))
