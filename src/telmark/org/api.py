"""JSON routes of the org domain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from telmark.auth.deps import require
from telmark.auth.permissions import Action
from telmark.org import service
from telmark.org.schemas import OrgUnitDetail, OrgUnitRead, StaffRead
from telmark.web.deps import UowDep

router = APIRouter(prefix="/api/org", tags=["org"], dependencies=[require(Action.ORG_READ)])


@router.get("/units", response_model=list[OrgUnitRead])
def list_units(
    uow: UowDep,
    root: Annotated[str | None, Query(description="Only this unit and below.")] = None,
    depth: Annotated[int | None, Query(ge=0, le=10, description="Levels below root.")] = None,
    include_inactive: bool = False,
) -> list[OrgUnitRead]:
    """The org tree in depth-first order."""
    return service.list_units(
        uow=uow, root=root, max_depth=depth, include_inactive=include_inactive
    )


@router.get("/units/{code}", response_model=OrgUnitDetail)
def get_unit(code: str, uow: UowDep) -> OrgUnitDetail:
    """One org unit with its ancestors and children."""
    return service.get_unit(uow=uow, code=code)


@router.get("/units/{code}/staff", response_model=list[StaffRead])
def list_staff(
    code: str,
    uow: UowDep,
    include_descendants: bool = False,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[StaffRead]:
    """Staff of an org unit (optionally of every unit below it)."""
    return service.list_staff(
        uow=uow, code=code, include_descendants=include_descendants, limit=limit
    )
