"""Consent use cases: add, revoke, import, look up, and the list targeting must honour.

**Every later targeting and dispatch step must call ``blocked_msisdns``** (or
``check_contact`` for one number) for the channel it is about to use, and
leave out the numbers it returns, right before it selects or sends — not
once when a campaign is designed, because opt-outs arrive every day. In
Ibis::

    blocked = ibis.memtable(blocked_msisdns(uow=uow, channel=Channel.SMS))
    targets = targets.anti_join(blocked, "msisdn")

Entries are province-wide (see ``consent.domain``): no org-scope filter
applies to them. Reads that return entries mask the MSISDN unless the caller
passes ``unmask=True`` (the principal may unmask, or ``--unmask`` on the
CLI); unmasked reads are recorded in the audit trail by
``telmark.privacy.service``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import Select, func, or_, select

from telmark.consent import importing
from telmark.consent.domain import (
    Channel,
    ConsentRule,
    EntrySpec,
    Source,
    check_reason,
    check_revocation,
    is_contactable,
    normalize_msisdn,
)
from telmark.consent.models import ConsentEntry, ConsentImport
from telmark.consent.schemas import (
    ConsentEntryCreate,
    ConsentEntryRead,
    ConsentFilters,
    ConsentImportRead,
    ConsentPage,
    ContactCheck,
    EntryStatus,
)
from telmark.db import utcnow
from telmark.errors import Conflict, InvalidInput, NotFound
from telmark.privacy.export import csv_chunks
from telmark.privacy.masking import PersonalKind, mask_msisdn
from telmark.privacy.service import disclose, exporter
from telmark.uow import UnitOfWork

FIELDS = {"msisdn": PersonalKind.MSISDN}
ENTITY = ConsentEntry.__tablename__
LOOKUP_CHUNK = 500  # numbers per IN (...) when checking an import against the register
EXPORT_BATCH = 1000
CSV_HEADER = (
    "id",
    "msisdn",
    "kind",
    "channel",
    "source",
    "reason",
    "created_at",
    "created_by",
    "revoked_at",
    "revoked_by",
    "revoke_reason",
)


def _record(entry: ConsentEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "msisdn": entry.msisdn,
        "kind": entry.kind,
        "channel": entry.channel,
        "source": entry.source,
        "reason": entry.reason,
        "import_id": entry.import_id,
        "created_at": entry.created_at,
        "created_by": entry.created_by,
        "revoked_at": entry.revoked_at,
        "revoked_by": entry.revoked_by,
        "revoke_reason": entry.revoke_reason,
        "in_force": entry.revoked_at is None,
    }


def _present(
    uow: UnitOfWork,
    entries: Sequence[ConsentEntry],
    *,
    unmask: bool,
    what: str,
    details: dict[str, Any] | None = None,
) -> list[ConsentEntryRead]:
    shown = disclose(
        uow=uow,
        records=[_record(e) for e in entries],
        fields=FIELDS,
        unmask=unmask,
        what=what,
        entity_type=ENTITY,
        entity_ids=[str(e.id) for e in entries],
        details=details,
    )
    return [ConsentEntryRead(**r, masked=not unmask) for r in shown]


def _in_force(uow: UnitOfWork, spec: EntrySpec) -> ConsentEntry | None:
    return uow.session.scalar(
        select(ConsentEntry).where(
            ConsentEntry.msisdn == spec.msisdn,
            ConsentEntry.kind == spec.kind,
            ConsentEntry.channel == spec.channel,
            ConsentEntry.revoked_at.is_(None),
        )
    )


def add_entry(*, uow: UnitOfWork, entry: ConsentEntryCreate, unmask: bool) -> ConsentEntryRead:
    """Put a number on the register (Conflict if the same entry is already in force)."""
    if entry.source is Source.IMPORT:
        raise InvalidInput("source 'import' is set by imports; use manual or customer_request")
    spec = EntrySpec(
        msisdn=normalize_msisdn(entry.msisdn),
        kind=entry.kind,
        channel=entry.channel,
        reason=check_reason(entry.reason, required=False),
        source=entry.source,
    )
    existing = _in_force(uow, spec)
    if existing is not None:
        raise Conflict(
            f"this number is already on the register as {spec.kind} for {spec.channel} "
            f"(entry {existing.id}, since {existing.created_at:%Y-%m-%d})",
            details=[{"entry_id": existing.id}],
        )
    row = _new_entry(spec, created_by=uow.actor.username, import_id=None)
    uow.session.add(row)
    uow.commit()
    (shown,) = _present(uow, [row], unmask=unmask, what="consent entry just added")
    return shown


def _new_entry(spec: EntrySpec, *, created_by: str, import_id: int | None) -> ConsentEntry:
    return ConsentEntry(
        msisdn=spec.msisdn,
        kind=spec.kind,
        channel=spec.channel,
        source=spec.source,
        reason=spec.reason,
        import_id=import_id,
        created_at=utcnow(),
        created_by=created_by,
    )


def revoke_entry(
    *, uow: UnitOfWork, entry_id: int, reason: str, may_manage: bool, unmask: bool
) -> ConsentEntryRead:
    """Lift an entry (blacklist: only with ``may_manage`` and a reason); it stays on record."""
    entry = uow.session.get(ConsentEntry, entry_id)
    if entry is None:
        raise NotFound(f"consent entry {entry_id} not found")
    if entry.revoked_at is not None:
        raise Conflict(f"consent entry {entry_id} was already revoked on {entry.revoked_at:%F}")
    entry.revoke_reason = check_revocation(entry.kind, may_manage=may_manage, reason=reason)
    entry.revoked_at = utcnow()
    entry.revoked_by = uow.actor.username
    uow.commit()
    (shown,) = _present(uow, [entry], unmask=unmask, what="consent entry just revoked")
    return shown


def _import_read(row: ConsentImport, *, repeated: bool = False) -> ConsentImportRead:
    return ConsentImportRead(
        id=row.id,
        file_name=row.file_name,
        sha256=row.sha256,
        encoding=row.encoding,
        rows=row.rows,
        added=0 if repeated else row.added,
        already_present=row.rows if repeated else row.already_present,
        imported_at=row.imported_at,
        imported_by=row.imported_by,
        repeated=repeated,
    )


def _keys_in_force(uow: UnitOfWork, msisdns: Sequence[str]) -> set[tuple[str, str, str]]:
    found: set[tuple[str, str, str]] = set()
    for start in range(0, len(msisdns), LOOKUP_CHUNK):
        chunk = msisdns[start : start + LOOKUP_CHUNK]
        stmt = select(ConsentEntry.msisdn, ConsentEntry.kind, ConsentEntry.channel).where(
            ConsentEntry.msisdn.in_(chunk), ConsentEntry.revoked_at.is_(None)
        )
        found.update((m, str(k), str(c)) for m, k, c in uow.session.execute(stmt))
    return found


def import_file(
    *, uow: UnitOfWork, data: bytes, file_name: str, encoding: str = "auto"
) -> ConsentImportRead:
    """Import a consent CSV: all rows or none, and the same file twice adds nothing.

    Every row is validated before anything is written (errors name file, row,
    column and reason). Rows already in force (or repeated within the file)
    are counted, not added again; a file imported before (same SHA-256) is
    recognised and adds nothing, even if some of its entries were revoked
    since — re-applying an old file must not silently undo those revocations.
    """
    digest = hashlib.sha256(data).hexdigest()
    earlier = uow.session.scalar(select(ConsentImport).where(ConsentImport.sha256 == digest))
    if earlier is not None:
        return _import_read(earlier, repeated=True)
    parsed = importing.parse(data, file=file_name, encoding=encoding)
    present = _keys_in_force(uow, sorted({e.msisdn for e in parsed.entries}))
    batch = ConsentImport(
        file_name=file_name[:400],
        sha256=digest,
        encoding=parsed.encoding,
        rows=parsed.rows,
        added=0,
        already_present=0,
        imported_by=uow.actor.username,
    )
    uow.session.add(batch)
    uow.session.flush()
    added = 0
    for spec in parsed.entries:
        key = (spec.msisdn, spec.kind.value, spec.channel.value)
        if key in present:
            continue
        present.add(key)
        uow.session.add(_new_entry(spec, created_by=uow.actor.username, import_id=batch.id))
        added += 1
    batch.added = added
    batch.already_present = parsed.rows - added
    uow.commit()
    return _import_read(batch)


def list_imports(*, uow: UnitOfWork, limit: int = 50) -> list[ConsentImportRead]:
    """The most recent imports, newest first."""
    stmt = select(ConsentImport).order_by(ConsentImport.id.desc()).limit(limit)
    return [_import_read(row) for row in uow.session.scalars(stmt)]


def _filtered(stmt: Select[Any], filters: ConsentFilters) -> Select[Any]:
    if filters.msisdn:
        stmt = stmt.where(ConsentEntry.msisdn == filters.msisdn.strip())
    if filters.kind:
        stmt = stmt.where(ConsentEntry.kind == filters.kind)
    if filters.channel:
        stmt = stmt.where(ConsentEntry.channel.in_([filters.channel, Channel.ALL]))
    if filters.source:
        stmt = stmt.where(ConsentEntry.source == filters.source)
    if filters.status is EntryStatus.IN_FORCE:
        stmt = stmt.where(ConsentEntry.revoked_at.is_(None))
    elif filters.status is EntryStatus.REVOKED:
        stmt = stmt.where(ConsentEntry.revoked_at.is_not(None))
    return stmt


def _filter_details(filters: ConsentFilters) -> dict[str, Any]:
    # The looked-up number sits at the top level, where the audit viewer masks it.
    shown = filters.model_dump(mode="json", exclude_none=True)
    number = shown.pop("msisdn", None)
    return {"filters": shown} | ({"msisdn": number} if number else {})


def list_entries(
    *,
    uow: UnitOfWork,
    filters: ConsentFilters,
    page: int = 1,
    page_size: int = 50,
    unmask: bool,
) -> ConsentPage:
    """One page of entries, newest first, masked unless ``unmask`` (which is audited)."""
    session = uow.session
    total = session.scalar(_filtered(select(func.count()).select_from(ConsentEntry), filters))
    stmt = _filtered(select(ConsentEntry), filters).order_by(ConsentEntry.id.desc())
    rows = list(session.scalars(stmt.offset((page - 1) * page_size).limit(page_size)))
    items = _present(
        uow,
        rows,
        unmask=unmask,
        what=f"consent register, {len(rows)} entries",
        details=_filter_details(filters),
    )
    return ConsentPage(items=items, total=total or 0, page=page, page_size=page_size)


def check_contact(
    *, uow: UnitOfWork, msisdn: str, channel: Channel, unmask: bool, now: datetime | None = None
) -> ContactCheck:
    """May ``msisdn`` be contacted on ``channel`` now, and which entries say no."""
    number = normalize_msisdn(msisdn)
    moment = now or utcnow()
    entries = list(uow.session.scalars(select(ConsentEntry).where(ConsentEntry.msisdn == number)))
    rules = {e.id: _rule(e) for e in entries}
    blocking = [e for e in entries if not is_contactable([rules[e.id]], number, channel, moment)]
    shown = _present(uow, blocking, unmask=unmask, what="consent check of one number")
    return ContactCheck(
        # The caller typed the number: echoing it back discloses nothing new.
        msisdn=number if unmask else mask_msisdn(number),
        channel=channel,
        contactable=not blocking,
        blocking=shown,
    )


def _rule(entry: ConsentEntry) -> ConsentRule:
    return ConsentRule(
        msisdn=entry.msisdn,
        kind=entry.kind,
        channel=entry.channel,
        created_at=entry.created_at,
        revoked_at=entry.revoked_at,
    )


def blocked_msisdns(*, uow: UnitOfWork, channel: Channel, now: datetime | None = None) -> pa.Table:
    """Every MSISDN that may not be contacted on ``channel`` at ``now`` (one ``msisdn`` column).

    The same rule as ``domain.is_contactable``, evaluated in the database;
    ``channel=all`` returns every number blocked on any channel.
    """
    moment = now or utcnow()
    stmt = (
        select(ConsentEntry.msisdn)
        .where(
            ConsentEntry.created_at <= moment,
            or_(ConsentEntry.revoked_at.is_(None), ConsentEntry.revoked_at > moment),
        )
        .distinct()
        .order_by(ConsentEntry.msisdn)
    )
    if channel is not Channel.ALL:
        stmt = stmt.where(ConsentEntry.channel.in_([channel, Channel.ALL]))
    numbers = list(uow.session.scalars(stmt))
    return pa.table({"msisdn": pa.array(numbers, type=pa.string())})


def export_csv(*, uow: UnitOfWork, filters: ConsentFilters, unmask: bool) -> Iterator[str]:
    """Record the export (committed first), then the matching entries as CSV text chunks."""
    count = uow.session.scalar(_filtered(select(func.count()).select_from(ConsentEntry), filters))
    prepare = exporter(
        uow=uow,
        fields=FIELDS,
        unmask=unmask,
        what=f"consent register export ({count} entries)",
        entity_type=ENTITY,
        details={**_filter_details(filters), "entries": count},
    )

    def rows() -> Iterator[list[Any]]:
        last: int | None = None
        while True:
            stmt = _filtered(select(ConsentEntry), filters).order_by(ConsentEntry.id.desc())
            if last is not None:
                stmt = stmt.where(ConsentEntry.id < last)
            batch = list(uow.session.scalars(stmt.limit(EXPORT_BATCH)))
            for entry in batch:
                record = prepare(_record(entry))
                yield [record[c] for c in CSV_HEADER]
            if len(batch) < EXPORT_BATCH:
                return
            last = batch[-1].id

    return csv_chunks(CSV_HEADER, rows())
