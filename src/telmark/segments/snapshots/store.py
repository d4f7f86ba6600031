"""Taking, listing and reading snapshots (see ``telmark.segments.snapshots``)."""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from datetime import date
from pathlib import Path

import ibis.expr.types as ir
import pyarrow.parquet as pq
from ibis.backends import BaseBackend
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import aliased

from telmark.db import utcnow
from telmark.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from telmark.org.models import OrgUnit
from telmark.org.scope import scope_root_code, visible
from telmark.segments.compile import resolve_as_of
from telmark.segments.domain import SnapshotStatus
from telmark.segments.models import Segment, SegmentSnapshot
from telmark.segments.schemas import SnapshotRead
from telmark.segments.service import members_of, rule_of
from telmark.uow import UnitOfWork
from telmark.warehouse.scope import ScopedWarehouse, scoped

MAX_KEY = 100
MAX_FAILURE = 1000
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL SQLSTATE of FOR UPDATE NOWAIT on a locked row


class SnapshotCorrupt(Conflict):
    """The member file is missing or differs from what was recorded when it was taken."""

    code = "snapshot_corrupt"


# -- pure helpers --------------------------------------------------------------------------


def clean_key(key: str | None) -> str | None:
    """The idempotency key trimmed; InvalidInput if empty, too long or not printable."""
    if key is None:
        return None
    cleaned = key.strip()
    problem = None
    if not cleaned:
        problem = "must not be empty"
    elif len(cleaned) > MAX_KEY:
        problem = f"at most {MAX_KEY} characters, got {len(cleaned)}"
    elif not cleaned.isprintable():
        problem = "contains control characters"
    if problem is not None:
        raise InvalidInput(f"idempotency_key: {problem}", details=[{"field": "idempotency_key"}])
    return cleaned


def _last_day(month: date) -> date:
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def _member_path(segment_id: int) -> str:
    return f"segment-{segment_id}/snapshot-{uuid.uuid4().hex[:16]}.parquet"


def _resolve(directory: Path, relative: str) -> Path:
    """``relative`` under ``directory``; a stored path that escapes it is refused."""
    root = directory.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise SnapshotCorrupt(
            f"snapshot file path {relative!r} lies outside the snapshot directory"
        )
    return path


def _temporary(final: Path) -> Path:
    return final.with_name(f".{final.name}.tmp")


def _parts(path: Path) -> list[Path]:
    """The data files of a member list: the file itself, or a Spark directory's parts.

    Spark readers skip names starting with ``_`` or ``.`` (``_SUCCESS``, ``.crc``
    checksums), so those are not part of the list and not hashed either.
    """
    if path.is_dir():
        return sorted(
            p for p in path.iterdir() if p.is_file() and not p.name.startswith(("_", "."))
        )
    return [path]


def file_digest(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and byte size of a member list (a file, or a directory of parts)."""
    digest = hashlib.sha256()
    size = 0
    directory = path.is_dir()
    for part in _parts(path):
        if directory:  # names too, so moving rows between parts changes the digest
            digest.update(part.name.encode() + b"\0")
        with part.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
    return digest.hexdigest(), size


def _row_count(path: Path) -> int:
    return sum(pq.read_metadata(part).num_rows for part in _parts(path))


def source_of(path: Path) -> str:
    return str(path / "*.parquet") if path.is_dir() else str(path)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _discard(directory: Path, snapshot: SegmentSnapshot) -> None:
    """Remove the (partial) files of an unfinished build."""
    final = _resolve(directory, snapshot.file_path)
    _remove(_temporary(final))
    _remove(final)


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:MAX_FAILURE]


# -- scope and lookups ---------------------------------------------------------------------


def actor_scope(uow: UnitOfWork, con: BaseBackend) -> tuple[str, BaseBackend]:
    """The actor's scope unit and the warehouse restricted to it.

    Scoped here, from the actor, rather than trusted from the caller: the row
    records the unit, and the members must be exactly that unit's lines.
    """
    backend = con.backend if isinstance(con, ScopedWarehouse) else con
    path = uow.actor.scope_path
    code = scope_root_code(uow)
    if path is None or code is None:
        province = uow.session.scalar(select(OrgUnit.code).where(OrgUnit.parent_id.is_(None)))
        if province is None:
            raise InvalidInput("the org tree is empty: run `telmark org sync` first")
        return province, backend
    return code, scoped(backend, org_code=code, org_path=path)


def _visible(uow: UnitOfWork) -> Select[SegmentSnapshot]:
    """Snapshots whose segment and whose scope unit the actor both sees."""
    owner, unit = aliased(OrgUnit), aliased(OrgUnit)
    return (
        select(SegmentSnapshot)
        .join(Segment, Segment.id == SegmentSnapshot.segment_id)
        .join(owner, owner.code == Segment.org_code)
        .join(unit, unit.code == SegmentSnapshot.org_code)
        .where(visible(uow, owner.path), visible(uow, unit.path))
    )


def _get(uow: UnitOfWork, snapshot_id: int) -> SegmentSnapshot:
    snapshot = uow.session.scalar(_visible(uow).where(SegmentSnapshot.id == snapshot_id))
    if snapshot is None:
        raise NotFound(f"snapshot {snapshot_id} not found")
    return snapshot


def _lock(uow: UnitOfWork, snapshot_id: int) -> SegmentSnapshot:
    """The row, locked for this transaction (PostgreSQL); Conflict if a live build holds it."""
    stmt = (
        select(SegmentSnapshot)
        .where(SegmentSnapshot.id == snapshot_id)
        .with_for_update(nowait=True)
        .execution_options(populate_existing=True)
    )
    try:
        row = uow.session.scalar(stmt)
    except OperationalError as error:
        if getattr(error.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        uow.rollback()
        raise Conflict(
            f"snapshot {snapshot_id} is being built by another request; retry in a moment",
            details=[{"field": "idempotency_key"}],
        ) from None
    if row is None:  # deleted underneath us: nothing deletes snapshots, so a bug
        raise NotFound(f"snapshot {snapshot_id} not found")
    return row


def _abandon_stale(uow: UnitOfWork, directory: Path, segment_id: int) -> None:
    """Mark builds of ``segment_id`` that nobody is running failed, and remove their files."""
    stale = uow.session.scalars(
        select(SegmentSnapshot)
        .where(
            SegmentSnapshot.segment_id == segment_id,
            SegmentSnapshot.status == SnapshotStatus.BUILDING,
        )
        .with_for_update(skip_locked=True)
    ).all()
    for row in stale:
        _discard(directory, row)
        row.status = SnapshotStatus.FAILED
        row.failure = "abandoned: the build stopped before it completed"
        row.completed_at = utcnow()
    if stale:
        uow.session.flush()


# -- use cases -----------------------------------------------------------------------------


def list_snapshots(*, uow: UnitOfWork, segment_id: int) -> list[SnapshotRead]:
    """Snapshots of a segment that the actor may see, newest first."""
    rule_of(uow, segment_id)  # NotFound for a segment out of scope
    rows = uow.session.scalars(
        _visible(uow)
        .where(SegmentSnapshot.segment_id == segment_id)
        .order_by(SegmentSnapshot.created_at.desc(), SegmentSnapshot.id.desc())
    )
    return [SnapshotRead.model_validate(r) for r in rows]


def get_snapshot(*, uow: UnitOfWork, snapshot_id: int) -> SnapshotRead:
    """One snapshot (NotFound unless the actor sees both its segment and its scope unit)."""
    return SnapshotRead.model_validate(_get(uow, snapshot_id))


def _by_key(uow: UnitOfWork, segment_id: int, key: str) -> SegmentSnapshot | None:
    return uow.session.scalar(
        select(SegmentSnapshot).where(
            SegmentSnapshot.segment_id == segment_id, SegmentSnapshot.idempotency_key == key
        )
    )


def _claim(
    *,
    uow: UnitOfWork,
    con: BaseBackend,
    directory: Path,
    segment_id: int,
    version: int | None,
    as_of: date | None,
    key: str | None,
    org_code: str,
) -> SegmentSnapshot:
    """The row to build (committed as ``building``), or the ready one a retry asked for."""
    number, _ = rule_of(uow, segment_id, version)  # NotFound: segment or version
    if key is not None:
        existing = _by_key(uow, segment_id, key)
        if existing is not None:
            return _retry(uow, directory, existing, version=version, as_of=as_of, org=org_code)
    _abandon_stale(uow, directory, segment_id)
    month = resolve_as_of(con, as_of)
    latest = resolve_as_of(con) if as_of is not None else month
    row = SegmentSnapshot(
        segment_id=segment_id,
        version=number,
        as_of=month,
        data_date=_last_day(latest),
        org_code=org_code,
        status=SnapshotStatus.BUILDING,
        file_path=_member_path(segment_id),
        idempotency_key=key,
        created_by=uow.actor.username,
        created_at=utcnow(),
    )
    uow.session.add(row)
    try:
        uow.session.flush()
    except IntegrityError:
        # A concurrent request with the same key inserted first: treat this one as its retry.
        uow.rollback()
        existing = None if key is None else _by_key(uow, segment_id, key)
        if existing is None:
            raise
        return _retry(uow, directory, existing, version=version, as_of=as_of, org=org_code)
    uow.commit()
    return row


def _retry(
    uow: UnitOfWork,
    directory: Path,
    existing: SegmentSnapshot,
    *,
    version: int | None,
    as_of: date | None,
    org: str,
) -> SegmentSnapshot:
    """The snapshot a repeated key names: returned if ready, else taken over for a rebuild."""
    mismatch = [
        name
        for name, asked, stored in (
            ("version", version, existing.version),
            ("as_of", as_of.replace(day=1) if as_of else None, existing.as_of),
        )
        if asked is not None and asked != stored
    ]
    if existing.org_code != org:
        mismatch.append("scope")
    if mismatch:
        raise Conflict(
            f"idempotency_key: already used for another snapshot of this segment "
            f"(different {', '.join(mismatch)}); use a new key",
            details=[{"field": "idempotency_key"}],
        )
    if existing.status is SnapshotStatus.READY:
        return existing
    row = _lock(uow, existing.id)
    if row.status is SnapshotStatus.READY:  # finished while we were waiting
        return row
    _discard(directory, row)
    row.status = SnapshotStatus.BUILDING
    row.failure = None
    row.completed_at = None
    row.file_path = _member_path(row.segment_id)
    uow.session.flush()
    uow.commit()
    return row


def _fail(uow: UnitOfWork, snapshot_id: int, file_path: str, error: BaseException) -> None:
    """Record why a build failed, unless another request already took the row over."""
    row = _lock(uow, snapshot_id)
    if row.status is SnapshotStatus.BUILDING and row.file_path == file_path:
        row.status = SnapshotStatus.FAILED
        row.failure = _reason(error)
        row.completed_at = utcnow()
        uow.session.flush()
    uow.commit()


def _build(
    uow: UnitOfWork, con: BaseBackend, directory: Path, snapshot_id: int, file_path: str
) -> SnapshotRead:
    # Held until the final commit: on PostgreSQL this is what marks the build as live.
    row = _lock(uow, snapshot_id)
    if row.status is not SnapshotStatus.BUILDING or row.file_path != file_path:
        uow.commit()
        raise Conflict(
            f"snapshot {snapshot_id} was taken over by another request; fetch it again",
            details=[{"field": "idempotency_key"}],
        )
    final = _resolve(directory, file_path)
    temporary = _temporary(final)
    try:
        _, rule = rule_of(uow, row.segment_id, row.version)
        members = members_of(uow=uow, con=con, rule=rule, as_of=row.as_of)
        ordered = members.select("subscriber_id").order_by("subscriber_id")
        final.parent.mkdir(parents=True, exist_ok=True)
        ordered.to_parquet(temporary)
        os.replace(temporary, final)
        digest, size = file_digest(final)
        count = _row_count(final)
    except Exception as error:
        uow.rollback()
        _remove(temporary)
        _remove(final)
        _fail(uow, snapshot_id, file_path, error)
        raise
    row.status = SnapshotStatus.READY
    row.sha256 = digest
    row.byte_size = size
    row.member_count = count
    row.completed_at = utcnow()
    uow.session.flush()
    result = SnapshotRead.model_validate(row)
    uow.commit()
    return result


def take_snapshot(
    *,
    uow: UnitOfWork,
    con: BaseBackend,
    directory: Path,
    segment_id: int,
    version: int | None = None,
    as_of: date | None = None,
    idempotency_key: str | None = None,
) -> SnapshotRead:
    """Freeze the members of a segment's rule version in the actor's scope (see module doc).

    Archived segments may be snapshotted too: archiving closes a definition for
    edits, not for use, and a case prepared on it must still be able to freeze
    its list (counting and sampling archived segments work the same way).
    """
    key = clean_key(idempotency_key)
    org_code, in_scope = actor_scope(uow, con)
    row = _claim(
        uow=uow,
        con=in_scope,
        directory=directory,
        segment_id=segment_id,
        version=version,
        as_of=as_of,
        key=key,
        org_code=org_code,
    )
    if row.status is SnapshotStatus.READY:
        return SnapshotRead.model_validate(row)
    return _build(uow, in_scope, directory, row.id, row.file_path)


def _verified(directory: Path, snapshot: SegmentSnapshot) -> Path:
    if snapshot.status is not SnapshotStatus.READY:
        raise InvalidTransition(
            f"snapshot {snapshot.id} is {snapshot.status}: only a ready snapshot can be read"
        )
    path = _resolve(directory, snapshot.file_path)
    if not path.exists():
        raise SnapshotCorrupt(
            f"snapshot {snapshot.id}: its member file is missing; take a new snapshot",
            details=[{"snapshot_id": snapshot.id}],
        )
    digest, size = file_digest(path)
    if (digest, size) != (snapshot.sha256, snapshot.byte_size):
        raise SnapshotCorrupt(
            f"snapshot {snapshot.id}: its member file was changed after it was taken "
            f"(SHA-256 {digest[:12]}…, recorded {str(snapshot.sha256)[:12]}…); "
            "it is not used — take a new snapshot",
            details=[{"snapshot_id": snapshot.id}],
        )
    return path


def snapshot_members(
    *, uow: UnitOfWork, con: BaseBackend, directory: Path, snapshot_id: int
) -> ir.Table:
    """The frozen members (one ``subscriber_id`` column) of a ready snapshot, verified first.

    NotFound unless the actor sees the snapshot; SnapshotCorrupt if the file is
    missing or its SHA-256 differs from the one recorded when it was taken.
    """
    _, path = ready_file(uow=uow, directory=directory, snapshot_id=snapshot_id)
    return con.read_parquet(source_of(path))


def ready_file(
    *, uow: UnitOfWork, directory: Path, snapshot_id: int
) -> tuple[SegmentSnapshot, Path]:
    """A visible, ready snapshot and its member file, checked against its SHA-256."""
    snapshot = _get(uow, snapshot_id)
    return snapshot, _verified(directory, snapshot)
