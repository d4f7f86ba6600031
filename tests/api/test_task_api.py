"""Front-line tasks through the app: the JSON API and the console pages, by role and scope."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from telmark.auth.permissions import Role
from telmark.config import Settings, get_settings
from telmark.execution.tasks.models import Task
from telmark.uow import UnitOfWork, uow_dependency
from telmark.warehouse.connection import connect
from telmark.web.app import create_app
from tests._factories.auth import principal_at, sign_in_as
from tests.integration.test_task_service import TaskWorld, build_task_world
from tests.integration.test_task_service import built as built  # noqa: F401 - the fixture


@dataclass
class Api:
    client: TestClient
    world: TaskWorld
    tasks: list[Task]
    outlet: str  # the outlet with the most tasks

    def as_(self, code: str, *roles: Role) -> None:
        sign_in_as(self.client.app, principal_at(code, self.world.paths[code], roles=roles))  # type: ignore[arg-type]

    def mine(self) -> list[Task]:
        return [t for t in self.tasks if t.org_path.startswith(self.world.paths[self.outlet])]


@pytest.fixture
def api(built: Path, tmp_path: Path, db: sessionmaker[Session]) -> Iterator[Api]:  # noqa: F811
    shutil.copy(built, tmp_path / "w.duckdb")
    con = connect("duckdb://" + str(tmp_path / "w.duckdb"))
    try:
        world = build_task_world(db, con)
        world.generate()
    finally:
        con.disconnect()
    with UnitOfWork(db) as uow:
        tasks = list(uow.session.scalars(select(Task).order_by(Task.id)))
        uow.session.expunge_all()
    outlet = Counter(t.org_code for t in tasks if t.staff_code is None).most_common(1)[0][0]
    settings = Settings(
        data_dir=get_settings().data_dir, warehouse_url="duckdb://" + str(tmp_path / "w.duckdb")
    )

    def test_uow() -> Iterator[UnitOfWork]:
        with UnitOfWork(db) as unit:
            yield unit

    app = create_app(settings)
    app.dependency_overrides[uow_dependency] = test_uow
    with TestClient(app) as client:
        yield Api(client=client, world=world, tasks=tasks, outlet=outlet)


def test_an_outlet_works_its_tasks(api: Api) -> None:
    api.as_(api.outlet, Role.OUTLET_MANAGER)
    client = api.client
    listed = client.get("/api/tasks", params={"view": "all", "limit": 200}).json()
    assert listed["total"] == len(api.mine())
    assert {t["org_code"] for t in listed["tasks"]} <= {t.org_code for t in api.mine()}
    assert all("****" in t["msisdn"] for t in listed["tasks"])
    task = api.mine()[0]
    done = client.post(
        f"/api/tasks/{task.id}/outcome", json={"outcome": "accepted", "note": "办理", "version": 1}
    )
    assert done.status_code == 200, done.text
    assert (done.json()["state"], done.json()["outcome"]) == ("done", "accepted")
    again = client.post(f"/api/tasks/{task.id}/outcome", json={"outcome": "declined"})
    assert again.status_code == 409
    assert again.json()["error"] == "invalid_transition"
    fixed = client.post(
        f"/api/tasks/{task.id}/correction", json={"outcome": "declined", "note": "改口"}
    )
    assert fixed.status_code == 200
    assert [e["action"] for e in fixed.json()["history"]] == ["record", "correct"]
    bad = client.post(f"/api/tasks/{task.id}/correction", json={"outcome": "reached"})
    assert bad.status_code == 422
    assert bad.json()["details"] == [{"field": "note"}]
    number = client.get(f"/api/tasks/{task.id}/contact", params={"unmask": True}).json()
    assert number["msisdn"].isdigit()
    assert not number["masked"]
    other = next(t for t in api.tasks if t.org_code[:3] != api.outlet[:3])
    assert client.get(f"/api/tasks/{other.id}").status_code == 404
    assert (
        client.post(f"/api/tasks/{other.id}/outcome", json={"outcome": "reached"}).status_code
        == 404
    )
    # The outlet manager follows up its own hall: the report covers its units only.
    report = client.get("/api/tasks/report").json()
    assert report["total"]["done"] == 1
    assert report["total"]["assigned"] == len(api.mine())


def test_roles_decide(api: Api) -> None:
    client = api.client
    city = api.outlet[:3]
    api.as_(city, Role.ANALYST)
    assert client.get("/api/tasks").status_code == 403
    api.as_(city, Role.ACCOUNT_MANAGER)
    assert client.get("/api/tasks").status_code == 200
    assert client.get("/api/tasks/report").status_code == 403
    api.as_(city, Role.CITY_MARKETING_MANAGER)
    report = client.get("/api/tasks/report", params={"by": "city"}).json()
    assert [r["key"] for r in report["rows"]] == [city]
    task = api.mine()[0]
    # Managers follow up but do not record outcomes or call customers.
    assert (
        client.post(f"/api/tasks/{task.id}/outcome", json={"outcome": "reached"}).status_code == 403
    )
    assert client.get(f"/api/tasks/{task.id}/contact").status_code == 403
    moved = client.post(f"/api/tasks/{task.id}/reassign", json={"org_code": city, "note": "收回"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["org_code"] == city
    assert client.post("/api/tasks/generate", json={"run_id": api.world.run_id}).status_code == 403
    root = next(c for c, p in api.world.paths.items() if p.count("/") == 2)
    api.as_(root, Role.MARKETING_PLANNER)
    again = client.post("/api/tasks/generate", json={"run_id": api.world.run_id})
    assert again.status_code == 200
    assert (again.json()["created"], again.json()["existing"]) == (0, len(api.tasks))


def test_the_console_pages(api: Api) -> None:
    client = api.client
    api.as_(api.outlet, Role.OUTLET_MANAGER)
    page = client.get("/tasks/mine")
    assert page.status_code == 200
    assert page.text.count('class="task-card') == min(20, len(api.mine()))
    task = api.mine()[0]
    card = client.post(f"/tasks/{task.id}/outcome", data={"outcome": "unreachable", "version": "1"})
    assert card.status_code == 200
    assert 'data-state="done"' in card.text
    assert 'data-outcome="unreachable"' in card.text
    # A stale second tap changes nothing and says why, in the card (HTMX swaps 200s only).
    stale = client.post(f"/tasks/{task.id}/outcome", data={"outcome": "accepted", "version": "1"})
    assert stale.status_code == 200
    assert "task-error" in stale.text
    assert 'data-outcome="unreachable"' in stale.text
    number = client.get(f"/tasks/{task.id}/number")
    assert 'href="tel:' in number.text
    api.as_(api.outlet[:3], Role.CITY_MARKETING_MANAGER)
    report = client.get("/tasks/completion")
    assert report.status_code == 200
    assert 'id="completion-chart"' in report.text
    assert f'data-key="{api.outlet}"' in report.text
    assert (
        client.get("/tasks/completion", params={"by": "recorder"}).text.count("<tr data-key") == 1
    )
