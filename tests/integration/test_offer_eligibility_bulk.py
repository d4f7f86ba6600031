"""The set-wise product rules (``offers.eligibility.bulk``) agree with the one-line explainer:
for every example offer and every line of a generated province, the same lines are refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from ibis.backends import BaseBackend
from sqlalchemy import select

from telmark.catalog import service as catalog_service
from telmark.catalog.seed import DEMO_TERMS
from telmark.offers import service as offer_service
from telmark.offers.eligibility import service
from telmark.offers.eligibility.bulk import holdings, line_facts, product_terms, refuses
from telmark.offers.eligibility.domain import ReasonCode
from telmark.offers.models import Offer, OfferVersion
from telmark.uow import UnitOfWork
from tests._factories.segments import load_warehouse, province_directory

DAY = date(2026, 9, 30)  # the generated province's data date
# The explainer's reasons that the bulk rules stand for (the rest are judged elsewhere in a
# run: line status and the eligibility rule by the pipeline; held offers by redemption).
PRODUCT_REASONS = {
    ReasonCode.PRODUCT_UNAVAILABLE,
    ReasonCode.PAYMENT_TYPE,
    ReasonCode.ALREADY_HOLDS,
    ReasonCode.NOT_UPGRADE,
    ReasonCode.LOCK_IN,
    ReasonCode.HANDSET_CONTRACT_HELD,
}
LINES = 250
EXPLAINED = 90  # lines explained one by one (the explainer takes ~60 ms a line)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaseBackend]:
    root = tmp_path_factory.mktemp("eligibility-bulk")
    con = load_warehouse(province_directory(root, subscribers=LINES, seed=31), root / "w.duckdb")
    yield con
    con.disconnect()


def test_bulk_product_rules_refuse_the_lines_the_explainer_refuses(
    uow: UnitOfWork, warehouse: BaseBackend
) -> None:
    catalog_service.sync_from_warehouse(uow=uow, con=warehouse, terms=DEMO_TERMS)
    assert offer_service.seed_examples(uow=uow, today=DAY) > 0
    book = service.book(uow=uow, on=DAY)
    held = holdings(warehouse, DAY)
    subs = warehouse.table("subscribers")
    lines = line_facts(
        subs.select(
            subscriber_id=subs.subscriber_id.cast("int64"),
            payment_type=subs.payment_type,
            plan_id=subs.plan_id,
            contract_end=subs.contract_end,
        ),
        held=held,
        book=book,
        on=DAY,
    )
    stmt = select(Offer, OfferVersion).join(
        OfferVersion,
        (OfferVersion.offer_id == Offer.id) & (OfferVersion.version == Offer.current_version),
    )
    offers = [(o, v) for o, v in uow.session.execute(stmt)]
    predicates = {}
    for offer, version in offers:
        terms = service.terms_of(offer, version)
        predicates[offer.code] = refuses(lines, product_terms(terms, book.products), held)
    table = lines.select("subscriber_id", **predicates).order_by("subscriber_id").to_pyarrow()
    bulk = {
        code: dict(zip(table["subscriber_id"].to_pylist(), table[code].to_pylist(), strict=True))
        for code in predicates
    }
    refused_somewhere = 0
    for sid in table["subscriber_id"].to_pylist()[:: LINES // EXPLAINED]:
        read = service.explain(uow=uow, con=warehouse, subscriber_id=sid, today=DAY)
        for judged in read.offers:
            explainer = any(r.code in PRODUCT_REASONS for r in judged.reasons)
            assert bulk[judged.code][sid] == explainer, (sid, judged.code, judged.reasons)
            refused_somewhere += explainer
    # The comparison means something: the product rules refuse some pairs and allow others.
    pairs = len(range(0, LINES, LINES // EXPLAINED)) * len(predicates)
    assert 0 < refused_somewhere < pairs
