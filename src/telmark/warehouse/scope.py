"""Org scope for warehouse reads: one wrapper, so no query can forget the filter.

A user sees the rows of their own org unit and everything below it. Rather
than each analytical function taking a scope argument (and one day missing
it), the route hands those functions a ``ScopedWarehouse``: it answers
``table(name)`` with the table already restricted to the scope, and
everything else is delegated to the real backend. Analytical code stays
written once against "a warehouse" and cannot tell the difference.

Restriction is a semi-join with ``org_closure`` (units at or below the scope
unit), so it compiles to the same plan on DuckDB and Spark. Tables keyed by
subscriber are restricted through the scoped ``subscribers``.
"""

from __future__ import annotations

from typing import Any

import ibis.expr.types as ir
from ibis.backends import BaseBackend

from telmark.org.domain import is_root_path
from telmark.warehouse.contract import CONTRACT, TRUTH
from telmark.warehouse.derived import descendants

# Tables with a column naming the org unit a row belongs to.
ORG_SCOPED: dict[str, str] = {
    "org_units": "org_id",
    "staff": "org_id",
    "agents": "org_id",
    "households": "grid_id",
    "enterprise_accounts": "org_id",
    "subscribers": "org_id",
    "orders": "org_id",
    "complaints": "org_id",
    "kpi_cube": "org_id",  # derived: telmark.analysis.kpi (home unit of the lines)
}
# Tables whose rows belong to a subscriber (and so to the subscriber's home unit).
SUBSCRIBER_SCOPED: frozenset[str] = frozenset(
    {
        "subscriptions",
        "usage_monthly",
        "recharges",
        "contact_history",
        "truth_response",
        "churn_scores",  # derived: telmark.analysis.churn (one row per scored line)
        "customer_value",  # derived: telmark.analysis.value (RFM tier, CLV per line)
        "propensity_scores",  # optional: response propensity per line and case (targeting)
        "uplift_scores",  # derived: telmark.analysis.uplift (one row per line and model)
    }
)
# Province-wide reference data every user may read.
UNSCOPED: frozenset[str] = frozenset({"products", "org_closure"})

# Every warehouse table must be classified: a new table that is not fails a test.
ALL_WAREHOUSE_TABLES = (
    frozenset(CONTRACT)
    | frozenset(TRUTH)
    | {"org_closure", "kpi_cube", "churn_scores", "customer_value", "propensity_scores"}
    | {"uplift_scores"}
)


class ScopedWarehouse:
    """A warehouse backend whose tables hold only rows in ``org_code``'s subtree."""

    def __init__(self, con: BaseBackend, org_code: str) -> None:
        self._con = con
        self.org_code = org_code

    @property
    def backend(self) -> BaseBackend:
        return self._con

    def table(self, name: str, /, **kwargs: Any) -> ir.Table:
        """The table ``name``, restricted to the scope."""
        if name not in ALL_WAREHOUSE_TABLES:
            # Not a known table: refuse rather than hand out unfiltered rows.
            raise PermissionError(
                f"table {name!r} has no org-scope rule; add it to telmark.warehouse.scope"
            )
        base = self._con.table(name, **kwargs)
        if name in ORG_SCOPED:
            units = descendants(self._con, self.org_code)
            return base.semi_join(units, base[ORG_SCOPED[name]] == units.org_id)
        if name in SUBSCRIBER_SCOPED:
            subscribers = self.table("subscribers").select("subscriber_id")
            return base.semi_join(subscribers, "subscriber_id")
        return base

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def scoped(con: BaseBackend, *, org_code: str, org_path: str) -> BaseBackend:
    """``con`` itself for the province, otherwise a ``ScopedWarehouse`` of ``org_code``.

    Typed as a backend because analytical functions only call ``table`` and
    ``list_tables`` on it, which the wrapper provides.
    """
    if is_root_path(org_path):
        return con
    wrapper: Any = ScopedWarehouse(con, org_code)
    return wrapper
