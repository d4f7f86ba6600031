"""The catalog in a real browser: filter the browser, open a bundle, fix a refused version.

Screenshots for the docs when TELMARK_SCREENSHOTS=1 (docs/img/catalog-*.png).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from telmark.auth.permissions import Role
from telmark.catalog import service
from telmark.catalog.schemas import ComponentIn, HandsetIn, ProductCreate, VersionCreate
from telmark.dbcli import upgrade_database
from telmark.uow import UnitOfWork
from tests._factories.auth import PASSWORD, make_user, seed_org
from tests.browser.conftest import LiveServer, PageProbe, login

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"
START = date(2025, 1, 1)


def _products() -> list[ProductCreate]:
    def plan(code: str, name: str, fee: int, gb: int) -> ProductCreate:
        return ProductCreate(
            code=code, name=name, kind="plan", family="5g_plan", payment_type="postpaid",
            version=VersionCreate(valid_from=START, monthly_fee_fen=fee, data_mb=gb * 1024,
                                  voice_min=300, is_5g=True),
        )  # fmt: skip

    return [
        plan("PL5G079", "5G畅享套餐79元", 7_900, 40),
        plan("PL5G099", "5G畅享套餐99元", 9_900, 60),
        ProductCreate(
            code="BB300", name="家庭宽带300M", kind="broadband", family="broadband",
            version=VersionCreate(valid_from=START, monthly_fee_fen=6_000, speed_mbps=300),
        ),
        ProductCreate(
            code="BD129", name="全家享融合套餐129元", kind="bundle", family="converged",
            payment_type="postpaid",
            version=VersionCreate(
                valid_from=START, monthly_fee_fen=12_900, data_mb=40_960, voice_min=500,
                is_5g=True, speed_mbps=300,
                components=[ComponentIn(code="PL5G079", fee_share_fen=8_900),
                            ComponentIn(code="BB300", fee_share_fen=4_000)],
            ),
        ),
        ProductCreate(
            code="HC24", name="5G合约购机24个月(月承诺99元)", kind="handset_contract",
            family="handset", payment_type="postpaid",
            version=VersionCreate(
                valid_from=START, monthly_fee_fen=9_900,
                handset=HandsetIn(device_model="荣耀X60 5G", device_price_fen=159_900,
                                  subsidy_fen=60_000, lock_in_months=24,
                                  min_monthly_spend_fen=9_900),
            ),
        ),
    ]  # fmt: skip


@pytest.fixture(autouse=True)
def signed_in(live_server: LiveServer, probe: PageProbe) -> None:
    upgrade_database()
    with UnitOfWork() as uow:
        seed_org(uow)
        make_user(uow, "cat.planner", roles=[Role.MARKETING_PLANNER], display_name="策划")
        for spec in _products():
            service.create_product(uow=uow, spec=spec)
    login(probe, live_server.url, "cat.planner", "/catalog", PASSWORD)


def test_filter_open_a_bundle_and_fix_a_refused_version(
    live_server: LiveServer, probe: PageProbe
) -> None:
    page = probe.page
    assert page.locator("#catalog-table tbody tr").count() == 5
    page.select_option('select[name="kind"]', "bundle")
    page.click("#catalog-filters button[type=submit]")
    page.wait_for_url("**/catalog?kind=bundle**")
    rows = page.locator("#catalog-table tbody tr")
    assert rows.count() == 1
    assert "融合套餐" in rows.first.inner_text()
    if os.environ.get("TELMARK_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.goto(f"{live_server.url}/catalog")
        page.screenshot(path=str(SCREENSHOTS / "catalog-browser.png"), full_page=True)
        page.goto(f"{live_server.url}/catalog?kind=bundle")

    page.click('a[href="/catalog/BD129"] >> nth=0')
    page.wait_for_url("**/catalog/BD129")
    assert page.locator("#component-table tbody tr").count() == 2
    # A price cut whose component shares no longer add up: refused beside the components.
    page.fill('input[name="fee_yuan"]', "119")
    page.click("#version-form button[type=submit]")
    error = page.locator('[data-field-error="components"]')
    error.wait_for()
    assert "12900" in error.inner_text()
    assert page.input_value('input[name="fee_yuan"]') == "119"
    assert page.locator("#price-timeline .timeline-row").count() == 1
    # Move ten yuan off the broadband share: saved, and the timeline shows both prices.
    page.fill('input[name="component_share_yuan_1"]', "30")
    page.click("#version-form button[type=submit]")
    page.wait_for_url("**/catalog/BD129?done=version")
    assert page.locator("#price-timeline .timeline-row").count() == 2
    assert page.locator('#version-table tr[data-version="2"]').count() == 1
    if os.environ.get("TELMARK_SCREENSHOTS") == "1":
        page.screenshot(path=str(SCREENSHOTS / "catalog-product.png"), full_page=True)
    # The refused form came back with 422, which Chromium logs; nothing else went wrong.
    assert [e for e in probe.errors if "status of 422" not in e] == []
    assert probe.foreign_requests() == []
