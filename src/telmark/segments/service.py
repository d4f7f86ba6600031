"""Saved-segment use cases: create, edit (a new version), clone, archive, count, sample.

A segment belongs to an org unit (``org_code``); a user reads and changes the
segments of their unit and below, and any other answers NotFound so its
existence does not leak. Rules are validated with ``parse_rule`` before
anything is written, and every edit appends a version: versions are never
updated. Counting and sampling compile the current rule on the caller's
org-scoped warehouse, so a city user only ever counts their own lines —
archived segments still count, they are only closed for edits. Changes are
written to the audit trail by ``telmark.audit.capture``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend
from sqlalchemy import Select, select

from telmark.db import utcnow
from telmark.errors import InvalidInput, NotFound, WarehouseEmpty
from telmark.org.models import OrgUnit
from telmark.org.scope import get_visible_unit, scope_root_code, visible
from telmark.privacy.masking import contract_fields
from telmark.privacy.service import disclose
from telmark.segments.compile import Resolver, compile_rule, expand, resolve_as_of
from telmark.segments.domain import SegmentStatus, check_editable, clean_name, clone_name
from telmark.segments.domain import transition as status_transition
from telmark.segments.examples import EXAMPLES
from telmark.segments.models import Segment, SegmentVersion
from telmark.segments.profile import OverlapMatrix, SegmentProfile, overlap, profile, size_trend
from telmark.segments.rules import RuleDocument, parse_rule
from telmark.segments.schemas import (
    SegmentClone,
    SegmentCount,
    SegmentCreate,
    SegmentRead,
    SegmentSample,
    SegmentTrend,
    SegmentUpdate,
    VersionRead,
)
from telmark.uow import UnitOfWork
from telmark.warehouse.contract import SUBSCRIBERS

MAX_SAMPLE = 200
ENTITY = "subscribers"
PERSONAL = contract_fields(SUBSCRIBERS)


def _rule_json(rule: RuleDocument) -> dict[str, Any]:
    return rule.model_dump(mode="json", by_alias=True, exclude_none=True)


def _visible_segments(uow: UnitOfWork) -> Select[Segment]:
    return (
        select(Segment)
        .join(OrgUnit, OrgUnit.code == Segment.org_code)
        .where(visible(uow, OrgUnit.path))
    )


def _get(uow: UnitOfWork, segment_id: int) -> Segment:
    segment = uow.session.scalar(_visible_segments(uow).where(Segment.id == segment_id))
    if segment is None:
        raise NotFound(f"segment {segment_id} not found")
    return segment


def _version(uow: UnitOfWork, segment: Segment, version: int | None = None) -> SegmentVersion:
    wanted = segment.current_version if version is None else version
    row = uow.session.scalar(
        select(SegmentVersion).where(
            SegmentVersion.segment_id == segment.id, SegmentVersion.version == wanted
        )
    )
    if row is None:
        raise NotFound(f"segment {segment.id} has no version {wanted}")
    return row


def _read(uow: UnitOfWork, segment: Segment) -> SegmentRead:
    current = _version(uow, segment)
    return SegmentRead(
        id=segment.id,
        name=segment.name,
        description=segment.description,
        org_code=segment.org_code,
        status=segment.status,
        current_version=segment.current_version,
        created_by=segment.created_by,
        created_at=segment.created_at,
        updated_at=segment.updated_at,
        rule=current.rule,
    )


def _owner(uow: UnitOfWork, org_code: str | None) -> str:
    """The owning unit: ``org_code`` if visible, else the actor's own (or the province)."""
    if org_code is not None:
        return get_visible_unit(uow, org_code).code
    own = scope_root_code(uow)
    if own is not None:
        return own
    province = uow.session.scalar(select(OrgUnit).where(OrgUnit.parent_id.is_(None)))
    if province is None:
        raise InvalidInput("the org tree is empty: run `telmark org sync` first")
    return province.code


def _add(
    uow: UnitOfWork, *, name: str, description: str, org_code: str, rule: RuleDocument, note: str
) -> Segment:
    now = utcnow()
    segment = Segment(
        name=name,
        description=description,
        org_code=org_code,
        status=SegmentStatus.ACTIVE,
        current_version=1,
        created_by=uow.actor.username,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(segment)
    uow.session.flush()
    uow.session.add(
        SegmentVersion(
            segment_id=segment.id,
            version=1,
            rule=_rule_json(rule),
            note=note,
            created_by=uow.actor.username,
            created_at=now,
        )
    )
    uow.session.flush()
    return segment


def resolver(uow: UnitOfWork) -> Resolver:
    """Rules of referenced segments as the actor sees them.

    A segment the actor cannot see (or that does not exist) raises NotFound,
    which the compiler reports as an InvalidRule at the referring node's path.
    """

    def resolve(segment_id: int, version: int | None) -> RuleDocument:
        return rule_of(uow, segment_id, version)[1]

    return resolve


def _check_segment_references(
    uow: UnitOfWork, rule: RuleDocument, segment_id: int | None = None
) -> None:
    """Every referenced segment is visible and exists; no reference leads back (a cycle)."""
    expand(rule.root, resolver(uow), segment_id=segment_id)


def create_segment(*, uow: UnitOfWork, spec: SegmentCreate) -> SegmentRead:
    """Save a new segment with its first rule version (the rule validated first)."""
    rule = parse_rule(spec.rule)
    _check_segment_references(uow, rule)
    name = clean_name(spec.name)
    org_code = _owner(uow, spec.org_code)
    segment = _add(
        uow,
        name=name,
        description=spec.description.strip(),
        org_code=org_code,
        rule=rule,
        note=spec.note.strip(),
    )
    result = _read(uow, segment)
    uow.commit()
    return result


def update_segment(*, uow: UnitOfWork, segment_id: int, spec: SegmentUpdate) -> SegmentRead:
    """Append the next rule version (and rename/describe); archived segments refuse edits."""
    segment = _get(uow, segment_id)
    check_editable(segment.status)
    rule = parse_rule(spec.rule)
    _check_segment_references(uow, rule, segment.id)
    name = clean_name(spec.name) if spec.name is not None else segment.name
    now = utcnow()
    segment.current_version += 1
    segment.name = name
    if spec.description is not None:
        segment.description = spec.description.strip()
    segment.updated_at = now
    uow.session.add(
        SegmentVersion(
            segment_id=segment.id,
            version=segment.current_version,
            rule=_rule_json(rule),
            note=spec.note.strip(),
            created_by=uow.actor.username,
            created_at=now,
        )
    )
    uow.session.flush()
    result = _read(uow, segment)
    uow.commit()
    return result


def clone_segment(*, uow: UnitOfWork, segment_id: int, spec: SegmentClone) -> SegmentRead:
    """A new active segment starting from the current rule of ``segment_id``."""
    source = _get(uow, segment_id)
    current = _version(uow, source)
    name = clean_name(spec.name) if spec.name is not None else clone_name(source.name)
    org_code = _owner(uow, spec.org_code) if spec.org_code is not None else source.org_code
    rule = parse_rule(current.rule)
    _check_segment_references(uow, rule)
    segment = _add(
        uow,
        name=name,
        description=source.description,
        org_code=org_code,
        rule=rule,
        note=f"cloned from segment {source.id} version {current.version}",
    )
    result = _read(uow, segment)
    uow.commit()
    return result


def set_status(*, uow: UnitOfWork, segment_id: int, status: SegmentStatus) -> SegmentRead:
    """Archive or restore a segment (InvalidTransition if it already is)."""
    segment = _get(uow, segment_id)
    segment.status = status_transition(segment.status, status)
    segment.updated_at = utcnow()
    uow.session.flush()
    result = _read(uow, segment)
    uow.commit()
    return result


def list_segments(*, uow: UnitOfWork, status: SegmentStatus | None = None) -> list[SegmentRead]:
    """Segments of the actor's scope, newest change first."""
    stmt = _visible_segments(uow)
    if status is not None:
        stmt = stmt.where(Segment.status == status)
    rows = uow.session.scalars(stmt.order_by(Segment.updated_at.desc(), Segment.id.desc()))
    return [_read(uow, s) for s in rows]


def get_segment(*, uow: UnitOfWork, segment_id: int) -> SegmentRead:
    """One segment with its current rule."""
    return _read(uow, _get(uow, segment_id))


def list_versions(*, uow: UnitOfWork, segment_id: int) -> list[VersionRead]:
    """Every rule version of a segment, oldest first."""
    segment = _get(uow, segment_id)
    rows = uow.session.scalars(
        select(SegmentVersion)
        .where(SegmentVersion.segment_id == segment.id)
        .order_by(SegmentVersion.version)
    )
    return [VersionRead.model_validate(r) for r in rows]


def rule_of(
    uow: UnitOfWork, segment_id: int, version: int | None = None
) -> tuple[int, RuleDocument]:
    """The version number and rule of a visible segment (its current version by default)."""
    segment = _get(uow, segment_id)
    row = _version(uow, segment, version)
    return row.version, parse_rule(row.rule)


def members_of(
    *,
    uow: UnitOfWork,
    con: BaseBackend,
    rule: RuleDocument,
    as_of: date | None = None,
) -> ir.Table:
    """The members of ``rule`` on ``con`` (a one-column ``subscriber_id`` table expression).

    Every use of a saved rule goes through here, so references to other segments
    are resolved the same way (and with the same visibility) everywhere.
    """
    return compile_rule(con, rule, as_of=as_of, resolve=resolver(uow))


def count_segment(
    *,
    uow: UnitOfWork,
    con: BaseBackend,
    segment_id: int,
    version: int | None = None,
    as_of: date | None = None,
) -> SegmentCount:
    """How many lines of the caller's scoped warehouse a saved segment selects."""
    number, rule = rule_of(uow, segment_id, version)
    resolved = resolve_as_of(con, as_of)
    members = int(
        members_of(uow=uow, con=con, rule=rule, as_of=resolved).count().to_pyarrow().as_py()
    )
    return SegmentCount(segment_id=segment_id, version=number, count=members, as_of=resolved)


def sample_segment(
    *,
    uow: UnitOfWork,
    con: BaseBackend,
    segment_id: int,
    n: int = 20,
    unmask: bool = False,
    as_of: date | None = None,
) -> SegmentSample:
    """Up to ``n`` members (subscriber rows), masked unless ``unmask`` (then audited)."""
    if not 1 <= n <= MAX_SAMPLE:
        raise InvalidInput(f"n: between 1 and {MAX_SAMPLE}, got {n}", details=[{"field": "n"}])
    number, rule = rule_of(uow, segment_id)
    resolved = resolve_as_of(con, as_of)
    members = members_of(uow=uow, con=con, rule=rule, as_of=resolved)
    total = int(members.count().to_pyarrow().as_py())
    subscribers = con.table("subscribers")
    rows_expr = subscribers.semi_join(members, "subscriber_id").order_by("subscriber_id").limit(n)
    rows: list[dict[str, Any]] = rows_expr.to_pyarrow().to_pylist()
    shown = disclose(
        uow=uow,
        records=rows,
        fields=PERSONAL,
        unmask=unmask,
        what=f"sample of segment {segment_id}",
        entity_type=ENTITY,
        entity_ids=[str(r["subscriber_id"]) for r in rows],
        details={"segment_id": segment_id, "version": number},
    )
    return SegmentSample(
        segment_id=segment_id,
        version=number,
        as_of=resolved,
        count=total,
        unmasked=unmask,
        members=shown,
    )


MAX_OVERLAP = 8
MAX_TREND_MONTHS = 24


def profile_segment(
    *,
    uow: UnitOfWork,
    con: BaseBackend,
    segment_id: int,
    version: int | None = None,
    as_of: date | None = None,
) -> SegmentProfile:
    """Who the members are: distributions against the caller's scoped base."""
    _, rule = rule_of(uow, segment_id, version)
    resolved = resolve_as_of(con, as_of)
    members = members_of(uow=uow, con=con, rule=rule, as_of=resolved)
    return profile(con, members, as_of=resolved)


def overlap_segments(
    *, uow: UnitOfWork, con: BaseBackend, segment_ids: list[int], as_of: date | None = None
) -> OverlapMatrix:
    """Pairwise overlap of 2..MAX_OVERLAP saved segments (their current rules), by name."""
    ids = list(dict.fromkeys(segment_ids))
    if not 2 <= len(ids) <= MAX_OVERLAP:
        raise InvalidInput(
            f"segment_ids: between 2 and {MAX_OVERLAP} different segments, got {len(ids)}",
            details=[{"field": "segment_ids"}],
        )
    resolved = resolve_as_of(con, as_of)
    tables: dict[str, ir.Table] = {}
    for segment_id in ids:
        segment = _get(uow, segment_id)
        _, rule = rule_of(uow, segment_id)
        # Names may repeat across units; the id keeps every row of the matrix distinct.
        tables[f"{segment.name} (#{segment.id})"] = members_of(
            uow=uow, con=con, rule=rule, as_of=resolved
        )
    return overlap(con, tables)


def trend_months(con: BaseBackend, months: int) -> list[date]:
    """The latest ``months`` usage months present in the warehouse, oldest first."""
    if not 1 <= months <= MAX_TREND_MONTHS:
        raise InvalidInput(
            f"months: between 1 and {MAX_TREND_MONTHS}, got {months}",
            details=[{"field": "months"}],
        )
    usage = con.table("usage_monthly")
    present = usage.select("month").distinct().order_by(ibis.desc("month")).limit(months)
    found = sorted(present.to_pyarrow().column("month").to_pylist())
    if not found:
        raise WarehouseEmpty("usage_monthly has no rows: load the warehouse first")
    return found


def size_trend_segment(
    *,
    uow: UnitOfWork,
    con: BaseBackend,
    segment_id: int,
    version: int | None = None,
    months: int = 6,
) -> SegmentTrend:
    """The member count of one rule version as of each of the latest ``months`` months."""
    number, rule = rule_of(uow, segment_id, version)
    points = size_trend(
        lambda month: members_of(uow=uow, con=con, rule=rule, as_of=month),
        trend_months(con, months),
    )
    return SegmentTrend(segment_id=segment_id, version=number, points=points)


def seed_examples(*, uow: UnitOfWork) -> int:
    """Save the example segments (``segments.examples``) if no segment exists yet; how many."""
    if uow.session.scalar(select(Segment.id).limit(1)) is not None:
        return 0
    org_code = _owner(uow, None)
    for name, description, rule in EXAMPLES:
        _add(
            uow,
            name=clean_name(name),
            description=description,
            org_code=org_code,
            rule=parse_rule(rule),
            note="示例",
        )
    uow.commit()
    return len(EXAMPLES)
