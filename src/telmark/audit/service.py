"""Audit use cases: record sensitive reads and events, search and export the trail.

Changes are recorded automatically (``capture``); this module records what a
flush cannot see: personal data shown in clear (``record_read``), exports
(``record_export``) and security events such as logins (``record_event``).
Those three add the entry to the caller's unit of work without committing,
so the entry lands exactly when the caller's use case commits.

There is deliberately no function here (or anywhere) that updates or deletes
an entry; the database refuses both as well (migration 0003).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, Text, cast, func, or_, select

from telmark.audit.capture import personal_fields
from telmark.audit.domain import PROVINCE_TZ, AuditAction, json_safe, mask_values
from telmark.audit.models import AuditEntry
from telmark.audit.schemas import AuditEntryRead, AuditFilters, AuditPage
from telmark.db import utcnow
from telmark.errors import Forbidden
from telmark.org.domain import is_root_path
from telmark.privacy.export import csv_chunks
from telmark.uow import UnitOfWork

EXPORT_BATCH = 1000
CSV_HEADER = (
    "id",
    "at_utc",
    "at_local",
    "actor",
    "actor_user_id",
    "channel",
    "ip",
    "user_agent",
    "action",
    "entity_type",
    "entity_id",
    "summary",
    "before",
    "after",
)


def record_event(
    *,
    uow: UnitOfWork,
    action: AuditAction,
    entity_type: str,
    entity_id: str | None = None,
    summary: str,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add an entry for an event by ``uow.actor`` (committed with the caller's unit of work)."""
    actor = uow.actor
    entry = AuditEntry(
        at=utcnow(),
        actor_username=actor.username,
        actor_user_id=actor.user_id,
        channel=actor.channel,
        ip=actor.ip,
        user_agent=actor.user_agent,
        action=action.value,
        entity_type=entity_type,
        entity_id=entity_id,
        summary=summary[:1000],
        before=None,
        after=json_safe(dict(details)) if details is not None else None,
    )
    uow.session.add(entry)
    uow.session.flush()
    return entry


def record_read(
    *,
    uow: UnitOfWork,
    what: str,
    entity_type: str,
    entity_id: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Record that ``uow.actor`` saw personal data in clear: ``what`` of ``entity_type``."""
    return record_event(
        uow=uow,
        action=AuditAction.READ,
        entity_type=entity_type,
        entity_id=entity_id,
        summary=what,
        details=details,
    )


def record_export(
    *,
    uow: UnitOfWork,
    what: str,
    entity_type: str,
    entity_id: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Record that ``uow.actor`` exported ``what`` (masked or not: say which in ``details``)."""
    return record_event(
        uow=uow,
        action=AuditAction.EXPORT,
        entity_type=entity_type,
        entity_id=entity_id,
        summary=what,
        details=details,
    )


def _local_midnight_utc(day: Any) -> datetime:
    return datetime.combine(day, time(0), tzinfo=PROVINCE_TZ)


def _contains(column: Any, text: str) -> Any:
    return func.lower(column).contains(text.lower(), autoescape=True)


def _filtered(stmt: Select[Any], filters: AuditFilters) -> Select[Any]:
    if filters.actor:
        stmt = stmt.where(AuditEntry.actor_username == filters.actor)
    if filters.action:
        stmt = stmt.where(AuditEntry.action == filters.action)
    if filters.entity_type:
        stmt = stmt.where(AuditEntry.entity_type == filters.entity_type)
    if filters.entity_id:
        stmt = stmt.where(AuditEntry.entity_id == filters.entity_id)
    if filters.date_from:
        stmt = stmt.where(AuditEntry.at >= _local_midnight_utc(filters.date_from))
    if filters.date_to:
        stmt = stmt.where(AuditEntry.at < _local_midnight_utc(filters.date_to + timedelta(days=1)))
    if filters.text and filters.text.strip():
        text = filters.text.strip()
        # JSON is stored with non-ASCII escaped (\u5357), so look for the escaped form there.
        escaped = json.dumps(text)[1:-1]
        stmt = stmt.where(
            or_(
                _contains(AuditEntry.summary, text),
                _contains(AuditEntry.entity_id, text),
                _contains(AuditEntry.actor_username, text),
                _contains(cast(AuditEntry.before, Text), escaped),
                _contains(cast(AuditEntry.after, Text), escaped),
            )
        )
    return stmt


def _read(entry: AuditEntry, *, unmask: bool) -> AuditEntryRead:
    personal = {} if unmask or not _shows_personal([entry]) else personal_fields(entry.entity_type)
    return AuditEntryRead(
        id=entry.id,
        at=entry.at,
        actor_username=entry.actor_username,
        actor_user_id=entry.actor_user_id,
        channel=entry.channel,
        ip=entry.ip,
        user_agent=entry.user_agent,
        action=entry.action,
        entity_type=entry.entity_type,
        entity_id=entry.entity_id,
        summary=entry.summary,
        before=mask_values(entry.before, personal),
        after=mask_values(entry.after, personal),
        masked=bool(personal),
    )


def _shows_personal(entries: Sequence[AuditEntry]) -> list[int]:
    """Ids of ``entries`` holding a personal value (what unmasking would reveal)."""
    found: list[int] = []
    for entry in entries:
        fields = personal_fields(entry.entity_type)
        values = [*(entry.before or {}).items(), *(entry.after or {}).items()]
        if any(k in fields and v is not None for k, v in values):
            found.append(entry.id)
    return found


def _require_province_scope(uow: UnitOfWork) -> None:
    # The trail records changes anywhere in the province (users of every city, the
    # consent register, org moves) and entries carry no org unit, so it cannot be cut
    # down to a city: only province-level staff read it.
    scope = uow.actor.scope_path
    if scope is not None and not is_root_path(scope):
        raise Forbidden("the audit trail covers the whole province and is read at province level")


def list_entries(
    *, uow: UnitOfWork, filters: AuditFilters, page: int = 1, page_size: int = 50, unmask: bool
) -> AuditPage:
    """One page of matching entries, newest first; personal values masked unless ``unmask``.

    Showing personal values in clear is itself recorded (and committed) as a read.
    """
    _require_province_scope(uow)
    session = uow.session
    total = session.scalar(_filtered(select(func.count()).select_from(AuditEntry), filters)) or 0
    stmt = _filtered(select(AuditEntry), filters).order_by(AuditEntry.id.desc())
    entries = list(session.scalars(stmt.offset((page - 1) * page_size).limit(page_size)))
    revealed = _shows_personal(entries) if unmask else []
    items = [_read(e, unmask=unmask) for e in entries]
    if revealed:
        record_read(
            uow=uow,
            what=f"audit entries with personal data in clear ({len(revealed)})",
            entity_type=AuditEntry.__tablename__,
            details={"ids": revealed},
        )
        uow.commit()
    return AuditPage(items=items, total=total, page=page, page_size=page_size)


def entity_types(*, uow: UnitOfWork) -> list[str]:
    """Every entity type the trail mentions (for filter choices)."""
    _require_province_scope(uow)
    stmt = select(AuditEntry.entity_type).distinct().order_by(AuditEntry.entity_type)
    return list(uow.session.scalars(stmt))


def _json_cell(values: dict[str, Any] | None) -> str | None:
    return None if values is None else json.dumps(values, ensure_ascii=False, sort_keys=True)


def _rows(uow: UnitOfWork, filters: AuditFilters, unmask: bool) -> Iterator[list[Any]]:
    # Keyset pages (id below the last one seen): no cursor held open between chunks.
    last: int | None = None
    while True:
        stmt = _filtered(select(AuditEntry), filters).order_by(AuditEntry.id.desc())
        if last is not None:
            stmt = stmt.where(AuditEntry.id < last)
        batch = list(uow.session.scalars(stmt.limit(EXPORT_BATCH)))
        for entry in batch:
            read = _read(entry, unmask=unmask)
            yield [
                read.id,
                read.at.isoformat(),
                read.at.astimezone(PROVINCE_TZ).strftime("%Y-%m-%d %H:%M:%S"),
                read.actor_username,
                read.actor_user_id,
                read.channel,
                read.ip,
                read.user_agent,
                read.action,
                read.entity_type,
                read.entity_id,
                read.summary,
                _json_cell(read.before),
                _json_cell(read.after),
            ]
        if len(batch) < EXPORT_BATCH:
            return
        last = batch[-1].id


def export_csv(*, uow: UnitOfWork, filters: AuditFilters, unmask: bool) -> Iterator[str]:
    """Record the export (committed first), then the matching entries as CSV text chunks."""
    _require_province_scope(uow)
    count = uow.session.scalar(_filtered(select(func.count()).select_from(AuditEntry), filters))
    record_export(
        uow=uow,
        what=f"audit trail export ({count} entries)",
        entity_type=AuditEntry.__tablename__,
        details={
            "filters": filters.model_dump(mode="json", exclude_none=True),
            "entries": count,
            "unmasked": unmask,
        },
    )
    uow.commit()
    return csv_chunks(CSV_HEADER, _rows(uow, filters, unmask))
