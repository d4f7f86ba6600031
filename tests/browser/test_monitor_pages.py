"""The execution monitor in a real browser: a running case whose checkpoint has passed with its
target unmet raises an alert in the console's inbox after a scan, which the planner
acknowledges and resolves with notes in place (HTMX)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from telmark.auth.models import User
from telmark.auth.permissions import Role
from telmark.cases.domain import CaseLevel, CaseStatus, Objective
from telmark.cases.models import Case
from telmark.dbcli import upgrade_database
from telmark.execution.monitor.domain import local_day
from telmark.org import service as org_service
from telmark.uow import UnitOfWork
from tests._factories.auth import AUTH_UNITS, PASSWORD, make_user
from tests.browser.conftest import LiveServer, PageProbe, login
from tests.browser.test_segment_builder import CHARTS_DRAWN
from tests.integration.test_org_service import STAFF

pytestmark = pytest.mark.browser

CODE = "YX-MON-0001"


@pytest.fixture(autouse=True)
def running_case(live_server: LiveServer) -> int:  # noqa: ARG001 - the server's database
    """A province case running since 20 days ago whose 100-contact checkpoint was 5 days ago;
    nothing has been sent."""
    upgrade_database()
    today = local_day(datetime.now(UTC))  # the province's day, as the monitor counts it
    with UnitOfWork() as uow:
        org_service.sync_tree(uow=uow, units=AUTH_UNITS, staff=STAFF)
        if "mon.planner" not in set(uow.session.scalars(select(User.username))):
            make_user(uow, "mon.planner", org="P00", roles=[Role.MARKETING_PLANNER])
        case = uow.session.scalar(select(Case).where(Case.code == CODE))
        if case is None:
            case = Case(
                code=CODE, name="监控演示案", owner="planner", level=CaseLevel.PROVINCE,
                org_code="P00", objective=Objective.RETAIN, lines=[], channels=["sms"],
                starts_on=today - timedelta(days=20), ends_on=today + timedelta(days=20),
                horizon_months=12, kpis=[], budget_fen=0, holdout_bp=1000, priority=5,
                checkpoints=[{"on": (today - timedelta(days=5)).isoformat(),
                              "metric": "contacts", "target": 100}],
                business_weight_bp=5000, status=CaseStatus.RUNNING, version=1,
                created_by="planner",
            )  # fmt: skip
            uow.session.add(case)
        uow.commit()
        return case.id


def test_a_missed_checkpoint_raises_an_alert_that_is_acknowledged_and_resolved(
    live_server: LiveServer, probe: PageProbe, running_case: int
) -> None:
    page = probe.page
    login(probe, live_server.url, "mon.planner", "/monitor", PASSWORD)
    row = page.locator(f'#cases-table tr[data-case="{running_case}"]')
    assert row.locator('td[data-col="worst"]').get_attribute("data-state") == "missed"
    link = f'a[href="/monitor/cases/{running_case}"]'
    mine = page.locator(f'#alerts article[data-kind="execution_behind"]:has({link})')
    assert mine.count() == 0

    page.click("#scan-now")
    page.wait_for_url(re.compile(r".*/monitor\?scanned=\d+$"))
    alert = mine.first
    alert.wait_for()
    assert alert.get_attribute("data-status") == "open"
    assert "100" in alert.inner_text()  # the target it missed
    alert_id = alert.get_attribute("data-alert")
    # Scanning again raises nothing twice.
    page.click("#scan-now")
    page.wait_for_url(re.compile(r".*/monitor\?scanned=0$"))
    assert mine.count() == 1

    card = page.locator(f"#alert-{alert_id}")
    card.locator("input[name=note]").fill("已通知各市加快外呼")
    card.locator('button[data-action="acknowledge"]').click()
    page.locator(f'#alert-{alert_id}[data-status="acknowledged"]').wait_for()
    assert "已通知各市加快外呼" in card.inner_text()
    assert "mon.planner" in card.inner_text()

    card.locator("input[name=note]").fill("补发短信后已达标")
    card.locator('button[data-action="resolve"]').click()
    page.locator(f'#alert-{alert_id}[data-status="resolved"]').wait_for()
    assert "补发短信后已达标" in card.inner_text()
    assert card.locator("form").count() == 0
    assert probe.errors == []

    # The case page shows the missed checkpoint and draws its plan line.
    page.goto(f"{live_server.url}/monitor/cases/{running_case}")
    page.wait_for_function(CHARTS_DRAWN, arg=["plan-chart"])
    assert page.locator('#checkpoints tr[data-state="missed"]').count() == 1
    assert probe.errors == []
    assert probe.foreign_requests() == []
