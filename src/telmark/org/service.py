"""Org use cases: load the tree from the warehouse, browse it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from ibis.backends import BaseBackend
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from telmark.errors import NotFound, WarehouseEmpty
from telmark.org.domain import OrgKind, UnitSpec, check_staff_grade, order_tree, path_of
from telmark.org.models import OrgUnit, Staff
from telmark.org.schemas import OrgUnitDetail, OrgUnitRead, StaffRead, SyncReport
from telmark.org.scope import get_visible_unit, scope_root_code, visible
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import has_table


@dataclass(frozen=True, slots=True)
class StaffSpec:
    code: str
    name: str
    org_code: str
    level: int
    grade: int
    position: str
    hired_date: date


def read_warehouse_org(con: BaseBackend) -> tuple[list[UnitSpec], list[StaffSpec]]:
    """The org tree and staff as held in the warehouse (generated or imported)."""
    if not has_table(con, "org_units"):
        raise WarehouseEmpty("the warehouse has no org_units table; generate or import one first")
    units = [
        UnitSpec(
            code=row["org_id"],
            parent_code=row["parent_id"],
            kind=OrgKind(row["kind"]),
            name=row["name"],
            name_en=row["name_en"],
        )
        for row in con.table("org_units").to_pyarrow().to_pylist()
    ]
    staff: list[StaffSpec] = []
    if has_table(con, "staff"):
        staff = [
            StaffSpec(
                code=row["staff_id"],
                name=row["name"],
                org_code=row["org_id"],
                level=int(row["level"]),
                grade=int(row["grade"]),
                position=row["position"],
                hired_date=row["hired_date"],
            )
            for row in con.table("staff").to_pyarrow().to_pylist()
        ]
    return units, staff


def sync_tree(
    *, uow: UnitOfWork, units: Sequence[UnitSpec], staff: Sequence[StaffSpec]
) -> SyncReport:
    """Make the operational org tree and staff equal to ``units``/``staff``.

    Idempotent: matched by code, so rerunning changes nothing. Units and staff
    that disappeared are deactivated, not deleted, because cases, tasks and
    ledgers keep pointing at them.
    """
    ordered = order_tree(units)
    for person in staff:
        check_staff_grade(code=person.code, level=person.level, grade=person.grade)
    session = uow.session
    existing = {u.code: u for u in session.scalars(select(OrgUnit))}
    created = updated = 0
    by_code: dict[str, OrgUnit] = {}
    for spec in ordered:
        parent = by_code[spec.parent_code] if spec.parent_code else None
        path = path_of(parent.path if parent else None, spec.code)
        depth = parent.depth + 1 if parent else 0
        unit = existing.get(spec.code)
        if unit is None:
            unit = OrgUnit(
                code=spec.code,
                kind=spec.kind,
                name=spec.name,
                name_en=spec.name_en,
                parent=parent,
                path=path,
                depth=depth,
                active=True,
            )
            session.add(unit)
            created += 1
        else:
            new_values = {
                "kind": spec.kind,
                "name": spec.name,
                "name_en": spec.name_en,
                "path": path,
                "depth": depth,
                "active": True,
            }
            changed = any(getattr(unit, k) != v for k, v in new_values.items())
            if changed or unit.parent is not parent:
                for key, value in new_values.items():
                    setattr(unit, key, value)
                unit.parent = parent
                updated += 1
        by_code[spec.code] = unit
    deactivated = 0
    for code, unit in existing.items():
        if code not in by_code and unit.active:
            unit.active = False
            deactivated += 1
    session.flush()

    unknown = sorted({p.org_code for p in staff} - by_code.keys())
    if unknown:
        raise NotFound(f"staff refer to unknown org units: {', '.join(unknown[:10])}")
    current = {s.code: s for s in session.scalars(select(Staff))}
    s_created = s_updated = s_deactivated = 0
    seen: set[str] = set()
    for person in staff:
        seen.add(person.code)
        org = by_code[person.org_code]
        row = current.get(person.code)
        values: dict[str, object] = {
            "name": person.name,
            "org_unit_id": org.id,
            "level": person.level,
            "grade": person.grade,
            "position": person.position,
            "hired_date": person.hired_date,
            "active": True,
        }
        if row is None:
            session.add(Staff(code=person.code, **values))
            s_created += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            for key, staff_value in values.items():
                setattr(row, key, staff_value)
            s_updated += 1
    for code, row in current.items():
        if code not in seen and row.active:
            row.active = False
            s_deactivated += 1
    report = SyncReport(
        units_created=created,
        units_updated=updated,
        units_deactivated=deactivated,
        staff_created=s_created,
        staff_updated=s_updated,
        staff_deactivated=s_deactivated,
    )
    uow.commit()
    return report


def sync_from_warehouse(*, uow: UnitOfWork, con: BaseBackend) -> SyncReport:
    """Load the warehouse's org_units and staff into the operational database."""
    units, staff = read_warehouse_org(con)
    return sync_tree(uow=uow, units=units, staff=staff)


def _reads(uow: UnitOfWork, units: Sequence[OrgUnit]) -> list[OrgUnitRead]:
    """OrgUnitRead for each unit, with child and staff counts in two grouped queries."""
    ids = [u.id for u in units]
    if not ids:
        return []
    session = uow.session
    child = aliased(OrgUnit)
    child_counts = dict(
        session.execute(
            select(child.parent_id, func.count())
            .where(child.parent_id.in_(ids), child.active)
            .group_by(child.parent_id)
        ).all()
    )
    staff_counts = dict(
        session.execute(
            select(Staff.org_unit_id, func.count())
            .where(Staff.org_unit_id.in_(ids), Staff.active)
            .group_by(Staff.org_unit_id)
        ).all()
    )
    return [
        OrgUnitRead(
            code=u.code,
            parent_code=u.parent.code if u.parent else None,
            kind=u.kind,
            name=u.name,
            name_en=u.name_en,
            depth=u.depth,
            active=u.active,
            child_count=child_counts.get(u.id, 0),
            staff_count=staff_counts.get(u.id, 0),
        )
        for u in units
    ]


def list_units(
    *,
    uow: UnitOfWork,
    root: str | None = None,
    max_depth: int | None = None,
    include_inactive: bool = False,
) -> list[OrgUnitRead]:
    """Units the actor may see, in tree order, optionally below ``root`` and to a depth.

    Depth counts from ``root``, or from the top of the actor's scope.
    """
    stmt = select(OrgUnit).where(visible(uow, OrgUnit.path)).order_by(OrgUnit.path)
    root = root or scope_root_code(uow)
    if root is not None:
        base = get_visible_unit(uow, root)
        stmt = stmt.where(OrgUnit.path.startswith(base.path, autoescape=True))
        if max_depth is not None:
            stmt = stmt.where(OrgUnit.depth <= base.depth + max_depth)
    elif max_depth is not None:
        stmt = stmt.where(OrgUnit.depth <= max_depth)
    if not include_inactive:
        stmt = stmt.where(OrgUnit.active)
    return _reads(uow, list(uow.session.scalars(stmt)))


def get_unit(*, uow: UnitOfWork, code: str) -> OrgUnitDetail:
    """One unit with its visible ancestors (root first) and active children."""
    unit = get_visible_unit(uow, code)
    ancestor_codes = [c for c in unit.path.strip("/").split("/") if c != code]
    session = uow.session
    ancestors = list(
        session.scalars(
            select(OrgUnit).where(OrgUnit.code.in_(ancestor_codes), visible(uow, OrgUnit.path))
        )
    )
    ancestors.sort(key=lambda a: a.depth)
    children = list(
        session.scalars(
            select(OrgUnit)
            .where(OrgUnit.parent_id == unit.id, OrgUnit.active)
            .order_by(OrgUnit.code)
        )
    )
    (me,) = _reads(uow, [unit])
    return OrgUnitDetail(
        **me.model_dump(), ancestors=_reads(uow, ancestors), children=_reads(uow, children)
    )


def list_staff(
    *, uow: UnitOfWork, code: str, include_descendants: bool = False, limit: int = 500
) -> list[StaffRead]:
    """Active staff of a unit (and, if asked, every unit below it)."""
    unit = get_visible_unit(uow, code)
    stmt = select(Staff, OrgUnit).join(OrgUnit, Staff.org_unit_id == OrgUnit.id).where(Staff.active)
    if include_descendants:
        stmt = stmt.where(OrgUnit.path.startswith(unit.path, autoescape=True))
    else:
        stmt = stmt.where(OrgUnit.id == unit.id)
    stmt = stmt.order_by(Staff.level, Staff.grade.desc(), Staff.code).limit(limit)
    return [
        StaffRead(
            code=s.code,
            name=s.name,
            org_code=o.code,
            org_name=o.name,
            level=s.level,
            grade=s.grade,
            position=s.position,
            hired_date=s.hired_date,
            active=s.active,
        )
        for s, o in uow.session.execute(stmt).all()
    ]
