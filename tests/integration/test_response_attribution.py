"""Responses on a real database: imports, attribution to outbox, tasks and control rows.

The world: case RENEW (offers RENEW-50) and case UPG (offers UPG-5G) on one
targeting run. RENEW sent SMS to lines 1–6 and held back lines 7–9; UPG sent
to line 1 too. Line 10 was reached by a front-line task of RENEW, line 11's
task was unreachable. Contacts went out at ``SENT`` (2026-10-05 10:00 local).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.cases.domain import CaseLevel, CaseStatus, IssueStatus, Objective
from telmark.cases.models import Case, CaseIssue
from telmark.errors import Forbidden
from telmark.execution.domain import OutboxState, outbox_key
from telmark.execution.models import OutboxMessage
from telmark.execution.responses import service
from telmark.execution.responses.domain import ResponseType
from telmark.execution.responses.models import ResponseAttribution, ResponseEvent, ResponseImport
from telmark.execution.responses.schemas import EventIn
from telmark.execution.tasks.domain import Outcome, TaskState
from telmark.execution.tasks.models import Task
from telmark.org.models import OrgUnit
from telmark.uow import UnitOfWork
from telmark.warehouse.importer.report import ImportRejected
from tests._factories.auth import seed_org
from tests._support.outbox import add_run, list_row

SENT = datetime(2026, 10, 5, 2, 0, tzinfo=UTC)
PLANNED = date(2026, 10, 5)
OUTLET, CITY = "C01D01O001", "C01"
HEADER = "event_id,subscriber_id,type,occurred_at,offer_code,product_code,revenue_fen"


@dataclass
class World:
    db: sessionmaker[Session]
    directory: Path
    renew: int
    upgrade: int
    run: int

    def uow(self, actor: Actor | None = None) -> UnitOfWork:
        return UnitOfWork(self.db) if actor is None else UnitOfWork(self.db, actor=actor)


def add_case(session: Session, code: str, offer: str) -> int:
    case = Case(
        code=code, name=f"测试{code}", owner="planner", level=CaseLevel.PROVINCE,
        org_code="P00", objective=Objective.RETAIN,
        lines=[{"offer_code": offer, "channel": "sms", "reach_bp": 10_000, "take_up_bp": 500}],
        channels=["sms"], starts_on=date(2026, 10, 1), ends_on=date(2026, 12, 31),
        horizon_months=12, checkpoints=[], kpis=[], budget_fen=0, holdout_bp=1000, priority=5,
        business_weight_bp=5000, status=CaseStatus.RUNNING, version=1, created_by="planner",
    )  # fmt: skip
    session.add(case)
    session.flush()
    return case.id


def sent_outbox(
    session: Session,
    *,
    run_id: int,
    case_id: int,
    code: str,
    offer: str,
    subscribers: Sequence[int],
) -> None:
    """Outbox rows already sent at ``SENT`` (the dispatcher's work is not under test here)."""
    rows = [
        {"key": outbox_key(run_id=run_id, case_id=case_id, subscriber_id=s, channel="sms"),
         "run_id": run_id, "case_id": case_id, "case_code": code, "subscriber_id": s,
         "channel": "sms", "address": f"8613{s:09d}", "body": "您好", "offer_code": offer,
         "city_id": CITY, "outlet_id": OUTLET, "planned_on": PLANNED,
         "state": OutboxState.SENT, "attempts": 1, "next_attempt_at": SENT, "sent_at": SENT,
         "created_at": SENT, "updated_at": SENT}
        for s in subscribers
    ]  # fmt: skip
    session.execute(insert(OutboxMessage.metadata.tables[OutboxMessage.__tablename__]), rows)


def add_task(
    session: Session, *, run_id: int, case_id: int, subscriber: int, outcome: Outcome
) -> int:
    path = session.scalars(select(OrgUnit.path).where(OrgUnit.code == OUTLET)).one()
    task = Task(
        run_id=run_id, case_id=case_id, case_code="RENEW", subscriber_id=subscriber,
        offer_code="RENEW-50", city_code=CITY, org_code=OUTLET, org_path=path, staff_code=None,
        planned_on=PLANNED, due_on=PLANNED + timedelta(days=7), state=TaskState.DONE,
        outcome=outcome, note="", done_at=SENT + timedelta(days=1), done_by="outlet", version=2,
    )  # fmt: skip
    session.add(task)
    session.flush()
    return task.id


def build_world(db: sessionmaker[Session], directory: Path) -> World:
    with UnitOfWork(db) as uow:
        seed_org(uow)
        session = uow.session
        renew = add_case(session, "RENEW", "RENEW-50")
        upgrade = add_case(session, "UPG", "UPG-5G")
        where = {"city_id": CITY, "outlet_id": OUTLET}
        rows: list[dict[str, Any]] = [
            *(list_row(renew, "RENEW", s, offer_code="RENEW-50", **where) for s in range(1, 7)),
            *(list_row(renew, "RENEW", s, group="control", offer_code="RENEW-50", **where)
              for s in (7, 8)),
            list_row(renew, "RENEW", 9, group="control", offer_code="RENEW-50", city_id="C02",
                     outlet_id="C02D01"),
            *(list_row(renew, "RENEW", s, channel="frontline", offer_code="RENEW-50", **where)
              for s in (10, 11)),
            list_row(upgrade, "UPG", 1, offer_code="UPG-5G", **where),
        ]  # fmt: skip
        rows.sort(key=lambda r: (r["case_id"], r["subscriber_id"]))
        run = add_run(session, directory, rows)
        sent_outbox(session, run_id=run, case_id=renew, code="RENEW", offer="RENEW-50",
                    subscribers=range(1, 7))  # fmt: skip
        sent_outbox(session, run_id=run, case_id=upgrade, code="UPG", offer="UPG-5G",
                    subscribers=[1])  # fmt: skip
        add_task(session, run_id=run, case_id=renew, subscriber=10, outcome=Outcome.REACHED)
        add_task(session, run_id=run, case_id=renew, subscriber=11, outcome=Outcome.UNREACHABLE)
        uow.commit()
    return World(db=db, directory=directory, renew=renew, upgrade=upgrade, run=run)


@pytest.fixture
def world(db: sessionmaker[Session], tmp_path: Path) -> World:
    return build_world(db, tmp_path / "targeting")


def at(days: float) -> str:
    return (SENT + timedelta(days=days)).isoformat()


def write_csv(path: Path, lines: Sequence[str]) -> Path:
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


EVENTS = [
    f"E1,1,offer_accepted,{at(2)},RENEW-50,,3000",  # RENEW via SMS; not UPG (other offer)
    f"E2,1,port_out,{at(3)},,,-5800",  # both cases: guardrails go to any case
    f"E3,7,offer_accepted,{at(5)},RENEW-50,,3000",  # RENEW's control group
    f"E4,2,offer_accepted,{at(31)},RENEW-50,,3000",  # after the 30-day window
    f"E5,10,plan_change,{at(2)},,P5G128,2000",  # RENEW via the front-line task
    f"E6,3,offer_accepted,{at(-0.1)},RENEW-50,,3000",  # before the contact
    f"E7,11,offer_accepted,{at(2)},RENEW-50,,3000",  # task unreachable: no contact
]


def attributions(world: World) -> set[tuple[str, int, str, str]]:
    with world.uow() as uow:
        a = ResponseAttribution
        return {
            (e, c, g, k)
            for e, c, g, k in uow.session.execute(select(a.event_id, a.case_id, a.group, a.kind))
        }


def test_import_attributes_to_outbox_tasks_and_control(world: World, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "boss.csv", EVENTS)
    with world.uow() as uow:
        result = service.import_file(uow=uow, path=path, directory=world.directory)
    assert (result.rows, result.new_events, result.already_known) == (7, 7, 0)
    assert result.attribution.runs_loaded == 1
    # 6 + 1 SMS, one reached task, three control rows
    assert result.attribution.exposures_added == 11
    assert attributions(world) == {
        ("E1", world.renew, "treatment", "outbox"),
        ("E2", world.renew, "treatment", "outbox"),
        ("E2", world.upgrade, "treatment", "outbox"),
        ("E3", world.renew, "control", "control"),
        ("E5", world.renew, "treatment", "task"),
    }
    with world.uow() as uow:
        states = dict(
            uow.session.execute(
                select(OutboxMessage.subscriber_id, OutboxMessage.state).where(
                    OutboxMessage.case_id == world.renew
                )
            ).all()
        )
        responded_at = uow.session.scalar(
            select(OutboxMessage.responded_at).where(
                OutboxMessage.case_id == world.renew, OutboxMessage.subscriber_id == 1
            )
        )
        upgrade_state = uow.session.scalar(
            select(OutboxMessage.state).where(OutboxMessage.case_id == world.upgrade)
        )
    # Take-up marks the contact responded; a port-out (UPG's only event) does not.
    assert states[1] is OutboxState.RESPONDED
    assert responded_at == SENT + timedelta(days=2)
    assert {states[s] for s in range(2, 7)} == {OutboxState.SENT}
    assert upgrade_state is OutboxState.SENT

    with world.uow() as uow:
        counts = {c.group: c for c in service.response_counts(uow=uow, case_id=world.renew)}
    treatment, control = counts["treatment"], counts["control"]
    assert (treatment.exposed, treatment.responders, treatment.take_up_bp) == (7, 2, 2857)
    assert (control.exposed, control.responders, control.take_up_bp) == (3, 1, 3333)
    assert treatment.revenue_fen == 3000 - 5800 + 2000
    assert treatment.events == {"offer_accepted": 1, "port_out": 1, "plan_change": 1}
    assert treatment.guardrails == 1
    assert control.guardrails == 0


def test_rerun_and_reimport_change_nothing(world: World, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "boss.csv", EVENTS)
    with world.uow() as uow:
        service.import_file(uow=uow, path=path, directory=world.directory)
    before = attributions(world)
    with world.uow() as uow:
        again = service.import_file(uow=uow, path=path, directory=world.directory)
    assert (again.new_events, again.already_known, again.import_id) == (0, 7, None)
    with world.uow() as uow:
        rerun = service.attribute(uow=uow, directory=world.directory)
    assert (rerun.exposures_added, rerun.attributed, rerun.updated, rerun.removed) == (0, 0, 0, 0)
    assert rerun.events == 6  # every event of an exposed line (line 11 was never reached)
    assert attributions(world) == before
    with world.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(ResponseImport)) == 1
        assert uow.session.scalar(select(func.count()).select_from(ResponseAttribution)) == 5


def test_a_bad_row_rejects_the_whole_file_naming_row_and_column(
    world: World, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "bad.csv",
        [EVENTS[0], f"E9,abc,offer_accepted,{at(1)},RENEW-50,,0", f"E10,1,upsell,{at(1)},,,0",
         f"E11,1,addon_bought,{at(1)},,,12.5", f"E12,1,port_out,{at(1)},,,0,surplus"],
    )  # fmt: skip
    with world.uow() as uow, pytest.raises(ImportRejected) as caught:
        service.import_file(uow=uow, path=path, directory=world.directory)
    found = {(p.row, p.column) for p in caught.value.problems}
    assert found == {
        (3, "subscriber_id"), (4, "type"), (5, "offer_code"), (5, "revenue_fen"), (6, None)
    }  # fmt: skip
    assert all(p.file == "bad.csv" for p in caught.value.problems)
    assert "nothing was loaded" in caught.value.message
    with world.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(ResponseEvent)) == 0


def test_header_problems_and_a_changed_event_are_refused(world: World, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("event_id,subscriber,type\nE1,1,port_out\n", encoding="utf-8")
    with world.uow() as uow, pytest.raises(ImportRejected) as caught:
        service.import_file(uow=uow, path=wrong, directory=world.directory)
    assert {(p.row, p.column) for p in caught.value.problems} == {
        ("header", "subscriber"), ("header", "subscriber_id"), ("header", "occurred_at")
    }  # fmt: skip
    with world.uow() as uow:
        service.import_file(
            uow=uow, path=write_csv(tmp_path / "a.csv", EVENTS[:1]), directory=world.directory
        )
    changed = write_csv(tmp_path / "b.csv", [EVENTS[0].replace("3000", "3100")])
    with world.uow() as uow, pytest.raises(ImportRejected) as caught:
        service.import_file(uow=uow, path=changed, directory=world.directory)
    (problem,) = caught.value.problems
    assert (problem.row, problem.column, problem.value) == (2, "event_id", "E1")


def test_parquet_files_import_like_csv(world: World, tmp_path: Path) -> None:
    table = pa.table(
        {
            "event_id": ["P1", "P2"],
            "subscriber_id": pa.array([1, 8], pa.int64()),
            "type": ["offer_accepted", "complaint"],
            "occurred_at": pa.array([SENT + timedelta(days=1)] * 2, pa.timestamp("us", tz="UTC")),
            "offer_code": ["RENEW-50", None],
        }
    )
    pq.write_table(table, tmp_path / "boss.parquet")
    with world.uow() as uow:
        result = service.import_file(
            uow=uow, path=tmp_path / "boss.parquet", directory=world.directory
        )
    assert result.new_events == 2
    assert attributions(world) == {
        ("P1", world.renew, "treatment", "outbox"),
        ("P2", world.renew, "control", "control"),
    }


def test_a_shorter_window_and_a_corrected_task_are_attributed_again(
    world: World, tmp_path: Path
) -> None:
    with world.uow() as uow:
        service.import_file(
            uow=uow, path=write_csv(tmp_path / "e.csv", EVENTS), directory=world.directory
        )
    # Two days: E2 (day 3) and E3 (day 5) fall out, E1 and E5 (day 2, day 1 after the task) stay.
    with world.uow() as uow:
        window = service.set_window(uow=uow, case_id=world.renew, days=2, directory=world.directory)
    assert window.effective_days == 2
    assert window.attribution.removed == 2
    assert {(e, c) for e, c, _, _ in attributions(world)} == {
        ("E1", world.renew), ("E5", world.renew), ("E2", world.upgrade)
    }  # fmt: skip
    # The task turns out not to have reached the customer: its exposure and E5 go.
    with world.uow() as uow:
        uow.session.execute(
            update(Task).where(Task.subscriber_id == 10).values(outcome=Outcome.UNREACHABLE)
        )
        uow.commit()
    with world.uow() as uow:
        rerun = service.attribute(uow=uow, directory=world.directory)
    assert rerun.exposures_removed == 1
    assert ("E5", world.renew, "treatment", "task") not in attributions(world)


def test_api_batches_are_idempotent_and_checked(world: World) -> None:
    events = [
        EventIn(event_id="A1", subscriber_id=4, type=ResponseType.OFFER_ACCEPTED,
                offer_code="RENEW-50", occurred_at=SENT + timedelta(days=1), revenue_fen=3000),
    ]  # fmt: skip
    with world.uow() as uow:
        first = service.ingest(uow=uow, events=events, directory=world.directory)
    with world.uow() as uow:
        second = service.ingest(uow=uow, events=events, directory=world.directory)
    assert (first.new_events, first.attribution.attributed) == (1, 1)
    assert (second.new_events, second.already_known, second.attribution.attributed) == (0, 1, 0)
    bad = [events[0].model_copy(update={"event_id": "A2", "offer_code": None})]
    with world.uow() as uow, pytest.raises(Exception, match=r"events\[0\]\.offer_code"):
        service.ingest(uow=uow, events=bad, directory=world.directory)


def test_below_the_province_imports_are_refused_and_reads_are_scoped(
    world: World, tmp_path: Path
) -> None:
    with world.uow() as uow:
        service.import_file(
            uow=uow, path=write_csv(tmp_path / "e.csv", EVENTS), directory=world.directory
        )
        paths = dict(uow.session.execute(select(OrgUnit.code, OrgUnit.path)).all())
        # The province case is issued to Wuxi, so Wuxi sees it (and only its own part of it).
        uow.session.add(
            CaseIssue(case_id=world.renew, org_code="C02", assignee="org:C02", target=1,
                      status=IssueStatus.ISSUED, due_at=SENT, version=1, created_by="planner")
        )  # fmt: skip
        uow.commit()
    city = Actor(username="wx", scope_path=paths["C02"])
    with world.uow(city) as uow, pytest.raises(Forbidden):
        service.import_file(
            uow=uow, path=write_csv(tmp_path / "f.csv", EVENTS), directory=world.directory
        )
    with world.uow(city) as uow:
        counts = {c.group: c for c in service.response_counts(uow=uow, case_id=world.renew)}
    # Wuxi sees only its own line: control line 9, no response.
    assert (counts["treatment"].exposed, counts["control"].exposed) == (0, 1)
    assert counts["control"].responders == 0
    with world.uow() as uow:
        by_city = service.response_counts(uow=uow, case_id=world.renew, by="city")
    assert {(c.key, c.group): c.exposed for c in by_city} == {
        ("C01", "treatment"): 7, ("C01", "control"): 2, ("C02", "treatment"): 0,
        ("C02", "control"): 1,
    }  # fmt: skip
