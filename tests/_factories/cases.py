"""A generated province with offers and snapshots, and actors at province and city level,
for marketing-case tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ibis.backends import BaseBackend
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.cases.schemas import CaseCreate
from telmark.offers import service as offer_service
from telmark.offers.schemas import parse_offer
from telmark.org import service as org_service
from telmark.org.models import OrgUnit
from telmark.segments import service as segment_service
from telmark.segments import snapshots
from telmark.segments.schemas import SegmentCreate
from telmark.uow import UnitOfWork
from tests._factories.offers import TODAY, add_products, gift, offer_doc

ALL_LINES = {"version": 1, "root": {"kind": "tenure_months", "op": ">=", "value": 0}}
# Economics of the test offer (offer_doc defaults, a 20-yuan gift): per taker 2,000 fen
# incentive; 2,000 fen/month revenue, of which 10 % (200 fen) goes to the channel.
OFFER = "CASE-GIFT"
START = date(2026, 12, 1)
END = date(2026, 12, 31)


@dataclass
class CaseWorld:
    db: sessionmaker[Session]
    con: BaseBackend
    directory: Path
    paths: dict[str, str]  # org code → path
    province: str
    province_snapshot: int
    city_snapshots: dict[str, int]

    def actor(self, username: str, code: str | None) -> Actor:
        return Actor(username=username, scope_path=None if code is None else self.paths[code])

    @property
    def planner(self) -> Actor:
        return self.actor("planner", self.province)

    @property
    def approver(self) -> Actor:
        return self.actor("prov.approver", self.province)

    def city(self, code: str, name: str = "manager") -> Actor:
        return self.actor(f"{code.lower()}.{name}", code)

    def uow(self, actor: Actor) -> UnitOfWork:
        return UnitOfWork(self.db, actor=actor)

    @property
    def wh(self) -> dict[str, Any]:
        """What a service needs besides the unit of work: the warehouse and snapshot dir."""
        return {"con": self.con, "directory": self.directory}


def plan(org_code: str, snapshot_id: int | None, **overrides: Any) -> CaseCreate:
    """A valid case plan: the test offer by SMS to every target, 10 % take-up."""
    doc: dict[str, Any] = {
        "name": "测试营销案",
        "org_code": org_code,
        "objective": "upsell",
        "hypothesis": "礼品提高办理率",
        "snapshot_id": snapshot_id,
        "lines": [
            {
                "offer_code": OFFER,
                "channel": "sms",
                "reach_bp": 10_000,
                "take_up_bp": 1_000,
                "contact_cost_fen": 5,
            }
        ],
        "starts_on": START.isoformat(),
        "ends_on": END.isoformat(),
        "horizon_months": 12,
        "budget_fen": 1_000_000,
        "holdout_bp": 1_000,
    }
    doc.update(overrides)
    return CaseCreate.model_validate(doc)


def build_world(db: sessionmaker[Session], con: BaseBackend, directory: Path) -> CaseWorld:
    """Org tree, products, an active offer, and ready snapshots at the province, C01 and C02."""
    with UnitOfWork(db) as uow:
        org_service.sync_from_warehouse(uow=uow, con=con)
        paths: dict[str, str] = dict(uow.session.execute(select(OrgUnit.code, OrgUnit.path)).all())
        add_products(uow.session)
        uow.commit()
        offer_service.create_offer(uow=uow, spec=parse_offer(offer_doc(OFFER, gift(1_000_000))))
        offer_service.activate_offer(uow=uow, code=OFFER, today=TODAY)
    province = next(code for code, path in paths.items() if path.count("/") == 2)
    snapshot_ids: dict[str, int] = {}
    for code in (province, "C01", "C02"):
        actor = Actor(username="planner", scope_path=paths[code])
        with UnitOfWork(db, actor=actor) as uow:
            segment = segment_service.create_segment(
                uow=uow, spec=SegmentCreate(name=f"全量{code}", org_code=code, rule=ALL_LINES)
            )
            snapshot = snapshots.take_snapshot(
                uow=uow, con=con, directory=directory, segment_id=segment.id
            )
            snapshot_ids[code] = snapshot.id
    return CaseWorld(
        db=db,
        con=con,
        directory=directory,
        paths=paths,
        province=province,
        province_snapshot=snapshot_ids[province],
        city_snapshots={"C01": snapshot_ids["C01"], "C02": snapshot_ids["C02"]},
    )
