"""The eligibility explainer on a generated province (SQLite and PostgreSQL): bundles under
lock-in, one handset contract, mutual exclusion shared with redemption, rule reasons, scope."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from ibis.backends import BaseBackend

from telmark.catalog import service as catalog_service
from telmark.catalog.seed import DEMO_TERMS
from telmark.errors import Conflict, InvalidInput, NotFound
from telmark.offers import service as offer_service
from telmark.offers.eligibility import service
from telmark.offers.eligibility.domain import ReasonCode
from telmark.offers.eligibility.schemas import EligibilityRead
from telmark.offers.schemas import parse_offer
from telmark.uow import UnitOfWork
from telmark.warehouse.scope import ScopedWarehouse
from tests._factories.offers import gift
from tests._factories.segments import load_warehouse, province_directory

DAY = date(2026, 9, 30)  # the generated province's data date


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaseBackend]:
    root = tmp_path_factory.mktemp("eligibility")
    con = load_warehouse(province_directory(root, subscribers=1_500, seed=11), root / "w.duckdb")
    yield con
    con.disconnect()


@pytest.fixture
def book(uow: UnitOfWork, warehouse: BaseBackend) -> UnitOfWork:
    catalog_service.sync_from_warehouse(uow=uow, con=warehouse, terms=DEMO_TERMS)
    return uow


def _offer(uow: UnitOfWork, code: str, action: str, products: list[str], **extra: Any) -> None:
    doc = {
        "code": code,
        "name": f"活动{code}",
        "action": action,
        "product_codes": products,
        "valid_from": "2026-01-01",
        "valid_to": "2027-12-31",
        "tools": [gift(5)],
        "economics": {"incremental_monthly_revenue_fen": 1_000},
        **extra,
    }
    offer_service.create_offer(uow=uow, spec=parse_offer(doc))
    offer_service.activate_offer(uow=uow, code=code, today=DAY)


def _rows(expr: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return rows


def _reasons(result: EligibilityRead, code: str) -> list[ReasonCode]:
    [offer] = [o for o in result.offers if o.code == code]
    return [r.code for r in offer.reasons]


def _explain(uow: UnitOfWork, con: BaseBackend, sid: int, day: date = DAY) -> EligibilityRead:
    return service.explain(uow=uow, con=con, subscriber_id=sid, today=day)


def test_leaving_a_bundle_under_lock_in_is_refused_until_the_contract_ends(
    book: UnitOfWork, warehouse: BaseBackend
) -> None:
    s = warehouse.table("subscribers")
    candidates = s.filter(
        s.plan_id.startswith("BD"),
        s.status == "active",
        s.payment_type == "postpaid",
        s.contract_end > DAY + timedelta(days=30),
    )
    line = _rows(candidates.select("subscriber_id", "contract_end").order_by("subscriber_id"))[0]
    _offer(book, "LEAVE", "retention_discount", ["PL5G099"])

    locked = _explain(book, warehouse, line["subscriber_id"])
    until = locked.line.lock_in_until
    # The contract end, or later if a handset contract's lock-in runs longer.
    assert until is not None
    assert until >= line["contract_end"]
    assert _reasons(locked, "LEAVE") == [ReasonCode.LOCK_IN]
    assert [o.code for o in locked.offers if not o.eligible] == ["LEAVE"]

    after = _explain(book, warehouse, line["subscriber_id"], until)
    assert after.line.lock_in_until is None
    assert _reasons(after, "LEAVE") == []
    assert after.offers[0].eligible


def test_one_handset_contract_at_a_time(book: UnitOfWork, warehouse: BaseBackend) -> None:
    s = warehouse.table("subscribers")
    subs = warehouse.table("subscriptions")
    held = subs.filter(
        subs.product_id.startswith("HC"), subs.end_date.isnull(), subs.start_date <= DAY
    )
    line = _rows(
        held.semi_join(s.filter(s.status == "active"), "subscriber_id")
        .select("subscriber_id", "product_id")
        .order_by("subscriber_id")
    )[0]
    _offer(book, "PHONE", "new", ["HC12"])
    result = _explain(book, warehouse, line["subscriber_id"])
    [phone] = [o for o in result.offers if o.code == "PHONE"]
    assert [r.code for r in phone.reasons] == [ReasonCode.HANDSET_CONTRACT_HELD]
    assert phone.reasons[0].params["held"] == line["product_id"]
    assert line["product_id"] in [h.product_code for h in result.line.holdings]


def test_mutual_exclusion_is_the_same_rule_for_the_explainer_and_redemption(
    book: UnitOfWork, warehouse: BaseBackend
) -> None:
    s = warehouse.table("subscribers")
    sid = _rows(s.filter(s.status == "active").select("subscriber_id").order_by("subscriber_id"))[
        0
    ]["subscriber_id"]
    _offer(book, "A", "cross_sell", ["TV015"])
    _offer(book, "B", "cross_sell", ["TV025"], excludes=["A"])
    _offer(book, "C", "cross_sell", ["BB1000"])
    offer_service.redeem(
        uow=book, con=warehouse, code="A", subscriber_id=sid, idempotency_key="k-a", today=DAY
    )
    result = _explain(book, warehouse, sid)
    assert result.line.held_offers == ["A"]
    assert _reasons(result, "A") == [ReasonCode.HOLDS_OFFER]
    [b] = [o for o in result.offers if o.code == "B"]
    assert [(r.code, r.params) for r in b.reasons] == [
        (ReasonCode.EXCLUDED_BY_OFFER, {"held": "A"})
    ]
    # Redemption refuses what the explainer refuses, with the same rule.
    with pytest.raises(Conflict, match="holds offer A"):
        offer_service.redeem(
            uow=book, con=warehouse, code="B", subscriber_id=sid, idempotency_key="k-b", today=DAY
        )


def test_a_failed_rule_condition_is_named_with_the_lines_value(
    book: UnitOfWork, warehouse: BaseBackend
) -> None:
    usage = warehouse.table("usage_monthly")
    window = usage.filter(usage.month >= date(2026, 7, 1), usage.month <= date(2026, 9, 1))
    s = warehouse.table("subscribers")
    active = window.semi_join(s.filter(s.status == "active"), "subscriber_id")
    row = _rows(
        active.group_by("subscriber_id")
        .aggregate(total=active.arpu_fen.sum(), months=active.count())
        .order_by("subscriber_id")
        .limit(1)
    )[0]
    rule = {
        "version": 1,
        "root": {
            "all": [
                {"kind": "tenure_months", "op": ">=", "value": 0},
                {"kind": "usage", "measure": "arpu_fen", "agg": "avg", "months": 3,
                 "op": ">=", "value": 100_000_000},
            ]
        },
    }  # fmt: skip
    _offer(book, "RICH", "cross_sell", ["TV015"], eligibility=rule)
    result = _explain(book, warehouse, row["subscriber_id"])
    assert result.rule_as_of == date(2026, 9, 1)
    [rich] = [o for o in result.offers if o.code == "RICH"]
    [reason] = [r for r in rich.reasons if r.code is ReasonCode.SEGMENT_RULE]
    # Only the failed part is named (tenure >= 0 holds), with the line's own average.
    assert reason.condition == rule["root"]["all"][1]  # type: ignore[index]
    average = round(row["total"] / row["months"])
    assert reason.params["actual"].startswith(f"{average:,} (")
    assert "ARPU" in reason.message


def test_scope_lookup_and_masking(book: UnitOfWork, warehouse: BaseBackend) -> None:
    s = warehouse.table("subscribers")
    outside = _rows(
        s.filter(~s.org_id.startswith("C01")).select("subscriber_id", "msisdn").limit(1)
    )[0]
    inside = _rows(
        s.filter(s.org_id.startswith("C01"), s.status == "active")
        .select("subscriber_id", "msisdn")
        .limit(1)
    )[0]
    city: Any = ScopedWarehouse(warehouse, "C01")
    with pytest.raises(NotFound) as out_of_scope:
        service.explain(uow=book, con=city, msisdn=outside["msisdn"], today=DAY)
    with pytest.raises(NotFound) as missing:
        service.explain(uow=book, con=city, msisdn="19900000000", today=DAY)
    assert out_of_scope.value.message == missing.value.message
    found = service.explain(uow=book, con=city, msisdn=inside["msisdn"], today=DAY)
    assert found.line.subscriber_id == inside["subscriber_id"]
    assert found.line.masked
    assert found.line.msisdn != inside["msisdn"]
    assert found.line.msisdn[:3] == inside["msisdn"][:3]
    assert "*" in found.line.msisdn
    with pytest.raises(InvalidInput) as bad:
        service.explain(uow=book, con=city, msisdn="12345", today=DAY)
    assert bad.value.details[0]["field"] == "msisdn"


def test_drafts_and_retired_offers_only_when_asked(
    book: UnitOfWork, warehouse: BaseBackend
) -> None:
    offer_service.create_offer(
        uow=book,
        spec=parse_offer(
            {
                "code": "DRAFT",
                "name": "草稿",
                "action": "cross_sell",
                "product_codes": ["TV015"],
                "valid_from": "2026-01-01",
                "tools": [gift(5)],
                "economics": {"incremental_monthly_revenue_fen": 1_000},
            }
        ),
    )
    s = warehouse.table("subscribers")
    sid = _rows(s.filter(s.status == "active").select("subscriber_id").limit(1))[0]["subscriber_id"]
    assert "DRAFT" not in [o.code for o in _explain(book, warehouse, sid).offers]
    every = service.explain(uow=book, con=warehouse, subscriber_id=sid, include_all=True, today=DAY)
    assert ReasonCode.NOT_ON_SALE in _reasons(every, "DRAFT")
