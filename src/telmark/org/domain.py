"""Pure rules of the organisation tree: which unit may sit under which, paths, grades.

The tree is stored with a materialised path (``/P00/C01/C01D02/``) so that
"this unit and everything below it" is one indexed prefix match on SQLite and
PostgreSQL alike; the org-scope filter of every later feature relies on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from telmark.errors import InvalidInput


class OrgKind(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    DISTRICT = "district"
    OUTLET = "outlet"
    GRID = "grid"
    KEY_ACCOUNT_CENTRE = "key_account_centre"


# Which kinds a unit of each kind may hang under. Key-account centres exist at
# province and city level (seed: "key-account centres at each level").
ALLOWED_PARENTS: Mapping[OrgKind, frozenset[OrgKind]] = {
    OrgKind.PROVINCE: frozenset(),
    OrgKind.CITY: frozenset({OrgKind.PROVINCE}),
    OrgKind.DISTRICT: frozenset({OrgKind.CITY}),
    OrgKind.OUTLET: frozenset({OrgKind.DISTRICT}),
    OrgKind.GRID: frozenset({OrgKind.DISTRICT, OrgKind.OUTLET}),
    OrgKind.KEY_ACCOUNT_CENTRE: frozenset({OrgKind.PROVINCE, OrgKind.CITY}),
}

STAFF_LEVELS = range(1, 4)  # 1 province, 2 city/district, 3 front line
STAFF_GRADES = range(1, 11)


@dataclass(frozen=True, slots=True)
class UnitSpec:
    """One org unit as given by an import or the warehouse, before it is stored."""

    code: str
    parent_code: str | None
    kind: OrgKind
    name: str
    name_en: str | None = None


def path_of(parent_path: str | None, code: str) -> str:
    """Materialised path of a unit: its parent's path plus its own code."""
    return f"{parent_path or '/'}{code}/"


def is_within(path: str, scope_path: str) -> bool:
    """True if the unit at ``path`` is the scope unit or below it."""
    return path.startswith(scope_path)


def is_root_path(path: str) -> bool:
    """True for the province (a path with one code: ``/P32/``), whose scope is everything."""
    return path.strip("/").count("/") == 0


def check_parent(kind: OrgKind, parent_kind: OrgKind | None, *, code: str) -> None:
    """Raise InvalidInput if a unit of ``kind`` may not hang under ``parent_kind``."""
    allowed = ALLOWED_PARENTS[kind]
    if parent_kind is None:
        if allowed:
            raise InvalidInput(f"org unit {code}: a {kind} needs a parent")
        return
    if parent_kind not in allowed:
        raise InvalidInput(
            f"org unit {code}: a {kind} cannot be placed under a {parent_kind}",
            details=[{"code": code, "kind": kind, "parent_kind": parent_kind}],
        )


def order_tree(units: Iterable[UnitSpec]) -> list[UnitSpec]:
    """Units ordered parents-first, after checking the whole tree.

    Checks: codes unique, exactly one root (the province), every parent
    present, parent kinds allowed, no cycles. All problems are collected so an
    import is rejected with the full list, not just the first.
    """
    by_code: dict[str, UnitSpec] = {}
    problems: list[dict[str, object]] = []
    for unit in units:
        if unit.code in by_code:
            problems.append({"code": unit.code, "reason": "duplicate org code"})
        by_code[unit.code] = unit
    roots = [u for u in by_code.values() if u.parent_code is None]
    if len(roots) != 1:
        problems.append(
            {
                "code": ",".join(u.code for u in roots) or "-",
                "reason": f"expected exactly one root unit, found {len(roots)}",
            }
        )
    for unit in by_code.values():
        if unit.parent_code is None:
            if unit.kind is not OrgKind.PROVINCE:
                problems.append({"code": unit.code, "reason": f"a {unit.kind} needs a parent"})
            continue
        parent = by_code.get(unit.parent_code)
        if parent is None:
            problems.append({"code": unit.code, "reason": f"unknown parent {unit.parent_code}"})
            continue
        if parent.kind not in ALLOWED_PARENTS[unit.kind]:
            problems.append(
                {
                    "code": unit.code,
                    "reason": f"a {unit.kind} cannot be placed under a {parent.kind}",
                }
            )
    if problems:
        raise InvalidInput(f"org tree rejected: {len(problems)} problem(s)", details=problems)

    children: dict[str | None, list[UnitSpec]] = {}
    for unit in by_code.values():
        children.setdefault(unit.parent_code, []).append(unit)
    ordered: list[UnitSpec] = []
    stack = sorted(children.get(None, []), key=lambda u: u.code, reverse=True)
    while stack:
        unit = stack.pop()
        ordered.append(unit)
        stack.extend(sorted(children.get(unit.code, []), key=lambda u: u.code, reverse=True))
    if len(ordered) != len(by_code):
        unreachable = sorted(set(by_code) - {u.code for u in ordered})
        raise InvalidInput(
            "org tree rejected: units in a cycle, unreachable from the root",
            details=[{"code": code, "reason": "in a cycle"} for code in unreachable],
        )
    return ordered


def check_staff_grade(*, code: str, level: int, grade: int) -> None:
    if level not in STAFF_LEVELS:
        raise InvalidInput(f"staff {code}: level must be 1–3, got {level}")
    if grade not in STAFF_GRADES:
        raise InvalidInput(f"staff {code}: grade must be 1–10, got {grade}")
