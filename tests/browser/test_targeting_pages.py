"""A targeting run's page in a real browser: the runs list, the funnel chart drawn from the
run's counts, the exclusion and balance tables; the policy page's form for an admin."""

from __future__ import annotations

from datetime import date

import pytest

from telmark.auth.permissions import Role
from telmark.dbcli import upgrade_database
from telmark.segments import service as segments_service
from telmark.segments import snapshots
from telmark.segments.schemas import SegmentCreate
from telmark.targeting import service
from telmark.targeting.domain import CaseSpec
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from tests._factories.auth import PASSWORD, make_user, seed_org
from tests.browser.conftest import LiveServer, PageProbe, login
from tests.browser.test_segment_builder import CHARTS_DRAWN

pytestmark = pytest.mark.browser

RULES = (
    {"version": 1, "root": {"kind": "tenure_months", "op": ">=", "value": 12}},
    {"version": 1, "root": {"kind": "field", "field": "payment_type", "op": "=",
                            "value": "prepaid"}},
)  # fmt: skip


@pytest.fixture(autouse=True)
def a_run(live_server: LiveServer) -> int:
    upgrade_database()
    con = connect("duckdb://" + str(live_server.data_dir / "warehouse.duckdb"))
    try:
        with UnitOfWork() as uow:
            seed_org(uow)
            make_user(uow, "tg.planner", roles=[Role.MARKETING_PLANNER], display_name="策划")
            make_user(uow, "tg.admin", roles=[Role.PROVINCE_ADMIN], display_name="管理员")
            cases = []
            for i, rule in enumerate(RULES, start=1):
                segment = segments_service.create_segment(
                    uow=uow, spec=SegmentCreate(name=f"投放{i}", rule=rule)
                )
                snap = snapshots.take_snapshot(uow=uow, con=con, segment_id=segment.id,
                    directory=live_server.data_dir / "snapshots")  # fmt: skip
                cases.append(
                    CaseSpec(case_id=i, code=f"CASE{i}", org_path="/", priority=4 + i,
                             business_weight_bp=5000, snapshot_id=snap.id, offer_codes=(),
                             channels=("sms", "app_push"), holdout_bp=2000,
                             starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31))
                )  # fmt: skip
            run = service.run_targeting(
                uow=uow, con=con, cases=cases, run_key="browser", on=date(2026, 6, 1),
                directory=live_server.data_dir / "targeting",
                snapshot_dir=live_server.data_dir / "snapshots",
            )  # fmt: skip
    finally:
        con.disconnect()
    assert run.id is not None
    return run.id


def test_the_run_page_draws_the_funnel(
    live_server: LiveServer, probe: PageProbe, a_run: int
) -> None:
    login(probe, live_server.url, "tg.planner", "/targeting/runs", PASSWORD)
    page = probe.page
    assert page.locator(".nav-link.active").get_attribute("href") == "/targeting/runs"
    page.click(f'tr[data-run="{a_run}"] a')
    page.wait_for_url(f"**/targeting/runs/{a_run}")
    page.wait_for_function(CHARTS_DRAWN, arg=["funnel-chart"])
    # One bar series per case plus all cases, seven steps each.
    series = page.evaluate(
        "() => echarts.getInstanceByDom(document.getElementById('funnel-chart'))"
        ".getOption().series.map((s) => s.data.length)"
    )
    assert series == [7, 7, 7]
    assert page.locator("#funnel-table tbody tr").count() == 3
    assert page.locator('#exclusion-table tr[data-reason="arbitration_lost"]').count() == 1
    assert page.locator("#balance-table tbody tr").count() == 8  # 2 cases × 4 covariates
    assert probe.errors == []
    assert probe.foreign_requests() == []


def test_an_admin_saves_the_policy(live_server: LiveServer, probe: PageProbe) -> None:
    login(probe, live_server.url, "tg.admin", "/targeting/policy", PASSWORD)
    page = probe.page
    page.fill('input[name="global_cap"]', "3")
    page.fill('input[name="cap_sms"]', "1")
    page.click("#policy-form button[type=submit]")
    page.wait_for_url("**/targeting/policy?saved=1")
    assert page.locator("#policy-cap").inner_text().startswith("3")
    assert probe.errors == []
