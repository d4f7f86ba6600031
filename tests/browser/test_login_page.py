"""Logging in through the real login page in headless Chromium; a token; logging out."""

from __future__ import annotations

import pytest

from telmark.auth.permissions import Role
from telmark.dbcli import upgrade_database
from telmark.uow import UnitOfWork
from tests._factories.auth import PASSWORD, make_user, seed_org
from tests.browser.conftest import LiveServer, PageProbe

pytestmark = pytest.mark.browser


@pytest.fixture
def analyst() -> None:
    # The live server's requests open units of work on the current test's database.
    upgrade_database()
    with UnitOfWork() as uow:
        seed_org(uow)
        make_user(uow, "li.na", org="C01", roles=[Role.ANALYST], display_name="李娜")


@pytest.mark.usefixtures("analyst")
def test_login_issue_token_and_logout(live_server: LiveServer, probe: PageProbe) -> None:
    page = probe.page
    page.goto(live_server.url + "/account/tokens")
    assert page.url == live_server.url + "/login?next=%2Faccount%2Ftokens"
    assert page.locator("h1").inner_text() == "登录"

    page.fill("input[name=username]", "li.na")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    assert page.locator(".form-error").inner_text() == "用户名或密码错误。"
    assert page.input_value("input[name=username]") == "li.na"

    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/account/tokens")
    assert page.locator(".user-menu-name").inner_text() == "李娜"
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["telmark_session"]["httpOnly"] is True
    assert cookies["telmark_session"]["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find("telmark_session") == -1  # unreadable to scripts
    meta = page.get_attribute("meta[name=csrf-token]", "content")
    assert meta
    assert meta in (page.get_attribute("body", "hx-headers") or "")

    page.fill("input[name=name]", "报表脚本")
    page.click("form[action='/account/tokens'] button[type=submit]")
    token = page.locator(".raw-token").inner_text()
    assert token.startswith("tmk_")
    assert page.locator("tr[data-token-id]").count() == 1

    page.click(".user-menu summary")
    page.click(".logout-form button")
    page.wait_for_url(live_server.url + "/login")
    page.goto(live_server.url + "/account/tokens")
    assert page.url.startswith(live_server.url + "/login?next=")
    # The only console error: the browser reporting the wrong password's 401 answer.
    assert probe.errors == [
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    ]
    assert probe.foreign_requests() == []
