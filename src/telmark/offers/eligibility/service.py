"""The eligibility explainer: every offer of the book judged for one subscriber, with reasons.

The line is looked up in the caller's scoped warehouse (by id or mobile number;
out of scope is NotFound, the same answer as a line that does not exist). Then
the warehouse is read only for that line: one query for its active
subscriptions, and one per offer that has an eligibility rule. Each rule is
compiled by the segments compiler (``compile_parts``) against a view of the
warehouse that holds just this line (``_OneLine``), so a rule over usage or
recharges aggregates a dozen rows, not the province — and its top-level
conditions come back side by side, saying which failed and what the line's
value was. The operational database gives the catalog products involved, the
offers with their current terms, their pools, and the offers the subscriber
holds, in a handful of queries whatever the size of the book.

The rules themselves are pure (``eligibility.domain``); this module only
gathers their inputs and shapes the answer.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from telmark.audit.service import record_read
from telmark.catalog.domain import PaymentType, ProductKind, ProductStatus, version_at
from telmark.catalog.models import Product as CatalogProduct
from telmark.customers.domain import SearchBy, parse_lookup
from telmark.errors import Conflict, DomainError, InvalidInput, NotFound, WarehouseEmpty
from telmark.offers.domain import OfferStatus, required_takes
from telmark.offers.eligibility import domain
from telmark.offers.eligibility.bulk import Book, Handset
from telmark.offers.eligibility.domain import (
    FailedCondition,
    HeldOffer,
    Holding,
    Line,
    LineStatus,
    OfferTerms,
    Product,
    Reason,
    ReasonCode,
    RuleOutcome,
)
from telmark.offers.eligibility.schemas import (
    EligibilityRead,
    HoldingRead,
    LineRead,
    OfferEligibilityRead,
    ReasonRead,
)
from telmark.offers.models import Offer, OfferPool, OfferVersion
from telmark.offers.service import held_offers, province_today, tools_of
from telmark.privacy.masking import PersonalKind, mask_msisdn
from telmark.privacy.service import disclose
from telmark.segments import service as segments_service
from telmark.segments.builder import node_tag
from telmark.segments.compile import compile_parts, resolve_as_of
from telmark.segments.labels import SegmentLabels, describe_rule
from telmark.segments.rules import Comparison, Node, RechargeCondition, parse_rule
from telmark.uow import UnitOfWork
from telmark.warehouse.scope import SUBSCRIBER_SCOPED, ScopedWarehouse

ENTITY = "subscribers"
PERSONAL = {"msisdn": PersonalKind.MSISDN}
LINE_COLUMNS = ("subscriber_id", "msisdn", "status", "payment_type", "plan_id", "contract_end")
NO_DATA = "the warehouse holds no subscribers yet: load a province first"


class _OneLine:
    """The warehouse as seen for one line: subscriber-keyed tables hold only its rows.

    Only built once the line has been found in the caller's scope, so its own rows
    may be read from the backend itself: through a ``ScopedWarehouse`` every table
    would first rebuild the scope's list of lines for a semi-join (see
    ``customers.service._of_subscriber``). Tables scoped by an org column of their
    own (households, accounts) keep the caller's scope.
    """

    def __init__(self, con: BaseBackend, subscriber_id: int) -> None:
        self._con = con
        self._base = con.backend if isinstance(con, ScopedWarehouse) else con
        self._id = ibis.literal(subscriber_id, type="int64")

    def table(self, name: str, /, **kwargs: Any) -> ir.Table:
        if name == "subscribers" or name in SUBSCRIBER_SCOPED:
            table = self._base.table(name, **kwargs)
            return table.filter(table.subscriber_id == self._id)
        return self._con.table(name, **kwargs)

    def rule_month(self) -> date:
        """The month eligibility rules are judged on, as segment counts: the latest billed."""
        if "usage_monthly" not in self._base.list_tables():
            raise WarehouseEmpty("the warehouse has no usage_monthly table to judge rules on")
        return resolve_as_of(self._base)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def _rows(expr: ir.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return rows


def _find_line(
    uow: UnitOfWork, con: BaseBackend, *, msisdn: str | None, subscriber_id: int | None
) -> dict[str, Any]:
    """The subscriber's row in ``con`` (the caller's scope); NotFound alike if absent or out."""
    lookup = parse_lookup(
        subscriber_id=None if subscriber_id is None else str(subscriber_id), msisdn=msisdn
    )
    if lookup is None:
        raise InvalidInput(
            "msisdn: give the subscriber's mobile number (or subscriber_id)",
            details=[{"field": "msisdn", "reason": "required"}],
        )
    if "subscribers" not in con.list_tables():
        raise WarehouseEmpty(NO_DATA, details=[{"table": "subscribers"}])
    subscribers = con.table("subscribers")
    if lookup.by is SearchBy.MSISDN:
        matched = subscribers.filter(subscribers.msisdn == ibis.literal(lookup.value))
    else:
        wanted = ibis.literal(lookup.subscriber_id, type="int64")
        matched = subscribers.filter(subscribers.subscriber_id == wanted)
    # A number given up and reissued belongs to its latest line.
    rows = _rows(
        matched.select(*LINE_COLUMNS, "join_date")
        .order_by([ibis.desc("join_date"), ibis.desc("subscriber_id")])
        .limit(1)
    )
    if lookup.by is SearchBy.MSISDN:
        # A lookup by number links it to a line: recorded whatever it finds (as customer 360).
        record_read(
            uow=uow,
            what="offer eligibility by mobile number",
            entity_type=ENTITY,
            entity_id=str(rows[0]["subscriber_id"]) if rows else None,
            details={"msisdn": mask_msisdn(lookup.value), "matches": len(rows)},
        )
        uow.commit()
    if not rows:
        field = lookup.by.value
        raise NotFound(
            f"no subscriber with this {field} in your scope",
            details=[{"field": field, "reason": "not found"}],
        )
    return rows[0]


def _holdings_rows(line_con: BaseBackend, today: date) -> list[dict[str, Any]]:
    if "subscriptions" not in line_con.list_tables():
        return []
    subs = line_con.table("subscriptions")
    day = ibis.literal(today, type="date")
    active = subs.filter(subs.start_date <= day, subs.end_date.isnull() | (subs.end_date >= day))
    return _rows(active.select("product_id", "start_date").order_by("start_date", "product_id"))


def _catalog(uow: UnitOfWork, codes: Iterable[str]) -> dict[str, CatalogProduct]:
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    found = uow.session.scalars(select(CatalogProduct).where(CatalogProduct.code.in_(wanted)))
    return {p.code: p for p in found}


def _product(row: CatalogProduct, today: date) -> Product:
    version = version_at(row.versions, today)
    return Product(
        code=row.code,
        kind=row.kind,
        payment_type=PaymentType(row.payment_type),
        on_sale=row.status is ProductStatus.ON_SALE,
        monthly_fee_fen=None if version is None else version.monthly_fee_fen,
    )


def terms_of(offer: Offer, version: OfferVersion, short_pools: tuple[str, ...] = ()) -> OfferTerms:
    """An offer's current terms as the rules read them."""
    return OfferTerms(
        code=offer.code,
        status=offer.status,
        action=version.action,
        product_codes=tuple(version.product_codes),
        valid_from=version.valid_from,
        valid_to=version.valid_to,
        excludes=frozenset(version.excludes),
        short_pools=short_pools,
    )


def book(*, uow: UnitOfWork, on: date) -> Book:
    """The catalog as the set-wise rules read it (``bulk``): every product priced on ``on``,
    and each handset contract's lock-in by version (the first also governs earlier starts)."""
    rows = list(
        uow.session.scalars(select(CatalogProduct).options(selectinload(CatalogProduct.versions)))
    )
    handsets = []
    for row in rows:
        if row.kind is not ProductKind.HANDSET_CONTRACT or not row.versions:
            continue
        ordered = sorted(row.versions, key=lambda v: v.valid_from)
        handsets.append(
            Handset(
                code=row.code,
                lock_in=tuple(
                    (date.min if i == 0 else v.valid_from, v.lock_in_months or 0)
                    for i, v in enumerate(ordered)
                ),
            )
        )
    return Book(products={row.code: _product(row, on) for row in rows}, handsets=tuple(handsets))


def _lock_in_months(row: CatalogProduct, start: date) -> int | None:
    """The lock-in of the terms in force when the contract started (else its first terms)."""
    version = version_at(row.versions, start) or (row.versions[0] if row.versions else None)
    return None if version is None else version.lock_in_months


def _short_pools(
    uow: UnitOfWork, offers: Sequence[tuple[Offer, OfferVersion]]
) -> dict[int, list[str]]:
    """Per active offer: the required pools that cannot cover one more taker."""
    active = [(o, v) for o, v in offers if o.status is OfferStatus.ACTIVE]
    if not active:
        return {}
    pools: dict[int, dict[str, int]] = {}
    rows = uow.session.scalars(
        select(OfferPool).where(OfferPool.offer_id.in_([o.id for o, _ in active]))
    )
    for pool in rows:
        pools.setdefault(pool.offer_id, {})[pool.key] = pool.remaining
    short: dict[int, list[str]] = {}
    for offer, version in active:
        remaining = pools.get(offer.id, {})
        for key, quantity in sorted(required_takes(tools_of(version)).items()):
            if remaining.get(key, 0) < quantity:
                short.setdefault(offer.id, []).append(key)
    return short


# --- the eligibility rule ----------------------------------------------------------------------


def describe(node: dict[str, Any], labels: SegmentLabels) -> str:
    """A rule node in words (a group as its heading and its parts)."""
    if node_tag(node) in ("all", "any", "not"):
        tree = describe_rule(node, labels)

        def flat(item: dict[str, Any]) -> str:
            if not item["children"]:
                return str(item["text"])
            return f"{item['text']}: " + "; ".join(flat(c) for c in item["children"])

        return flat(tree)
    return labels.condition_text(node)


def _is_money(node: Node) -> bool:
    if isinstance(node, RechargeCondition):
        return node.stat == "sum"
    name = str(getattr(node, "field", "") or getattr(node, "measure", ""))
    return name.endswith("_fen")


def actual_text(node: Node, value: object) -> str:
    """The line's value of a compared measure as shown beside the condition."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float) and _is_money(node):
        fen = int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        return f"{fen:,} ({domain.yuan(fen)})"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _node_json(node: Node) -> dict[str, Any]:
    found: dict[str, Any] = node.model_dump(mode="json", by_alias=True, exclude_none=True)
    return found


def rule_outcome(
    uow: UnitOfWork, line_con: BaseBackend, rule: Mapping[str, Any], as_of: date
) -> RuleOutcome:
    """The offer's eligibility rule for the one line ``line_con`` holds, with what failed."""
    try:
        parts = compile_parts(
            line_con,
            parse_rule(dict(rule)),
            as_of=as_of,
            resolve=segments_service.resolver(uow),
        )
        rows = _rows(parts.table)
    except DomainError as error:  # a rule naming a missing table, segment or product
        return RuleOutcome(met=False, error=error.message)
    if not rows:  # cannot happen for a line just found, unless the warehouse changed meanwhile
        return RuleOutcome(met=False)
    row = rows[0]
    english = SegmentLabels("en")
    failed = []
    for i, part in enumerate(parts.parts):
        if row[f"met_{i}"]:
            continue
        node = _node_json(part)
        measured = i in parts.measured and isinstance(part, Comparison)
        failed.append(
            FailedCondition(
                node=node,
                described=describe(node, english),
                actual=actual_text(part, row[f"value_{i}"]) if measured else None,
            )
        )
    return RuleOutcome(met=not failed, failed=tuple(failed))


# --- the explainer -----------------------------------------------------------------------------


def _reason_read(reason: Reason) -> ReasonRead:
    return ReasonRead(
        code=reason.code,
        message=reason.text,
        template=reason.message,
        params=dict(reason.params),
        condition=reason.condition,
    )


def explain(
    *,
    uow: UnitOfWork,
    con: BaseBackend,
    msisdn: str | None = None,
    subscriber_id: int | None = None,
    include_all: bool = False,
    unmask: bool = False,
    today: date | None = None,
    codes: Collection[str] | None = None,
) -> EligibilityRead:
    """Which offers one subscriber (in ``con``'s scope) may take on ``today``, and why not.

    Active offers only unless ``include_all`` (drafts and retired ones are then
    listed with why they are out); ``codes`` limits the judgement to those offers.
    The mobile number is masked unless ``unmask`` (then the read is audited).
    """
    day = today or province_today()
    row = _find_line(uow, con, msisdn=msisdn, subscriber_id=subscriber_id)
    sid = int(row["subscriber_id"])
    one_line = _OneLine(con, sid)
    # Typed as a backend, as ``scope.scoped`` does: the compiler calls table/list_tables only.
    line_con: Any = one_line
    held_rows = _holdings_rows(line_con, day)

    stmt = select(Offer, OfferVersion).join(
        OfferVersion,
        (OfferVersion.offer_id == Offer.id) & (OfferVersion.version == Offer.current_version),
    )
    if not include_all:
        stmt = stmt.where(Offer.status == OfferStatus.ACTIVE)
    if codes is not None:
        stmt = stmt.where(Offer.code.in_(sorted(codes)))
    offers = [(o, v) for o, v in uow.session.execute(stmt.order_by(Offer.code))]
    taken = held_offers(uow=uow, subscriber_id=sid)

    catalog_rows = _catalog(
        uow,
        [
            str(row["plan_id"]),
            *(str(h["product_id"]) for h in held_rows),
            *(c for _, v in offers for c in v.product_codes),
            *(c for _, v in taken for c in v.product_codes),
        ],
    )
    catalog = {code: _product(p, day) for code, p in catalog_rows.items()}
    holdings = tuple(
        Holding(
            product=catalog[code],
            start_date=h["start_date"],
            lock_in_months=_lock_in_months(catalog_rows[code], h["start_date"]),
        )
        for h in held_rows
        if (code := str(h["product_id"])) in catalog
    )
    line = Line(
        subscriber_id=sid,
        status=LineStatus(row["status"]),
        payment_type=str(row["payment_type"]),
        plan_code=str(row["plan_id"]),
        plan=catalog.get(str(row["plan_id"])),
        contract_end=row["contract_end"],
        holdings=holdings,
        held_offers=tuple(
            HeldOffer(
                code=code,
                excludes=frozenset(v.excludes),
                handset=any(
                    (p := catalog.get(c)) is not None and p.kind is ProductKind.HANDSET_CONTRACT
                    for c in v.product_codes
                ),
            )
            for code, v in taken
        ),
    )

    short = _short_pools(uow, offers)
    as_of: date | None = None
    judged: list[tuple[str, list[Reason]]] = []
    for offer, version in offers:
        outcome = None
        if version.eligibility is not None:
            try:
                as_of = as_of or one_line.rule_month()
            except DomainError as error:
                outcome = RuleOutcome(met=False, error=error.message)
            else:
                outcome = rule_outcome(uow, line_con, version.eligibility, as_of)
        terms = terms_of(offer, version, short_pools=tuple(short.get(offer.id, [])))
        judged.append((offer.code, domain.explain(terms, line, catalog, today=day, rule=outcome)))

    by_code = {o.code: (o, v) for o, v in offers}
    results = []
    for code, reasons in domain.rank(judged):
        offer, version = by_code[code]
        results.append(
            OfferEligibilityRead(
                code=code,
                name=version.name,
                status=offer.status,
                action=version.action,
                product_codes=list(version.product_codes),
                valid_from=version.valid_from,
                valid_to=version.valid_to,
                eligible=not reasons,
                reasons=[_reason_read(r) for r in reasons],
            )
        )
    [shown] = disclose(
        uow=uow,
        records=[{"msisdn": row["msisdn"]}],
        fields=PERSONAL,
        unmask=unmask,
        what="offer eligibility",
        entity_type=ENTITY,
        entity_ids=[str(sid)],
    )
    plan = line.plan
    return EligibilityRead(
        on=day,
        rule_as_of=as_of,
        line=LineRead(
            subscriber_id=sid,
            msisdn=str(shown["msisdn"]),
            masked=not unmask,
            status=line.status.value,
            payment_type=line.payment_type,
            plan_code=line.plan_code,
            plan_kind=None if plan is None else plan.kind.value,
            plan_fee_fen=None if plan is None else plan.monthly_fee_fen,
            contract_end=line.contract_end,
            lock_in_until=domain.lock_in_until(line, day),
            holdings=[
                HoldingRead(
                    product_code=str(h["product_id"]),
                    kind=catalog[str(h["product_id"])].kind.value
                    if str(h["product_id"]) in catalog
                    else None,
                    start_date=h["start_date"],
                    lock_in_until=_holding_lock_in(holdings, str(h["product_id"]), h["start_date"]),
                )
                for h in held_rows
            ],
            held_offers=[code for code, _ in taken],
        ),
        offers=results,
    )


# What redemption checks itself, with its own (locked, authoritative) answer: the offer's
# status and validity, its pools (taken by conditional UPDATE) and the offers held.
_REDEEM_OWN_CHECKS = frozenset(
    {
        ReasonCode.NOT_ON_SALE,
        ReasonCode.OUTSIDE_VALIDITY,
        ReasonCode.OUT_OF_STOCK,
        ReasonCode.HOLDS_OFFER,
        ReasonCode.EXCLUDED_BY_OFFER,
    }
)


def require_eligible(
    *, uow: UnitOfWork, con: BaseBackend, code: str, subscriber_id: int, today: date
) -> None:
    """Refuse a redemption the explainer would refuse (Conflict listing every reason).

    The explainer and redemption apply one set of rules, so an agent never
    redeems what the explainer showed as excluded, nor the other way round.
    """
    judged = explain(
        uow=uow, con=con, subscriber_id=subscriber_id, include_all=True, today=today,
        codes=[code],
    )  # fmt: skip
    reasons = [r for o in judged.offers for r in o.reasons if r.code not in _REDEEM_OWN_CHECKS]
    if reasons:
        said = "; ".join(r.message for r in reasons)
        raise Conflict(
            f"subscriber {subscriber_id} may not take offer {code}: {said}",
            details=[
                {"field": "offer", "reason": r.code.value, "text": r.message} for r in reasons
            ],
        )


def _holding_lock_in(holdings: Sequence[Holding], code: str, start: date) -> date | None:
    for h in holdings:
        if h.product.code == code and h.start_date == start and h.lock_in_months:
            return domain.add_months(start, h.lock_in_months)
    return None


__all__ = ["explain", "rule_outcome"]
