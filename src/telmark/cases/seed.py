"""Example cases the demo saves, so a new console shows cases at every stage.

On the example segments (``segments.examples``) and the demo offers
(``offers.seed``): a province contract-renewal case issued to every city, all
but the last city having acknowledged (the last has an overdue alert); a 5G
upgrade waiting for the province approver; an approved and scheduled member
day; a win-back draft. Each is taken through the real service calls, by the
demo users who would do it, so timelines and audit entries are genuine.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from ibis.backends import BaseBackend
from sqlalchemy import select

from telmark.actor import Actor
from telmark.cases import issuing, planning, service
from telmark.cases.models import Case
from telmark.cases.schemas import FromTemplate, IssueIn
from telmark.config import get_settings
from telmark.db import utcnow
from telmark.errors import DomainError
from telmark.offers.models import Offer
from telmark.offers.service import province_today
from telmark.org.domain import OrgKind
from telmark.org.models import OrgUnit
from telmark.segments.examples import EXAMPLES
from telmark.segments.models import Segment
from telmark.segments.snapshots import store
from telmark.uow import UnitOfWork

RENEWAL, UPGRADE, RESCUE = (name for name, _, _ in EXAMPLES)


def example_snapshot(uow: UnitOfWork, con: BaseBackend, directory: Path, name: str) -> int | None:
    """A fresh snapshot of the example segment ``name`` (None if it is missing or fails)."""
    segment_id = uow.session.scalar(select(Segment.id).where(Segment.name == name))
    if segment_id is None:
        return None
    try:
        return store.take_snapshot(uow=uow, con=con, directory=directory, segment_id=segment_id).id
    except DomainError:  # e.g. the churn rule without churn scores: that case is left out
        return None


def act_as(uow: UnitOfWork, username: str, path: str | None) -> None:
    """Act as a demo user (the seeds run each step as the user who would do it)."""
    uow.actor = Actor(username=username, scope_path=path, channel="system")


def seed_examples(
    *,
    uow: UnitOfWork,
    con: BaseBackend,
    directory: Path | None = None,
    today: date | None = None,
) -> int:
    """Save the example cases if there are none yet; how many were saved."""
    if uow.session.scalar(select(Case.id).limit(1)) is not None:
        return 0
    folder = directory or get_settings().resolved_snapshot_dir
    day = today or province_today()
    province = uow.session.scalar(select(OrgUnit).where(OrgUnit.kind == OrgKind.PROVINCE))
    if province is None:
        return 0
    offers = set(uow.session.scalars(select(Offer.code)))

    def pick(*codes: str) -> list[str]:
        return [c for c in codes if c in offers]

    saved = 0
    root = province.path

    def create(template: str, name: str, segment: str, codes: list[str], start: int) -> int | None:
        nonlocal saved
        snapshot = example_snapshot(uow, con, folder, segment)
        if snapshot is None or not codes:
            return None
        act_as(uow, "planner", root)
        detail = planning.create_from_template(
            uow=uow,
            spec=FromTemplate(
                template=template,
                name=name,
                org_code=province.code,
                snapshot_id=snapshot,
                offer_codes=codes,
                starts_on=day + timedelta(days=start),
                budget_fen=80_000_000,
            ),
            con=con,
            directory=folder,
        )
        saved += 1
        return detail.case.id

    def approve(case_id: int) -> None:
        act_as(uow, "planner", root)
        service.submit(uow=uow, case_id=case_id)
        act_as(uow, "approver", root)
        service.approve(uow=uow, case_id=case_id, con=con, directory=folder)
        act_as(uow, "planner", root)
        service.schedule(uow=uow, case_id=case_id)

    renewal = create(
        "contract_renewal",
        "合约到期续约挽留",
        RENEWAL,
        pick("OF-SUBSIDY-HC24", "OF-REDPACKET-BB"),
        0,
    )
    if renewal is not None:
        approve(renewal)
        # Issued four days ago with a three-day deadline: the last city is overdue.
        issued_at = utcnow() - timedelta(days=4)
        issuing.issue(
            uow=uow,
            case_id=renewal,
            spec=IssueIn(ack_hours=72),
            con=con,
            directory=folder,
            now=issued_at,
        )
        tree = issuing.issue_tree(uow=uow, case_id=renewal)
        for node in tree[:-1]:
            unit = uow.session.scalars(select(OrgUnit).where(OrgUnit.code == node.org_code)).one()
            act_as(uow, f"{node.org_code.lower()}.manager", unit.path)
            issuing.acknowledge(uow=uow, issue_id=node.id, now=issued_at + timedelta(hours=20))
        act_as(uow, "system", None)
        issuing.overdue_issues(uow=uow, now=utcnow())
    upgrade = create(
        "upgrade_5g", "4G用户5G升级", UPGRADE, pick("OF-GIFT-5G079", "OF-LOTTERY-5G"), 7
    )
    if upgrade is not None:
        act_as(uow, "planner", root)
        service.submit(uow=uow, case_id=upgrade)
    member = create("member_day", "月末会员日", UPGRADE, pick("OF-MEMBER-GOLD"), 14)
    if member is not None:
        approve(member)
    create("win_back_port_out", "高流失风险挽留", RESCUE, pick("OF-REDPACKET-BB"), 3)
    act_as(uow, "system", None)
    return saved
