"""Front-line tasks on SQLite and PostgreSQL from a real targeting run over a generated
province: generation (placement, due days, idempotency, unplaced units), org scope, outcomes
with their history and optimistic lock, reassignment, cancellation and the completion report."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from ibis.backends import BaseBackend
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.audit.models import AuditEntry
from telmark.config import get_settings
from telmark.errors import Conflict, Forbidden, InvalidInput, InvalidTransition, NotFound
from telmark.execution.tasks import service
from telmark.execution.tasks.domain import Dimension, Outcome, TaskAction, TaskState, View
from telmark.execution.tasks.models import Task, TaskEvent
from telmark.execution.tasks.schemas import CancelIn, OutcomeIn, ReassignIn
from telmark.org import service as org_service
from telmark.org.models import OrgUnit, Staff
from telmark.segments import service as segments_service
from telmark.segments import snapshots
from telmark.segments.schemas import SegmentCreate
from telmark.targeting import service as targeting
from telmark.targeting.domain import CaseSpec
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from tests._factories.segments import load_warehouse, province_directory

ON = date(2026, 10, 5)
ENDS = date(2026, 10, 9)  # the front-line case ends 4 days after the list: due days cap there
ALL = {"version": 1, "root": {"kind": "tenure_months", "op": ">=", "value": 0}}
# A moment on the list's day in the province (the tasks are not yet overdue).
NOW = datetime(2026, 10, 5, 4, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tasks")
    con = load_warehouse(province_directory(root, subscribers=1_200, seed=31), root / "w.duckdb")
    con.disconnect()
    return root / "w.duckdb"


@dataclass
class TaskWorld:
    db: sessionmaker[Session]
    con: BaseBackend
    paths: dict[str, str]  # org code → path
    province: Actor
    run_id: int
    directory: Path

    def uow(self, actor: Actor | None = None) -> UnitOfWork:
        return UnitOfWork(self.db, actor=actor or self.province)

    def at(self, code: str, username: str = "worker") -> Actor:
        return Actor(username=username, channel="web", scope_path=self.paths[code])

    def generate(self) -> int:
        with self.uow() as uow:
            return service.generate(uow=uow, run_id=self.run_id, directory=self.directory).created

    def treatment_rows(self) -> list[dict[str, object]]:
        with self.uow() as uow:
            path = targeting.list_file(uow=uow, run_id=self.run_id, directory=self.directory)
        return [
            r
            for r in pq.read_table(path).to_pylist()
            if r["group"] == "treatment" and r["channel"] == "frontline"
        ]


def build_task_world(db: sessionmaker[Session], con: BaseBackend) -> TaskWorld:
    """The warehouse's org tree, two all-lines cases (front line and SMS) and one run."""
    with UnitOfWork(db) as uow:
        org_service.sync_from_warehouse(uow=uow, con=con)
        paths: dict[str, str] = dict(uow.session.execute(select(OrgUnit.code, OrgUnit.path)).all())
    root = next(path for path in paths.values() if path.count("/") == 2)
    province = Actor(username="planner", channel="web", scope_path=root)
    settings = get_settings()
    with UnitOfWork(db, actor=province) as uow:
        segment = segments_service.create_segment(
            uow=uow, spec=SegmentCreate(name="全量", rule=ALL)
        )
        snap = snapshots.take_snapshot(
            uow=uow, con=con, directory=settings.resolved_snapshot_dir, segment_id=segment.id
        )
        cases = [
            CaseSpec(case_id=11, code="FRONT", org_path=root, priority=6, business_weight_bp=5000,
                     snapshot_id=snap.id, offer_codes=(), channels=("frontline",),
                     holdout_bp=1000, starts_on=date(2026, 10, 1), ends_on=ENDS),
            CaseSpec(case_id=12, code="TEXT", org_path=root, priority=5, business_weight_bp=5000,
                     snapshot_id=snap.id, offer_codes=(), channels=("sms",), holdout_bp=0,
                     starts_on=date(2026, 10, 1), ends_on=date(2026, 12, 31)),
        ]  # fmt: skip
        run = targeting.run_targeting(
            uow=uow, con=con, cases=cases, run_key="tasks", on=ON,
            directory=settings.resolved_targeting_dir,
            snapshot_dir=settings.resolved_snapshot_dir,
        )  # fmt: skip
    assert run.id is not None
    return TaskWorld(
        db=db, con=con, paths=paths, province=province, run_id=run.id,
        directory=settings.resolved_targeting_dir,
    )  # fmt: skip


@pytest.fixture
def world(built: Path, tmp_path: Path, db: sessionmaker[Session]) -> Iterator[TaskWorld]:
    shutil.copy(built, tmp_path / "w.duckdb")
    con = connect("duckdb://" + str(tmp_path / "w.duckdb"))
    yield build_task_world(db, con)
    con.disconnect()


def _tasks(world: TaskWorld) -> list[Task]:
    with world.uow() as uow:
        tasks = list(uow.session.scalars(select(Task).order_by(Task.id)))
        uow.session.expunge_all()  # kept readable after the unit of work rolls back
        return tasks


def test_generation_places_every_front_line_contact_once(world: TaskWorld) -> None:
    rows = world.treatment_rows()
    assert len(rows) > 100
    # One outlet is missing from the operational tree: its contacts are unplaced, not guessed.
    missing = Counter(str(r["outlet_id"]) for r in rows if not r["account_manager_id"])
    gone, gone_count = missing.most_common(1)[0]
    with world.uow() as uow:
        uow.session.execute(update(OrgUnit).where(OrgUnit.code == gone).values(active=False))
        uow.commit()
        first = service.generate(uow=uow, run_id=world.run_id, directory=world.directory)
    assert first.considered == len(rows)
    assert first.unplaced == gone_count
    assert first.unplaced_units == [gone]
    assert first.created == len(rows) - gone_count
    with world.uow() as uow:
        again = service.generate(uow=uow, run_id=world.run_id, directory=world.directory)
    assert (again.created, again.existing, again.unplaced) == (0, first.created, gone_count)

    with world.uow() as uow:
        uow.session.execute(update(OrgUnit).where(OrgUnit.code == gone).values(active=True))
        uow.commit()
    assert world.generate() == gone_count  # exactly the missing ones, nothing twice

    tasks = _tasks(world)
    assert len(tasks) == len(rows)
    assert {(t.case_id, t.subscriber_id) for t in tasks} == {
        (r["case_id"], r["subscriber_id"]) for r in rows
    }
    assert {t.case_code for t in tasks} == {"FRONT"}  # SMS contacts and controls are no tasks
    with world.uow() as uow:
        staff_units = dict(
            uow.session.execute(
                select(Staff.code, OrgUnit.code).join(OrgUnit, OrgUnit.id == Staff.org_unit_id)
            ).all()
        )
    by_key = {(r["case_id"], r["subscriber_id"]): r for r in rows}
    managed = 0
    for task in tasks:
        row = by_key[(task.case_id, task.subscriber_id)]
        if row["account_manager_id"]:
            managed += 1
            assert task.staff_code == row["account_manager_id"]
            assert task.org_code == staff_units[str(task.staff_code)]
        else:
            assert (task.org_code, task.staff_code) == (row["outlet_id"], None)
        assert task.org_path == world.paths[task.org_code]
        assert task.state is TaskState.OPEN
        # Seven days after the list, capped by the case's end.
        assert task.due_on == min(ON + timedelta(days=7), ENDS)
    assert managed > 0, "the generated province should have enterprise lines"


def test_generation_is_province_work(world: TaskWorld) -> None:
    with world.uow(world.at("C01")) as uow, pytest.raises(Forbidden):
        service.generate(uow=uow, run_id=world.run_id, directory=world.directory)
    with world.uow() as uow, pytest.raises(NotFound):
        service.generate(uow=uow, run_id=world.run_id + 99, directory=world.directory)


def test_an_outlet_sees_its_own_tasks_and_a_city_its_city(world: TaskWorld) -> None:
    world.generate()
    tasks = _tasks(world)
    outlet = Counter(t.org_code for t in tasks if t.staff_code is None).most_common(1)[0][0]
    city = outlet[:3]
    mine = [t for t in tasks if t.org_path.startswith(world.paths[outlet])]
    with world.uow(world.at(outlet)) as uow:
        page = service.list_tasks(uow=uow, view=View.ALL, limit=200, now=NOW)
        assert page.total == len(mine)
        assert {t.id for t in page.tasks} == {t.id for t in mine}
        other = next(t for t in tasks if not t.org_path.startswith(world.paths[outlet]))
        with pytest.raises(NotFound):
            service.get_task(uow=uow, task_id=other.id)
        with pytest.raises(NotFound):
            service.record_outcome(
                uow=uow, task_id=other.id, spec=OutcomeIn(outcome=Outcome.REACHED)
            )
    in_city = [t for t in tasks if t.org_path.startswith(world.paths[city])]
    with world.uow(world.at(city, "manager")) as uow:
        report = service.report(uow=uow, by=Dimension.UNIT, now=NOW)
        assert report.total.assigned == len(in_city)
        assert {r.key for r in report.rows} == {t.org_code for t in in_city}
        by_city = service.report(uow=uow, by=Dimension.CITY, now=NOW)
        assert [r.key for r in by_city.rows] == [city]
        assert [c.case_code for c in service.task_cases(uow=uow)] == ["FRONT"]


def test_outcomes_history_and_the_lock(world: TaskWorld) -> None:
    world.generate()
    task = next(t for t in _tasks(world) if t.staff_code is None)
    worker = world.at(task.org_code, "hall.worker")
    with world.uow(worker) as uow:
        done = service.record_outcome(
            uow=uow, task_id=task.id, spec=OutcomeIn(outcome=Outcome.ACCEPTED, note=" 已办理 ",
                                                      version=1), now=NOW,
        )  # fmt: skip
    assert (done.state, done.outcome, done.note, done.done_by) == (
        TaskState.DONE, Outcome.ACCEPTED, "已办理", "hall.worker",
    )  # fmt: skip
    assert done.version == 2
    with world.uow(worker) as uow:
        with pytest.raises(InvalidTransition, match="already has an outcome"):
            service.record_outcome(
                uow=uow, task_id=task.id, spec=OutcomeIn(outcome=Outcome.DECLINED)
            )
        with pytest.raises(Conflict, match="version 2, not 1"):
            service.correct_outcome(
                uow=uow, task_id=task.id,
                spec=OutcomeIn(outcome=Outcome.DECLINED, note="x", version=1),
            )  # fmt: skip
        with pytest.raises(InvalidInput, match="note"):
            service.correct_outcome(
                uow=uow, task_id=task.id, spec=OutcomeIn(outcome=Outcome.DECLINED)
            )
        fixed = service.correct_outcome(
            uow=uow, task_id=task.id,
            spec=OutcomeIn(outcome=Outcome.DECLINED, note="客户改主意了", version=2), now=NOW,
        )  # fmt: skip
    assert fixed.outcome is Outcome.DECLINED
    assert [(e.seq, e.action, e.outcome) for e in fixed.history] == [
        (2, TaskAction.RECORD, Outcome.ACCEPTED),
        (3, TaskAction.CORRECT, Outcome.DECLINED),
    ]
    with world.uow() as uow:
        # The audit trail has the changes too, attributed to the worker.
        actors = set(
            uow.session.scalars(
                select(AuditEntry.actor_username).where(
                    AuditEntry.entity_type == "frontline_task", AuditEntry.entity_id == str(task.id)
                )
            )
        )
        assert actors == {"hall.worker"}
        report = service.report(uow=uow, by=Dimension.RECORDER, now=NOW)
    (row,) = report.rows
    assert (row.key, row.done, row.outcomes[Outcome.DECLINED]) == ("hall.worker", 1, 1)


def test_reassign_cancel_and_overdue_in_the_report(world: TaskWorld) -> None:
    world.generate()
    tasks = [t for t in _tasks(world) if t.staff_code is None]
    city = tasks[0].org_code[:3]
    manager = world.at(city, "city.manager")
    own = [t for t in tasks if t.org_path.startswith(world.paths[city])]
    first, second = own[0], own[1]
    with world.uow() as uow:
        person = uow.session.scalars(
            select(Staff)
            .join(OrgUnit, OrgUnit.id == Staff.org_unit_id)
            .where(OrgUnit.path.startswith(world.paths[city]), Staff.active)
            .order_by(Staff.code)
        ).first()
        uow.session.expunge_all()
        foreign = uow.session.scalars(
            select(OrgUnit.code).where(~OrgUnit.path.startswith(world.paths[city]))
        ).first()
    assert person is not None
    assert foreign is not None
    with world.uow(manager) as uow:
        with pytest.raises(InvalidInput, match="org_code: no unit"):
            service.reassign(uow=uow, task_id=first.id, spec=ReassignIn(org_code=foreign))
        moved = service.reassign(
            uow=uow, task_id=first.id, spec=ReassignIn(staff_code=person.code, note="交给你")
        )
        assert (moved.staff_code, moved.state, moved.version) == (person.code, TaskState.OPEN, 2)
        with pytest.raises(InvalidInput, match="note"):
            service.cancel(uow=uow, task_id=second.id, spec=CancelIn(note=" "))
        service.cancel(uow=uow, task_id=second.id, spec=CancelIn(note="客户已销户"))
        with pytest.raises(InvalidTransition):
            service.record_outcome(
                uow=uow, task_id=second.id, spec=OutcomeIn(outcome=Outcome.REACHED)
            )
        # Two weeks on, every open task is past its due day.
        later = NOW + timedelta(days=14)
        report = service.report(uow=uow, by=Dimension.STAFF, now=later)
        overdue = service.list_tasks(uow=uow, view=View.OVERDUE, limit=200, now=later)
    assert report.total.cancelled == 1
    assert report.total.assigned == len(own) - 1
    assert report.total.overdue == report.total.open == len(own) - 1
    assert overdue.total == len(own) - 1
    assert all(t.overdue for t in overdue.tasks)
    named = {r.key: r for r in report.rows}
    assert named[person.code].assigned == 1
    assert named[person.code].label == person.name
    assert named[None].assigned == len(own) - 2


def test_the_number_is_disclosed_one_task_at_a_time(world: TaskWorld) -> None:
    world.generate()
    task = _tasks(world)[0]
    worker = world.at(task.org_code)
    with world.uow(worker) as uow:
        masked = service.contact(uow=uow, con=world.con, task_id=task.id, unmask=False)
        page = service.list_tasks(uow=uow, view=View.OPEN, limit=5, con=world.con, now=NOW)
    assert masked.masked
    assert masked.msisdn is not None
    assert "****" in masked.msisdn
    assert all(t.msisdn and "****" in t.msisdn for t in page.tasks)
    with world.uow(worker) as uow:
        clear = service.contact(uow=uow, con=world.con, task_id=task.id, unmask=True)
        reads = uow.session.scalar(
            select(func.count()).where(
                AuditEntry.action == "read", AuditEntry.entity_id == str(task.subscriber_id)
            )
        )
    assert clear.msisdn is not None
    assert clear.msisdn.isdigit()
    assert clear.msisdn[-4:] == masked.msisdn[-4:]
    assert reads == 1
    with world.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(TaskEvent)) == 0
