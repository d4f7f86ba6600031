"""Front-line tasks in a real browser: an outlet user works tasks on a phone-sized screen
(375 × 812) and the city manager's completion view counts them."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from telmark.auth.models import User
from telmark.auth.permissions import Role
from telmark.dbcli import upgrade_database
from telmark.execution.tasks import service as tasks_service
from telmark.org import service as org_service
from telmark.org.domain import OrgKind, UnitSpec
from telmark.segments import service as segments_service
from telmark.segments import snapshots
from telmark.segments.schemas import SegmentCreate
from telmark.targeting import service as targeting
from telmark.targeting.domain import CaseSpec
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from tests._factories.auth import AUTH_UNITS, PASSWORD, make_user
from tests.browser.conftest import LiveServer, PageProbe, login
from tests.browser.test_segment_builder import CHARTS_DRAWN
from tests.integration.test_org_service import STAFF

pytestmark = pytest.mark.browser

OUTLET = "C01D1O1"  # the sample province's first hall, placed in the test tree's city C01
DAY = date(2027, 3, 1)  # far from the other browser tests' runs: no contact-policy overlap
ALL = {"version": 1, "root": {"kind": "tenure_months", "op": ">=", "value": 0}}
ROW = f'#completion-table tr[data-key="{OUTLET}"] td[data-col="%s"]'


@pytest.fixture(autouse=True)
def tasks(live_server: LiveServer) -> None:
    upgrade_database()
    con = connect("duckdb://" + str(live_server.data_dir / "warehouse.duckdb"))
    try:
        with UnitOfWork() as uow:
            org_service.sync_tree(
                uow=uow,
                units=[
                    *AUTH_UNITS,
                    UnitSpec("C01D1", "C01", OrgKind.DISTRICT, "市区"),
                    UnitSpec(OUTLET, "C01D1", OrgKind.OUTLET, "中心营业厅"),
                    UnitSpec("C01D1G1", "C01D1", OrgKind.GRID, "一网格"),
                ],
                staff=STAFF,
            )
            existing = set(uow.session.scalars(select(User.username)))
            for username, org, role in (
                ("tk.outlet", OUTLET, Role.OUTLET_MANAGER),
                ("tk.city", "C01", Role.CITY_MARKETING_MANAGER),
            ):
                if username not in existing:
                    make_user(uow, username, org=org, roles=[role])
            segment = segments_service.create_segment(
                uow=uow, spec=SegmentCreate(name="一线全量", rule=ALL)
            )
            snap = snapshots.take_snapshot(uow=uow, con=con, segment_id=segment.id,
                directory=live_server.data_dir / "snapshots")  # fmt: skip
            case = CaseSpec(case_id=31, code="FRONT", org_path="/", priority=5,
                            business_weight_bp=5000, snapshot_id=snap.id, offer_codes=(),
                            channels=("frontline",), holdout_bp=1000,
                            starts_on=date(2027, 1, 1), ends_on=date(2027, 12, 31))  # fmt: skip
            run = targeting.run_targeting(
                uow=uow, con=con, cases=[case], run_key="browser-tasks", on=DAY,
                directory=live_server.data_dir / "targeting",
                snapshot_dir=live_server.data_dir / "snapshots",
            )  # fmt: skip
            assert run.id is not None
            made = tasks_service.generate(
                uow=uow, run_id=run.id, directory=live_server.data_dir / "targeting"
            )
            assert made.created + made.existing > 2
    finally:
        con.disconnect()


def _count(page: object, column: str) -> int:
    return int(page.inner_text(ROW % column).replace(",", ""))  # type: ignore[attr-defined]


def test_an_outlet_completes_tasks_and_the_city_sees_it(
    live_server: LiveServer, probe: PageProbe
) -> None:
    page = probe.page
    login(probe, live_server.url, "tk.city", "/tasks/completion", PASSWORD)
    page.wait_for_function(CHARTS_DRAWN, arg=["completion-chart"])
    done_before = _count(page, "done")
    assigned = _count(page, "assigned")
    assert assigned > done_before

    # The outlet manager, on a phone.
    page.set_viewport_size({"width": 375, "height": 812})
    login(probe, live_server.url, "tk.outlet", "/tasks/mine", PASSWORD)
    assert page.locator(".nav-link.active").get_attribute("href") == "/tasks/mine"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    cards = page.locator('.task-card[data-state="open"]')
    first, second = cards.nth(0), cards.nth(1)
    first_id, second_id = first.get_attribute("data-task"), second.get_attribute("data-task")
    button = first.locator('button[data-outcome="accepted"]')
    box = button.bounding_box()
    assert box is not None
    assert box["height"] >= 44
    assert box["x"] + box["width"] <= 375
    # Reveal the number to call, then record what happened, in place.
    first.locator(".task-call").click()
    link = page.locator(f"#number-{first_id} a.task-call-link")
    link.wait_for()
    assert (link.get_attribute("href") or "").startswith("tel:1")
    first.locator("textarea[name=note]").fill("已办理 5G 套餐")
    button.click()
    done = page.locator(f'#task-{first_id}[data-state="done"]')
    done.wait_for()
    assert done.locator(".task-outcome").get_attribute("data-outcome") == "accepted"
    assert "已办理 5G 套餐" in done.inner_text()
    page.locator(f'#task-{second_id} button[data-outcome="unreachable"]').click()
    page.locator(f'#task-{second_id}[data-state="done"]').wait_for()
    assert probe.errors == []

    # Back to the city manager: the completion view counts both.
    page.set_viewport_size({"width": 1440, "height": 1000})
    login(probe, live_server.url, "tk.city", "/tasks/completion", PASSWORD)
    page.wait_for_function(CHARTS_DRAWN, arg=["completion-chart"])
    assert _count(page, "done") == done_before + 2
    assert _count(page, "accepted") >= 1
    assert _count(page, "unreachable") >= 1
    assert _count(page, "assigned") == assigned
    drawn = page.evaluate(
        "() => echarts.getInstanceByDom(document.getElementById('completion-chart'))"
        ".getOption().series[0].data"
    )
    assert done_before + 2 in drawn
    assert probe.errors == []
    assert probe.foreign_requests() == []
