"""Org scope for operational queries: rows of the actor's org unit and below.

Every service that returns org-owned rows adds ``visible(uow, <path column>)``
to its query (or calls ``get_visible``), and the scope comes from
``uow.actor.scope_path``, set once by authentication. Out-of-scope objects
raise NotFound — a 404, so their existence does not leak.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import InstrumentedAttribute

from telmark.errors import NotFound
from telmark.org.models import OrgUnit
from telmark.uow import UnitOfWork


def visible(uow: UnitOfWork, path: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    """SQL condition: the org path column lies within the actor's scope."""
    scope = uow.actor.scope_path
    if scope is None:
        return true()
    return path.startswith(scope, autoescape=True)


def get_visible_unit(uow: UnitOfWork, code: str) -> OrgUnit:
    """The org unit ``code`` if the actor may see it; NotFound otherwise (also when absent)."""
    unit = uow.session.scalar(
        select(OrgUnit).where(OrgUnit.code == code, visible(uow, OrgUnit.path))
    )
    if unit is None:
        raise NotFound(f"org unit {code} not found")
    return unit


def scope_root_code(uow: UnitOfWork) -> str | None:
    """Code of the unit the actor's scope starts at (None when unrestricted)."""
    scope = uow.actor.scope_path
    return None if scope is None else scope.strip("/").split("/")[-1]
