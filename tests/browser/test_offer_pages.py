"""The offer book in a real browser: the book, an offer's economics chart, the editor's live
preview (a typo marked beside its field, then fixed and saved) and a lottery draw replayed.

Screenshots for the docs when TELMARK_SCREENSHOTS=1 (docs/img/offer-*.png).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from telmark.auth.permissions import Role
from telmark.dbcli import upgrade_database
from telmark.offers import service
from telmark.offers.schemas import parse_offer
from telmark.org import service as org_service
from telmark.org.domain import OrgKind, UnitSpec
from telmark.uow import UnitOfWork
from tests._factories.auth import AUTH_UNITS, PASSWORD, make_user, seed_org
from tests._factories.offers import add_products, gift, lottery, offer_doc
from tests.browser.conftest import LiveServer, PageProbe, login
from tests.integration.test_org_service import STAFF

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"


def _shoot(page: Any, name: str) -> None:
    if os.environ.get("TELMARK_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"offer-{name}.png"), full_page=True)


@pytest.fixture(autouse=True)
def signed_in(live_server: LiveServer, probe: PageProbe) -> None:
    upgrade_database()
    today = service.province_today()
    window = {"valid_from": date(today.year, 1, 1).isoformat(), "valid_to": None}
    points = {"tool": "points", "multiplier_bp": 20_000, "base_points_per_month": 200, "months": 6}
    prizes = lottery(
        ("phone", 20_000, 300_000, 5), ("cup", 300_000, 800, 500), budget_fen=2_000_000
    )
    prizes["prizes"][0]["name"] = "5G手机"
    prizes["prizes"][1]["name"] = "保温杯"
    with UnitOfWork() as uow:
        seed_org(uow)
        make_user(uow, "offer.planner", roles=[Role.MARKETING_PLANNER], display_name="策划")
        add_products(uow.session)
        uow.commit()
        service.create_offer(
            uow=uow,
            spec=parse_offer(
                offer_doc("OF-GIFT", gift(500, 2_000), name="升级5G送蓝牙耳机", **window)
            ),
        )
        service.create_offer(
            uow=uow,
            spec=parse_offer(
                offer_doc(
                    "OF-LUCKY", points, prizes, name="订流量包积分翻倍再抽奖",
                    action="cross_sell", excludes=["OF-GIFT"], **window,
                )
            ),
        )  # fmt: skip
        service.activate_offer(uow=uow, code="OF-LUCKY")
    login(probe, live_server.url, "offer.planner", "/offers", PASSWORD)


def test_the_book_an_offer_chart_and_the_live_preview(
    live_server: LiveServer, probe: PageProbe
) -> None:
    page = probe.page
    assert page.locator("#offer-table tbody tr").count() == 2
    assert page.locator('tr[data-offer="OF-LUCKY"] .tool-badge').count() == 2
    _shoot(page, "book")
    page.select_option('select[name="tool"]', "lottery")
    page.click("#offer-filters button[type=submit]")
    page.wait_for_url("**/offers?**tool=lottery**")
    assert page.locator("#offer-table tbody tr").count() == 1

    page.click('a[href="/offers/OF-LUCKY"] >> nth=0')
    page.wait_for_url("**/offers/OF-LUCKY")
    page.locator("#economics-chart canvas").wait_for()
    assert page.locator('#offer-tools [data-tool="lottery"] table tbody tr').count() == 2
    assert page.locator('#offer-pools [data-pool="prize:phone"]').count() == 1
    _shoot(page, "page")

    page.goto(f"{live_server.url}/offers/new")
    page.fill('input[name="code"]', "OF-RP-NEW")
    page.fill('input[name="name"]', "新装宽带送红包")
    page.select_option('select[name="action"]', "new")
    page.fill('input[name="product_codes"]', "BB300")
    page.fill('input[name="valid_from"]', "2026-01-01")
    page.select_option("#add-tool", "red_packet")
    page.click("#add-tool-button")
    page.locator('fieldset[data-tool="red_packet"]').wait_for()
    page.fill('input[name="t0.amount_fen"]', "50")
    page.fill('input[name="t0.validity_days"]', "30")
    page.fill('input[name="t0.total_budget_fen"]', "abc")
    page.fill('input[name="economics.incremental_monthly_revenue_fen"]', "25")
    # The typo is marked beside its field by the preview; nothing else is computed yet.
    selector = '[data-field-error="tools[0].total_budget_fen"]'
    page.wait_for_function(f"document.querySelector('{selector}').textContent.trim() !== ''")
    error = page.locator(selector)
    assert page.locator("#economics-pending").count() == 1
    page.fill('input[name="t0.total_budget_fen"]', "100000")
    page.locator('[data-economics="incentive_cost_fen"]').wait_for()
    assert error.inner_text() == ""
    page.locator("#economics-chart canvas").wait_for()
    assert "¥50.00" in page.inner_text('[data-economics="incentive_cost_fen"]')
    _shoot(page, "editor")
    page.click("#save-offer")
    page.wait_for_url("**/offers/OF-RP-NEW?done=created")
    assert page.locator('[data-status="draft"]').count() == 1
    page.click("#activate-form button[type=submit]")
    page.wait_for_url("**/offers/OF-RP-NEW?done=activated")
    assert page.locator('#offer-pools [data-pool="red_packet"]').count() == 1
    assert probe.errors == []
    assert probe.foreign_requests() == []


def test_a_draw_is_replayed(live_server: LiveServer, probe: PageProbe) -> None:
    page = probe.page
    csrf = page.get_attribute('meta[name="csrf-token"]', "content")
    taken = page.request.post(
        f"{live_server.url}/api/offers/OF-LUCKY/redeem",
        headers={"X-CSRF-Token": csrf, "Idempotency-Key": "browser-1"},
        data={"subscriber_id": 1},
    )
    assert taken.status == 201, taken.text()
    redemption = taken.json()
    # The line's home outlet joins the operational org tree, so the province sees it.
    home = redemption["org_id"]
    city, district = home[:3], home[: home.index("O")]
    with UnitOfWork() as uow:
        org_service.sync_tree(
            uow=uow,
            units=[
                *AUTH_UNITS,
                UnitSpec(city, "P00", OrgKind.CITY, "测试分公司"),
                UnitSpec(district, city, OrgKind.DISTRICT, "测试区"),
                UnitSpec(home, district, OrgKind.OUTLET, "测试营业厅"),
            ],
            staff=STAFF,
        )
    page.goto(f"{live_server.url}/offers/OF-LUCKY")
    page.click(f'a[data-draw="{redemption["draw"]["id"]}"]')
    page.wait_for_url(f"**/draws/{redemption['draw']['id']}")
    assert page.inner_text("#draw-seed") == redemption["draw"]["seed"]
    page.click("#replay-button")
    page.locator("#replay-verdict.replay-ok").wait_for()
    _shoot(page, "draw")
    assert probe.errors == []
    assert probe.foreign_requests() == []
