"""A marketing case walked through the console in a real browser: a planner drafts it from a
template and submits it, an approver approves it from the inbox, the planner schedules it,
issues it to the cities by hand and runs targeting from the case page, landing on the run's
funnel. Screenshots for the docs when TELMARK_SCREENSHOTS=1 (docs/img/case-*.png)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from telmark.auth.models import User
from telmark.auth.permissions import Role
from telmark.config import Settings
from telmark.dbcli import upgrade_database
from telmark.offers import service as offer_service
from telmark.offers.domain import OfferStatus
from telmark.offers.schemas import parse_offer
from telmark.org import service as org_service
from telmark.segments import service as segments_service
from telmark.segments import snapshots
from telmark.segments.schemas import SegmentCreate
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from tests._factories.auth import AUTH_UNITS, PASSWORD, make_user
from tests._factories.offers import TODAY, add_products, gift, offer_doc
from tests.browser.conftest import LiveServer, PageProbe, login
from tests.browser.test_segment_builder import CHARTS_DRAWN
from tests.integration.test_org_service import STAFF

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"
OFFER = "WALK-GIFT"
STARTS = "2028-05-01"  # far from the other browser tests' runs: no contact-policy overlap
RUN_DAY = "2028-05-03"
ALL = {"version": 1, "root": {"kind": "tenure_months", "op": ">=", "value": 0}}


def _shot(page: Any, name: str) -> None:
    if os.environ.get("TELMARK_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"case-{name}.png"), full_page=True)


@pytest.fixture(autouse=True)
def world(live_server: LiveServer) -> int:
    """Users, an offer on sale and a province-wide snapshot; the snapshot's id."""
    upgrade_database()
    con = connect("duckdb://" + str(live_server.data_dir / "warehouse.duckdb"))
    try:
        with UnitOfWork() as uow:
            org_service.sync_tree(uow=uow, units=AUTH_UNITS, staff=STAFF)
            existing = set(uow.session.scalars(select(User.username)))
            for username, role in (
                ("cw.planner", Role.MARKETING_PLANNER),
                ("cw.approver", Role.APPROVER),
            ):
                if username not in existing:
                    make_user(uow, username, org="P00", roles=[role])
            add_products(uow.session)
            uow.commit()
            if OFFER not in {o.code for o in offer_service.list_offers(uow=uow)}:
                offer_service.create_offer(uow=uow, spec=parse_offer(offer_doc(OFFER, gift(10**6))))
            if offer_service.get_offer(uow=uow, code=OFFER).status is OfferStatus.DRAFT:
                offer_service.activate_offer(uow=uow, code=OFFER, today=TODAY)
            segment = segments_service.create_segment(
                uow=uow, spec=SegmentCreate(name="营销案走查", rule=ALL)
            )
            # Where the live app reads snapshot files (conftest: data_dir=<root>/data).
            directory = Settings(data_dir=live_server.data_dir / "data").resolved_snapshot_dir
            snap = snapshots.take_snapshot(
                uow=uow, con=con, segment_id=segment.id, directory=directory
            )
    finally:
        con.disconnect()
    return snap.id


def test_a_case_from_template_to_targeting(
    live_server: LiveServer, probe: PageProbe, world: int
) -> None:
    page = probe.page
    url = live_server.url
    login(probe, url, "cw.planner", "/cases", PASSWORD)
    assert page.locator(".nav-link.active").get_attribute("href") == "/cases"
    page.click("#new-case")
    page.click('[data-use-template="upgrade_5g"]')
    page.fill("input[name=name]", "走查：5G 升级")
    page.select_option("select[name=snapshot_id]", str(world))
    page.fill("input[name=starts_on]", STARTS)
    page.fill("input[name=budget_fen]", "50000")  # below the province threshold
    page.check(f'input[name="offer.{OFFER}"]')
    page.click("#save-case")
    page.wait_for_url(re.compile(r".*/cases/\d+\?done=created"))
    match = re.search(r"/cases/(\d+)", page.url)
    assert match is not None
    case_id = int(match.group(1))
    page.wait_for_function(CHARTS_DRAWN, arg=["sensitivity-chart", "monthly-chart"])
    assert page.locator("#sensitivity-table tbody tr").count() == 5
    assert page.locator("#live-mark").count() == 1
    code = page.locator("#case-head .case-status").get_attribute("data-status")
    assert code == "draft"
    page.click('form[data-action="submit"] button')
    page.wait_for_url(f"**/cases/{case_id}?done=submit")
    assert page.locator("#case-head .case-status").get_attribute("data-status") == "submitted"
    case_code = page.locator(".subtitle code").first.inner_text()

    login(probe, url, "cw.approver", "/cases/inbox", PASSWORD)
    row = page.locator(f'#inbox-table tr[data-case="{case_code}"]')
    row.wait_for()
    _shot(page, "inbox")
    row.locator(f'form[data-approve="{case_code}"] button').click()
    page.wait_for_url("**/cases/inbox?done=approved")
    assert page.locator(f'#inbox-table tr[data-case="{case_code}"]').count() == 0

    login(probe, url, "cw.planner", f"/cases/{case_id}", PASSWORD)
    assert page.locator("#frozen-mark").count() == 1
    page.wait_for_function(CHARTS_DRAWN, arg=["sensitivity-chart", "monthly-chart"])
    _shot(page, "detail")
    page.click('form[data-action="schedule"] button')
    page.wait_for_url(f"**/cases/{case_id}?done=schedule")
    page.click("#issue-case")
    page.wait_for_url(f"**/cases/{case_id}/issue")
    page.check('input[name=split][value="manual"]')
    page.fill('input[name="part.C01"]', "300")
    page.fill('input[name="part.C02"]', "200")
    page.click("#issue-submit")
    page.wait_for_url(f"**/cases/{case_id}/issue?done=issued")
    targets = {
        row.get_attribute("data-org"): row.locator("td.num").inner_text()
        for row in page.locator("#issue-tree tbody tr").all()
    }
    assert targets == {"C01": "300", "C02": "200"}
    assert page.locator('#issue-tree tr[data-state="issued"]').count() == 2
    _shot(page, "issue-tree")

    page.goto(f"{url}/cases/{case_id}")
    page.fill("#run-form input[name=run_key]", f"walk-{case_id}")
    page.fill("#run-form input[name=on]", RUN_DAY)
    page.click("#run-targeting")
    page.wait_for_url(re.compile(r".*/targeting/runs/\d+$"))
    counts = page.locator(f'#funnel-table tr[data-case="{case_id}"] td.num').all_inner_texts()
    assert len(counts) == 7
    numbers = [int(c.replace(",", "")) for c in counts]
    assert numbers[0] > 0  # the snapshot's members
    assert 0 < numbers[-1] <= numbers[0]  # a contact list, no longer than the snapshot
    page.goto(f"{url}/cases/{case_id}")
    assert page.locator("#case-runs tr[data-run]").count() == 1
    assert probe.errors == []
    assert probe.foreign_requests() == []
