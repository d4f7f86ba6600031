"""``telmark users``: accounts, roles and API tokens from the command line.

The CLI runs on the server with its database credentials, so it acts with
server rights (no org scope); changes are attributed to the operating-system
user (``cli:<name>``).
"""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Annotated

import typer

from telmark.actor import cli_actor
from telmark.auth import service
from telmark.auth.permissions import PERMISSIONS, Role
from telmark.clikit import JsonOpt, console, fail, print_json, print_table
from telmark.errors import DomainError
from telmark.uow import UnitOfWork

app = typer.Typer(no_args_is_help=True)

PasswordStdinOpt = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of stdin (for scripts) instead of prompting.",
    ),
]


def _uow() -> UnitOfWork:
    return UnitOfWork(actor=cli_actor())


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else "-"


@app.command()
def create(
    username: str,
    org: Annotated[str, typer.Option("--org", help="Code of the user's org unit.")],
    role: Annotated[
        list[Role], typer.Option("--role", help="A role to grant (repeat for several).")
    ],
    display_name: Annotated[
        str | None, typer.Option(help="Name shown in the console (default: the username).")
    ] = None,
    password_stdin: PasswordStdinOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Create a user in an org unit with one or more roles."""
    password = _read_password(password_stdin)
    try:
        with _uow() as uow:
            user = service.create_user(
                uow=uow,
                username=username,
                display_name=display_name or username,
                org_code=org,
                roles=role,
                password=password,
            )
    except DomainError as error:
        raise fail(error) from error
    if json_output:
        print_json(user)
    else:
        console.print(f"created user {user.username} (id {user.id}) in {user.org_name}")


@app.command("list")
def list_(
    active_only: Annotated[
        bool, typer.Option("--active-only", help="Hide disabled users.")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """List every user."""
    with _uow() as uow:
        users = service.list_users(uow=uow, include_inactive=not active_only)
    if json_output:
        print_json([u.model_dump(mode="json") for u in users])
        return
    print_table(
        "users",
        ["id", "username", "name", "org", "roles", "active", "last login"],
        [
            [
                u.id,
                u.username,
                u.display_name,
                u.org_code,
                ", ".join(u.roles),
                "yes" if u.active else "no",
                _when(u.last_login_at),
            ]
            for u in users
        ],
    )


@app.command()
def disable(username: str, json_output: JsonOpt = False) -> None:
    """Disable a user: their console sessions and API tokens stop working at once."""
    try:
        with _uow() as uow:
            user = service.disable_user(
                uow=uow, user_id=service.user_id_of(uow=uow, username=username)
            )
    except DomainError as error:
        raise fail(error) from error
    if json_output:
        print_json(user)
    else:
        console.print(f"disabled {user.username}; sessions and API tokens revoked")


@app.command()
def enable(username: str, json_output: JsonOpt = False) -> None:
    """Enable a disabled user."""
    try:
        with _uow() as uow:
            user = service.enable_user(
                uow=uow, user_id=service.user_id_of(uow=uow, username=username)
            )
    except DomainError as error:
        raise fail(error) from error
    if json_output:
        print_json(user)
    else:
        console.print(f"enabled {user.username}")


@app.command("reset-password")
def reset_password(username: str, password_stdin: PasswordStdinOpt = False) -> None:
    """Set a new password for a user (clears a lockout and ends their console sessions)."""
    password = _read_password(password_stdin)
    try:
        with _uow() as uow:
            user = service.reset_password(
                uow=uow, user_id=service.user_id_of(uow=uow, username=username), password=password
            )
    except DomainError as error:
        raise fail(error) from error
    console.print(f"password of {user.username} reset; their console sessions were ended")


@app.command()
def roles(json_output: JsonOpt = False) -> None:
    """Show the permission table: which role may do what."""
    if json_output:
        print_json({role.value: sorted(PERMISSIONS[role]) for role in Role})
        return
    # One row per role: nine role columns would not fit a terminal.
    print_table(
        "permissions",
        ["role", "actions"],
        [[role.value, ", ".join(sorted(PERMISSIONS[role]))] for role in Role],
    )


@app.command("token-issue")
def token_issue(
    username: str,
    name: Annotated[str, typer.Option("--name", help="What the token is for.")],
    expires_days: Annotated[
        int | None,
        typer.Option("--expires-days", min=1, help="Days until it expires (default never)."),
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Issue an API token for a user; the token is printed once and never again."""
    try:
        with _uow() as uow:
            issued = service.issue_token(
                uow=uow,
                user_id=service.user_id_of(uow=uow, username=username),
                name=name,
                expires_in=timedelta(days=expires_days) if expires_days else None,
            )
    except DomainError as error:
        raise fail(error) from error
    if json_output:
        print_json(issued)
        return
    console.print(
        f"token {issued.id} for {username} ({issued.name}) — store it now, it is not shown again:"
    )
    sys.stdout.write(issued.token + "\n")


@app.command()
def tokens(username: str, json_output: JsonOpt = False) -> None:
    """List a user's API tokens (never the tokens themselves)."""
    try:
        with _uow() as uow:
            found = service.list_tokens(
                uow=uow, user_id=service.user_id_of(uow=uow, username=username)
            )
    except DomainError as error:
        raise fail(error) from error
    if json_output:
        print_json([t.model_dump(mode="json") for t in found])
        return
    print_table(
        f"API tokens of {username}",
        ["id", "name", "starts with", "created", "expires", "last used", "revoked"],
        [
            [
                t.id,
                t.name,
                t.prefix + "…",
                _when(t.created_at),
                _when(t.expires_at),
                _when(t.last_used_at),
                _when(t.revoked_at),
            ]
            for t in found
        ],
    )


@app.command("token-revoke")
def token_revoke(token_id: int, json_output: JsonOpt = False) -> None:
    """Revoke an API token by id; it stops working at once."""
    try:
        with _uow() as uow:
            token = service.revoke_token(uow=uow, token_id=token_id)
    except DomainError as error:
        raise fail(error) from error
    if json_output:
        print_json(token)
    else:
        console.print(f"token {token.id} ({token.name}) revoked")
