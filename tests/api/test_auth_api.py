"""Login, sessions, CSRF, API tokens and user administration through the ASGI app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from telmark.auth.deps import SESSION_COOKIE
from telmark.auth.models import ApiToken, User
from telmark.auth.permissions import PERMISSIONS, Role
from tests._factories.auth import PASSWORD
from tests._factories.auth_client import AuthApp, auth_app


@pytest.fixture
def app(tmp_path: Path, db: sessionmaker[Session]) -> Iterator[AuthApp]:
    yield from auth_app(tmp_path, db)


def _token_count(db: sessionmaker[Session]) -> int:
    with db() as session:
        return session.scalar(select(func.count()).select_from(ApiToken)) or 0


def test_login_form_sets_a_secure_session_cookie_and_redirects(app: AuthApp) -> None:
    page = app.client.get("/login")
    assert page.status_code == 200
    assert "登录" in page.text
    assert "用户名" in page.text
    assert "Log in" in app.client.get("/login", params={"lang": "en"}).text
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    response = app.client.post(
        "/login",
        data={"username": "Admin", "password": PASSWORD, "csrf_token": csrf, "next": "/users"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/users"
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE + "=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie
    me = app.client.get("/api/auth/me").json()
    assert (me["username"], me["org_code"], me["roles"]) == ("admin", "P00", ["province_admin"])


def test_next_never_leaves_the_site(app: AuthApp) -> None:
    page = app.client.get("/login", params={"next": "//evil.example/x"})
    assert 'name="next" value="/"' in page.text


def test_wrong_password_and_unknown_user_get_the_same_answer(app: AuthApp) -> None:
    answers = []
    for username in ("admin", "nobody"):
        page = app.client.get("/login")
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        response = app.client.post(
            "/login",
            data={"username": username, "password": "wrong-pass-1", "csrf_token": csrf},
        )
        answers.append((response.status_code, "用户名或密码错误" in response.text))
        assert SESSION_COOKIE not in app.client.cookies
    assert answers == [(401, True), (401, True)]


def test_login_without_the_form_token_is_refused(app: AuthApp) -> None:
    response = app.client.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in app.client.cookies


def test_backoff_after_repeated_failed_logins(app: AuthApp) -> None:
    for _ in range(5):
        page = app.client.get("/login")
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        failed = app.client.post(
            "/login", data={"username": "agent", "password": "bad-guess-11", "csrf_token": csrf}
        )
        assert failed.status_code == 401
    page = app.client.get("/login")
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    locked = app.client.post(
        "/login", data={"username": "agent", "password": PASSWORD, "csrf_token": csrf}
    )
    assert locked.status_code == 429
    assert "登录失败次数过多，请 1 分钟后再试" in locked.text
    app.clock.advance(minutes=1)
    app.login("agent")
    assert app.client.get("/api/auth/me").json()["username"] == "agent"


def test_anonymous_requests_get_401_or_the_login_page(app: AuthApp) -> None:
    for path in ("/api/auth/me", "/api/users", "/api/roles", "/api/auth/tokens"):
        response = app.client.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"] == "not_authenticated"
        assert response.headers["www-authenticate"] == "Bearer"
    page = app.client.get("/users", params={"lang": "en"}, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fusers%3Flang%3Den"
    htmx = app.client.get("/account/tokens", headers={"HX-Request": "true"})
    assert htmx.status_code == 401
    assert htmx.headers["HX-Redirect"].startswith("/login?next=")
    assert app.client.post("/api/users", json={}).status_code == 401


def test_csrf_is_required_for_cookie_requests_that_change_things(
    app: AuthApp, db: sessionmaker[Session]
) -> None:
    csrf = app.login("analyst")
    body = {"name": "report"}
    assert app.client.post("/api/auth/tokens", json=body).status_code == 403
    wrong = app.client.post("/api/auth/tokens", json=body, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    assert wrong.json()["error"] == "forbidden"
    assert app.client.post("/account/tokens", data=body).status_code == 403
    assert app.client.post("/logout").status_code == 403
    assert _token_count(db) == 0
    assert app.client.get("/api/auth/me").status_code == 200  # still signed in
    ok = app.client.post("/api/auth/tokens", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
    form = app.client.post("/account/tokens", data={**body, "csrf_token": csrf})
    assert form.status_code == 201
    assert _token_count(db) == 2
    raw = form.text.split('class="raw-token">')[1].split("<")[0]
    assert raw.startswith("tmk_")
    assert form.headers["cache-control"] == "no-store"
    listing = app.client.get("/account/tokens").text
    assert raw not in listing  # shown once only
    assert raw[:12] in listing


def test_session_idle_expiry(app: AuthApp) -> None:
    app.login("analyst")
    app.clock.advance(minutes=29)
    assert app.client.get("/api/auth/me").status_code == 200
    app.clock.advance(minutes=29)  # idle time counts from the last request
    assert app.client.get("/api/auth/me").status_code == 200
    app.clock.advance(minutes=30)
    assert app.client.get("/api/auth/me").status_code == 401
    page = app.client.get("/account/tokens", follow_redirects=False)
    assert page.headers["location"] == "/login?next=%2Faccount%2Ftokens"


def test_session_absolute_expiry(app: AuthApp) -> None:
    app.login("analyst")
    for _ in range(12 * 60 // 20 - 1):
        app.clock.advance(minutes=20)
        assert app.client.get("/api/auth/me").status_code == 200
    app.clock.advance(minutes=20)  # 12 hours after login, however busy
    assert app.client.get("/api/auth/me").status_code == 401


def test_logout_ends_the_session_server_side(app: AuthApp) -> None:
    csrf = app.login("analyst")
    stolen = app.client.cookies[SESSION_COOKIE]
    response = app.client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert SESSION_COOKIE not in app.client.cookies
    app.client.cookies.set(SESSION_COOKIE, stolen)
    assert app.client.get("/api/auth/me").status_code == 401


def test_token_issue_use_revoke(app: AuthApp) -> None:
    csrf = app.login("city1")
    issued = app.client.post(
        "/api/auth/tokens",
        json={"name": "nightly", "expires_in_days": 30},
        headers={"X-CSRF-Token": csrf},
    ).json()
    token = issued["token"]
    app.client.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    assert app.client.get("/api/auth/me", headers=bearer).json()["username"] == "city1"
    # Bearer requests need no CSRF token: browsers never attach them on their own.
    second = app.client.post("/api/auth/tokens", json={"name": "two"}, headers=bearer)
    assert second.status_code == 201
    listed = app.client.get("/api/auth/tokens", headers=bearer).json()
    assert [t["name"] for t in listed] == ["two", "nightly"]
    assert all("token" not in t for t in listed)
    other = app.client.post(
        "/api/auth/tokens", json={"name": "x"}, headers={"Authorization": "Bearer tmk_nope"}
    )
    assert other.status_code == 401
    assert app.client.delete(f"/api/auth/tokens/{issued['id']}", headers=bearer).status_code == 204
    assert app.client.get("/api/auth/me", headers=bearer).status_code == 401
    assert app.client.get("/api/auth/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_expired_token_is_refused(app: AuthApp) -> None:
    csrf = app.login("analyst")
    token = app.client.post(
        "/api/auth/tokens",
        json={"name": "short", "expires_in_days": 1},
        headers={"X-CSRF-Token": csrf},
    ).json()["token"]
    app.client.cookies.clear()
    app.clock.advance(days=1)
    assert (
        app.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )


def test_someone_elses_token_cannot_be_revoked(app: AuthApp) -> None:
    csrf = app.login("city1")
    token_id = app.client.post(
        "/api/auth/tokens", json={"name": "mine"}, headers={"X-CSRF-Token": csrf}
    ).json()["id"]
    app.client.cookies.clear()
    csrf = app.login("city2")
    gone = app.client.delete(f"/api/auth/tokens/{token_id}", headers={"X-CSRF-Token": csrf})
    assert gone.status_code == 404


def test_permissions_refuse_with_403(app: AuthApp) -> None:
    csrf = app.login("analyst")
    assert app.client.get("/api/users").status_code == 403
    assert app.client.get("/api/roles").status_code == 403
    created = app.client.post(
        "/api/users",
        json={
            "username": "sneaky",
            "display_name": "x",
            "org_code": "P00",
            "roles": ["province_admin"],
            "password": PASSWORD,
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert created.status_code == 403
    page = app.client.get("/users")
    assert page.status_code == 403
    assert "您没有执行此操作的权限" in page.text


def test_user_admin_api_is_scoped_to_the_org_subtree(app: AuthApp) -> None:
    csrf = app.login("admin")
    headers = {"X-CSRF-Token": csrf}
    created = app.client.post(
        "/api/users",
        json={
            "username": "hall2",
            "display_name": "王五",
            "org_code": "C02D01",
            "roles": ["outlet_manager"],
            "password": PASSWORD,
        },
        headers=headers,
    )
    assert created.status_code == 201
    hall2 = created.json()["id"]
    roles = app.client.put(
        f"/api/users/{hall2}/roles", json={"roles": ["outlet_manager", "analyst"]}, headers=headers
    )
    assert roles.json()["roles"] == ["analyst", "outlet_manager"]
    table = app.client.get("/api/roles").json()
    assert {r["role"]: set(r["permissions"]) for r in table} == {
        r.value: {a.value for a in PERMISSIONS[r]} for r in Role
    }
    app.client.cookies.clear()

    # A city manager may read the users of their city only; others "do not exist".
    app.login("city1")
    assert {u["username"] for u in app.client.get("/api/users").json()} == {"city1", "agent"}
    assert app.client.get(f"/api/users/{app.ids['agent']}").status_code == 200
    assert app.client.get(f"/api/users/{app.ids['city2']}").status_code == 404
    assert app.client.get(f"/api/users/{hall2}").status_code == 404


def test_disabling_a_user_cuts_their_token_and_session(app: AuthApp) -> None:
    csrf = app.login("city2")
    token = app.client.post(
        "/api/auth/tokens", json={"name": "t"}, headers={"X-CSRF-Token": csrf}
    ).json()["token"]
    city2_cookie = app.client.cookies[SESSION_COOKIE]
    app.client.cookies.clear()
    csrf = app.login("admin")
    disabled = app.client.post(
        f"/api/users/{app.ids['city2']}/disable", headers={"X-CSRF-Token": csrf}
    )
    assert disabled.json()["active"] is False
    app.client.cookies.clear()
    assert (
        app.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    app.client.cookies.set(SESSION_COOKIE, city2_cookie)
    assert app.client.get("/api/auth/me").status_code == 401


def test_reset_password_and_change_own_password(app: AuthApp, db: sessionmaker[Session]) -> None:
    csrf = app.login("admin")
    weak = app.client.post(
        f"/api/users/{app.ids['agent']}/reset-password",
        json={"password": "short"},
        headers={"X-CSRF-Token": csrf},
    )
    assert weak.status_code == 422
    reset = app.client.post(
        f"/api/users/{app.ids['agent']}/reset-password",
        json={"password": "fresh-start-77"},
        headers={"X-CSRF-Token": csrf},
    )
    assert reset.status_code == 200
    app.client.cookies.clear()
    csrf = app.login("agent", "fresh-start-77")
    changed = app.client.post(
        "/api/auth/password",
        json={"current_password": "fresh-start-77", "new_password": "my-own-secret-5"},
        headers={"X-CSRF-Token": csrf},
    )
    assert changed.status_code == 204
    assert app.client.get("/api/auth/me").status_code == 200  # this session continues
    with db() as session:
        assert session.scalar(select(User.failed_logins).where(User.username == "agent")) == 0
