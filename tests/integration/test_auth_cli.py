"""``telmark users``: accounts, roles and tokens from the command line (default SQLite)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from telmark.auth import service
from telmark.cli import app
from telmark.dbcli import upgrade_database
from telmark.uow import UnitOfWork
from tests._factories.auth import PASSWORD, seed_org

runner = CliRunner()


@pytest.fixture(autouse=True)
def _database() -> None:
    upgrade_database()
    with UnitOfWork() as uow:
        seed_org(uow)


def _create(username: str, *roles: str, org: str = "C01") -> None:
    args = ["users", "create", username, "--org", org, "--password-stdin"]
    for role in roles:
        args += ["--role", role]
    result = runner.invoke(app, args, input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output


def test_create_and_list() -> None:
    result = runner.invoke(
        app,
        [
            "users",
            "create",
            "li.na",
            "--org",
            "C01",
            "--role",
            "analyst",
            "--role",
            "approver",
            "--display-name",
            "李娜",
            "--password-stdin",
            "--json",
        ],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert (created["username"], created["org_name"]) == ("li.na", "南京分公司")
    assert created["roles"] == ["analyst", "approver"]
    listed = json.loads(runner.invoke(app, ["users", "list", "--json"]).output)
    assert [(u["username"], u["display_name"]) for u in listed] == [("li.na", "李娜")]
    table = runner.invoke(app, ["users", "list"])
    assert "li.na" in table.output
    with UnitOfWork() as uow:
        assert (
            service.authenticate(uow=uow, username="li.na", password=PASSWORD).username == "li.na"
        )


def test_prompted_password_must_be_confirmed() -> None:
    result = runner.invoke(
        app,
        ["users", "create", "wang", "--org", "P00", "--role", "auditor"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "created user wang" in result.output


def test_errors_exit_2_with_the_reason() -> None:
    weak = runner.invoke(
        app,
        ["users", "create", "zhao", "--org", "C01", "--role", "analyst", "--password-stdin"],
        input="short\n",
    )
    assert weak.exit_code == 2
    assert "at least 10 characters" in weak.output
    unknown_org = runner.invoke(
        app,
        ["users", "create", "zhao", "--org", "X9", "--role", "analyst", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert unknown_org.exit_code == 2
    assert "X9" in unknown_org.output
    bad_role = runner.invoke(
        app,
        ["users", "create", "zhao", "--org", "C01", "--role", "king", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert bad_role.exit_code != 0
    assert runner.invoke(app, ["users", "disable", "nobody"]).exit_code == 2


def test_disable_enable_reset() -> None:
    _create("agent", "service_agent", org="C01D01O001")
    issued = json.loads(
        runner.invoke(app, ["users", "token-issue", "agent", "--name", "pos", "--json"]).output
    )
    disabled = runner.invoke(app, ["users", "disable", "agent"])
    assert disabled.exit_code == 0
    assert "revoked" in disabled.output
    with UnitOfWork() as uow:
        assert service.resolve_token(uow=uow, token=issued["token"]) is None
    assert json.loads(runner.invoke(app, ["users", "enable", "agent", "--json"]).output)["active"]
    reset = runner.invoke(
        app, ["users", "reset-password", "agent", "--password-stdin"], input="new-counter-pw-7\n"
    )
    assert reset.exit_code == 0, reset.output
    with UnitOfWork() as uow:
        assert service.authenticate(uow=uow, username="agent", password="new-counter-pw-7")


def test_tokens_issue_list_revoke() -> None:
    _create("planner", "marketing_planner", org="P00")
    plain = runner.invoke(app, ["users", "token-issue", "planner", "--name", "etl"])
    assert plain.exit_code == 0
    raw = plain.output.strip().splitlines()[-1]
    assert raw.startswith("tmk_")
    listed = json.loads(runner.invoke(app, ["users", "tokens", "planner", "--json"]).output)
    assert [(t["name"], t["revoked_at"]) for t in listed] == [("etl", None)]
    assert raw not in runner.invoke(app, ["users", "tokens", "planner"]).output
    revoked = runner.invoke(app, ["users", "token-revoke", str(listed[0]["id"]), "--json"])
    assert json.loads(revoked.output)["revoked_at"] is not None
    with UnitOfWork() as uow:
        assert service.resolve_token(uow=uow, token=raw) is None
    assert runner.invoke(app, ["users", "token-revoke", "9999"]).exit_code == 2


def test_roles_table() -> None:
    table = json.loads(runner.invoke(app, ["users", "roles", "--json"]).output)
    assert table["auditor"] == [
        "audit:export",
        "audit:read",
        "cases:read",
        "org:read",
        "overview:read",
        "tokens:own",
        "users:read",
    ]
    assert "personal_data:unmask" not in table["province_admin"]
    text = runner.invoke(app, ["users", "roles"]).output
    agent_row = next(line for line in text.splitlines() if "service_agent" in line)
    assert "consent:manage, consent:read" in agent_row
