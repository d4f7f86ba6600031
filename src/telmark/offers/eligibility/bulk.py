"""The product rules of eligibility applied set-wise, for targeting runs over millions of lines.

The explainer (``domain.explain``) judges one line at a time; a targeting run
must judge every member of every snapshot. This module states the same rules —
payment type, already holds, upgrade, lock-in, one handset contract at a time
— as Ibis predicates over a table of lines, so they run in the warehouse
(DuckDB or Spark) and agree with the explainer (``tests/integration/
test_offer_eligibility_bulk.py`` compares the two line by line).

``ProductTerms`` is what one offer's terms and the catalog say, decided once in
Python (pure); ``line_facts`` adds to a table of lines the few facts those
rules read (plan fee and kind, lock-in, handset held); ``refuses`` is the
predicate of one offer over that table.

Left to redemption: the offers a subscriber holds (mutual exclusion, holding
the offer itself, a handset contract taken as an offer) live in the
operational database, not the warehouse; ``offers.service.redeem`` checks them
when the customer accepts, so a list may name a line that will be refused then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from telmark.catalog.domain import PaymentType, ProductKind
from telmark.offers.domain import ProductAction
from telmark.offers.eligibility.domain import PLAN_KINDS, OfferTerms, Product, main_product
from telmark.warehouse.connection import has_table


@dataclass(frozen=True, slots=True)
class Handset:
    """A handset contract's lock-in by version: (first start date governed, months)."""

    code: str
    lock_in: tuple[tuple[date, int], ...]


@dataclass(frozen=True, slots=True)
class Book:
    """The catalog as the set-wise rules read it: every product priced on one day, and the
    handset contracts' lock-in terms."""

    products: Mapping[str, Product]
    handsets: tuple[Handset, ...]


@dataclass(frozen=True, slots=True)
class ProductTerms:
    """One offer's product rules, as the set-wise predicate needs them.

    ``nobody``: a product is not on sale today (or products ask for both payment
    types), so no line may take it. ``payment``: the payment type every line must
    have (None: any). ``held_refuses``: products whose holding refuses the offer (a
    new or cross-sell offer has nothing to sell to their holders). ``target_fee``
    and ``target_bundle``: the plan the offer moves the line to (None: it moves
    no plan); ``upgrade``: the line's plan must be priced and cheaper than the
    target; ``lock_in``: a locked-in line may not move to a lower fee nor out of
    a bundle. ``handset``: the offer sells a handset contract.
    """

    nobody: bool
    payment: str | None
    held_refuses: tuple[str, ...]
    target_fee: int | None
    target_bundle: bool
    upgrade: bool
    lock_in: bool
    handset: bool


def product_terms(offer: OfferTerms, catalog: Mapping[str, Product]) -> ProductTerms:
    """The product rules of ``offer`` (its products looked up in ``catalog``, priced today)."""
    products = [catalog.get(code) for code in offer.product_codes]
    unavailable = any(p is None or not p.on_sale or p.monthly_fee_fen is None for p in products)
    required = {
        p.payment_type.value
        for p in products
        if p is not None and p.payment_type is not PaymentType.ANY
    }
    target = main_product(offer, catalog)
    if offer.action is ProductAction.UPGRADE and target is None:
        priced = [p for p in products if p is not None]
        target = max(priced, key=lambda p: p.monthly_fee_fen or 0) if priced else None
    if target is not None and target.monthly_fee_fen is None:
        target = None  # nothing priced to move to: ``unavailable`` already refuses it
    sells = offer.action in (ProductAction.NEW, ProductAction.CROSS_SELL)
    return ProductTerms(
        nobody=unavailable or len(required) > 1,
        payment=next(iter(required)) if len(required) == 1 else None,
        held_refuses=tuple(offer.product_codes) if sells else (),
        target_fee=None if target is None else target.monthly_fee_fen,
        target_bundle=target is not None and target.kind is ProductKind.BUNDLE,
        upgrade=offer.action is ProductAction.UPGRADE and target is not None,
        lock_in=(
            target is not None
            and offer.action is not ProductAction.WIN_BACK
            and target.kind in PLAN_KINDS
        ),
        handset=any(p is not None and p.kind is ProductKind.HANDSET_CONTRACT for p in products),
    )


def _plans(catalog: Mapping[str, Product]) -> ir.Table:
    rows = [
        {
            "_p_code": p.code,
            "plan_fee": p.monthly_fee_fen,
            "plan_bundle": p.kind is ProductKind.BUNDLE,
        }
        for p in catalog.values()
    ]
    schema = {"_p_code": "string", "plan_fee": "int64", "plan_bundle": "boolean"}
    return ibis.memtable(rows, schema=schema)


def _handset_terms(handsets: Sequence[Handset]) -> ir.Table:
    """Per handset contract and version: the start dates it governs and its lock-in months."""
    rows = []
    for handset in handsets:
        starts = [start for start, _ in handset.lock_in]
        for i, (start, months) in enumerate(handset.lock_in):
            rows.append(
                {
                    "_t_code": handset.code,
                    "_t_from": start,
                    "_t_until": starts[i + 1] if i + 1 < len(starts) else None,
                    "_t_months": months,
                }
            )
    schema = {"_t_code": "string", "_t_from": "date", "_t_until": "date", "_t_months": "int64"}
    return ibis.memtable(rows, schema=schema)


def holdings(con: BaseBackend, on: date) -> ir.Table | None:
    """(subscriber_id, product_id, start_date) of the subscriptions active on ``on``."""
    if not has_table(con, "subscriptions"):
        return None
    subs = con.table("subscriptions")
    day = ibis.literal(on, type="date")
    active = subs.filter(subs.start_date <= day, subs.end_date.isnull() | (subs.end_date >= day))
    return active.select(
        subscriber_id=active.subscriber_id.cast("int64"),
        product_id=active.product_id,
        start_date=active.start_date,
    )


def line_facts(
    table: ir.Table,
    *,
    held: ir.Table | None,
    book: Book,
    on: date,
) -> ir.Table:
    """``table`` (with ``subscriber_id``, ``plan_id``, ``contract_end``) plus ``plan_fee``,
    ``plan_bundle`` (the plan as the catalog prices it today; NULL if not in it),
    ``has_handset`` and ``locked`` (under contract or a handset contract's lock-in)."""
    plans = _plans(book.products)
    table = table.left_join(plans, table.plan_id == plans._p_code).drop("_p_code")
    day = ibis.literal(on, type="date")
    contract = table.contract_end.notnull() & (table.contract_end > day)
    codes = [h.code for h in book.handsets]
    if held is None or not codes:
        return table.mutate(has_handset=ibis.literal(False), locked=contract.fill_null(False))
    contracts = held.filter(held.product_id.isin(codes))
    terms = _handset_terms(book.handsets)
    governed = contracts.inner_join(
        terms,
        (contracts.product_id == terms._t_code)
        & (contracts.start_date >= terms._t_from)
        & (terms._t_until.isnull() | (contracts.start_date < terms._t_until)),
    )
    ends = governed.mutate(
        _end=(governed.start_date + governed._t_months.as_interval("M")).cast("date")
    )
    per_line = ends.group_by(_h_sub=ends.subscriber_id).aggregate(_h_end=ends._end.max())
    table = table.left_join(per_line, table.subscriber_id == per_line._h_sub).drop("_h_sub")
    handset_locked = table._h_end.notnull() & (table._h_end > day)
    return table.mutate(
        has_handset=table.subscriber_id.isin(contracts.subscriber_id),
        locked=(contract | handset_locked).fill_null(False),
    ).drop("_h_end")


def refuses(table: ir.Table, terms: ProductTerms, held: ir.Table | None) -> ir.BooleanValue:
    """True for the lines of ``table`` (with ``line_facts``) the offer's product rules refuse."""
    if terms.nobody:
        return ibis.literal(True)
    refused: ir.BooleanValue = ibis.literal(False)
    if terms.payment is not None:
        refused = refused | (table.payment_type != terms.payment)
    if terms.held_refuses:
        holds = table.plan_id.isin(list(terms.held_refuses))
        if held is not None:
            holders = held.filter(held.product_id.isin(list(terms.held_refuses)))
            holds = holds | table.subscriber_id.isin(holders.subscriber_id)
        refused = refused | holds
    if terms.upgrade and terms.target_fee is not None:
        refused = refused | table.plan_fee.isnull() | (table.plan_fee >= terms.target_fee)
    if terms.lock_in and terms.target_fee is not None:
        leaves_bundle = table.plan_bundle.fill_null(False) & ibis.literal(not terms.target_bundle)
        cheaper = table.plan_fee.notnull() & (table.plan_fee > terms.target_fee)
        refused = refused | (table.locked & (leaves_bundle | cheaper))
    if terms.handset:
        refused = refused | table.has_handset
    return refused.fill_null(True)
