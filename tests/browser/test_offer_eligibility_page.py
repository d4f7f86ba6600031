"""The eligibility explainer in a real browser: a planner looks a line up by mobile number and
sees the open offer in green and the excluded one with its reason in Chinese (HTMX swap)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from telmark.auth.permissions import Role
from telmark.dbcli import upgrade_database
from telmark.offers import service as offer_service
from telmark.offers.schemas import parse_offer
from telmark.uow import UnitOfWork
from tests._factories.auth import PASSWORD, make_user, seed_org
from tests._factories.offers import TODAY, add_products, offer_doc
from tests._factories.warehouse import sample_tables
from tests.browser.conftest import LiveServer, PageProbe, login

pytestmark = pytest.mark.browser


def _active_line() -> dict[str, Any]:
    """An active line of the live server's province (the same seeded tables)."""
    rows = sample_tables(subscribers=6_000, months=12)["subscribers"].to_pylist()
    return next(r for r in rows if r["status"] == "active")


@pytest.fixture
def line(live_server: LiveServer, probe: PageProbe) -> dict[str, Any]:
    found = _active_line()
    upgrade_database()
    with UnitOfWork() as uow:
        seed_org(uow)
        make_user(uow, "elig.planner", roles=[Role.MARKETING_PLANNER], display_name="策划")
        add_products(uow.session, [found["plan_id"], "TV015"])
        uow.commit()
        window = {"valid_from": (TODAY - timedelta(days=3650)).isoformat(), "valid_to": None}
        for code, product in (("SAME-PLAN", found["plan_id"]), ("TV-PACK", "TV015")):
            doc = offer_doc(code, action="new", product_codes=[product], **window)
            offer_service.create_offer(uow=uow, spec=parse_offer(doc))
            offer_service.activate_offer(uow=uow, code=code)
    login(probe, live_server.url, "elig.planner", "/offers/eligibility", PASSWORD)
    return found


def test_explain_one_subscriber_in_chinese(
    live_server: LiveServer, probe: PageProbe, line: dict[str, Any]
) -> None:
    page = probe.page
    page.goto(live_server.url + "/offers/eligibility?lang=zh_CN")
    page.fill("#eligibility-form input[name=msisdn]", line["msisdn"])
    page.click("#eligibility-submit")
    page.wait_for_selector("#excluded-offers")
    eligible = page.locator("#eligible-offers li[data-offer='TV-PACK']")
    assert eligible.count() == 1
    assert eligible.locator("a").get_attribute("href") == "/offers/TV-PACK"
    excluded = page.locator("#excluded-offers li[data-offer='SAME-PLAN']")
    reason = excluded.locator("li[data-reason='already_holds']")
    assert reason.inner_text() == f"该号码已订购 {line['plan_id']}。"
    # Masked, and the number never went into the address bar.
    assert line["msisdn"] not in page.locator("#eligibility-result").inner_text()
    assert page.url == live_server.url + "/offers/eligibility?lang=zh_CN"
    assert probe.errors == []
    assert probe.foreign_requests() == []
