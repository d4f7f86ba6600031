"""API/CLI shapes of the auth domain."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from telmark.auth.permissions import Action, Role


class UserRead(BaseModel):
    id: int
    username: str
    display_name: str
    org_code: str
    org_name: str
    roles: list[Role]
    active: bool
    last_login_at: datetime | None
    locked_until: datetime | None
    created_at: datetime


class UserCreate(BaseModel):
    username: str = Field(min_length=3, max_length=64, examples=["zhang.wei"])
    display_name: str = Field(min_length=1, max_length=120, examples=["张伟"])
    org_code: str = Field(examples=["C01"])
    roles: list[Role] = Field(min_length=1)
    password: str = Field(description="At least 10 characters, not containing the username.")


class RolesUpdate(BaseModel):
    roles: list[Role] = Field(min_length=1)


class PasswordReset(BaseModel):
    password: str


class PasswordChange(BaseModel):
    current_password: str
    new_password: str


class MeRead(BaseModel):
    user_id: int
    username: str
    display_name: str
    org_code: str
    org_name: str
    roles: list[Role]
    permissions: list[Action]


class RoleRead(BaseModel):
    role: Role
    permissions: list[Action]


class ApiTokenRead(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="First characters of the token, to tell tokens apart.")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=80, examples=["nightly report script"])
    expires_in_days: int | None = Field(
        default=None, ge=1, le=3650, description="Leave empty for a token that does not expire."
    )


class TokenIssued(ApiTokenRead):
    token: str = Field(description="The token itself; shown only in this response.")
