"""Console pages of the auth domain: nav per role, user menu, user admin forms, roles, tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from telmark.auth.models import User
from tests._factories.auth import PASSWORD
from tests._factories.auth_client import LOGIN_CSRF, AuthApp, auth_app


@pytest.fixture
def app(tmp_path: Path, db: sessionmaker[Session]) -> Iterator[AuthApp]:
    yield from auth_app(tmp_path, db)


def _nav(html: str) -> list[str]:
    nav = html.split('<ul class="nav">')[1].split("</ul>")[0]
    return re.findall(r'href="([^"]+)"', nav)


def test_nav_and_user_menu_follow_the_roles(app: AuthApp) -> None:
    app.login("admin")
    page = app.client.get("/account/password")
    assert {"/users", "/roles"} <= set(_nav(page.text))
    assert 'class="user-menu"' in page.text
    assert "省公司系统管理员" in page.text  # the role, in Chinese
    assert "江苏省公司" in page.text  # the org unit
    assert 'action="/logout"' in page.text
    csrf = app.csrf()
    assert f'hx-headers=\'{{"X-CSRF-Token": "{csrf}"}}\'' in page.text
    app.client.cookies.clear()
    app.login("agent")
    page = app.client.get("/account/password")
    assert "/users" not in _nav(page.text)
    assert "/roles" not in _nav(page.text)
    assert "客服/营业员" in page.text  # the service agent role, in Chinese


def test_login_lands_on_the_first_page_the_role_may_open(app: AuthApp) -> None:
    def landing(username: str) -> str:
        app.client.cookies.clear()
        page = app.client.get("/login")
        match = LOGIN_CSRF.search(page.text)
        assert match is not None
        response = app.client.post(
            "/login",
            data={
                "username": username,
                "password": PASSWORD,
                "csrf_token": match.group(1),
                "next": "/",
            },
            follow_redirects=False,
        )
        assert response.status_code == 303
        return response.headers["location"]

    assert landing("analyst") == "/"
    # A service agent has no aggregate KPIs; their first page is the customer lookup.
    assert landing("agent") == "/customers"


def test_create_user_from_the_console(app: AuthApp, db: sessionmaker[Session]) -> None:
    csrf = app.login("admin")
    page = app.client.get("/users")
    assert page.status_code == 200
    assert 'data-username="city2"' in page.text
    assert '<option value="C01">' in page.text  # org choices of the admin's scope
    form = {
        "csrf_token": csrf,
        "username": "Zhang.San",
        "display_name": "张三",
        "org_code": "C01D01",
        "roles": ["analyst", "approver"],
        "password": "short",
        "repeat_password": "short2",
    }
    rejected = app.client.post("/users", data=form)
    assert rejected.status_code == 422
    assert "密码长度至少为 10 个字符" in rejected.text
    assert "两次输入的密码不一致" in rejected.text
    assert 'value="张三"' in rejected.text  # kept for correction
    taken = app.client.post(
        "/users",
        data={**form, "username": "city1", "password": PASSWORD, "repeat_password": PASSWORD},
    )
    assert "该用户名已被使用" in taken.text
    created = app.client.post(
        "/users",
        data={**form, "password": PASSWORD, "repeat_password": PASSWORD},
        follow_redirects=False,
    )
    assert created.status_code == 303
    detail = app.client.get(created.headers["location"])
    assert "用户已创建" in detail.text
    assert "玄武区" in detail.text
    with db() as session:
        user = session.scalar(select(User).where(User.username == "zhang.san"))
        assert user is not None
        assert sorted(user.role_set) == ["analyst", "approver"]


def test_disable_enable_roles_and_reset_from_the_console(app: AuthApp) -> None:
    csrf = app.login("admin")
    agent = app.ids["agent"]
    page = app.client.get(f"/users/{agent}")
    assert "停用用户" in page.text
    no_token = app.client.post(f"/users/{agent}/disable")
    assert no_token.status_code == 403
    assert "停用用户" in app.client.get(f"/users/{agent}").text  # nothing changed
    disabled = app.client.post(f"/users/{agent}/disable", data={"csrf_token": csrf})
    assert "用户已停用" in disabled.text
    assert "启用用户" in disabled.text
    enabled = app.client.post(f"/users/{agent}/enable", data={"csrf_token": csrf})
    assert "用户已启用" in enabled.text
    roles = app.client.post(
        f"/users/{agent}/roles",
        data={"csrf_token": csrf, "roles": ["service_agent", "outlet_manager"]},
    )
    assert "角色已保存" in roles.text
    none = app.client.post(f"/users/{agent}/roles", data={"csrf_token": csrf})
    assert none.status_code == 422
    assert "请至少选择一个角色" in none.text
    self_disable = app.client.post(f"/users/{app.ids['admin']}/disable", data={"csrf_token": csrf})
    assert self_disable.status_code == 409
    assert "不能停用您自己的账号" in self_disable.text
    reset = app.client.post(
        f"/users/{agent}/reset-password",
        data={
            "csrf_token": csrf,
            "password": "counter-2026-pw",
            "repeat_password": "counter-2026-pw",
        },
    )
    assert "密码已重置" in reset.text
    app.client.cookies.clear()
    app.login("agent", "counter-2026-pw")


def test_city_manager_sees_only_their_city_and_cannot_manage(app: AuthApp) -> None:
    csrf = app.login("city1")
    page = app.client.get("/users")
    assert 'data-username="agent"' in page.text
    assert 'data-username="city2"' not in page.text
    assert 'action="/users"' not in page.text  # no create form
    assert app.client.get(f"/users/{app.ids['city2']}").status_code == 404
    detail = app.client.get(f"/users/{app.ids['agent']}")
    assert "停用用户" not in detail.text
    forbidden = app.client.post(f"/users/{app.ids['agent']}/disable", data={"csrf_token": csrf})
    assert forbidden.status_code == 403


def test_roles_page_shows_the_permission_table(app: AuthApp) -> None:
    app.login("auditor")
    page = app.client.get("/roles", params={"lang": "en"})
    assert page.status_code == 200
    row = page.text.split('data-action="audit:read"')[1].split("</tr>")[0]
    assert row.count("✓") == 2  # admin and auditor
    unmask = page.text.split('data-action="personal_data:unmask"')[1].split("</tr>")[0]
    assert unmask.count("✓") == 3


def test_tokens_page_issue_show_once_and_revoke(app: AuthApp) -> None:
    csrf = app.login("analyst")
    issued = app.client.post(
        "/account/tokens", data={"csrf_token": csrf, "name": "报表脚本", "expires_in_days": "30"}
    )
    assert issued.status_code == 201
    raw = issued.text.split('class="raw-token">')[1].split("<")[0]
    token_id = re.search(r'data-token-id="(\d+)"', issued.text)
    assert token_id is not None
    assert app.client.get("/api/auth/me", headers={"Authorization": f"Bearer {raw}"}).is_success
    revoked = app.client.post(
        f"/account/tokens/{token_id.group(1)}/revoke", data={"csrf_token": csrf}
    )
    assert "已吊销" in revoked.text
    assert raw not in revoked.text
    cookies = dict(app.client.cookies)
    app.client.cookies.clear()
    assert (
        app.client.get("/api/auth/me", headers={"Authorization": f"Bearer {raw}"}).status_code
        == 401
    )
    app.client.cookies.update(cookies)
    unnamed = app.client.post("/account/tokens", data={"csrf_token": csrf, "name": " "})
    assert unnamed.status_code == 422
    assert "请为令牌命名" in unnamed.text


def test_change_own_password_page(app: AuthApp) -> None:
    csrf = app.login("analyst")
    wrong = app.client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current_password": "not-it-at-all",
            "new_password": "brand-new-pw-9",
            "repeat_password": "brand-new-pw-9",
        },
    )
    assert wrong.status_code == 422
    assert "当前密码不正确" in wrong.text
    done = app.client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current_password": PASSWORD,
            "new_password": "brand-new-pw-9",
            "repeat_password": "brand-new-pw-9",
        },
    )
    assert "密码已修改" in done.text
    app.client.cookies.clear()
    app.login("analyst", "brand-new-pw-9")
