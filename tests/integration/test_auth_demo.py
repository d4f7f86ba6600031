"""Demo users: one per role, placed in the org tree, idempotent, able to log in."""

from __future__ import annotations

import pytest

from telmark.actor import SYSTEM
from telmark.auth import service
from telmark.auth.demo import DEMO_PASSWORD, seed_demo_users
from telmark.auth.permissions import Role
from telmark.errors import NotFound
from telmark.org import service as org_service
from telmark.uow import UnitOfWork
from tests._factories.auth import AUTH_UNITS, seed_org


def test_one_user_per_role_placed_in_the_tree(uow: UnitOfWork) -> None:
    seed_org(uow)
    logins = seed_demo_users(uow=uow)
    assert {login.role for login in logins} == set(Role)
    placed = {login.username: login.org_code for login in logins}
    assert placed["admin"] == "P00"
    assert placed["auditor"] == "P00"
    assert (placed["city1.manager"], placed["city2.manager"]) == ("C01", "C02")
    assert placed["outlet.manager"] == placed["agent"] == "C01D01O001"
    assert placed["account.manager"] == "C01K01"
    for login in logins:
        principal = service.authenticate(uow=uow, username=login.username, password=login.password)
        assert login.role in principal.roles
        assert principal.org_code == login.org_code
    uow.actor = SYSTEM  # a successful authenticate() made the unit of work act as that user
    again = seed_demo_users(uow=uow)
    assert again == logins
    assert len(service.list_users(uow=uow)) == len(logins)
    # The two city managers show org scope: each sees their own city's users only.
    city2 = service.authenticate(uow=uow, username="city2.manager", password=DEMO_PASSWORD)
    uow.actor = city2.actor(None, None, "web")
    assert [u.username for u in service.list_users(uow=uow)] == ["city2.manager"]


def test_needs_a_synced_tree(uow: UnitOfWork) -> None:
    with pytest.raises(NotFound):
        seed_demo_users(uow=uow)
    org_service.sync_tree(uow=uow, units=AUTH_UNITS[:2], staff=[])
    with pytest.raises(NotFound):  # one city is not enough to show org scope
        seed_demo_users(uow=uow)
