"""JSON routes of saved segments: list, create, edit, clone, archive, count, sample,
profile, overlap, size trend, snapshots and their exports."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, status
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from telmark.auth.deps import CurrentPrincipal, ScopedWarehouseDep, require
from telmark.auth.permissions import Action
from telmark.errors import InvalidInput
from telmark.privacy.service import may_unmask
from telmark.segments import service, snapshots
from telmark.segments.domain import SegmentStatus
from telmark.segments.profile import OverlapMatrix, SegmentProfile
from telmark.segments.schemas import (
    ExportFormat,
    SegmentClone,
    SegmentCount,
    SegmentCreate,
    SegmentRead,
    SegmentSample,
    SegmentTrend,
    SegmentUpdate,
    SnapshotCreate,
    SnapshotRead,
    VersionRead,
)
from telmark.web.deps import SettingsDep, UowDep
from telmark.web.errors import ErrorRead

router = APIRouter(prefix="/api/segments", tags=["segments"])

READ = [require(Action.OVERVIEW_READ)]
# Defining segments drives targeting: planners, analysts and city managers (their city).
CHANGE = [require(Action.SEGMENT_MANAGE)]
# A sample shows subscriber rows (masked by default), as customer 360 does.
MEMBERS = [require(Action.CUSTOMER_READ)]

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorRead, "description": "No such segment in your scope."}
}
INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorRead, "description": "Invalid rule: details name the nodes."}
}
AsOfQuery = Annotated[
    date | None, Query(description="As-of month (its first day); default: the latest month.")
]
VersionQuery = Annotated[int | None, Query(ge=1, description="Default: the current one.")]
SNAPSHOT_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorRead, "description": "No such snapshot in your scope."},
    409: {"model": ErrorRead, "description": "Not ready, or its member file was changed."},
}
MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.PARQUET: "application/vnd.apache.parquet",
}


def parse_ids(values: list[str]) -> list[int]:
    """Segment ids from ``ids=1&ids=2`` or ``ids=1,2``; InvalidInput names the bad one."""
    ids: list[int] = []
    for value in values:
        for part in value.split(","):
            if not part.strip():
                continue
            try:
                ids.append(int(part))
            except ValueError:
                raise InvalidInput(
                    f"ids: {part.strip()!r} is not a segment id",
                    details=[{"field": "ids", "value": part.strip()}],
                ) from None
    return ids


# Literal paths first: "/overlap" and "/snapshots/..." must not be read as a segment id.


@router.get(
    "/overlap",
    response_model=OverlapMatrix,
    dependencies=READ,
    responses={**NOT_FOUND, **INVALID},
)
def overlap_segments(
    uow: UowDep,
    con: ScopedWarehouseDep,
    ids: Annotated[list[str], Query(description="2 to 8 segment ids: ids=1&ids=2 or ids=1,2.")],
    as_of: AsOfQuery = None,
) -> OverlapMatrix:
    """How many lines in your scope each pair of segments shares (and the Jaccard index)."""
    return service.overlap_segments(uow=uow, con=con, segment_ids=parse_ids(ids), as_of=as_of)


@router.get(
    "/snapshots/{snapshot_id}",
    response_model=SnapshotRead,
    dependencies=READ,
    responses=SNAPSHOT_NOT_FOUND,
)
def get_snapshot(snapshot_id: int, uow: UowDep) -> SnapshotRead:
    """One snapshot: rule version, as-of month, data date, scope, size and checksum."""
    return snapshots.get_snapshot(uow=uow, snapshot_id=snapshot_id)


@router.get(
    "/snapshots/{snapshot_id}/export",
    response_class=FileResponse,
    dependencies=MEMBERS,
    responses={
        **SNAPSHOT_NOT_FOUND,
        200: {
            "content": {"text/csv": {}, MEDIA_TYPES[ExportFormat.PARQUET]: {}},
            "description": "The member list: UTF-8 CSV with BOM, or Parquet.",
        },
    },
)
def export_snapshot(
    snapshot_id: int,
    uow: UowDep,
    con: ScopedWarehouseDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    format: ExportFormat = ExportFormat.CSV,
    unmask: Annotated[
        bool, Query(description="In clear; honoured only if you may unmask, then audited.")
    ] = False,
    columns: Annotated[
        str | None,
        Query(description="Comma-separated columns (default: a campaign list's columns)."),
    ] = None,
) -> FileResponse:
    """The snapshot's members with subscriber columns, masked unless you may unmask and ask.

    Written to a temporary file while the warehouse is held, then sent from
    disk (and deleted), so the rows never sit in memory at once.
    """
    chosen = columns.split(",") if columns is not None else None
    clear = unmask and may_unmask(principal)
    handle, name = tempfile.mkstemp(prefix="telmark-export-", suffix=f".{format}")
    os.close(handle)
    out = Path(name)
    try:
        result = snapshots.export_snapshot(
            uow=uow,
            con=con,
            directory=settings.resolved_snapshot_dir,
            snapshot_id=snapshot_id,
            out=out,
            export_format=format,
            columns=chosen,
            unmask=clear,
        )
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return FileResponse(
        out,
        media_type=MEDIA_TYPES[format],
        filename=f"segment-{result.segment_id}-snapshot-{result.snapshot_id}.{format}",
        headers={"X-Telmark-Unmasked": "true" if result.unmasked else "false"},
        background=BackgroundTask(out.unlink, missing_ok=True),
    )


@router.get("", response_model=list[SegmentRead], dependencies=READ)
def list_segments(uow: UowDep, status: SegmentStatus | None = None) -> list[SegmentRead]:
    """Segments of your org unit and below, most recently changed first."""
    return service.list_segments(uow=uow, status=status)


@router.post(
    "",
    response_model=SegmentRead,
    status_code=status.HTTP_201_CREATED,
    dependencies=CHANGE,
    responses=INVALID,
)
def create_segment(body: SegmentCreate, uow: UowDep) -> SegmentRead:
    """Save a segment (owned by your unit unless ``org_code`` names one in your scope)."""
    return service.create_segment(uow=uow, spec=body)


@router.get("/{segment_id}", response_model=SegmentRead, dependencies=READ, responses=NOT_FOUND)
def get_segment(segment_id: int, uow: UowDep) -> SegmentRead:
    """One segment with its current rule."""
    return service.get_segment(uow=uow, segment_id=segment_id)


@router.put(
    "/{segment_id}",
    response_model=SegmentRead,
    dependencies=CHANGE,
    responses={**NOT_FOUND, **INVALID},
)
def update_segment(segment_id: int, body: SegmentUpdate, uow: UowDep) -> SegmentRead:
    """Save a new version of the rule (earlier versions are kept)."""
    return service.update_segment(uow=uow, segment_id=segment_id, spec=body)


@router.delete(
    "/{segment_id}", response_model=SegmentRead, dependencies=CHANGE, responses=NOT_FOUND
)
def archive_segment(segment_id: int, uow: UowDep) -> SegmentRead:
    """Archive a segment: closed for edits, still readable and countable."""
    return service.set_status(uow=uow, segment_id=segment_id, status=SegmentStatus.ARCHIVED)


@router.post(
    "/{segment_id}/restore", response_model=SegmentRead, dependencies=CHANGE, responses=NOT_FOUND
)
def restore_segment(segment_id: int, uow: UowDep) -> SegmentRead:
    """Make an archived segment active again."""
    return service.set_status(uow=uow, segment_id=segment_id, status=SegmentStatus.ACTIVE)


@router.post(
    "/{segment_id}/clone",
    response_model=SegmentRead,
    status_code=status.HTTP_201_CREATED,
    dependencies=CHANGE,
    responses=NOT_FOUND,
)
def clone_segment(segment_id: int, uow: UowDep, body: SegmentClone | None = None) -> SegmentRead:
    """A new segment starting from this one's current rule."""
    return service.clone_segment(uow=uow, segment_id=segment_id, spec=body or SegmentClone())


@router.get(
    "/{segment_id}/versions",
    response_model=list[VersionRead],
    dependencies=READ,
    responses=NOT_FOUND,
)
def list_versions(segment_id: int, uow: UowDep) -> list[VersionRead]:
    """Every saved version of the rule, oldest first."""
    return service.list_versions(uow=uow, segment_id=segment_id)


@router.get(
    "/{segment_id}/count", response_model=SegmentCount, dependencies=READ, responses=NOT_FOUND
)
def count_segment(
    segment_id: int,
    uow: UowDep,
    con: ScopedWarehouseDep,
    version: Annotated[int | None, Query(ge=1, description="Default: the current one.")] = None,
    as_of: AsOfQuery = None,
) -> SegmentCount:
    """How many lines in your scope the segment selects."""
    return service.count_segment(
        uow=uow, con=con, segment_id=segment_id, version=version, as_of=as_of
    )


@router.get(
    "/{segment_id}/sample",
    response_model=SegmentSample,
    dependencies=MEMBERS,
    responses=NOT_FOUND,
)
def sample_segment(
    segment_id: int,
    uow: UowDep,
    con: ScopedWarehouseDep,
    principal: CurrentPrincipal,
    n: Annotated[int, Query(ge=1, le=service.MAX_SAMPLE)] = 20,
    unmask: Annotated[
        bool, Query(description="In clear; honoured only if you may unmask, then audited.")
    ] = False,
    as_of: AsOfQuery = None,
) -> SegmentSample:
    """Up to ``n`` members in your scope, personal values masked unless you may unmask."""
    return service.sample_segment(
        uow=uow,
        con=con,
        segment_id=segment_id,
        n=n,
        unmask=unmask and may_unmask(principal),
        as_of=as_of,
    )


@router.get(
    "/{segment_id}/profile",
    response_model=SegmentProfile,
    dependencies=READ,
    responses=NOT_FOUND,
)
def profile_segment(
    segment_id: int,
    uow: UowDep,
    con: ScopedWarehouseDep,
    version: VersionQuery = None,
    as_of: AsOfQuery = None,
) -> SegmentProfile:
    """Who the members are: plan, city, ARPU band, value tier, … against your scoped base."""
    return service.profile_segment(
        uow=uow, con=con, segment_id=segment_id, version=version, as_of=as_of
    )


@router.get(
    "/{segment_id}/trend",
    response_model=SegmentTrend,
    dependencies=READ,
    responses={**NOT_FOUND, **INVALID},
)
def size_trend(
    segment_id: int,
    uow: UowDep,
    con: ScopedWarehouseDep,
    months: Annotated[int, Query(ge=1, le=service.MAX_TREND_MONTHS)] = 6,
    version: VersionQuery = None,
) -> SegmentTrend:
    """The member count in your scope as of each of the latest ``months`` months."""
    return service.size_trend_segment(
        uow=uow, con=con, segment_id=segment_id, version=version, months=months
    )


@router.post(
    "/{segment_id}/snapshots",
    response_model=SnapshotRead,
    status_code=status.HTTP_201_CREATED,
    dependencies=CHANGE,
    responses={**NOT_FOUND, 409: {"model": ErrorRead, "description": "Key reused or busy."}},
)
def take_snapshot(
    segment_id: int,
    uow: UowDep,
    con: ScopedWarehouseDep,
    settings: SettingsDep,
    body: SnapshotCreate | None = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Resending the same key returns the same snapshot, not a second one.",
        ),
    ] = None,
) -> SnapshotRead:
    """Freeze the members in your scope (default: current rule version, latest month)."""
    spec = body or SnapshotCreate()
    return snapshots.take_snapshot(
        uow=uow,
        con=con,
        directory=settings.resolved_snapshot_dir,
        segment_id=segment_id,
        version=spec.version,
        as_of=spec.as_of,
        idempotency_key=idempotency_key,
    )


@router.get(
    "/{segment_id}/snapshots",
    response_model=list[SnapshotRead],
    dependencies=READ,
    responses=NOT_FOUND,
)
def list_snapshots(segment_id: int, uow: UowDep) -> list[SnapshotRead]:
    """Snapshots of the segment taken in your scope or below, newest first."""
    return snapshots.list_snapshots(uow=uow, segment_id=segment_id)
