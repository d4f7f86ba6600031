"""Tables derived from the contract tables after a load.

``org_closure`` flattens the organisation tree into (ancestor, descendant)
pairs, so "this org unit and everything below it" is a plain join on any
backend — the org-scope filter and every roll-up (outlet → city) use it
instead of recursive queries, which Spark and DuckDB express differently.
"""

from __future__ import annotations

import ibis
import pyarrow as pa
from ibis.backends import BaseBackend

from telmark.errors import InvalidInput

ORG_CLOSURE = "org_closure"

ORG_CLOSURE_SCHEMA = pa.schema(
    [
        ("ancestor_id", pa.string()),
        ("ancestor_kind", pa.string()),
        ("descendant_id", pa.string()),
        ("descendant_kind", pa.string()),
        ("depth", pa.int64()),
    ]
)


def closure_rows(units: list[tuple[str, str | None, str]]) -> pa.Table:
    """Every (ancestor, descendant) pair of the tree, including each unit with itself.

    ``units`` are (org_id, parent_id, kind). Raises InvalidInput on a cycle,
    which the importer's reference check cannot see on its own.
    """
    parent = {org_id: parent_id for org_id, parent_id, _ in units}
    kind = {org_id: k for org_id, _, k in units}
    columns: dict[str, list[object]] = {name: [] for name in ORG_CLOSURE_SCHEMA.names}
    for org_id in parent:
        node: str | None = org_id
        depth = 0
        seen: set[str] = set()
        while node is not None:
            if node in seen:
                raise InvalidInput(f"org_units: cycle in the tree through {org_id}")
            seen.add(node)
            columns["ancestor_id"].append(node)
            columns["ancestor_kind"].append(kind.get(node, "unknown"))
            columns["descendant_id"].append(org_id)
            columns["descendant_kind"].append(kind[org_id])
            columns["depth"].append(depth)
            node = parent.get(node)
            depth += 1
    return pa.table(columns, schema=ORG_CLOSURE_SCHEMA)


def refresh_org_closure(con: BaseBackend) -> None:
    """Rebuild ``org_closure`` from the warehouse's ``org_units`` (small: one row per pair)."""
    units = con.table("org_units").select("org_id", "parent_id", "kind").to_pyarrow()
    rows = list(
        zip(
            units.column("org_id").to_pylist(),
            units.column("parent_id").to_pylist(),
            units.column("kind").to_pylist(),
            strict=True,
        )
    )
    con.create_table(ORG_CLOSURE, closure_rows(rows), overwrite=True)


def descendants(con: BaseBackend, org_id: str) -> ibis.Table:
    """Ids of ``org_id`` and every unit below it, as a one-column table for semi-joins."""
    closure = con.table(ORG_CLOSURE)
    return closure.filter(closure.ancestor_id == org_id).select(org_id=closure.descendant_id)
