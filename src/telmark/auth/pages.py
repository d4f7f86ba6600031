"""Console pages for one's own account: log in, log out, API tokens, change password.

The login form is protected against login CSRF (another site logging the
victim into the attacker's account) with a double-submit token: the page
sets a random cookie and repeats it in a hidden field; a cross-site form can
send the cookie but cannot read it to fill in the field.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from telmark.actor import Actor
from telmark.auth import service
from telmark.auth.deps import (
    SESSION_COOKIE,
    ClockDep,
    CurrentPrincipal,
    client_ip,
    require,
    safe_next,
)
from telmark.auth.domain import LoginFailed, LoginLocked, Principal, password_problems
from telmark.auth.permissions import Action
from telmark.auth.schemas import TokenIssued
from telmark.config import Settings
from telmark.errors import InvalidInput
from telmark.translation import N_
from telmark.uow import UnitOfWork
from telmark.web.deps import LocaleDep, SettingsDep, TemplatesDep, UowDep
from telmark.web.i18n import gettext_for
from telmark.web.templating import ConsoleTemplates, NavItem

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "telmark_login_csrf"
TokenOwner = Annotated[Principal, require(Action.TOKENS_OWN)]
TOKEN_LIFETIMES = (None, 30, 90, 365)  # days; None = no expiry


def _set_session_cookie(
    response: Response, value: str, *, settings: Settings, max_age: int | None
) -> None:
    # HttpOnly: page scripts (and injected ones) cannot read it. SameSite=Lax: other
    # sites' forms and scripts do not send it, while links into the console still work.
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )


def _login_page(
    request: Request,
    templates: ConsoleTemplates,
    locale: str,
    settings: Settings,
    *,
    next_path: str,
    username: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    context = {
        "page_title": gettext_for(locale, N_("Log in")),
        "login_csrf": token,
        "next_path": next_path,
        "username": username,
        "error": error,
    }
    response: Response = templates.render(
        request, "auth/login.html", context, status_code=status_code
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/login",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/login", response_class=HTMLResponse, name="login")
def login_form(
    request: Request,
    templates: TemplatesDep,
    locale: LocaleDep,
    settings: SettingsDep,
    next: str | None = None,  # noqa: A002 - the conventional query name
) -> Response:
    """The login page (zh-CN first, language switch in the corner)."""
    return _login_page(request, templates, locale, settings, next_path=safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    settings: SettingsDep,
    clock: ClockDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",  # noqa: A002 - mirrors the query parameter
) -> Response:
    """Check the credentials, open a session and go where the user was heading."""
    next_path = safe_next(next)

    def again(message: str, status_code: int) -> Response:
        return _login_page(
            request,
            templates,
            locale,
            settings,
            next_path=next_path,
            username=username,
            error=message,
            status_code=status_code,
        )

    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return again(gettext_for(locale, N_("The login form expired. Please try again.")), 403)
    now = clock()
    # Failed attempts are recorded against an anonymous actor with the client's address.
    uow.actor = Actor(
        username="anonymous",
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        channel="web",
    )
    try:
        principal = service.authenticate(uow=uow, username=username, password=password, now=now)
    except LoginLocked as locked:
        message = gettext_for(
            locale, N_("Too many failed logins. Try again in %(minutes)s minute(s).")
        ) % {"minutes": locked.minutes}
        return again(message, 429)
    except LoginFailed:
        return again(gettext_for(locale, N_("Wrong username or password.")), 401)
    session = service.start_session(
        uow=uow,
        user_id=principal.user_id,
        policy=service.session_policy(settings),
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        now=now,
    )
    if next_path == "/":
        nav: Sequence[NavItem] = templates.environment(locale).globals["nav"]  # type: ignore[assignment]
        next_path = _landing(principal, nav)
    response = RedirectResponse(next_path, status_code=303)
    max_age = int((session.expires_at - now).total_seconds())
    _set_session_cookie(response, session.cookie_value, settings=settings, max_age=max_age)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(
    request: Request,
    principal: CurrentPrincipal,  # noqa: ARG001 - authenticates and checks the CSRF token
    uow: UowDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> Response:
    """End the session (server-side, so a copied cookie stops working too)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        service.end_session(uow=uow, cookie_value=cookie, now=clock())
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=settings.cookie_secure
    )
    return response


def _tokens_page(
    request: Request,
    templates: ConsoleTemplates,
    locale: str,
    principal: Principal,
    uow: UnitOfWork,
    *,
    issued: TokenIssued | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "page_title": gettext_for(locale, N_("My API tokens")),
        "tokens": service.list_tokens(uow=uow, user_id=principal.user_id),
        "issued": issued,
        "error": error,
        "lifetimes": TOKEN_LIFETIMES,
    }
    response: Response = templates.render(
        request, "auth/tokens.html", context, status_code=status_code
    )
    # The page may show a freshly issued token: never keep it in a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/account/tokens", response_class=HTMLResponse, name="my_tokens")
def tokens_page(
    request: Request, principal: TokenOwner, uow: UowDep, templates: TemplatesDep, locale: LocaleDep
) -> Response:
    """My API tokens: issue, list, revoke."""
    return _tokens_page(request, templates, locale, principal, uow)


@router.post("/account/tokens", response_class=HTMLResponse)
def issue_token(
    request: Request,
    principal: TokenOwner,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    clock: ClockDep,
    name: Annotated[str, Form()] = "",
    expires_in_days: Annotated[str, Form()] = "",
) -> Response:
    """Issue a token and show it once, on this response only."""
    days = int(expires_in_days) if expires_in_days.isdigit() else None
    try:
        issued = service.issue_token(
            uow=uow,
            user_id=principal.user_id,
            name=name,
            expires_in=timedelta(days=days) if days else None,
            now=clock(),
        )
    except InvalidInput:
        error = gettext_for(locale, N_("Give the token a name."))
        return _tokens_page(
            request, templates, locale, principal, uow, error=error, status_code=422
        )
    return _tokens_page(request, templates, locale, principal, uow, issued=issued, status_code=201)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(token_id: int, principal: TokenOwner, uow: UowDep, clock: ClockDep) -> Response:
    """Revoke one of my tokens."""
    service.revoke_token(uow=uow, token_id=token_id, owner_id=principal.user_id, now=clock())
    return RedirectResponse("/account/tokens", status_code=303)


@router.get("/account/password", response_class=HTMLResponse, name="my_password")
def password_page(
    request: Request,
    principal: CurrentPrincipal,  # noqa: ARG001 - signed-in users only
    templates: TemplatesDep,
    locale: LocaleDep,
    done: bool = False,
) -> Response:
    """The change-my-password form."""
    context = {
        "page_title": gettext_for(locale, N_("Change password")),
        "errors": [],
        "changed": done,
    }
    return templates.render(request, "auth/password.html", context)


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    principal: CurrentPrincipal,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    clock: ClockDep,
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    repeat_password: Annotated[str, Form()] = "",
) -> Response:
    """Change my password; my other sessions end, this one continues."""
    errors = [
        gettext_for(locale, p.message) % p.params
        for p in password_problems(new_password, username=principal.username)
    ]
    if new_password != repeat_password:
        errors.append(gettext_for(locale, N_("The two new passwords differ.")))
    if not errors:
        try:
            service.change_own_password(
                uow=uow,
                user_id=principal.user_id,
                current_password=current_password,
                new_password=new_password,
                keep_session=request.cookies.get(SESSION_COOKIE),
                now=clock(),
            )
        except InvalidInput as error:
            wrong_current = any(d.get("field") == "current_password" for d in error.details)
            errors.append(
                gettext_for(locale, N_("The current password is wrong."))
                if wrong_current
                else gettext_for(locale, N_("The new password must differ from the current one."))
            )
    if errors:
        context = {
            "page_title": gettext_for(locale, N_("Change password")),
            "errors": errors,
            "changed": False,
        }
        return templates.render(request, "auth/password.html", context, status_code=422)
    return RedirectResponse("/account/password?done=true", status_code=303)


def _landing(principal: Principal, nav: Sequence[NavItem]) -> str:
    """The first console page the user may open (a service agent has no overview)."""
    for item in nav:
        if item.visible_to(principal):
            return item.path
    return "/account/tokens"  # every role holds tokens:own
