"""JSON routes of saved segments: list, create, edit, clone, archive, count, sample."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from telmark.auth.deps import CurrentPrincipal, ScopedWarehouseDep, require
from telmark.auth.permissions import Action
from telmark.privacy.service import may_unmask
from telmark.segments import service
from telmark.segments.domain import SegmentStatus
from telmark.segments.schemas import (
    SegmentClone,
    SegmentCount,
    SegmentCreate,
    SegmentRead,
    SegmentSample,
    SegmentUpdate,
    VersionRead,
)
from telmark.web.deps import UowDep
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
