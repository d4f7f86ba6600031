"""The catalog over SQLite and PostgreSQL: versions keep history, rules, sync, scope, audit."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.audit.models import AuditEntry
from telmark.catalog import service
from telmark.catalog.domain import CatalogInputInvalid, ProductKind, ProductStatus
from telmark.catalog.models import BundleComponent, Product, ProductVersion
from telmark.catalog.schemas import ComponentIn, HandsetIn, ProductCreate, VersionCreate
from telmark.catalog.seed import DEMO_TERMS, seed_demo_catalog
from telmark.errors import Conflict, Forbidden, InvalidTransition, NotFound
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from telmark.warehouse.generator.catalog import PRODUCTS
from tests._factories.catalog import catalog_warehouse, order_row

PLANNER = Actor(username="planner", channel="web", scope_path="/P00/")
NANJING = Actor(username="nj.planner", channel="web", scope_path="/P00/C01/")
TODAY = date(2026, 11, 26)
LAST_MONTH = date(2026, 10, 15)


def _plan(
    code: str = "PL5G079", fee: int = 7_900, valid_from: date = date(2026, 9, 1)
) -> ProductCreate:
    return ProductCreate(
        code=code,
        name="5G畅享套餐79元",
        kind=ProductKind.PLAN,
        family="5g_plan",
        payment_type="postpaid",
        version=VersionCreate(
            valid_from=valid_from, monthly_fee_fen=fee, data_mb=40_960, voice_min=300, is_5g=True
        ),
    )


def _counts(db: sessionmaker[Session]) -> tuple[int, int, int]:
    with UnitOfWork(db) as uow:
        return (
            int(uow.session.scalar(select(func.count()).select_from(Product)) or 0),
            int(uow.session.scalar(select(func.count()).select_from(ProductVersion)) or 0),
            int(uow.session.scalar(select(func.count()).select_from(BundleComponent)) or 0),
        )


def test_an_order_of_last_month_keeps_last_months_price_after_an_edit(
    db: sessionmaker[Session], tmp_path: Path
) -> None:
    with UnitOfWork(db, actor=PLANNER) as uow:
        service.create_product(uow=uow, spec=_plan(), today=TODAY)
    # An order placed last month (16:30 UTC is already the next day in the province).
    placed = datetime(2026, 10, 14, 16, 30, tzinfo=UTC)
    warehouse = catalog_warehouse(tmp_path, [order_row(501, "PL5G079", placed)], products=False)
    con = connect(warehouse.url)
    try:
        with UnitOfWork(db) as uow:
            recorded = service.price_at(uow=uow, code="PL5G079", day=LAST_MONTH)
            order_before = service.order_price(uow=uow, con=con, order_id=501)
        assert (recorded.version, recorded.monthly_fee_fen) == (1, 7_900)
        assert (order_before.ordered_on, order_before.monthly_fee_fen) == (LAST_MONTH, 7_900)

        with UnitOfWork(db, actor=PLANNER) as uow:
            edited = service.add_version(
                uow=uow,
                code="PL5G079",
                spec=VersionCreate(
                    monthly_fee_fen=6_900, data_mb=40_960, voice_min=300, is_5g=True
                ),
                today=TODAY,
            )
        assert [(v.version, v.valid_from, v.valid_until) for v in edited.versions] == [
            (1, date(2026, 9, 1), TODAY),
            (2, TODAY, None),
        ]
        with UnitOfWork(db) as uow:
            again = service.price_at(uow=uow, code="PL5G079", day=LAST_MONTH)
            # The same version and fee; only its derived end is now known.
            assert (again.version, again.monthly_fee_fen, again.valid_from) == (
                1,
                7_900,
                recorded.valid_from,
            )
            assert (recorded.valid_until, again.valid_until) == (None, TODAY)
            assert service.order_price(uow=uow, con=con, order_id=501) == order_before
            assert service.price_at(uow=uow, code="PL5G079", day=TODAY).monthly_fee_fen == 6_900
            with pytest.raises(NotFound, match="no price on 2026-08-31"):
                service.price_at(uow=uow, code="PL5G079", day=date(2026, 8, 31))
            with pytest.raises(NotFound, match="order 9"):
                service.order_price(uow=uow, con=con, order_id=9)
    finally:
        con.disconnect()
    with UnitOfWork(db) as uow:
        first = uow.session.scalars(select(ProductVersion).where(ProductVersion.version == 1)).one()
        assert (first.monthly_fee_fen, first.valid_from) == (7_900, date(2026, 9, 1))


def test_a_new_version_starts_today_or_later_after_the_latest(db: sessionmaker[Session]) -> None:
    with UnitOfWork(db, actor=PLANNER) as uow:
        service.create_product(uow=uow, spec=_plan(), today=TODAY)
    cases = [
        (date(2026, 11, 25), "in the past"),
        (date(2026, 12, 1), None),
        (date(2026, 12, 1), "after the latest"),  # the same start again: a retry adds nothing
        (date(2026, 11, 30), "after the latest"),
    ]
    for valid_from, problem in cases:
        spec = VersionCreate(valid_from=valid_from, monthly_fee_fen=5_900, data_mb=1, voice_min=1)
        with UnitOfWork(db, actor=PLANNER) as uow:
            if problem is None:
                service.add_version(uow=uow, code="PL5G079", spec=spec, today=TODAY)
            else:
                with pytest.raises(CatalogInputInvalid, match=problem) as refused:
                    service.add_version(uow=uow, code="PL5G079", spec=spec, today=TODAY)
                assert refused.value.details[0]["field"] == "valid_from"
    assert _counts(db) == (1, 2, 0)


def test_terms_are_checked_field_by_field_and_nothing_is_written(
    db: sessionmaker[Session],
) -> None:
    with UnitOfWork(db, actor=PLANNER) as uow:
        service.create_product(uow=uow, spec=_plan(), today=TODAY)
        service.create_product(
            uow=uow,
            spec=ProductCreate(
                code="BB300", name="家庭宽带300M", kind="broadband", family="broadband",
                version=VersionCreate(valid_from=TODAY, monthly_fee_fen=6_000, speed_mbps=300),
            ),
            today=TODAY,
        )  # fmt: skip
    bundle = ProductCreate(
        code="BD129", name="全家享融合套餐129元", kind="bundle", family="converged",
        payment_type="postpaid",
        version=VersionCreate(
            valid_from=TODAY, monthly_fee_fen=12_900, data_mb=40_960, voice_min=500, is_5g=True,
            speed_mbps=300,
            components=[
                ComponentIn(code="PL5G079", fee_share_fen=8_900),
                ComponentIn(code="BB300", fee_share_fen=3_000),
                ComponentIn(code="NOPE", fee_share_fen=1_000),
            ],
        ),
    )  # fmt: skip
    with UnitOfWork(db, actor=PLANNER) as uow, pytest.raises(CatalogInputInvalid) as refused:
        service.create_product(uow=uow, spec=bundle, today=TODAY)
    fields = {d["field"]: d["reason"] for d in refused.value.details}
    assert fields["components[2].code"] == "no product NOPE in the catalog"
    assert _counts(db) == (2, 2, 0)

    bundle.version.components[2] = ComponentIn(code="PL5G079", fee_share_fen=1_000)
    with UnitOfWork(db, actor=PLANNER) as uow, pytest.raises(CatalogInputInvalid) as refused:
        service.create_product(uow=uow, spec=bundle, today=TODAY)
    assert "listed twice" in refused.value.problems[0].reason

    del bundle.version.components[2]
    with UnitOfWork(db, actor=PLANNER) as uow, pytest.raises(CatalogInputInvalid) as refused:
        service.create_product(uow=uow, spec=bundle, today=TODAY)
    assert refused.value.details == [
        {
            "field": "components",
            "reason": "the components' fee shares add up to 11900 fen, not the fee 12900",
        }
    ]
    bundle.version.components[1] = ComponentIn(code="BB300", fee_share_fen=4_000)
    with UnitOfWork(db, actor=PLANNER) as uow:
        created = service.create_product(uow=uow, spec=bundle, today=TODAY)
    assert [(c.code, c.name, c.fee_share_fen) for c in created.versions[0].components] == [
        ("PL5G079", "5G畅享套餐79元", 8_900),
        ("BB300", "家庭宽带300M", 4_000),
    ]
    # A bundle cannot be a component of another bundle.
    nested = bundle.model_copy(deep=True)
    nested.code = "BD999"
    nested.version.components[1] = ComponentIn(code="BD129", fee_share_fen=4_000)
    with UnitOfWork(db, actor=PLANNER) as uow, pytest.raises(CatalogInputInvalid, match="bundle"):
        service.create_product(uow=uow, spec=nested, today=TODAY)
    # Creating the same code again is a conflict, not a second product.
    with UnitOfWork(db, actor=PLANNER) as uow, pytest.raises(Conflict):
        service.create_product(uow=uow, spec=_plan(), today=TODAY)
    assert _counts(db) == (3, 3, 2)


def test_handset_terms_and_retirement(db: sessionmaker[Session]) -> None:
    handset = HandsetIn(
        device_model="华为Mate 60", device_price_fen=599_900, subsidy_fen=500_000,
        lock_in_months=24, min_monthly_spend_fen=16_900,
    )  # fmt: skip
    spec = ProductCreate(
        code="HC24F", name="5G旗舰机合约", kind="handset_contract", family="handset",
        payment_type="postpaid",
        version=VersionCreate(valid_from=TODAY, monthly_fee_fen=16_900, handset=handset),
    )  # fmt: skip
    with UnitOfWork(db, actor=PLANNER) as uow, pytest.raises(CatalogInputInvalid) as refused:
        service.create_product(uow=uow, spec=spec, today=TODAY)
    assert [(p.field, p.reason[:40]) for p in refused.value.problems] == [
        ("subsidy_fen", "more than the committed spend 405600 fen")
    ]
    assert spec.version.handset is not None
    spec.version.handset.subsidy_fen = 150_000
    with UnitOfWork(db, actor=PLANNER) as uow:
        created = service.create_product(uow=uow, spec=spec, today=TODAY)
        retired = service.retire_product(uow=uow, code="HC24F", today=TODAY)
    assert created.current is not None
    assert created.current.handset == spec.version.handset
    assert (retired.status, retired.retired_on) == (ProductStatus.RETIRED, TODAY)
    with UnitOfWork(db, actor=PLANNER) as uow:
        with pytest.raises(InvalidTransition):
            service.retire_product(uow=uow, code="HC24F", today=TODAY)
        with pytest.raises(InvalidTransition):
            service.add_version(
                uow=uow,
                code="HC24F",
                spec=VersionCreate(monthly_fee_fen=16_900, handset=spec.version.handset),
                today=TODAY,
            )
        # A retired product still answers what it cost.
        assert service.price_at(uow=uow, code="HC24F", day=TODAY).monthly_fee_fen == 16_900


def test_a_city_user_reads_but_cannot_change_the_catalog(db: sessionmaker[Session]) -> None:
    with UnitOfWork(db, actor=PLANNER) as uow:
        service.create_product(uow=uow, spec=_plan(), today=TODAY)
    with UnitOfWork(db, actor=NANJING) as uow:
        assert [p.code for p in service.list_products(uow=uow)] == ["PL5G079"]
        with pytest.raises(Forbidden):
            service.create_product(uow=uow, spec=_plan("PL5G099"), today=TODAY)
        with pytest.raises(Forbidden):
            service.retire_product(uow=uow, code="PL5G079", today=TODAY)
    assert _counts(db) == (1, 1, 0)


def test_changes_are_audited(db: sessionmaker[Session]) -> None:
    with UnitOfWork(db, actor=PLANNER) as uow:
        service.create_product(uow=uow, spec=_plan(), today=TODAY)
        service.retire_product(uow=uow, code="PL5G079", today=TODAY)
    with UnitOfWork(db) as uow:
        entries = uow.session.execute(
            select(AuditEntry.entity_type, AuditEntry.action, AuditEntry.actor_username)
        ).all()
    assert ("catalog_product", "create", "planner") in entries
    assert ("catalog_product_version", "create", "planner") in entries
    assert ("catalog_product", "update", "planner") in entries


def test_sync_adds_missing_products_once_and_never_touches_versions(
    db: sessionmaker[Session], tmp_path: Path
) -> None:
    con = connect(catalog_warehouse(tmp_path).url)
    try:
        with UnitOfWork(db, actor=PLANNER) as uow:
            service.create_product(uow=uow, spec=_plan(fee=8_900), today=TODAY)
        with UnitOfWork(db) as uow:
            first = seed_demo_catalog(uow=uow, con=con)
        assert "PL5G079" not in first.created
        assert first.existing == 1
        assert len(first.created) == len(PRODUCTS) - 1
        counts = _counts(db)
        with UnitOfWork(db) as uow:
            again = service.sync_from_warehouse(uow=uow, con=con, terms=DEMO_TERMS)
            assert (again.created, again.existing) == ([], len(PRODUCTS))
            assert seed_demo_catalog(uow=uow, con=con).created == []
        assert _counts(db) == counts
        with UnitOfWork(db) as uow:
            kept = service.get_product(uow=uow, code="PL5G079")
            assert [v.monthly_fee_fen for v in kept.versions] == [8_900]  # not the warehouse's
            bundle = service.get_product(uow=uow, code="BD239", on=TODAY)
            legacy = service.get_product(uow=uow, code="PL4G138L")
            handset = service.get_product(uow=uow, code="HC24")
            cut = service.get_product(uow=uow, code="PL5G039")
    finally:
        con.disconnect()
    assert bundle.current is not None
    assert bundle.current.valid_from == date(2022, 1, 1)  # the warehouse's launch date
    assert bundle.current.source == "warehouse"
    assert sum(c.fee_share_fen for c in bundle.current.components) == 23_900
    assert [(c.code, c.quantity) for c in bundle.current.components][-1] == ("FM020", 2)
    assert (legacy.status, legacy.retired_on) == ("retired", date(2022, 11, 27))
    assert handset.versions[0].handset is not None
    assert handset.versions[0].handset.lock_in_months == 24
    assert [v.monthly_fee_fen for v in cut.versions] == [3_900, 3_500]
