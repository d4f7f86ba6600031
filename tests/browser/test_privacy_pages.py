"""The consent register and the audit trail in headless Chromium: forms, HTMX filters, masking."""

from __future__ import annotations

import pytest

from telmark.auth.permissions import Role
from telmark.dbcli import upgrade_database
from telmark.uow import UnitOfWork
from tests._factories.auth import PASSWORD, make_user, seed_org
from tests.browser.conftest import LiveServer, PageProbe
from tests.browser.conftest import login as sign_in

pytestmark = pytest.mark.browser
A = "13812345678"


@pytest.fixture
def people() -> None:
    upgrade_database()
    with UnitOfWork() as uow:
        seed_org(uow)
        make_user(uow, "zhou.kf", org="C01D01O001", roles=[Role.SERVICE_AGENT])
        make_user(uow, "shen.ji", roles=[Role.AUDITOR])
        make_user(uow, "li.na", roles=[Role.ANALYST])


def login(probe: PageProbe, url: str, username: str, path: str) -> None:
    sign_in(probe, url, username, path, PASSWORD)


@pytest.mark.usefixtures("people")
def test_agent_adds_filters_and_lifts_then_auditor_sees_it(
    live_server: LiveServer, probe: PageProbe
) -> None:
    page, url = probe.page, live_server.url
    login(probe, url, "zhou.kf", "/consent")
    page.fill("form[action='/consent/entries'] input[name=msisdn]", A)
    page.select_option("form[action='/consent/entries'] select[name=kind]", "dnd")
    page.select_option("form[action='/consent/entries'] select[name=channel]", "outbound_call")
    page.fill("form[action='/consent/entries'] input[name=reason]", "客户来电要求")
    page.click("form[action='/consent/entries'] button[type=submit]")
    assert page.locator(".form-done").inner_text() == "号码已登记。"
    assert page.locator("code.msisdn").first.inner_text() == A  # the agent may unmask

    # HTMX filter: the results change in place and the address keeps the filter.
    page.select_option(".filter-form select[name=kind]", "blacklist")
    page.click(".filter-form button[type=submit]")
    page.wait_for_url("**kind=blacklist**")
    assert page.locator("#consent-results").inner_text().count(A) == 0
    page.select_option(".filter-form select[name=kind]", "")
    page.click(".filter-form button[type=submit]")
    page.wait_for_function("document.querySelectorAll('code.msisdn').length === 1")

    page.fill(".revoke-form input[name=reason]", "客户重新同意")
    page.click(".revoke-form button[type=submit]")
    assert page.locator(".form-done").inner_text() == "该记录已撤销，仍保留在登记簿中。"
    assert page.locator("code.msisdn").count() == 0  # only entries in force are listed

    login(probe, url, "li.na", "/consent?status=all")
    assert page.locator("code.msisdn").first.inner_text() == "138****5678"

    login(probe, url, "shen.ji", "/audit")
    page.select_option(".filter-form select[name=entity_type]", "consent_entry")
    page.select_option(".filter-form select[name=action]", "update")
    page.click(".filter-form button[type=submit]")
    page.wait_for_url("**action=update**")
    rows = page.locator("tr[data-entry]")
    assert rows.count() == 1
    assert "客户重新同意" in rows.first.inner_text()
    assert "zhou.kf" in rows.first.inner_text()
    export = page.get_attribute("#audit-results a[download]", "href") or ""
    assert "entity_type=consent_entry" in export
    assert "action=update" in export
    assert probe.errors == []
    assert probe.foreign_requests() == []
