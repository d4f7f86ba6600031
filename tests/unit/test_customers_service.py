"""Customer 360 assembled from a hand-made warehouse: every figure equals its warehouse row.

Reads run against the DuckDB file directly (province view) or through the
org-scoped wrapper a Nanjing user gets; nothing here unmasks, so no audit
trail is involved (the API tests cover unmasking and auditing).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ibis
import pytest
from ibis.backends import BaseBackend

from telmark.customers import service
from telmark.customers.domain import Lookup, SearchBy
from telmark.customers.schemas import SectionState
from telmark.errors import NotFound, WarehouseEmpty
from telmark.uow import UnitOfWork
from telmark.warehouse.scope import scoped
from tests._factories.customers import build_customer_warehouse
from tests._factories.warehouse import build_empty_warehouse, build_tiny_warehouse

TODAY = date(2026, 11, 26)
# Never used: a masked view records nothing. Any use would raise AttributeError.
NO_UOW: Any = object()


def _open(url: str) -> Iterator[BaseBackend]:
    con = ibis.duckdb.connect(url.removeprefix("duckdb://"))
    yield con
    con.disconnect()


@pytest.fixture
def con(tmp_path: Path) -> Iterator[BaseBackend]:
    yield from _open(build_customer_warehouse(tmp_path).url)


def view_of(con: BaseBackend, subscriber_id: int = 1) -> Any:
    return service.customer_360(
        con=con, uow=NO_UOW, subscriber_id=subscriber_id, unmask=False, today=TODAY
    )


def test_identity_is_masked_and_measured_at_the_data_date(con: BaseBackend) -> None:
    view = view_of(con)
    i = view.identity
    assert view.data_date == date(2024, 3, 31)  # end of the latest billed month
    assert (i.msisdn, i.customer_name, i.id_number) == (
        "139****0001",
        "用**",
        "320102********0001",
    )
    assert i.masked
    assert (i.gender, i.payment_type, i.status) == ("F", "postpaid", "active")
    assert (i.age, i.age_band) == (36, "35-44")
    assert i.tenure_months == 10  # 2023-05-10 → 2024-03-31
    assert i.handset_brand == "苹果"
    assert i.handset_age_months == 15  # 2022-12-20 → 2024-03-31
    assert (i.contract_end, i.contract_months_left) == (date(2025, 1, 31), 10)
    assert (i.home_outlet.org_id, i.home_outlet.name) == ("C1D1O1", "玄武营业厅")
    assert (i.home_grid.org_id, i.home_grid.name) == ("C1D1G1", "玄武一网格")


def test_products_household_and_enterprise(con: BaseBackend) -> None:
    view = view_of(con)
    assert view.plan is not None
    assert (view.plan.product_id, view.plan.monthly_fee_fen) == ("PL5G128", 12_800)
    # The data pack that ended in January is not held any more; the one from February is.
    assert [(s.subscription_id, s.product_name) for s in view.subscriptions] == [
        (1, "5G畅享128元套餐"),
        (3, "10GB流量包"),
    ]
    h = view.household
    assert h is not None
    assert (h.household_id, h.members, h.bundle_name) == ("H1", 2, "全家享199融合套餐")
    assert (h.has_broadband, h.broadband_mbps, h.has_iptv) == (True, 500, True)
    e = view.enterprise
    assert e is not None
    assert (e.name, e.industry, e.tier, e.account_manager_id) == (
        "南京某某科技有限公司",
        "it_services",
        "B",
        "S100",
    )
    assert e.account_manager_name == "王**"  # personal: masked with the identity


def test_usage_and_history_equal_the_warehouse_rows(con: BaseBackend) -> None:
    view = view_of(con)
    usage = con.table("usage_monthly")
    expected = usage.filter(usage.subscriber_id == 1).order_by("month").to_pyarrow().to_pylist()
    assert [(u.month, u.arpu_fen, u.data_mb, u.voice_min, u.dropped_calls) for u in view.usage] == [
        (r["month"], r["arpu_fen"], r["data_mb"], r["voice_min"], r["dropped_calls"])
        for r in expected
    ]
    assert [u.arpu_fen for u in view.usage] == [5000, 5200, 4800]
    assert (view.recharges.total, [r.amount_fen for r in view.recharges.items]) == (
        2,
        [10_000, 5_000],  # newest first
    )
    assert [(o.order_id, o.product_name, o.action, o.amount_fen) for o in view.orders.items] == [
        (2, "10GB流量包", "add", 3_000),
        (1, "5G畅享128元套餐", "new", 0),
    ]
    assert [(c.category, c.severity, c.resolved_at) for c in view.complaints.items] == [
        ("billing", 1, None),
        ("network", 2, datetime(2024, 1, 17, 9, tzinfo=UTC)),
    ]


def test_value_and_churn_come_from_the_latest_rows(con: BaseBackend) -> None:
    view = view_of(con)
    assert view.value.state is SectionState.AVAILABLE
    v = view.value.value
    assert v is not None
    assert (v.as_of_month, v.value_tier, v.rfm_score) == (date(2024, 3, 1), "gold", 13)
    assert (v.decayed_value_fen, v.clv_fen, v.clv_model) == (14_321, 187_654, "sbg")
    assert view.churn.state is SectionState.AVAILABLE
    c = view.churn.score
    assert c is not None
    assert (c.model_version, c.churn_probability, c.risk_decile, c.risk_band) == (
        2,
        0.4137,
        10,
        "high",
    )


def test_a_subscriber_without_a_score_says_so(con: BaseBackend) -> None:
    view = view_of(con, 2)
    assert view.value.value is not None
    assert view.value.value.clv_fen is None  # CLV is nullable
    assert view.churn.state is SectionState.NOT_SCORED
    assert view.churn.score is None


def test_missing_analysis_tables_name_the_command(tmp_path: Path) -> None:
    for con in _open(build_customer_warehouse(tmp_path, analytics=False).url):
        view = view_of(con)
    assert (view.value.state, view.value.value) == (SectionState.NOT_COMPUTED, None)
    assert view.value.command == "telmark analysis value refresh"
    assert (view.churn.state, view.churn.score) == (SectionState.NOT_COMPUTED, None)
    assert view.churn.command == "telmark analysis churn score"


def test_a_warehouse_with_only_the_core_tables_still_answers(tmp_path: Path) -> None:
    for con in _open(build_tiny_warehouse(tmp_path).url):
        view = view_of(con, 5)
    assert view.household is None
    assert view.enterprise is None
    assert view.subscriptions == []
    assert view.orders.total == 0
    assert view.complaints.items == []
    assert [u.arpu_fen for u in view.usage] == [3900, 4100, 0]
    assert view.identity.status == "suspended"


def test_an_empty_warehouse_is_reported(tmp_path: Path) -> None:
    for con in _open(build_empty_warehouse(tmp_path).url):
        with pytest.raises(WarehouseEmpty):
            view_of(con)


def test_outside_the_scope_is_the_same_not_found_as_no_such_subscriber(
    con: BaseBackend,
) -> None:
    nanjing = scoped(con, org_code="C1", org_path="/P/C1/")
    # Everything of subscriber 1 lies in Nanjing: the city sees what the province sees.
    assert view_of(nanjing) == view_of(con)
    with pytest.raises(NotFound) as outside:
        view_of(nanjing, 8)
    with pytest.raises(NotFound) as missing:
        view_of(nanjing, 999)
    assert outside.value.message == "no subscriber 8 in your scope"
    assert missing.value.message == "no subscriber 999 in your scope"
    # Suzhou's own user sees subscriber 8 and its VIP value row.
    suzhou = scoped(con, org_code="C2", org_path="/P/C2/")
    view = view_of(suzhou, 8)
    assert view.value.value is not None
    assert view.value.value.value_tier == "vip"


def test_search_by_id_is_scoped_and_masked(con: BaseBackend, uow: UnitOfWork) -> None:

    nanjing = scoped(con, org_code="C1", org_path="/P/C1/")
    found = service.find_customers(
        con=nanjing, uow=uow, lookup=Lookup(SearchBy.SUBSCRIBER_ID, "1"), unmask=False
    )
    assert [(c.subscriber_id, c.msisdn, c.customer_name) for c in found.items] == [
        (1, "139****0001", "用**")
    ]
    assert found.items[0].plan_name == "5G畅享128元套餐"
    outside = service.find_customers(
        con=nanjing, uow=uow, lookup=Lookup(SearchBy.SUBSCRIBER_ID, "8"), unmask=False
    )
    assert outside.items == []
