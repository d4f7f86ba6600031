"""Offer use cases on SQLite and PostgreSQL: the book, pools, redemption ledger, draws."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ibis
import pyarrow as pa
import pytest
from ibis.backends import BaseBackend
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.errors import Conflict, Forbidden, InvalidInput, InvalidTransition, NotFound
from telmark.offers import service
from telmark.offers.domain import EntryKind, OfferStatus, RedemptionStatus
from telmark.offers.models import Draw, Offer, OfferPool, PoolEntry, Redemption
from telmark.offers.schemas import parse_offer
from telmark.offers.tools import NO_PRIZE
from telmark.org.domain import OrgKind
from telmark.org.models import OrgUnit
from telmark.uow import UnitOfWork
from tests._factories.offers import (
    TODAY,
    add_products,
    gift,
    lottery,
    offer_doc,
    red_packet,
    subscriber_table,
    subscribers_warehouse,
)


@pytest.fixture
def con() -> Iterator[BaseBackend]:
    backend = subscribers_warehouse([(i, "C01" if i < 50 else "C02") for i in range(1, 101)])
    yield backend
    backend.disconnect()


@pytest.fixture
def book(uow: UnitOfWork) -> UnitOfWork:
    add_products(uow.session)
    uow.commit()
    return uow


def _create(uow: UnitOfWork, doc: dict[str, Any], *, activate: bool = True) -> None:
    service.create_offer(uow=uow, spec=parse_offer(doc))
    if activate:
        service.activate_offer(uow=uow, code=doc["code"], today=TODAY)


def _redeem(uow: UnitOfWork, con: BaseBackend, code: str, sub: int, key: str) -> Any:
    return service.redeem(
        uow=uow, con=con, code=code, subscriber_id=sub, idempotency_key=key, today=TODAY
    )


def test_create_validates_references_and_names_fields(book: UnitOfWork) -> None:
    uow = book
    with pytest.raises(InvalidInput) as caught:
        service.create_offer(uow=uow, spec=parse_offer(offer_doc("A", product_codes=["NOPE"])))
    assert caught.value.details[0]["field"] == "product_codes[0]"
    bundle = {"tool": "bundle", "components": ["PL5G099", "XX1"], "discount_fen_per_month": 1,
              "months": 1}  # fmt: skip
    with pytest.raises(InvalidInput, match=r"tools\[0\].components\[1\]: no product XX1"):
        service.create_offer(uow=uow, spec=parse_offer(offer_doc("A", bundle)))
    with pytest.raises(InvalidInput, match=r"excludes\[0\]: no offer GHOST"):
        service.create_offer(uow=uow, spec=parse_offer(offer_doc("A", excludes=["GHOST"])))
    bad_rule = {"version": 1, "root": {"kind": "field", "field": "shoe_size", "op": "=",
                                       "value": 1}}  # fmt: skip
    with pytest.raises(InvalidInput, match=r"^eligibility\.root\.field"):
        service.create_offer(uow=uow, spec=parse_offer(offer_doc("A", eligibility=bad_rule)))
    assert uow.session.scalar(select(func.count()).select_from(Offer)) == 0

    rule = {"version": 1, "root": {"kind": "field", "field": "payment_type", "op": "=",
                                   "value": "postpaid"}}  # fmt: skip
    read = service.create_offer(uow=uow, spec=parse_offer(offer_doc("A", eligibility=rule)))
    assert read.status is OfferStatus.DRAFT
    assert read.eligibility == rule
    assert read.economics.incentive_cost_fen == 2_000
    with pytest.raises(Conflict, match="already exists"):
        service.create_offer(uow=uow, spec=parse_offer(offer_doc("A")))


def test_versions_lifecycle_and_province_only(book: UnitOfWork) -> None:
    uow = book
    _create(uow, offer_doc("A"), activate=False)
    updated = service.update_offer(
        uow=uow, code="A", spec=parse_offer(offer_doc("A", gift(20), name="改名"))
    )
    assert (updated.version, updated.name) == (2, "改名")
    versions = service.list_versions(uow=uow, code="A")
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].tools[0]["stock"] == 10  # version 1 kept as it was
    assert versions[1].tools[0]["stock"] == 20

    active = service.activate_offer(uow=uow, code="A", today=TODAY)
    assert active.status is OfferStatus.ACTIVE
    pools = service.list_pools(uow=uow, code="A")
    assert [(p.key, p.total, p.remaining) for p in pools] == [("gift", 20, 20)]
    with pytest.raises(InvalidTransition, match="only a draft is edited"):
        service.update_offer(uow=uow, code="A", spec=parse_offer(offer_doc("A")))
    with pytest.raises(InvalidTransition):
        service.activate_offer(uow=uow, code="A", today=TODAY)
    assert service.retire_offer(uow=uow, code="A").status is OfferStatus.RETIRED
    with pytest.raises(NotFound):
        service.get_offer(uow=uow, code="B")

    uow.actor = Actor(username="city", scope_path="/P/C01/")
    with pytest.raises(Forbidden, match="province-wide"):
        service.create_offer(uow=uow, spec=parse_offer(offer_doc("C")))
    assert [o.code for o in service.list_offers(uow=uow)] == ["A"]


def test_expired_offer_cannot_go_on_sale(book: UnitOfWork) -> None:
    _create(book, offer_doc("OLD", valid_from="2020-01-01", valid_to="2020-12-31"), activate=False)
    with pytest.raises(InvalidTransition, match="expired"):
        service.activate_offer(uow=book, code="OLD", today=TODAY)


def test_redeem_reserves_consumes_and_releases(book: UnitOfWork, con: BaseBackend) -> None:
    uow = book
    _create(uow, offer_doc("G", gift(2), red_packet(500, 1_000)))
    first = _redeem(uow, con, "G", 1, "k1")
    assert first.created
    assert first.status is RedemptionStatus.RESERVED
    assert first.org_id == "C01"
    assert sorted((e.pool_key, e.kind, e.quantity) for e in first.entries) == [
        ("gift", EntryKind.RESERVE, 1),
        ("red_packet", EntryKind.RESERVE, 500),
    ]
    again = _redeem(uow, con, "G", 1, "k1")
    assert (again.id, again.created) == (first.id, False)
    with pytest.raises(Conflict, match="another redemption"):
        _redeem(uow, con, "G", 2, "k1")
    with pytest.raises(Conflict, match="already holds"):
        _redeem(uow, con, "G", 1, "k-other")
    with pytest.raises(NotFound, match="no subscriber 999"):
        _redeem(uow, con, "G", 999, "k2")

    second = _redeem(uow, con, "G", 2, "k2")
    # The red-packet budget (1000 fen = 2 packets) and the gifts are spent.
    with pytest.raises(Conflict, match="out of stock or budget"):
        _redeem(uow, con, "G", 3, "k3")
    assert uow.session.scalar(select(func.count()).select_from(Redemption)) == 2

    consumed = service.consume_redemption(uow=uow, redemption_id=first.id)
    assert consumed.status is RedemptionStatus.CONSUMED
    with pytest.raises(InvalidTransition):
        service.release_redemption(uow=uow, redemption_id=first.id, reason="too late")
    with pytest.raises(InvalidInput, match="reason"):
        service.release_redemption(uow=uow, redemption_id=second.id, reason="  ")
    released = service.release_redemption(uow=uow, redemption_id=second.id, reason="订单取消")
    assert released.status is RedemptionStatus.RELEASED
    assert released.close_reason == "订单取消"
    pools = {p.key: p for p in service.list_pools(uow=uow, code="G")}
    assert (pools["gift"].remaining, pools["gift"].reserved, pools["gift"].consumed) == (1, 0, 1)
    assert pools["red_packet"].remaining == 500

    # The released stock goes to the next taker, and subscriber 2 may take the offer again.
    assert _redeem(uow, con, "G", 3, "k3").status is RedemptionStatus.RESERVED
    with pytest.raises(Conflict):
        _redeem(uow, con, "G", 2, "k4")  # the budget is spent again

    # Ledger: total - remaining = reserves - releases, for every pool.
    for pool in uow.session.scalars(select(OfferPool)):
        moves = dict(
            uow.session.execute(
                select(PoolEntry.kind, func.sum(PoolEntry.quantity))
                .where(PoolEntry.pool_id == pool.id)
                .group_by(PoolEntry.kind)
            ).all()
        )
        taken = moves.get(EntryKind.RESERVE, 0) - moves.get(EntryKind.RELEASE, 0)
        assert pool.total - pool.remaining == taken, pool.key


def test_redeem_refuses_inactive_outdated_and_excluded(book: UnitOfWork, con: BaseBackend) -> None:
    uow = book
    _create(uow, offer_doc("D"), activate=False)
    with pytest.raises(InvalidTransition, match="not on sale"):
        _redeem(uow, con, "D", 1, "a")
    _create(uow, offer_doc("LATER", valid_from="2027-06-01", valid_to=None))
    with pytest.raises(InvalidTransition, match="not on 2026-11-26"):
        _redeem(uow, con, "LATER", 1, "b")
    _create(uow, offer_doc("X", {"tool": "points", "amount": 100}))
    _create(uow, offer_doc("Y", {"tool": "points", "amount": 200}, excludes=["X"]))
    _redeem(uow, con, "X", 1, "c")
    # Y excludes X: refused whichever side states the exclusion.
    with pytest.raises(Conflict, match="holds offer X"):
        _redeem(uow, con, "Y", 1, "d")
    _redeem(uow, con, "Y", 2, "e")
    with pytest.raises(Conflict, match="holds offer Y"):
        _redeem(uow, con, "X", 2, "f")


def test_redeem_refuses_what_the_explainer_excludes(book: UnitOfWork) -> None:
    uow = book
    lines = subscriber_table([(1, "C01"), (2, "C01"), (3, "C01")]).to_pylist()
    lines[1]["status"] = "ported_out"  # a line that left: only win-back offers
    lines[2]["plan_id"] = "PL5G099"  # already on the plan the upgrade offers
    con = ibis.duckdb.connect()
    con.create_table("subscribers", pa.Table.from_pylist(lines, schema=subscriber_table([]).schema))
    try:
        _create(uow, offer_doc("PACK"))
        with pytest.raises(Conflict, match="ported_out") as caught:
            _redeem(uow, con, "PACK", 2, "p2")
        assert [d["reason"] for d in caught.value.details] == ["line_status"]
        _create(uow, offer_doc("UP", action="upgrade", product_codes=["PL5G099"]))
        # Both plans cost the same in the test catalog: moving to it is no upgrade.
        with pytest.raises(Conflict) as caught:
            _redeem(uow, con, "UP", 3, "u3")
        assert [d["reason"] for d in caught.value.details] == ["not_upgrade"]
        # Nothing of a refused redemption stays; an eligible line takes the offer.
        assert uow.session.scalar(select(func.count()).select_from(Redemption)) == 0
        assert _redeem(uow, con, "PACK", 1, "p1").created
    finally:
        con.disconnect()


def test_lottery_draws_replay_and_exhausted_prizes(book: UnitOfWork, con: BaseBackend) -> None:
    uow = book
    # Everyone wins "big" while its one unit lasts; then the draw falls to no prize.
    _create(uow, offer_doc("L", lottery(("big", 1_000_000, 300, 1), budget_fen=1_000)))
    results = [_redeem(uow, con, "L", sub, f"l{sub}") for sub in (1, 2, 3)]
    draws = [r.draw for r in results]
    assert all(d is not None for d in draws)
    outcomes = [(d.picked, d.stock_granted, d.outcome) for d in draws if d is not None]
    assert outcomes == [("big", True, "big"), ("big", False, NO_PRIZE), ("big", False, NO_PRIZE)]
    pools = {p.key: p.remaining for p in service.list_pools(uow=uow, code="L")}
    assert pools == {"lottery": 700, "prize:big": 0}
    for draw in draws:
        assert draw is not None
        replay = service.replay_draw(uow=uow, draw_id=draw.id)
        assert replay.matches
        assert (replay.picked, replay.outcome) == (draw.picked, draw.outcome)
    assert service.get_draw(uow=uow, draw_id=draws[0].id).seed == draws[0].seed

    # A tampered record no longer matches its replay.
    row = uow.session.get(Draw, draws[1].id)
    assert row is not None
    row.outcome = "big"
    uow.session.flush()
    assert not service.replay_draw(uow=uow, draw_id=row.id).matches


def test_budget_exhaustion_falls_to_no_prize(book: UnitOfWork, con: BaseBackend) -> None:
    uow = book
    _create(uow, offer_doc("LB", lottery(("cash", 1_000_000, 600, 5), budget_fen=1_000)))
    outcomes = [_redeem(uow, con, "LB", s, f"b{s}").draw.outcome for s in (1, 2)]
    assert outcomes == ["cash", NO_PRIZE]  # 1000 fen covers one 600-fen prize
    pools = {p.key: p.remaining for p in service.list_pools(uow=uow, code="LB")}
    assert pools == {"lottery": 400, "prize:cash": 4}  # the failed take left both untouched


def test_redemptions_are_scoped(book: UnitOfWork, con: BaseBackend) -> None:
    uow = book
    _create(uow, offer_doc("S", lottery(("p", 500_000, 0, 100), budget_fen=1)))
    nanjing = _redeem(uow, con, "S", 1, "s1")
    suzhou = _redeem(uow, con, "S", 60, "s2")
    assert (nanjing.org_id, suzhou.org_id) == ("C01", "C02")
    _org_units(uow)
    uow.actor = Actor(username="nj", scope_path="/P/C01/")
    assert [r.id for r in service.list_redemptions(uow=uow)] == [nanjing.id]
    with pytest.raises(NotFound):
        service.get_redemption(uow=uow, redemption_id=suzhou.id)
    assert suzhou.draw is not None
    with pytest.raises(NotFound):
        service.replay_draw(uow=uow, draw_id=suzhou.draw.id)
    with pytest.raises(NotFound):
        service.release_redemption(uow=uow, redemption_id=suzhou.id, reason="x")


def _org_units(uow: UnitOfWork) -> None:
    """Province P with cities C01 and C02 (the warehouse's home units)."""
    province = OrgUnit(code="P", name="省", kind=OrgKind.PROVINCE, path="/P/", depth=0)
    uow.session.add(province)
    uow.session.flush()
    for code in ("C01", "C02"):
        uow.session.add(
            OrgUnit(
                code=code, name=code, kind=OrgKind.CITY, path=f"/P/{code}/", depth=1,
                parent_id=province.id,
            )
        )  # fmt: skip
    uow.session.flush()


def test_seed_examples_cover_every_tool(db: sessionmaker[Session]) -> None:
    from telmark.offers.seed import examples

    specs = examples(TODAY)
    codes = {c for s in specs for c in s.product_codes} | {
        c for s in specs for t in s.tools if t.tool == "bundle" for c in t.components
    }
    with UnitOfWork(db) as uow:
        add_products(uow.session, sorted(codes))
        uow.commit()
        assert service.seed_examples(uow=uow, today=TODAY) == len(specs)
        assert service.seed_examples(uow=uow, today=TODAY) == 0  # the book is no longer empty
        offers = service.list_offers(uow=uow)
    assert {t["tool"] for o in offers for t in o.tools} == {
        "gift", "points", "subsidy", "red_packet", "membership", "leverage", "lottery",
        "bundle", "referral",
    }  # fmt: skip
    assert all(o.status is OfferStatus.ACTIVE for o in offers)
    assert all(o.economics.payback_months is not None for o in offers)


def test_referrer_rewards_stop_at_the_cap(book: UnitOfWork, con: BaseBackend) -> None:
    uow = book
    referral = {"tool": "referral", "referrer_reward_fen": 2_000, "referee_reward_fen": 1_000,
                "cap_per_referrer": 2}  # fmt: skip
    _create(uow, offer_doc("R", referral))
    _create(uow, offer_doc("NOREF", gift(5)))

    def take(sub: int, referrer: int | None, key: str, code: str = "R") -> Any:
        return service.redeem(
            uow=uow, con=con, code=code, subscriber_id=sub, idempotency_key=key,
            referrer_id=referrer, today=TODAY,
        )  # fmt: skip

    rewarded = [take(sub, 90, f"r{sub}").referrer_rewarded for sub in (1, 2, 3)]
    assert rewarded == [True, True, False]  # the third referral is over referrer 90's cap
    assert take(4, None, "r4").referrer_rewarded is None  # no referrer named
    assert take(5, 91, "r5").referrer_rewarded is True  # each referrer has a cap of their own
    with pytest.raises(InvalidInput, match="cannot refer themselves"):
        take(6, 6, "r6")
    with pytest.raises(InvalidInput, match="has no referral reward"):
        take(6, 90, "r7", code="NOREF")
    pools = {p.key: (p.total, p.remaining) for p in service.list_pools(uow=uow, code="R")}
    assert pools == {"referrer:90": (2, 0), "referrer:91": (2, 1)}

    first = uow.session.scalar(select(Redemption.id).where(Redemption.idempotency_key == "r1"))
    assert first is not None
    service.release_redemption(uow=uow, redemption_id=first, reason="退订")
    assert take(7, 90, "r8").referrer_rewarded is True  # the released referral freed a slot
