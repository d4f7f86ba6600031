"""FastAPI dependencies: who is calling, may they do this, and is the form really theirs.

A request is authenticated by a bearer token (``Authorization: Bearer tmk_…``,
for scripts) or by the console's session cookie. Cookie requests that change
something (POST/PUT/PATCH/DELETE) must also carry the session's CSRF token
(header ``X-CSRF-Token`` or form field ``csrf_token``): the browser attaches
the cookie to any site's request, but only our own pages know the token.
Bearer requests are exempt because browsers never attach them on their own.

Use in a route::

    principal: Annotated[Principal, require(Action.CONSENT_READ)]

``current_principal`` shares the request's UnitOfWork (FastAPI caches
``uow_dependency`` per request) and sets its actor, so everything the route
changes is attributed to the signed-in user.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from ibis.backends import BaseBackend
from starlette.responses import Response

from telmark.auth import service
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.db import utcnow
from telmark.errors import Forbidden, NotAuthenticated
from telmark.warehouse.scope import scoped
from telmark.web.deps import SettingsDep, UowDep, WarehouseDep
from telmark.web.errors import ErrorRead, is_api_path

SESSION_COOKIE = "telmark_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

Clock = Callable[[], datetime]


def get_clock() -> Clock:
    """The time source of authentication (tests override it to move the clock)."""
    return utcnow


ClockDep = Annotated[Clock, Depends(get_clock)]


@dataclass(frozen=True, slots=True)
class Authenticated:
    principal: Principal
    channel: str  # "web" (session cookie) or "api" (bearer token)
    csrf_token: str | None  # the session's token; None for bearer requests


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


# Declared through FastAPI's HTTPBearer so the OpenAPI document (and Swagger UI's
# "Authorize" button) shows how to authenticate; auto_error=False lets the session
# cookie be the alternative.
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="api_token",
    description="An API token: issue one under My API tokens or with `telmark users token-issue`.",
)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _authenticate(
    request: Request, uow: UowDep, settings: SettingsDep, clock: ClockDep, bearer: BearerDep
) -> Authenticated:
    # Sync so the database work runs on the thread pool, not the event loop.
    if bearer is not None:
        principal = service.resolve_token(uow=uow, token=bearer.credentials.strip(), now=clock())
        if principal is None:
            raise NotAuthenticated("the API token is invalid, expired or revoked")
        auth = Authenticated(principal=principal, channel="api", csrf_token=None)
    elif "authorization" in request.headers:
        raise NotAuthenticated("use 'Authorization: Bearer <token>'")
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        active = None
        if cookie:
            policy = service.session_policy(settings)
            active = service.resolve_session(
                uow=uow, cookie_value=cookie, policy=policy, now=clock()
            )
        if active is None:
            raise NotAuthenticated("log in first")
        auth = Authenticated(
            principal=active.principal, channel="web", csrf_token=active.csrf_token
        )
    uow.actor = auth.principal.actor(
        client_ip(request), request.headers.get("user-agent"), auth.channel
    )
    request.state.principal = auth.principal
    request.state.csrf_token = auth.csrf_token
    return auth


async def _submitted_csrf(request: Request) -> str | None:
    token = request.headers.get(CSRF_HEADER)
    if token:
        return token
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        # Starlette caches the parsed form on the request, so the route's Form()
        # parameters read the same body afterwards.
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def current_principal(
    request: Request, auth: Annotated[Authenticated, Depends(_authenticate)]
) -> Principal:
    """The signed-in user; 401 if none, 403 if a cookie request's CSRF token is wrong."""
    if auth.csrf_token is not None and request.method in UNSAFE_METHODS:
        submitted = await _submitted_csrf(request)
        if submitted is None or not hmac.compare_digest(submitted, auth.csrf_token):
            raise Forbidden(
                "the form has expired or did not come from telmark (CSRF token missing or "
                "wrong); reload the page and try again",
                details=[{"reason": "csrf"}],
            )
    return auth.principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(action: Action) -> Any:
    """A dependency (use inside ``Annotated[Principal, ...]``) that demands ``action``."""

    def dependency(principal: CurrentPrincipal) -> Principal:
        if not principal.can(action):
            raise Forbidden(f"your roles do not allow {action}")
        return principal

    dependency.__name__ = f"require_{action.name.lower()}"
    # Lets the route-table test see which action a route demands.
    dependency.required_action = action  # type: ignore[attr-defined]
    return Depends(dependency)


LOGIN_PATH = "/login"


def safe_next(value: str | None) -> str:
    """``value`` if it is a path on this site, else ``/`` (no open redirect to other hosts)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    return value


def _return_path(request: Request) -> str:
    if request.method == "GET" and request.headers.get("HX-Request") != "true":
        query = f"?{request.url.query}" if request.url.query else ""
        return request.url.path + query
    # A form post or HTMX fragment: come back to the page the user was on.
    referer = request.headers.get("HX-Current-URL") or request.headers.get("referer") or "/"
    parsed = urlsplit(referer)
    if parsed.netloc and parsed.netloc != request.url.netloc:
        return "/"
    return safe_next(parsed.path + (f"?{parsed.query}" if parsed.query else ""))


async def not_authenticated_handler(request: Request, exc: Exception) -> Response:
    """401 JSON for the API; a redirect to the login page (or HTMX ``HX-Redirect``) elsewhere."""
    if not isinstance(exc, NotAuthenticated):  # registered for NotAuthenticated only
        raise exc
    if is_api_path(request):
        body = ErrorRead(error=exc.code, message=exc.message, details=exc.details)
        return JSONResponse(
            jsonable_encoder(body), status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    target = f"{LOGIN_PATH}?{urlencode({'next': _return_path(request)})}"
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def scoped_warehouse(con: WarehouseDep, principal: CurrentPrincipal) -> BaseBackend:
    """The warehouse as the signed-in user may see it: their org unit and below."""
    return scoped(con, org_code=principal.org_code, org_path=principal.org_path)


# Routes that read subscriber-level data take this instead of WarehouseDep, so the
# org-scope filter is applied by the dependency and never by the route.
ScopedWarehouseDep = Annotated[BaseBackend, Depends(scoped_warehouse)]
