"""JSON routes of the auth domain: who am I, my API tokens, user and role administration.

User routes are scoped: an administrator sees and changes the users of their
org unit and below; any other user id answers 404.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Request, Response, status

from telmark.auth import service
from telmark.auth.deps import SESSION_COOKIE, ClockDep, CurrentPrincipal, require
from telmark.auth.domain import Principal
from telmark.auth.permissions import PERMISSIONS, Action, Role
from telmark.auth.schemas import (
    ApiTokenRead,
    MeRead,
    PasswordChange,
    PasswordReset,
    RoleRead,
    RolesUpdate,
    TokenCreate,
    TokenIssued,
    UserCreate,
    UserRead,
)
from telmark.web.deps import UowDep

router = APIRouter(prefix="/api", tags=["auth"])

TokenOwner = Annotated[Principal, require(Action.TOKENS_OWN)]


@router.get("/auth/me", response_model=MeRead)
def me(principal: CurrentPrincipal) -> MeRead:
    """The signed-in user: identity, org unit, roles and the actions they grant."""
    return MeRead(
        user_id=principal.user_id,
        username=principal.username,
        display_name=principal.display_name,
        org_code=principal.org_code,
        org_name=principal.org_name,
        roles=sorted(principal.roles),
        permissions=sorted(principal.permissions),
    )


@router.post("/auth/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(
    body: PasswordChange,
    request: Request,
    principal: CurrentPrincipal,
    uow: UowDep,
    clock: ClockDep,
) -> Response:
    """Change your own password; your other console sessions end."""
    service.change_own_password(
        uow=uow,
        user_id=principal.user_id,
        current_password=body.current_password,
        new_password=body.new_password,
        keep_session=request.cookies.get(SESSION_COOKIE),
        now=clock(),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/auth/tokens", response_model=TokenIssued, status_code=status.HTTP_201_CREATED)
def issue_token(
    body: TokenCreate, principal: TokenOwner, uow: UowDep, clock: ClockDep
) -> TokenIssued:
    """Issue an API token for yourself; the token is in this response only — store it now."""
    expires_in = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    return service.issue_token(
        uow=uow, user_id=principal.user_id, name=body.name, expires_in=expires_in, now=clock()
    )


@router.get("/auth/tokens", response_model=list[ApiTokenRead])
def list_tokens(principal: TokenOwner, uow: UowDep) -> list[ApiTokenRead]:
    """Your API tokens (without the tokens themselves), newest first."""
    return service.list_tokens(uow=uow, user_id=principal.user_id)


@router.delete("/auth/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: int, principal: TokenOwner, uow: UowDep, clock: ClockDep) -> Response:
    """Revoke one of your API tokens; it stops working at once."""
    service.revoke_token(uow=uow, token_id=token_id, owner_id=principal.user_id, now=clock())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/users",
    response_model=list[UserRead],
    tags=["users"],
    dependencies=[require(Action.USERS_READ)],
)
def list_users(uow: UowDep, include_inactive: bool = True) -> list[UserRead]:
    """Users of your org unit and every unit below it."""
    return service.list_users(uow=uow, include_inactive=include_inactive)


@router.post(
    "/users",
    response_model=UserRead,
    status_code=status.HTTP_201_CREATED,
    tags=["users"],
    dependencies=[require(Action.USERS_MANAGE)],
)
def create_user(body: UserCreate, uow: UowDep) -> UserRead:
    """Create a user in an org unit within your scope."""
    return service.create_user(
        uow=uow,
        username=body.username,
        display_name=body.display_name,
        org_code=body.org_code,
        roles=body.roles,
        password=body.password,
    )


@router.get(
    "/users/{user_id}",
    response_model=UserRead,
    tags=["users"],
    dependencies=[require(Action.USERS_READ)],
)
def get_user(user_id: int, uow: UowDep) -> UserRead:
    """One user of your scope."""
    return service.get_user(uow=uow, user_id=user_id)


@router.put(
    "/users/{user_id}/roles",
    response_model=UserRead,
    tags=["users"],
    dependencies=[require(Action.USERS_MANAGE)],
)
def update_roles(user_id: int, body: RolesUpdate, uow: UowDep) -> UserRead:
    """Replace a user's roles."""
    return service.update_roles(uow=uow, user_id=user_id, roles=body.roles)


@router.post(
    "/users/{user_id}/disable",
    response_model=UserRead,
    tags=["users"],
    dependencies=[require(Action.USERS_MANAGE)],
)
def disable_user(user_id: int, uow: UowDep, clock: ClockDep) -> UserRead:
    """Disable a user; their sessions and API tokens stop working at once."""
    return service.disable_user(uow=uow, user_id=user_id, now=clock())


@router.post(
    "/users/{user_id}/enable",
    response_model=UserRead,
    tags=["users"],
    dependencies=[require(Action.USERS_MANAGE)],
)
def enable_user(user_id: int, uow: UowDep) -> UserRead:
    """Enable a disabled user."""
    return service.enable_user(uow=uow, user_id=user_id)


@router.post(
    "/users/{user_id}/reset-password",
    response_model=UserRead,
    tags=["users"],
    dependencies=[require(Action.USERS_MANAGE)],
)
def reset_password(user_id: int, body: PasswordReset, uow: UowDep, clock: ClockDep) -> UserRead:
    """Set a new password for a user (clears a lockout, ends their console sessions)."""
    return service.reset_password(uow=uow, user_id=user_id, password=body.password, now=clock())


@router.get(
    "/roles",
    response_model=list[RoleRead],
    tags=["users"],
    dependencies=[require(Action.USERS_READ)],
)
def list_roles() -> list[RoleRead]:
    """The permission table: every role and the actions it grants."""
    return [RoleRead(role=role, permissions=sorted(PERMISSIONS[role])) for role in Role]
