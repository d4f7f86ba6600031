"""Pure rules of the consent register: who may be contacted on which channel, and when.

Three kinds of entry block marketing contact with an MSISDN: a customer's
opt-out (per channel or for all), the do-not-disturb list, and the statutory
blacklist. Every kind blocks the same way: on its channel, or on every
channel when its channel is ``all``, from ``created_at`` until it is revoked.
Entries are never deleted, only revoked, so the register can always answer
"could we contact this number on that day?".

Scope: entries are province-wide. An opt-out belongs to the customer, not to
an org unit, and applies wherever the customer is contacted, so entries carry
no org unit and every user who may read the register reads all of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from telmark.errors import Forbidden, InvalidInput
from telmark.translation import N_
from telmark.warehouse.contract import MSISDN_PATTERN


class ConsentKind(StrEnum):
    OPT_OUT = "opt_out"  # the customer asked not to receive marketing
    DND = "dnd"  # do-not-disturb list
    BLACKLIST = "blacklist"  # statutory blacklist


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    APP_PUSH = "app_push"
    OUTBOUND_CALL = "outbound_call"
    FRONTLINE = "frontline"  # face to face, in a business hall or by a grid manager
    ALL = "all"


class Source(StrEnum):
    IMPORT = "import"
    MANUAL = "manual"
    CUSTOMER_REQUEST = "customer_request"


CONTACT_CHANNELS = tuple(c for c in Channel if c is not Channel.ALL)
MAX_REASON = 400
_MSISDN = re.compile(MSISDN_PATTERN)
_E = TypeVar("_E", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class ConsentRule:
    """What ``is_contactable`` needs of an entry."""

    msisdn: str
    kind: ConsentKind
    channel: Channel
    created_at: datetime
    revoked_at: datetime | None = None

    def in_force(self, now: datetime) -> bool:
        return self.created_at <= now and (self.revoked_at is None or self.revoked_at > now)

    def covers(self, channel: Channel) -> bool:
        return self.channel is Channel.ALL or self.channel is channel


def is_contactable(
    entries: Iterable[ConsentRule], msisdn: str, channel: Channel, now: datetime
) -> bool:
    """True unless an entry in force at ``now`` blocks ``msisdn`` on ``channel``.

    ``channel`` is a contact channel; asking about ``all`` means "may we use
    every channel", which any entry in force for the number denies.
    """
    for entry in entries:
        if entry.msisdn != msisdn or not entry.in_force(now):
            continue
        if channel is Channel.ALL or entry.covers(channel):
            return False
    return True


def normalize_msisdn(value: str) -> str:
    """The MSISDN with surrounding spaces removed, or InvalidInput if it is not one."""
    text = value.strip()
    if not _MSISDN.match(text):
        raise InvalidInput(
            NOT_A_MSISDN,
            details=[{"field": "msisdn", "reason": "pattern", "pattern": MSISDN_PATTERN}],
        )
    return text


def check_reason(reason: str | None, *, required: bool) -> str:
    text = (reason or "").strip()
    if required and not text:
        raise InvalidInput("a reason is required", details=[{"field": "reason"}])
    if len(text) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters")
    return text


def check_revocation(kind: ConsentKind, *, may_manage: bool, reason: str | None) -> str:
    """The cleaned reason for revoking an entry of ``kind``, or why it may not be revoked.

    A blacklist entry is statutory: lifting it needs the consent-manage right
    and a written reason. Opt-outs and do-not-disturb entries are lifted at the
    customer's request, so a reason is kept if given.
    """
    if kind is ConsentKind.BLACKLIST:
        if not may_manage:
            raise Forbidden("only consent managers may revoke a blacklist entry")
        return check_reason(reason, required=True)
    return check_reason(reason, required=False)


@dataclass(frozen=True, slots=True)
class EntrySpec:
    """One entry to add, as validated from a form, a request or a row of an import file."""

    msisdn: str
    kind: ConsentKind
    channel: Channel
    reason: str
    source: Source

    @property
    def key(self) -> tuple[str, ConsentKind, Channel]:
        return (self.msisdn, self.kind, self.channel)


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why a row of an import file was rejected (``row`` counted as a spreadsheet does).

    ``message`` is an English msgid with ``%(name)s`` fields filled from
    ``params``, so the console can show it translated.
    """

    file: str
    row: int | str | None
    column: str | None
    value: str | None
    message: str
    params: dict[str, object] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return self.message % self.params

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "reason": self.reason,
        }


NOT_A_MSISDN = N_("not a mainland mobile number (11 digits starting 13–19)")
IMPORT_REQUIRED = ("msisdn", "kind", "channel")
IMPORT_OPTIONAL = ("reason", "source")
HEADER = "header"


def header_problems(names: Iterable[str], file: str) -> list[RowProblem]:
    """Missing, unknown and repeated columns of an import file's header."""
    problems: list[RowProblem] = []
    seen: set[str] = set()
    known = (*IMPORT_REQUIRED, *IMPORT_OPTIONAL)
    for name in names:
        if name in seen:
            message = N_("column appears more than once")
            problems.append(RowProblem(file, HEADER, name, None, message))
        elif name not in known:
            message = N_("unknown column; expected %(expected)s")
            params: dict[str, object] = {"expected": ", ".join(known)}
            problems.append(RowProblem(file, HEADER, name, None, message, params))
        seen.add(name)
    for name in IMPORT_REQUIRED:
        if name not in seen:
            message = N_("required column is missing")
            problems.append(RowProblem(file, HEADER, name, None, message))
    return problems


def _choice(
    enum: type[_E], raw: str | None, column: str, where: tuple[str, int]
) -> _E | RowProblem:
    text = (raw or "").strip()
    try:
        return enum(text)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        return RowProblem(
            *where, column, text, N_("must be one of %(allowed)s"), {"allowed": allowed}
        )


def parse_row(
    row: Mapping[str, str | None], *, file: str, number: int
) -> EntrySpec | list[RowProblem]:
    """An import row as an entry, or every problem it has."""
    where = (file, number)
    problems: list[RowProblem] = []
    raw_msisdn = (row.get("msisdn") or "").strip()
    if not _MSISDN.match(raw_msisdn):
        problems.append(RowProblem(file, number, "msisdn", raw_msisdn, NOT_A_MSISDN))
    kind = _choice(ConsentKind, row.get("kind"), "kind", where)
    channel = _choice(Channel, row.get("channel"), "channel", where)
    source = _choice(Source, row.get("source") or Source.IMPORT.value, "source", where)
    reason = (row.get("reason") or "").strip()
    if len(reason) > MAX_REASON:
        message = N_("longer than %(n)s characters")
        problems.append(
            RowProblem(file, number, "reason", reason[:40] + "…", message, {"n": MAX_REASON})
        )
    problems += [p for p in (kind, channel, source) if isinstance(p, RowProblem)]
    if problems:
        return problems
    assert isinstance(kind, ConsentKind)
    assert isinstance(channel, Channel)
    assert isinstance(source, Source)
    return EntrySpec(msisdn=raw_msisdn, kind=kind, channel=channel, reason=reason, source=source)
