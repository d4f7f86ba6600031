"""Market inputs over SQLite and PostgreSQL: scope, the 100% rule, imports, audit."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.audit.models import AuditEntry
from telmark.errors import Forbidden, InvalidInput, NotFound
from telmark.market import service
from telmark.market.domain import Competitor, SharesExceedMarket
from telmark.market.models import CompetitorOffer, MarketShare
from telmark.market.schemas import OfferCreate, ShareCreate
from telmark.market.service import MarketFileRejected
from telmark.uow import UnitOfWork
from tests._factories.auth import seed_org

PROVINCE = Actor(username="planner", channel="web", scope_path="/P00/")
NANJING = Actor(username="nj.analyst", channel="web", scope_path="/P00/C01/")
XUANWU = Actor(username="xw.manager", channel="web", scope_path="/P00/C01/C01D01/")
MAY = date(2026, 5, 1)


def offer(org_code: str | None, name: str = "冰激凌129", fee: int = 12_900) -> OfferCreate:
    return OfferCreate(
        org_code=org_code,
        competitor=Competitor.CHINA_UNICOM,
        name=name,
        monthly_fee_fen=fee,
        data_mb=30_720,
        is_5g=True,
        launched_on=date(2026, 1, 1),
    )


def share(
    city: str, competitor: Competitor, bp: int | None = None, subs: int | None = None
) -> ShareCreate:
    return ShareCreate(
        org_code=city, month=MAY, competitor=competitor, share_bp=bp, subscribers=subs
    )


@pytest.fixture
def seeded(db: sessionmaker[Session]) -> sessionmaker[Session]:
    with UnitOfWork(db) as uow:
        seed_org(uow)
        uow.commit()
    return db


def test_a_city_sees_its_own_and_province_wide_offers_and_changes_only_its_own(
    seeded: sessionmaker[Session],
) -> None:
    with UnitOfWork(seeded, actor=PROVINCE) as uow:
        wide = service.add_offer(uow=uow, offer=offer(None, "全省套餐"))
        wuxi = service.add_offer(uow=uow, offer=offer("C02", "无锡套餐"))
    assert wide.province_wide
    assert wide.org_code == "P00"
    with UnitOfWork(seeded, actor=NANJING) as uow:
        own = service.add_offer(uow=uow, offer=offer("C01", "南京套餐", fee=9_900))
        names = [o.name for o in service.list_offers(uow=uow)]
        assert names == ["南京套餐", "全省套餐"]
        with pytest.raises(NotFound):
            service.get_offer(uow=uow, offer_id=wuxi.id)
        with pytest.raises(NotFound):
            service.delete_offer(uow=uow, offer_id=wuxi.id)
        with pytest.raises(NotFound):
            service.add_offer(uow=uow, offer=offer("C02"))
        with pytest.raises(Forbidden):
            service.delete_offer(uow=uow, offer_id=wide.id)
        with pytest.raises(Forbidden):
            service.add_offer(uow=uow, offer=offer(None))
        with pytest.raises(NotFound):
            service.list_offers(uow=uow, city="C02")
    # A district user reads its city's and the province's entries, and changes neither.
    with UnitOfWork(seeded, actor=XUANWU) as uow:
        assert {o.id for o in service.list_offers(uow=uow)} == {wide.id, own.id}
        with pytest.raises(Forbidden):
            service.delete_offer(uow=uow, offer_id=own.id)
        with pytest.raises(InvalidInput, match="district"):
            service.add_offer(uow=uow, offer=offer("C01D01"))
    with UnitOfWork(seeded, actor=NANJING) as uow:
        service.delete_offer(uow=uow, offer_id=own.id)
        assert uow.session.get(CompetitorOffer, own.id) is None


def test_the_shares_of_one_city_month_may_not_pass_100_percent(
    seeded: sessionmaker[Session],
) -> None:
    with UnitOfWork(seeded, actor=NANJING) as uow:
        service.add_share(uow=uow, share=share("C01", Competitor.CHINA_UNICOM, bp=6000))
        with pytest.raises(SharesExceedMarket):
            service.add_share(uow=uow, share=share("C01", Competitor.CHINA_TELECOM, bp=4001))
        uow.rollback()
        with pytest.raises(InvalidInput, match="already has an entry"):
            service.add_share(uow=uow, share=share("C01", Competitor.CHINA_UNICOM, bp=1))
        uow.rollback()
        service.add_share(uow=uow, share=share("C01", Competitor.CHINA_TELECOM, bp=4000))
        assert sum(s.share_bp or 0 for s in service.list_shares(uow=uow, city="C01")) == 10_000
        with pytest.raises(NotFound):
            service.add_share(uow=uow, share=share("C02", Competitor.OTHER, bp=1))


def test_changes_are_audited_with_their_values(seeded: sessionmaker[Session]) -> None:
    with UnitOfWork(seeded, actor=NANJING) as uow:
        added = service.add_share(uow=uow, share=share("C01", Competitor.CHINA_UNICOM, subs=5000))
        service.delete_share(uow=uow, share_id=added.id)
        entries = [
            (e.action, e.actor_username, e.before)
            for e in uow.session.scalars(
                select(AuditEntry)
                .where(AuditEntry.entity_type == MarketShare.__tablename__)
                .order_by(AuditEntry.id)
            )
        ]
    assert [e[:2] for e in entries] == [("create", "nj.analyst"), ("delete", "nj.analyst")]
    deleted = entries[1][2]
    assert deleted is not None
    assert deleted["subscribers"] == 5000


OFFERS_CSV = (
    "org_code,competitor,name,monthly_fee_fen,data_mb,voice_min,is_5g,launched_on,source\n"
    "C01,china_telecom,天翼畅享99,9900,20480,300,是,2026-02-01,营业厅走访\n"
    ",china_unicom,全省冰激凌,12900,30720,500,否,2026/1/5,官网\n"
)


def test_an_offers_file_in_gbk_is_imported_whole(seeded: sessionmaker[Session]) -> None:
    with UnitOfWork(seeded, actor=PROVINCE) as uow:
        report = service.import_offers(
            uow=uow, data=OFFERS_CSV.encode("gbk"), file_name="offers.csv"
        )
        assert (report.encoding, report.rows, report.added) == ("gb18030", 2, 2)
        listed = {o.name: o for o in service.list_offers(uow=uow)}
    assert listed["全省冰激凌"].province_wide
    assert listed["天翼畅享99"].source == "营业厅走访"


def test_a_bad_row_names_file_row_and_column_and_imports_nothing(
    seeded: sessionmaker[Session],
) -> None:
    bad = OFFERS_CSV + "C01,china_telecom,坏行,abc,0,0,1,2026-02-01,\n"
    with UnitOfWork(seeded, actor=NANJING) as uow:
        with pytest.raises(MarketFileRejected) as caught:
            service.import_offers(uow=uow, data=bad.encode(), file_name="offers.csv")
        problems = {(d["row"], d["column"]) for d in caught.value.details}
        # Row 3 is province-wide: a city user may not change it; row 4's fee is not a number.
        assert problems == {(3, "org_code"), (4, "monthly_fee_fen")}
        assert "offers.csv" in caught.value.message
        uow.rollback()
        assert service.list_offers(uow=uow) == []


def test_a_shares_file_is_checked_per_city_month(seeded: sessionmaker[Session]) -> None:
    csv_text = (
        "org_code,month,competitor,share_bp\n"
        "C01,2026-05,china_unicom,6000\n"
        "C01,2026-05,china_telecom,4500\n"
        "C02,2026-05,china_unicom,5000\n"
    )
    with UnitOfWork(seeded, actor=PROVINCE) as uow:
        with pytest.raises(MarketFileRejected) as caught:
            service.import_shares(uow=uow, data=csv_text.encode(), file_name="s.csv")
        assert [d["row"] for d in caught.value.details] == [2]
        assert "105.00%" in caught.value.message
        uow.rollback()
        assert service.list_shares(uow=uow) == []
        fixed = csv_text.replace("4500", "4000")
        report = service.import_shares(uow=uow, data=fixed.encode(), file_name="s.csv")
        assert report.added == 3
    with UnitOfWork(seeded, actor=NANJING) as uow:
        assert {s.org_code for s in service.list_shares(uow=uow)} == {"C01"}
        with pytest.raises(MarketFileRejected) as caught:
            service.import_shares(
                uow=uow,
                data=b"org_code,month,competitor,subscribers\nC02,2026-06,other,10\n",
                file_name="wx.csv",
            )
        assert caught.value.details[0]["column"] == "org_code"
