"""Compile a rule document into one Ibis expression of member ``subscriber_id``s.

References to other saved segments are expanded first: each ``segment``
condition is replaced by the referenced rule's tree (fetched through a
resolver the caller supplies, so this module needs no database), so a rule
and everything it refers to is still one query whose windows are shared.

The compiler then walks the tree twice. The first walk collects what the
conditions need — usage aggregates per window, trend sums, recharge totals,
product, contact and org-unit flags, the household, enterprise, value and
churn columns — and builds one wide table: ``subscribers`` left-joined with one
aggregate per window (every measure a window needs computed in that same pass;
the usage windows all share one pass over the widest, the narrower ones by
FILTER), never one join per condition. When the rule's top-level conditions on
subscriber columns keep few lines, those lines are picked first and the passes
aggregate only theirs. The second walk turns the tree into a boolean
expression over that table's columns.

Values enter only as typed Ibis literals, so a quote, ``; DROP TABLE`` or an
emoji in a rule is data to compare, never SQL. Only ``con.table(...)`` is
used, so a ``ScopedWarehouse`` restricts the base transparently.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import reduce
from typing import Any

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend
from ibis.common.exceptions import TableNotFound

from telmark.errors import NotFound, WarehouseEmpty
from telmark.segments.fields import CHURN_TABLE, UPLIFT_TABLE, VALUE_TABLE, Op
from telmark.segments.rules import (
    MAX_REFERENCE_DEPTH,
    AllGroup,
    AnyGroup,
    ChurnCondition,
    Comparison,
    ContactedCondition,
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
    SegmentCondition,
    TenureCondition,
    TrendCondition,
    UpliftCondition,
    UsageCondition,
    ValueCondition,
)
from telmark.warehouse.contract import PROVINCE_TZ, ColType

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
    UPLIFT_TABLE: (
        "uplift conditions need the uplift_scores table, which has not been built: "
        "run `telmark analysis uplift score --model N` first"
    ),
}
CONTACTS = "contact_history"
NO_CONTACTS = (
    "contacted conditions need the contact_history table, which this warehouse lacks: "
    "load a province (`telmark data load`; it is created empty when the export has none) "
    "or import it with `telmark data import contact_history <file>`"
)

# (segment_id, version or None for the current one) -> that segment's rule.
Resolver = Callable[[int, int | None], RuleDocument]


@dataclass(frozen=True, slots=True)
class Inlined:
    """A ``segment`` condition after expansion: the referenced rule's tree in its place."""

    segment_id: int
    version: int | None
    root: Tree


Tree = Node | Inlined  # a rule tree after ``expand``: no SegmentCondition left


def _reference_error(path: str, message: str) -> InvalidRule:
    return InvalidRule(
        f"invalid segment rule: {path}: {message}", details=[{"path": path, "message": message}]
    )


@dataclass
class _Expansion:
    resolve: Resolver | None
    # Each reference is looked up once, however often the tree repeats it.
    cache: dict[tuple[int, int | None], RuleDocument] = field(default_factory=dict)

    def node(self, node: Tree, path: str, within: tuple[int, ...], depth: int) -> Tree:
        # The groups' field types know no Inlined; model_construct keeps children as given.
        children: list[Any]
        if isinstance(node, AllGroup):
            children = [
                self.node(c, f"{path}.all[{i}]", within, depth) for i, c in enumerate(node.all)
            ]
            return AllGroup.model_construct(all=children)
        if isinstance(node, AnyGroup):
            children = [
                self.node(c, f"{path}.any[{i}]", within, depth) for i, c in enumerate(node.any)
            ]
            return AnyGroup.model_construct(any=children)
        if isinstance(node, NotGroup):
            inner: Any = self.node(node.not_, f"{path}.not", within, depth)
            return NotGroup.model_construct(not_=inner)
        if isinstance(node, SegmentCondition):
            return self.reference(node, path, within, depth)
        return node

    def reference(
        self, node: SegmentCondition, path: str, within: tuple[int, ...], depth: int
    ) -> Inlined:
        target = node.segment_id
        if self.resolve is None:
            raise _reference_error(
                path,
                f"segment {target}: references to other segments are resolved only when a "
                "saved segment is counted, not for a rule on its own",
            )
        if target in within:
            cycle = (*within[within.index(target) :], target)
            chain = " → ".join(f"segment {s}" for s in cycle)
            raise _reference_error(
                path, f"{chain}: a segment may not refer to itself, directly or through others"
            )
        if depth >= MAX_REFERENCE_DEPTH:
            raise _reference_error(
                path, f"segment {target}: references nest more than {MAX_REFERENCE_DEPTH} deep"
            )
        key = (target, node.version)
        if key not in self.cache:
            try:
                self.cache[key] = self.resolve(target, node.version)
            except NotFound as error:
                raise _reference_error(f"{path}.segment_id", error.message) from None
            except InvalidRule as error:
                raise _reference_error(path, f"segment {target}: {error.message}") from None
        inner = self.node(
            self.cache[key].root, f"{path}→segment {target}.root", (*within, target), depth + 1
        )
        return Inlined(segment_id=target, version=node.version, root=inner)


def expand(root: Node, resolve: Resolver | None, *, segment_id: int | None = None) -> Tree:
    """``root`` with every ``segment`` condition replaced by the referenced rule, recursively.

    ``segment_id`` is the saved segment ``root`` belongs to, if any, so that a
    reference back to it is a cycle too. Errors (InvalidRule) name the path of
    the offending reference; inside a referenced rule the path goes on after
    ``→segment <id>``, e.g. ``root.all[1]→segment 12.root.any[0]``.
    """
    within = () if segment_id is None else (segment_id,)
    return _Expansion(resolve).node(root, "root", within, 0)


def month_index(value: ir.DateValue | ir.TimestampValue) -> ir.IntegerValue:
    """Months since year 0, so month differences are subtractions (as in analysis.value)."""
    return value.year().cast("int64") * 12 + value.month().cast("int64") - 1


def index_of(month: date) -> int:
    return month.year * 12 + month.month - 1


def _month_start(as_of_month: date, months: int) -> date:
    """The first day of a window of ``months`` months ending with the as-of month."""
    start = index_of(as_of_month) - months + 1
    return date(start // 12, start % 12 + 1, 1)


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


def walk(node: Tree, path: str = "root") -> Iterator[tuple[str, Tree]]:
    """Every node of the tree with its path (``root.all[2].not``), parents first.

    An inlined reference is walked into: ``root.all[1]→segment 12.root...``.
    """
    yield path, node
    if isinstance(node, Inlined):
        yield from walk(node.root, f"{path}→segment {node.segment_id}.root")
    elif isinstance(node, AllGroup):
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


def check_references(con: BaseBackend, root: Tree) -> None:
    """Unknown org units and product ids fail with their node path (else they match nobody)."""
    orgs = [(p, o) for p, n in walk(root) if isinstance(n, OrgUnitCondition) for o in n.org_ids]
    products = [
        (p, n.product_id)
        for p, n in walk(root)
        if isinstance(n, HasProductCondition) and n.product_id is not None
    ]
    models = [(p, n.model) for p, n in walk(root) if isinstance(n, UpliftCondition)]
    problems: list[dict[str, object]] = []
    if models:
        if UPLIFT_TABLE not in con.list_tables():
            raise WarehouseEmpty(NOT_BUILT[UPLIFT_TABLE], details=[{"table": UPLIFT_TABLE}])
        scores = con.table(UPLIFT_TABLE)
        wanted = [ibis.literal(m, type="int64") for _, m in models]
        found = scores.filter(scores.model_version.isin(wanted)).model_version.name("m")
        scored = {int(v) for v in found.as_table().distinct().to_pyarrow().column("m").to_pylist()}
        problems += [
            {
                "path": f"{p}.model",
                "message": f"uplift model {m} has no scores: run `telmark analysis uplift "
                f"score --model {m}` first",
            }
            for p, m in models
            if m not in scored
        ]
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


ContactKey = tuple[int, tuple[str, ...] | None, tuple[str, ...] | None, tuple[str, ...] | None]


def _contact_key(c: ContactedCondition) -> ContactKey:
    def norm(values: list[str] | None) -> tuple[str, ...] | None:
        return None if values is None else tuple(sorted(set(values)))

    return (c.days, norm(c.channels), norm(c.case_codes), norm(c.outcomes))


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
    uplift: set[int] = field(default_factory=set)  # model versions
    contacts: dict[ContactKey, str] = field(default_factory=dict)

    def collect(self, node: Tree) -> None:
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
            elif isinstance(n, UpliftCondition):
                self.uplift.add(n.model)
            elif isinstance(n, ContactedCondition):
                self.contacts.setdefault(_contact_key(n), f"ct_{len(self.contacts)}")


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

    def _usage_window(self, windows: list[int], candidates: ir.Table | None = None) -> ir.Table:
        """Every aggregate and trend sum the rule needs, over all its windows, in one pass.

        The windows all end with the as-of month, so each lies inside the widest: one
        scan of the widest computes the narrower ones with a FILTER on the month (a
        line with no row in a narrower window gets NULLs there, as a separate join
        would give). ``candidates`` (a ``subscriber_id`` table) limits the pass to
        those lines.
        """
        usage = self.con.table("usage_monthly")
        widest = max(windows)
        # Plain date bounds on ``month`` so the scan can skip row groups (and partitions).
        window = usage.filter(
            usage.month >= ibis.literal(_month_start(self.as_of, widest), type="date"),
            usage.month <= ibis.literal(self.as_of, type="date"),
        )
        if candidates is not None:
            # Probing a hash of the candidate lines is far cheaper than grouping every
            # usage row: grouping dominates the cost of a count (EXPLAIN ANALYZE).
            window = window.semi_join(candidates, "subscriber_id")
        metrics: dict[str, ir.Value] = {}
        for months in windows:
            inside = (
                None
                if months == widest
                else window.month >= ibis.literal(_month_start(self.as_of, months), type="date")
            )
            start = index_of(self.as_of) - months + 1
            x = (month_index(window.month) - start).cast("int64")
            count = window.count(where=inside)
            for agg, measure in sorted(self.needs.usage.get(months, set())):
                y = window[measure].cast("int64")
                name = usage_column(months, agg, measure)
                if agg == "avg":
                    metrics[name] = y.sum(where=inside).cast("float64") / count.cast("float64")
                else:
                    metrics[name] = getattr(y, agg)(where=inside)
            for measure in sorted(self.needs.trends.get(months, set())):
                y = window[measure].cast("int64")
                # Integer sums keep the numerator exact, so a flat line has slope exactly 0.
                sx, sy = x.sum(where=inside), y.sum(where=inside)
                sxx, sxy = (x * x).sum(where=inside), (x * y).sum(where=inside)
                numerator = count * sxy - sx * sy
                denominator = count * sxx - sx * sx
                metrics[trend_column(months, measure)] = ibis.ifelse(
                    count >= 2, numerator.cast("float64") / denominator.cast("float64"), None
                )
        return window.group_by(k_usage=window.subscriber_id).aggregate(**metrics)

    def _recharge_window(self, months: int, candidates: ir.Table | None = None) -> ir.Table:
        recharges = self.con.table("recharges")
        idx = month_index(recharges.recharged_at)
        window = recharges.filter(
            idx >= index_of(self.as_of) - months + 1, idx <= index_of(self.as_of)
        )
        if candidates is not None:  # as in _usage_window
            window = window.semi_join(candidates, "subscriber_id")
        return window.group_by(**{f"k_r{months}": window.subscriber_id}).aggregate(
            **{
                recharge_column(months, "count"): window.count(),
                recharge_column(months, "sum"): window.amount_fen.sum().cast("int64"),
            }
        )

    def _product_flags(self, candidates: ir.Table | None = None) -> ir.Table:
        """One pass over active subscriptions: a 0/1 column per has_product condition."""
        subs = self.con.table("subscriptions")
        products = self.con.table("products")
        day = ibis.literal(self.day, type="date")
        active = subs.filter(
            subs.start_date <= day, subs.end_date.isnull() | (subs.end_date >= day)
        )
        if candidates is not None:  # as in _usage_window
            active = active.semi_join(candidates, "subscriber_id")
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

    def _contact_flags(self, candidates: ir.Table | None = None) -> ir.Table:
        """One pass over the contacts of the longest window: a 0/1 column per condition."""
        if CONTACTS not in self.con.list_tables():
            raise WarehouseEmpty(NO_CONTACTS, details=[{"table": CONTACTS}])
        contacts = self.con.table(CONTACTS)
        longest = max(days for days, *_ in self.needs.contacts)
        # Plain instant bounds on ``contacted_at`` (province-local midnights), so the
        # scan can skip row groups; the days a condition counts are local days.
        window = contacts.filter(
            contacts.contacted_at >= _local_midnight(self.day - timedelta(days=longest - 1)),
            contacts.contacted_at < _local_midnight(self.day + timedelta(days=1)),
        )
        if candidates is not None:  # as in _usage_window
            window = window.semi_join(candidates, "subscriber_id")
        flags: dict[str, ir.Value] = {}
        for (days, channels, codes, outcomes), name in self.needs.contacts.items():
            tests: list[ir.BooleanValue] = []
            if days < longest:
                since = _local_midnight(self.day - timedelta(days=days - 1))
                tests.append(window.contacted_at >= since)
            for column, values in (
                ("channel", channels),
                ("case_code", codes),
                ("outcome", outcomes),
            ):
                if values is not None:
                    literals = [ibis.literal(v, type="string") for v in values]
                    tests.append(window[column].isin(literals))
            # No filter at all: every contact of the window counts.
            hit = reduce(lambda a, b: a & b, tests) if tests else window.subscriber_id.notnull()
            # A contact without a case code fails an IN test as NULL: the CASE maps it to 0.
            flags[name] = ibis.ifelse(hit, 1, 0).max()
        return window.group_by(k_ct=window.subscriber_id).aggregate(**flags)

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

    def _uplift_ranks(self, model: int) -> ir.Table:
        """Rank and scored-line count of every line model ``model`` scored (province-wide)."""
        if UPLIFT_TABLE not in self.con.list_tables():
            raise WarehouseEmpty(NOT_BUILT[UPLIFT_TABLE], details=[{"table": UPLIFT_TABLE}])
        t = self.con.table(UPLIFT_TABLE)
        mine = t.filter(t.model_version == ibis.literal(model, type="int64"))
        return mine.select(
            **{
                f"k_up{model}": mine.subscriber_id,
                f"up{model}_rank": mine.uplift_rank,
                f"up{model}_lines": mine.scored_lines,
            }
        )

    def wide(self, root: Tree, *, narrow: bool = True) -> ir.Table:
        """Every line with the columns the rule reads; ``narrow`` lets members-only filtering
        drop lines that fail a top-level subscriber condition (off to explain a failure)."""
        self.needs.collect(root)
        needs = self.needs
        subscribers = self.con.table("subscribers")
        # Every member meets the rule's top-level conditions on subscriber columns, so
        # when those keep few lines they filter the lines first and the usage (recharge,
        # product, contact) passes aggregate only the lines left.
        narrowing = [self._condition(n, subscribers) for n in _base_conjuncts(root)]
        passes = needs.usage or needs.trends or needs.recharges or needs.products or needs.contacts
        base = subscribers
        candidates: ir.Table | None = None
        if narrow and narrowing and passes and _narrows_enough(subscribers, narrowing):
            base = subscribers.filter(*narrowing)
            candidates = base.select("subscriber_id")
        wide = base
        keys: list[str] = []

        def attach(right: ir.Table, key: str, left_column: str = "subscriber_id") -> None:
            nonlocal wide
            wide = wide.left_join(right, wide[left_column] == right[key])
            keys.append(key)

        windows = sorted(set(needs.usage) | set(needs.trends))
        if windows:
            attach(self._usage_window(windows, candidates), "k_usage")
        for months in sorted(needs.recharges):
            attach(self._recharge_window(months, candidates), f"k_r{months}")
        if needs.products:
            attach(self._product_flags(candidates), "k_prod")
        if needs.contacts:
            attach(self._contact_flags(candidates), "k_ct")
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
        for model in sorted(needs.uplift):
            attach(self._uplift_ranks(model), f"k_up{model}")
        # The join keys stay (they tell "has a row" from "no row"); nothing else is dropped.
        return wide

    # -- second walk: the predicate --------------------------------------------------------

    def predicate(self, node: Tree, wide: ir.Table, *, negated: bool = False) -> ir.BooleanValue:
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
        if isinstance(node, Inlined):
            return self.predicate(node.root, wide, negated=negated)
        condition = self._condition(node, wide)
        return condition.fill_null(False) if negated else condition

    def measure(self, node: Tree, wide: ir.Table) -> ir.Value | None:
        """What a comparison condition compares (a line's ARPU, tenure, …); None otherwise."""
        if isinstance(node, ValueCondition):
            return wide[f"cv_{node.field}"]
        if isinstance(node, ChurnCondition):
            return wide[f"cs_{node.field}"]
        if isinstance(node, FieldCondition):
            return wide[node.field]
        if isinstance(node, UsageCondition):
            return wide[usage_column(node.months, node.agg, node.measure)]
        if isinstance(node, TrendCondition):
            return wide[trend_column(node.months, node.measure)]
        if isinstance(node, RechargeCondition):
            return wide[recharge_column(node.months, node.stat)].fill_null(0)
        if isinstance(node, TenureCondition):
            return index_of(self.as_of) - month_index(wide.join_date)
        return None

    def _condition(self, node: Node, wide: ir.Table) -> ir.BooleanValue:
        if isinstance(node, Comparison):
            column = self.measure(node, wide)
            assert column is not None  # every comparison kind has a measure above
            return _compare(node, column)
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
        if isinstance(node, ContactedCondition):
            return wide[self.needs.contacts[_contact_key(node)]] == 1
        if isinstance(node, UpliftCondition):
            # Integers on both sides: "rank r of n is in the top p%" is r·100 <= p·n, exactly.
            rank = wide[f"up{node.model}_rank"]
            lines = wide[f"up{node.model}_lines"]
            return rank * 100 <= lines * ibis.literal(node.top_pct, type="int64")
        # A SegmentCondition here was not expanded first: compile_rule always expands.
        raise TypeError(f"no compiler for {type(node).__name__}")  # pragma: no cover


def _local_midnight(day: date) -> ir.TimestampScalar:
    """The instant (UTC) a province-local day starts, as a typed literal."""
    start = datetime.combine(day, time(0), tzinfo=PROVINCE_TZ).astimezone(UTC)
    return ibis.literal(start, type="timestamp('UTC')")


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


# Conditions that read nothing but ``subscribers`` columns (exact types: value and churn
# conditions subclass FieldCondition but read other tables).
_SUBSCRIBER_ONLY: tuple[type, ...] = (FieldCondition, TenureCondition, ContractEndsCondition)


# Narrow the passes to the candidate lines only when at most this share of lines is
# left. Probing the candidates' hash costs a fraction of grouping a usage row while the
# hash fits the CPU caches, and about as much once it does not; the group-by is what
# narrowing saves. On the 10M-line benchmark province (CPU time of a count): a rule
# keeping 5% of the lines 3.8 s narrowed vs 12.9 s not; one keeping 67%, 12.8 s vs 9.0 s.
NARROW_AT_MOST = 1 / 3


def _narrows_enough(subscribers: ir.Table, narrowing: list[ir.BooleanValue]) -> bool:
    """Whether the subscriber conditions leave few enough lines to narrow the passes.

    Two cheap counts (a plain filter lets the scan skip and compare column-wise); the
    members are the same either way, only the plan differs.
    """
    lines = int(subscribers.count().to_pyarrow().as_py())
    kept = int(subscribers.filter(*narrowing).count().to_pyarrow().as_py())
    return lines > 0 and kept <= lines * NARROW_AT_MOST


def _base_conjuncts(node: Tree) -> list[Node]:
    """The subscriber-column conditions every member must meet (ANDed at the top of the rule).

    Only ``all`` groups are entered: under ``any`` or ``not`` a condition does not bound
    the members, so filtering the lines by it first would change the result.
    """
    if isinstance(node, AllGroup):
        return [c for child in node.all for c in _base_conjuncts(child)]
    if isinstance(node, Inlined):  # a referenced segment is itself a conjunct here
        return _base_conjuncts(node.root)
    return [node] if not isinstance(node, Inlined) and type(node) in _SUBSCRIBER_ONLY else []


def compile_rule(
    con: BaseBackend,
    rule: RuleDocument,
    *,
    as_of: date | None = None,
    resolve: Resolver | None = None,
) -> ir.Table:
    """The members of ``rule`` as a one-column table of ``subscriber_id``.

    ``resolve`` looks up the rules of the segments ``rule`` refers to; without
    it a ``segment`` condition is an InvalidRule naming its path.
    """
    root = expand(rule.root, resolve)
    try:
        check_references(con, root)
        compiler = _Compiler(con, resolve_as_of(con, as_of))
        wide = compiler.wide(root)
    except TableNotFound as error:
        # A warehouse loaded without a table some condition reads (e.g. no households):
        # the caller's mistake to explain, not a server error.
        raise WarehouseEmpty(
            f"this rule reads warehouse table {error}, which has not been loaded",
            details=[{"table": str(error)}],
        ) from None
    return wide.filter(compiler.predicate(root, wide)).select("subscriber_id")


@dataclass(frozen=True, slots=True)
class Parts:
    """A rule split into its top-level conditions, evaluated side by side.

    ``table`` has ``subscriber_id``, ``met_<i>`` (whether part ``i`` holds; a
    missing value is false, as in a filter) and, for a comparison, ``value_<i>``
    (what it compares). ``parts`` are the nodes as written (before references are
    expanded): the children of an ``all`` root, else the root alone. A line is a
    member exactly when every part is met.
    """

    table: ir.Table
    parts: list[Node]
    measured: frozenset[int]


def compile_parts(
    con: BaseBackend,
    rule: RuleDocument,
    *,
    as_of: date | None = None,
    resolve: Resolver | None = None,
) -> Parts:
    """Every line's outcome of each top-level condition of ``rule``, over one wide table.

    For explaining a rule to one line (give a ``con`` holding only that line): one
    query says which conditions failed and what the line's values were.
    """
    root = expand(rule.root, resolve)
    written: list[Node] = list(rule.root.all) if isinstance(rule.root, AllGroup) else [rule.root]
    expanded = list(root.all) if isinstance(root, AllGroup) else [root]
    try:
        check_references(con, root)
        compiler = _Compiler(con, resolve_as_of(con, as_of))
        # Not narrowed: a line failing a top-level condition must stay to say which.
        wide = compiler.wide(root, narrow=False)
    except TableNotFound as error:
        raise WarehouseEmpty(
            f"this rule reads warehouse table {error}, which has not been loaded",
            details=[{"table": str(error)}],
        ) from None
    columns: dict[str, ir.Value] = {"subscriber_id": wide.subscriber_id}
    measured: set[int] = set()
    for i, part in enumerate(expanded):
        columns[f"met_{i}"] = compiler.predicate(part, wide).fill_null(False)
        value = compiler.measure(part, wide)
        if value is not None:
            columns[f"value_{i}"] = value
            measured.add(i)
    return Parts(table=wide.select(**columns), parts=written, measured=frozenset(measured))


def count(
    con: BaseBackend,
    rule: RuleDocument,
    *,
    as_of: date | None = None,
    resolve: Resolver | None = None,
) -> int:
    """How many lines ``rule`` selects."""
    value = compile_rule(con, rule, as_of=as_of, resolve=resolve).count().to_pyarrow().as_py()
    return int(value)
