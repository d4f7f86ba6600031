"""Compile a rule document into one Ibis expression of member ``subscriber_id``s.

The compiler walks the tree twice. The first walk collects what the
conditions need — usage aggregates per window, trend sums, recharge totals,
product and org-unit flags, the household, enterprise, value and churn
columns — and builds one wide table: ``subscribers`` left-joined with one
aggregate per window (every measure a window needs is computed in that same
pass), never one join per condition. The second walk turns the tree into a
boolean expression over that table's columns.

Values enter only as typed Ibis literals, so a quote, ``; DROP TABLE`` or an
emoji in a rule is data to compare, never SQL. Only ``con.table(...)`` is
used, so a ``ScopedWarehouse`` restricts the base transparently.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import reduce
from typing import Any

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from telmark.errors import WarehouseEmpty
from telmark.segments.fields import CHURN_TABLE, VALUE_TABLE, Op
from telmark.segments.rules import (
    AllGroup,
    AnyGroup,
    ChurnCondition,
    Comparison,
    ContractEndsCondition,
    EnterpriseCondition,
    FieldCondition,
    HasProductCondition,
    HouseholdCondition,
    InvalidRule,
    Node,
    NotGroup,
    OrgUnitCondition,
    RechargeCondition,
    RuleDocument,
    TenureCondition,
    TrendCondition,
    UsageCondition,
    ValueCondition,
)
from telmark.warehouse.contract import ColType

_IBIS_TYPES: dict[ColType, str] = {
    ColType.STRING: "string",
    ColType.INT: "int64",
    ColType.FLOAT: "float64",
    ColType.BOOL: "boolean",
    ColType.DATE: "date",
}

NOT_BUILT: dict[str, str] = {
    VALUE_TABLE: (
        "value conditions need the customer_value table, which has not been built: "
        "run `telmark analysis value refresh` first"
    ),
    CHURN_TABLE: (
        "churn conditions need the churn_scores table, which has not been built: "
        "run `telmark analysis churn score` first"
    ),
}


def month_index(value: ir.DateValue | ir.TimestampValue) -> ir.IntegerValue:
    """Months since year 0, so month differences are subtractions (as in analysis.value)."""
    return value.year().cast("int64") * 12 + value.month().cast("int64") - 1


def index_of(month: date) -> int:
    return month.year * 12 + month.month - 1


def data_date(as_of_month: date) -> date:
    """The last day of the as-of month: the day day-based conditions are judged on."""
    return as_of_month.replace(day=calendar.monthrange(as_of_month.year, as_of_month.month)[1])


def resolve_as_of(con: BaseBackend, as_of: date | None = None) -> date:
    """The as-of month (first day): ``as_of``'s month, else the latest usage month."""
    if as_of is not None:
        return as_of.replace(day=1)
    latest = con.table("usage_monthly").month.max().to_pyarrow().as_py()
    if not isinstance(latest, date):
        raise WarehouseEmpty("usage_monthly has no rows: load the warehouse before counting")
    return latest.replace(day=1)


def walk(node: Node, path: str = "root") -> Iterator[tuple[str, Node]]:
    """Every node of the tree with its path (``root.all[2].not``), parents first."""
    yield path, node
    if isinstance(node, AllGroup):
        for i, child in enumerate(node.all):
            yield from walk(child, f"{path}.all[{i}]")
    elif isinstance(node, AnyGroup):
        for i, child in enumerate(node.any):
            yield from walk(child, f"{path}.any[{i}]")
    elif isinstance(node, NotGroup):
        yield from walk(node.not_, f"{path}.not")


def _known(column: ir.StringColumn, wanted: set[str]) -> set[str]:
    literals = [ibis.literal(value, type="string") for value in sorted(wanted)]
    found = column.name("id").as_table().filter(column.isin(literals)).distinct()
    return {str(v) for v in found.to_pyarrow().column("id").to_pylist()}


def check_references(con: BaseBackend, root: Node) -> None:
    """Unknown org units and product ids fail with their node path (else they match nobody)."""
    orgs = [(p, o) for p, n in walk(root) if isinstance(n, OrgUnitCondition) for o in n.org_ids]
    products = [
        (p, n.product_id)
        for p, n in walk(root)
        if isinstance(n, HasProductCondition) and n.product_id is not None
    ]
    problems: list[dict[str, object]] = []
    if orgs:
        known = _known(con.table("org_closure").ancestor_id, {o for _, o in orgs})
        problems += [
            {"path": f"{p}.org_ids", "message": f"unknown org unit {o!r}"}
            for p, o in orgs
            if o not in known
        ]
    if products:
        known = _known(con.table("products").product_id, {pid for _, pid in products})
        problems += [
            {"path": f"{p}.product_id", "message": f"unknown product {pid!r}"}
            for p, pid in products
            if pid not in known
        ]
    if problems:
        first = problems[0]
        raise InvalidRule(
            f"invalid segment rule: {first['path']}: {first['message']}", details=problems
        )


def _product_key(c: HasProductCondition) -> tuple[str | None, str | None, str | None]:
    return (c.product_id, c.family, c.product_kind)


@dataclass
class _Needs:
    """What the conditions of one rule read, gathered by the first walk."""

    usage: dict[int, set[tuple[str, str]]] = field(default_factory=dict)  # months → (agg, measure)
    trends: dict[int, set[str]] = field(default_factory=dict)  # months → measures
    recharges: set[int] = field(default_factory=set)
    products: dict[tuple[str | None, str | None, str | None], str] = field(default_factory=dict)
    orgs: dict[tuple[str, ...], str] = field(default_factory=dict)
    household: bool = False
    enterprise: bool = False
    value: set[str] = field(default_factory=set)
    churn: set[str] = field(default_factory=set)

    def collect(self, node: Node) -> None:
        for _, n in walk(node):
            if isinstance(n, UsageCondition):
                self.usage.setdefault(n.months, set()).add((n.agg, n.measure))
            elif isinstance(n, TrendCondition):
                self.trends.setdefault(n.months, set()).add(n.measure)
            elif isinstance(n, RechargeCondition):
                self.recharges.add(n.months)
            elif isinstance(n, HasProductCondition):
                self.products.setdefault(_product_key(n), f"prod_{len(self.products)}")
            elif isinstance(n, OrgUnitCondition):
                self.orgs.setdefault(tuple(sorted(set(n.org_ids))), f"org_{len(self.orgs)}")
            elif isinstance(n, HouseholdCondition):
                self.household = True
            elif isinstance(n, EnterpriseCondition):
                self.enterprise = True
            elif isinstance(n, ValueCondition):
                self.value.add(n.field)
            elif isinstance(n, ChurnCondition):
                self.churn.add(n.field)


def usage_column(months: int, agg: str, measure: str) -> str:
    return f"u{months}_{agg}_{measure}"


def trend_column(months: int, measure: str) -> str:
    return f"t{months}_{measure}"


def recharge_column(months: int, stat: str) -> str:
    return f"r{months}_{stat}"


class _Compiler:
    def __init__(self, con: BaseBackend, as_of_month: date) -> None:
        self.con = con
        self.as_of = as_of_month
        self.day = data_date(as_of_month)
        self.needs = _Needs()

    # -- first walk: the wide table --------------------------------------------------------

    def _usage_window(self, months: int) -> ir.Table:
        """Every aggregate and trend sum the rule needs over one window, in one pass."""
        usage = self.con.table("usage_monthly")
        start = index_of(self.as_of) - months + 1
        first = date(start // 12, start % 12 + 1, 1)
        # Plain date bounds on ``month`` so the scan can skip row groups (and partitions).
        window = usage.filter(
            usage.month >= ibis.literal(first, type="date"),
            usage.month <= ibis.literal(self.as_of, type="date"),
        )
        x = (month_index(window.month) - start).cast("int64")
        metrics: dict[str, ir.Value] = {}
        count = window.count()
        for agg, measure in sorted(self.needs.usage.get(months, set())):
            y = window[measure].cast("int64")
            name = usage_column(months, agg, measure)
            if agg == "avg":
                metrics[name] = y.sum().cast("float64") / count.cast("float64")
            else:
                metrics[name] = getattr(y, agg)()
        for measure in sorted(self.needs.trends.get(months, set())):
            y = window[measure].cast("int64")
            # Integer sums keep the numerator exact, so a flat line has slope exactly 0.
            sx, sy, sxx, sxy = x.sum(), y.sum(), (x * x).sum(), (x * y).sum()
            numerator = count * sxy - sx * sy
            denominator = count * sxx - sx * sx
            metrics[trend_column(months, measure)] = ibis.ifelse(
                count >= 2, numerator.cast("float64") / denominator.cast("float64"), None
            )
        return window.group_by(**{f"k_w{months}": window.subscriber_id}).aggregate(**metrics)

    def _recharge_window(self, months: int) -> ir.Table:
        recharges = self.con.table("recharges")
        idx = month_index(recharges.recharged_at)
        window = recharges.filter(
            idx >= index_of(self.as_of) - months + 1, idx <= index_of(self.as_of)
        )
        return window.group_by(**{f"k_r{months}": window.subscriber_id}).aggregate(
            **{
                recharge_column(months, "count"): window.count(),
                recharge_column(months, "sum"): window.amount_fen.sum().cast("int64"),
            }
        )

    def _product_flags(self) -> ir.Table:
        """One pass over active subscriptions: a 0/1 column per has_product condition."""
        subs = self.con.table("subscriptions")
        products = self.con.table("products")
        day = ibis.literal(self.day, type="date")
        active = subs.filter(
            subs.start_date <= day, subs.end_date.isnull() | (subs.end_date >= day)
        )
        held = active.join(products, active.product_id == products.product_id).select(
            subscriber_id=active.subscriber_id,
            product_id=active.product_id,
            family=products.family,
            product_kind=products.kind,
        )
        flags: dict[str, ir.Value] = {}
        for (product_id, family, product_kind), name in self.needs.products.items():
            tests = [
                held[column] == ibis.literal(value, type="string")
                for column, value in (
                    ("product_id", product_id),
                    ("family", family),
                    ("product_kind", product_kind),
                )
                if value is not None
            ]
            flags[name] = ibis.ifelse(reduce(lambda a, b: a & b, tests), 1, 0).max()
        return held.group_by(k_prod=held.subscriber_id).aggregate(**flags)

    def _org_flags(self) -> ir.Table:
        """One pass over org_closure: per home unit, a 0/1 column per org_unit condition."""
        closure = self.con.table("org_closure")
        flags = {
            name: ibis.ifelse(
                closure.ancestor_id.isin([ibis.literal(o, type="string") for o in org_ids]), 1, 0
            ).max()
            for org_ids, name in self.needs.orgs.items()
        }
        return closure.group_by(k_org=closure.descendant_id).aggregate(**flags)

    def _derived(self, table: str, columns: set[str], prefix: str) -> ir.Table:
        if table not in self.con.list_tables():
            raise WarehouseEmpty(NOT_BUILT[table], details=[{"table": table}])
        t = self.con.table(table)
        return t.select(
            **{f"k_{prefix}": t.subscriber_id}, **{f"{prefix}_{c}": t[c] for c in sorted(columns)}
        )

    def wide(self, root: Node) -> ir.Table:
        self.needs.collect(root)
        needs = self.needs
        base = self.con.table("subscribers")
        wide = base
        keys: list[str] = []

        def attach(right: ir.Table, key: str, left_column: str = "subscriber_id") -> None:
            nonlocal wide
            wide = wide.left_join(right, wide[left_column] == right[key])
            keys.append(key)

        for months in sorted(set(needs.usage) | set(needs.trends)):
            attach(self._usage_window(months), f"k_w{months}")
        for months in sorted(needs.recharges):
            attach(self._recharge_window(months), f"k_r{months}")
        if needs.products:
            attach(self._product_flags(), "k_prod")
        if needs.orgs:
            attach(self._org_flags(), "k_org", "org_id")
        if needs.household:
            households = self.con.table("households")
            attach(
                households.select(
                    k_hh=households.household_id,
                    hh_bundle=households.bundle_id,
                    hh_broadband=households.has_broadband,
                    hh_iptv=households.has_iptv,
                ),
                "k_hh",
                "household_id",
            )
        if needs.enterprise:
            accounts = self.con.table("enterprise_accounts")
            attach(
                accounts.select(
                    k_ea=accounts.account_id, ea_tier=accounts.tier, ea_industry=accounts.industry
                ),
                "k_ea",
                "account_id",
            )
        if needs.value:
            attach(self._derived(VALUE_TABLE, needs.value, "cv"), "k_cv")
        if needs.churn:
            attach(self._derived(CHURN_TABLE, needs.churn, "cs"), "k_cs")
        # The join keys stay (they tell "has a row" from "no row"); nothing else is dropped.
        return wide

    # -- second walk: the predicate --------------------------------------------------------

    def predicate(self, node: Node, wide: ir.Table, *, negated: bool = False) -> ir.BooleanValue:
        """The tree as one boolean; a condition on a missing value counts as false.

        A filter already drops rows whose predicate is NULL, so outside any ``not``
        a NULL condition may stay NULL; leaving it bare lets the optimizer see the
        predicate rejects NULLs and turn the left joins into inner joins. Under a
        ``not`` the NULL must become false first, or NOT would keep it NULL (dropped)
        instead of true.
        """
        if isinstance(node, AllGroup):
            parts = (self.predicate(c, wide, negated=negated) for c in node.all)
            return reduce(lambda a, b: a & b, parts)
        if isinstance(node, AnyGroup):
            parts = (self.predicate(c, wide, negated=negated) for c in node.any)
            return reduce(lambda a, b: a | b, parts)
        if isinstance(node, NotGroup):
            return ~self.predicate(node.not_, wide, negated=True)
        condition = self._condition(node, wide)
        return condition.fill_null(False) if negated else condition

    def _condition(self, node: Node, wide: ir.Table) -> ir.BooleanValue:
        if isinstance(node, ValueCondition):
            return _compare(node, wide[f"cv_{node.field}"])
        if isinstance(node, ChurnCondition):
            return _compare(node, wide[f"cs_{node.field}"])
        if isinstance(node, FieldCondition):
            return _compare(node, wide[node.field])
        if isinstance(node, UsageCondition):
            return _compare(node, wide[usage_column(node.months, node.agg, node.measure)])
        if isinstance(node, TrendCondition):
            return _compare(node, wide[trend_column(node.months, node.measure)])
        if isinstance(node, RechargeCondition):
            column = wide[recharge_column(node.months, node.stat)].fill_null(0)
            return _compare(node, column)
        if isinstance(node, TenureCondition):
            return _compare(node, index_of(self.as_of) - month_index(wide.join_date))
        if isinstance(node, ContractEndsCondition):
            start = ibis.literal(self.day, type="date")
            end = ibis.literal(self.day + timedelta(days=node.days), type="date")
            return (wide.contract_end >= start) & (wide.contract_end <= end)
        if isinstance(node, HasProductCondition):
            return wide[self.needs.products[_product_key(node)]] == 1
        if isinstance(node, OrgUnitCondition):
            return wide[self.needs.orgs[tuple(sorted(set(node.org_ids)))]] == 1
        if isinstance(node, HouseholdCondition):
            return {
                "member": wide.k_hh.notnull(),
                "bundle": wide.hh_bundle.notnull(),
                "broadband": wide.hh_broadband,
                "iptv": wide.hh_iptv,
            }[node.has]
        if isinstance(node, EnterpriseCondition):
            tests: list[ir.BooleanValue] = [wide.k_ea.notnull()]
            if node.tiers:
                tests.append(wide.ea_tier.isin([_literal(t, ColType.STRING) for t in node.tiers]))
            if node.industries:
                tests.append(
                    wide.ea_industry.isin([_literal(i, ColType.STRING) for i in node.industries])
                )
            return reduce(lambda a, b: a & b, tests)
        raise TypeError(f"no compiler for {type(node).__name__}")  # pragma: no cover


def _literal(value: Any, col_type: ColType) -> ir.Scalar:
    if col_type is ColType.FLOAT and isinstance(value, int):
        return ibis.literal(value, type="int64")
    return ibis.literal(value, type=_IBIS_TYPES[col_type])


def _compare(node: Comparison, column: ir.Value) -> ir.BooleanValue:
    target = node.target()
    op, value = node.op, node.value
    col: Any = column
    if op is Op.IS_NULL:
        return col.isnull()
    if op is Op.NOT_NULL:
        return col.notnull()
    if op in (Op.IN, Op.NOT_IN):
        items = [_literal(v, target.type) for v in value]
        return col.isin(items) if op is Op.IN else col.notin(items)
    if op is Op.BETWEEN:
        low, high = (_literal(v, target.type) for v in value)
        return (col >= low) & (col <= high)
    lit = _literal(value, target.type)
    return {
        Op.EQ: lambda: col == lit,
        Op.NE: lambda: col != lit,
        Op.LT: lambda: col < lit,
        Op.LE: lambda: col <= lit,
        Op.GT: lambda: col > lit,
        Op.GE: lambda: col >= lit,
    }[op]()


def compile_rule(con: BaseBackend, rule: RuleDocument, *, as_of: date | None = None) -> ir.Table:
    """The members of ``rule`` as a one-column table of ``subscriber_id``."""
    check_references(con, rule.root)
    compiler = _Compiler(con, resolve_as_of(con, as_of))
    wide = compiler.wide(rule.root)
    return wide.filter(compiler.predicate(rule.root, wide)).select("subscriber_id")


def count(con: BaseBackend, rule: RuleDocument, *, as_of: date | None = None) -> int:
    """How many lines ``rule`` selects."""
    value = compile_rule(con, rule, as_of=as_of).count().to_pyarrow().as_py()
    return int(value)
