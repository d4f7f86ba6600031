"""Console pages for user and role administration (scoped to the administrator's org subtree)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from telmark.auth import service
from telmark.auth.deps import ClockDep, require
from telmark.auth.domain import Principal, normalize_username, password_problems
from telmark.auth.permissions import PERMISSIONS, Action, Role
from telmark.errors import Conflict, InvalidInput, NotFound
from telmark.org import service as org_service
from telmark.translation import N_
from telmark.uow import UnitOfWork
from telmark.web.deps import LocaleDep, TemplatesDep, UowDep
from telmark.web.i18n import gettext_for
from telmark.web.templating import ConsoleTemplates

router = APIRouter(include_in_schema=False)

Admin = Annotated[Principal, require(Action.USERS_MANAGE)]
Reader = Annotated[Principal, require(Action.USERS_READ)]
ORG_CHOICES_DEPTH = 2  # the datalist offers units this far below the admin's own unit

DONE_MESSAGES = {
    "created": N_("The user was created."),
    "roles": N_("The roles were saved."),
    "disabled": N_("The user was disabled; their sessions and API tokens no longer work."),
    "enabled": N_("The user was enabled."),
    "password": N_("The password was reset; the user's console sessions were ended."),
}


def _roles_from_form(values: list[str]) -> list[Role]:
    known = {role.value for role in Role}
    return sorted({Role(v) for v in values if v in known})


def _password_errors(locale: str, password: str, repeat: str, username: str) -> list[str]:
    errors = [
        gettext_for(locale, p.message) % p.params
        for p in password_problems(password, username=username)
    ]
    if password != repeat:
        errors.append(gettext_for(locale, N_("The two passwords differ.")))
    return errors


def _users_page(
    request: Request,
    templates: ConsoleTemplates,
    locale: str,
    principal: Principal,
    uow: UnitOfWork,
    *,
    form: dict[str, Any] | None = None,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    org_choices = (
        org_service.list_units(uow=uow, root=principal.org_code, max_depth=ORG_CHOICES_DEPTH)
        if principal.can(Action.USERS_MANAGE)
        else []
    )
    context = {
        "page_title": gettext_for(locale, N_("Users")),
        "users": service.list_users(uow=uow),
        "roles": list(Role),
        "org_choices": org_choices,
        "form": form or {"roles": []},
        "errors": errors or [],
        "done": DONE_MESSAGES.get(request.query_params.get("done", "")),
    }
    return templates.render(request, "auth/users.html", context, status_code=status_code)


@router.get("/users", response_class=HTMLResponse, name="users")
def users_page(
    request: Request, principal: Reader, uow: UowDep, templates: TemplatesDep, locale: LocaleDep
) -> Response:
    """Users of my org unit and below; administrators also get the create form."""
    return _users_page(request, templates, locale, principal, uow)


@router.post("/users", response_class=HTMLResponse)
def create_user(
    request: Request,
    principal: Admin,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    username: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    org_code: Annotated[str, Form()] = "",
    roles: Annotated[list[str] | None, Form()] = None,
    password: Annotated[str, Form()] = "",
    repeat_password: Annotated[str, Form()] = "",
) -> Response:
    """Create a user from the form; on problems, show them all next to the kept values."""
    chosen = _roles_from_form(roles or [])
    form = {
        "username": username,
        "display_name": display_name,
        "org_code": org_code,
        "roles": chosen,
    }
    errors: list[str] = []
    try:
        normalize_username(username)
    except InvalidInput:
        errors.append(
            gettext_for(
                locale,
                N_(
                    "The username must be 3–64 characters: lower-case letters, digits, "
                    "'.', '_' or '-', starting with a letter or digit."
                ),
            )
        )
    if not display_name.strip():
        errors.append(gettext_for(locale, N_("Enter the person's name.")))
    if not chosen:
        errors.append(gettext_for(locale, N_("Choose at least one role.")))
    errors += _password_errors(locale, password, repeat_password, username.strip().lower())
    if not errors:
        try:
            user = service.create_user(
                uow=uow,
                username=username,
                display_name=display_name,
                org_code=org_code.strip(),
                roles=chosen,
                password=password,
            )
        except Conflict:
            errors.append(gettext_for(locale, N_("This username is already taken.")))
        except NotFound:
            errors.append(
                gettext_for(locale, N_("There is no active org unit with this code in your scope."))
            )
        else:
            return RedirectResponse(f"/users/{user.id}?done=created", status_code=303)
    return _users_page(
        request, templates, locale, principal, uow, form=form, errors=errors, status_code=422
    )


def _user_page(
    request: Request,
    templates: ConsoleTemplates,
    principal: Principal,
    uow: UnitOfWork,
    user_id: int,
    *,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    user = service.get_user(uow=uow, user_id=user_id)
    context = {
        "page_title": user.display_name,
        "user": user,
        "roles": list(Role),
        "errors": errors or [],
        "done": DONE_MESSAGES.get(request.query_params.get("done", "")),
        "is_self": user.id == principal.user_id,
    }
    return templates.render(request, "auth/user.html", context, status_code=status_code)


@router.get("/users/{user_id}", response_class=HTMLResponse, name="user")
def user_page(
    request: Request,
    user_id: int,
    principal: Reader,
    uow: UowDep,
    templates: TemplatesDep,
) -> Response:
    """One user: details, roles, enable/disable, password reset."""
    return _user_page(request, templates, principal, uow, user_id)


@router.post("/users/{user_id}/roles", response_class=HTMLResponse)
def update_roles(
    request: Request,
    user_id: int,
    principal: Admin,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    roles: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Save the roles ticked on the user page."""
    chosen = _roles_from_form(roles or [])
    if not chosen:
        errors = [gettext_for(locale, N_("Choose at least one role."))]
    else:
        try:
            service.update_roles(uow=uow, user_id=user_id, roles=chosen)
        except Conflict:
            errors = [gettext_for(locale, N_("You cannot remove your own right to manage users."))]
        else:
            return RedirectResponse(f"/users/{user_id}?done=roles", status_code=303)
    return _user_page(request, templates, principal, uow, user_id, errors=errors, status_code=422)


@router.post("/users/{user_id}/disable", response_class=HTMLResponse)
def disable_user(
    request: Request,
    user_id: int,
    principal: Admin,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    clock: ClockDep,
) -> Response:
    """Disable the user (ends their sessions and tokens)."""
    try:
        service.disable_user(uow=uow, user_id=user_id, now=clock())
    except Conflict:
        errors = [gettext_for(locale, N_("You cannot disable your own account."))]
        return _user_page(
            request, templates, principal, uow, user_id, errors=errors, status_code=409
        )
    return RedirectResponse(f"/users/{user_id}?done=disabled", status_code=303)


@router.post("/users/{user_id}/enable", dependencies=[require(Action.USERS_MANAGE)])
def enable_user(user_id: int, uow: UowDep) -> Response:
    """Enable the user again."""
    service.enable_user(uow=uow, user_id=user_id)
    return RedirectResponse(f"/users/{user_id}?done=enabled", status_code=303)


@router.post("/users/{user_id}/reset-password", response_class=HTMLResponse)
def reset_password(
    request: Request,
    user_id: int,
    principal: Admin,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    clock: ClockDep,
    password: Annotated[str, Form()] = "",
    repeat_password: Annotated[str, Form()] = "",
) -> Response:
    """Set a new password chosen by the administrator."""
    user = service.get_user(uow=uow, user_id=user_id)
    errors = _password_errors(locale, password, repeat_password, user.username)
    if errors:
        return _user_page(
            request, templates, principal, uow, user_id, errors=errors, status_code=422
        )
    service.reset_password(uow=uow, user_id=user_id, password=password, now=clock())
    return RedirectResponse(f"/users/{user_id}?done=password", status_code=303)


@router.get("/roles", response_class=HTMLResponse, name="roles")
def roles_page(
    request: Request,
    principal: Reader,  # noqa: ARG001 - user administrators and auditors only
    templates: TemplatesDep,
    locale: LocaleDep,
) -> Response:
    """The permission table: which role may do what."""
    context = {
        "page_title": gettext_for(locale, N_("Roles and permissions")),
        "roles": list(Role),
        "actions": list(Action),
        "table": PERMISSIONS,
    }
    return templates.render(request, "auth/roles.html", context)
