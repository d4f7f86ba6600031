"""The execution monitor on SQLite and PostgreSQL: progress per city against checkpoints, the
scan's rules (idempotent), org scope, acknowledging and resolving, and alert e-mails through a
real SMTP server (aiosmtpd), including a failed send retried by the next scan."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import ibis
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.audit.models import AuditEntry
from telmark.cases.domain import (
    AlertKind,
    AlertStatus,
    CaseLevel,
    CaseStatus,
    IssueStatus,
    Objective,
)
from telmark.cases.models import Case, CaseAlert, CaseIssue
from telmark.errors import Forbidden, InvalidInput, InvalidTransition, NotFound
from telmark.execution.channels.config import SmtpSettings
from telmark.execution.domain import OutboxState
from telmark.execution.models import OutboxMessage
from telmark.execution.monitor import scan as monitor_scan
from telmark.execution.monitor import service
from telmark.execution.monitor.domain import CheckpointState, EmailState, Level
from telmark.execution.monitor.schemas import SettingIn
from telmark.org import service as org_service
from telmark.org.models import OrgUnit
from telmark.uow import UnitOfWork
from tests.integration.test_org_service import STAFF, UNITS

SENT_ON = datetime(2026, 10, 5, 2, 0, tzinfo=UTC)
NOW = datetime(2026, 10, 12, 2, 0, tzinfo=UTC)  # the first checkpoint (10-10) is due
OUTBOX = cast(Table, OutboxMessage.__table__)  # a Core insert: one statement per batch
CHECKPOINTS = [
    {"on": "2026-10-10", "metric": "contacts", "target": 100},
    {"on": "2026-10-20", "metric": "contacts", "target": 200},
]


def add_running_case(session: Session, code: str = "MON", org_code: str = "P00") -> int:
    case = Case(
        code=code, name=f"监控{code}", owner="planner", level=CaseLevel.PROVINCE,
        org_code=org_code, objective=Objective.RETAIN, lines=[], channels=["sms"],
        starts_on=date(2026, 10, 1), ends_on=date(2026, 10, 31), horizon_months=12,
        checkpoints=CHECKPOINTS, kpis=[], budget_fen=0, holdout_bp=1000, priority=5,
        business_weight_bp=5000, status=CaseStatus.RUNNING, version=1, created_by="planner",
    )  # fmt: skip
    session.add(case)
    session.flush()
    return case.id


def add_messages(
    session: Session,
    case_id: int,
    *,
    city: str,
    outlet: str,
    count: int,
    start: int,
    state: OutboxState = OutboxState.PLANNED,
    at: datetime | None = None,
    channel: str = "sms",
) -> None:
    """``count`` outbox rows of one outlet; sent ones were sent (or settled) at ``at``."""
    sent = state in (OutboxState.SENT, OutboxState.DELIVERED, OutboxState.RESPONDED)
    moment = at or SENT_ON
    session.execute(
        insert(OUTBOX),
        [
            {"key": f"m-{case_id}-{i}-{channel}", "run_id": None, "case_id": case_id,
             "case_code": "MON", "subscriber_id": i, "channel": channel,
             "address": f"8613{i:09d}", "body": "您好", "subject": None, "city_id": city,
             "outlet_id": outlet, "planned_on": date(2026, 10, 5), "state": state,
             "reason": "opt_out" if state is OutboxState.SUPPRESSED else None, "attempts": 1,
             "next_attempt_at": moment, "created_at": SENT_ON, "updated_at": moment,
             "sent_at": moment if sent else None,
             "delivered_at": moment if state is OutboxState.DELIVERED else None}
            for i in range(start, start + count)
        ],
    )  # fmt: skip


@dataclass
class Mailbox:
    received: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        del server, session
        self.received.append(envelope)
        return "250 Message accepted"

    def subjects(self) -> list[str]:
        found = []
        for envelope in self.received:
            assert envelope.original_content is not None
            mail = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
            found.append(str(mail["Subject"]))
        return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class World:
    db: sessionmaker[Session]
    case_id: int
    paths: dict[str, str]

    def uow(self, actor: Actor | None = None) -> UnitOfWork:
        return UnitOfWork(self.db, actor=actor or Actor(username="planner"))

    def at(self, code: str, username: str = "someone") -> Actor:
        return Actor(username=username, channel="web", scope_path=self.paths[code])

    def scan(self, port: int | None = None, **kwargs: Any) -> Any:
        mailer = monitor_scan.smtp_mailer(
            SmtpSettings(host="127.0.0.1", port=port or free_port(), timeout=5)
        )
        with self.uow() as uow:
            return monitor_scan.scan(uow=uow, now=kwargs.pop("now", NOW), mailer=mailer, **kwargs)


def build_world(db: sessionmaker[Session]) -> World:
    """Two cities with 60 planned contacts each: Nanjing sent all 60 on 10-05, Wuxi 20 (and
    C02D01 has not acknowledged its issue, due 10-06)."""
    with UnitOfWork(db) as uow:
        org_service.sync_tree(uow=uow, units=UNITS, staff=STAFF)
        paths = dict(uow.session.execute(select(OrgUnit.code, OrgUnit.path)).all())
        case_id = add_running_case(uow.session)
        add_messages(uow.session, case_id, city="C01", outlet="C01D01O001", count=60, start=0,
                     state=OutboxState.DELIVERED)  # fmt: skip
        add_messages(uow.session, case_id, city="C02", outlet="C02D01", count=20, start=100,
                     state=OutboxState.SENT)  # fmt: skip
        add_messages(uow.session, case_id, city="C02", outlet="C02D01", count=40, start=200)
        uow.session.add(
            CaseIssue(
                case_id=case_id, parent_id=None, org_code="C02D01", assignee="org:C02D01",
                target=10, status=IssueStatus.ISSUED,
                due_at=datetime(2026, 10, 6, tzinfo=UTC), local_outlets=[], local_channels=[],
                created_by="planner", version=1,
            )
        )  # fmt: skip
        uow.commit()
    return World(db=db, case_id=case_id, paths=paths)


@pytest.fixture
def world(db: sessionmaker[Session]) -> World:
    return build_world(db)


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def _kinds(alerts: Sequence[Any]) -> list[tuple[str, str]]:
    return sorted((str(a.kind), a.org_code or "case") for a in alerts)


def test_progress_per_city_against_the_checkpoints(world: World) -> None:
    with world.uow() as uow:
        result = service.progress(uow=uow, case_id=world.case_id, by=Level.CITY, now=NOW)
    assert (result.funnel.planned, result.funnel.sent, result.funnel.delivered) == (120, 80, 60)
    assert result.funnel.contacts == 80
    assert result.funnel.sent_bp == 6667
    first, second = result.checkpoints
    assert (first.due, first.actual, first.target, first.state) == (
        True, 80, 100, CheckpointState.MISSED,
    )  # fmt: skip
    # 10-12 is 2 of 10 days from 100 towards 200: 120 planned, 80 < 90 % of it.
    assert (second.due, second.plan_now, second.state) == (False, 120, CheckpointState.BEHIND)
    rows = {r.key: r for r in result.rows}
    assert rows["C01"].funnel.contacts == 60
    assert rows["C01"].share_bp == 5000
    assert rows["C01"].plan_contacts == 60
    assert rows["C02"].state is CheckpointState.MISSED  # 20 of its 50
    assert [r.key for r in result.rows] == ["C02", "C01"]  # the worst first


def test_a_city_sees_its_own_part_of_the_case(world: World) -> None:
    with world.uow(world.at("C02")) as uow:
        result = service.progress(uow=uow, case_id=world.case_id, by=Level.OUTLET, now=NOW)
    assert (result.funnel.planned, result.funnel.contacts) == (60, 20)
    assert result.checkpoints[0].target == 50  # its share of the case's 100
    assert [r.key for r in result.rows] == ["C02D01"]


def test_the_scan_raises_each_alert_once_and_mails_it(
    world: World, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    with world.uow() as uow:
        service.set_setting(
            uow=uow, org_code="P00", spec=SettingIn(recipients=["ops@telmark.test"])
        )
    first = world.scan(port)
    # The case and the lagging city (not Nanjing) at the first checkpoint; the unacknowledged
    # issue comes from cases.issuing in the same scan.
    assert _kinds(first.raised) == [("execution_behind", "C02"), ("execution_behind", "case")]
    assert first.mail.sent == 3  # the two, and the overdue acknowledgement
    assert len(box.received) == 3
    assert all("MON" in s for s in box.subjects())
    with world.uow() as uow:
        alerts = service.list_alerts(uow=uow)
    assert {a.kind for a in alerts} == {AlertKind.EXECUTION_BEHIND, AlertKind.ACK_OVERDUE}
    assert {a.email_state for a in alerts} == {EmailState.SENT}

    again = world.scan(port, now=NOW + timedelta(hours=1))
    assert again.raised == []
    assert (again.mail.sent, len(box.received)) == (0, 3)
    with world.uow() as uow:
        assert len(service.list_alerts(uow=uow)) == 3


def test_a_failed_mail_is_recorded_and_sent_by_the_next_scan(
    world: World, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    with world.uow() as uow:
        service.set_setting(uow=uow, org_code="P00", spec=SettingIn(recipients=["ops@t.test"]))
    down = world.scan()  # a port nobody listens on
    assert down.mail.failed == 3
    with world.uow() as uow:
        failed = service.list_alerts(uow=uow)
    assert {a.email_state for a in failed} == {EmailState.FAILED}
    assert all(a.email_error and a.email_attempts == 1 for a in failed)

    up = world.scan(port)
    assert (up.raised, up.mail.sent, len(box.received)) == ([], 3, 3)
    with world.uow() as uow:
        assert {(a.email_state, a.email_attempts) for a in service.list_alerts(uow=uow)} == {
            (EmailState.SENT, 2)
        }


def test_without_recipients_an_alert_waits_and_is_not_lost(world: World) -> None:
    result = world.scan()
    assert (result.mail.waiting, result.mail.sent, result.mail.failed) == (3, 0, 0)
    with world.uow() as uow:
        alerts = service.list_alerts(uow=uow)
    assert {a.email_state for a in alerts} == {EmailState.PENDING}
    assert all("no e-mail recipients" in (a.email_error or "") for a in alerts)


def test_alerts_are_scoped_acknowledged_and_resolved_with_notes(world: World) -> None:
    world.scan()
    nanjing, wuxi = world.at("C01", "nj"), world.at("C02", "wx")
    with world.uow(nanjing) as uow:
        assert service.list_alerts(uow=uow) == []
    with world.uow(wuxi) as uow:
        mine = service.list_alerts(uow=uow)
        # Its own lag and its district's overdue acknowledgement; not the case-wide alert.
        assert _kinds(mine) == [("ack_overdue", "C02D01"), ("execution_behind", "C02")]
        lag = next(a for a in mine if a.kind is AlertKind.EXECUTION_BEHIND)
    with world.uow(nanjing) as uow, pytest.raises(NotFound):
        service.acknowledge(uow=uow, alert_id=lag.id)
    with world.uow(wuxi) as uow:
        with pytest.raises(InvalidInput, match="note"):
            service.resolve(uow=uow, alert_id=lag.id, note=" ")
        taken = service.acknowledge(uow=uow, alert_id=lag.id, note="已电话督办梁溪区")
        assert (taken.status, taken.acknowledged_by, taken.ack_note) == (
            AlertStatus.ACKNOWLEDGED, "wx", "已电话督办梁溪区",
        )  # fmt: skip
        with pytest.raises(InvalidTransition):
            service.acknowledge(uow=uow, alert_id=lag.id)
        done = service.resolve(uow=uow, alert_id=lag.id, note="补发完成")
        assert (done.status, done.resolved_by, done.resolve_note) == (
            AlertStatus.RESOLVED, "wx", "补发完成",
        )  # fmt: skip
        with pytest.raises(InvalidTransition):
            service.resolve(uow=uow, alert_id=lag.id, note="again")
        audited = uow.session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity_type == "case_alert", AuditEntry.entity_id == str(lag.id)
            )
        ).all()
        assert {e.actor_username for e in audited} >= {"wx"}
    # Resolved stays resolved: the next scan raises nothing for the same checkpoint.
    assert world.scan(now=NOW + timedelta(days=1)).raised == []


def test_the_scan_is_for_the_province_only(world: World) -> None:
    with world.uow(world.at("C01")) as uow, pytest.raises(Forbidden):
        monitor_scan.scan(uow=uow, now=NOW)


def test_a_delivery_failure_spike_is_raised_once_a_day(world: World) -> None:
    with world.uow() as uow:
        # A clean history on e-mail, then 12 of the last hour's 60 failed.
        add_messages(uow.session, world.case_id, city="C01", outlet="C01D01O001", count=200,
                     start=1000, state=OutboxState.DELIVERED, channel="email")  # fmt: skip
        recent = NOW - timedelta(minutes=20)
        add_messages(uow.session, world.case_id, city="C01", outlet="C01D01O001", count=48,
                     start=2000, state=OutboxState.SENT, at=recent, channel="email")  # fmt: skip
        add_messages(uow.session, world.case_id, city="C01", outlet="C01D01O001", count=12,
                     start=3000, state=OutboxState.FAILED, at=recent, channel="email")  # fmt: skip
        uow.commit()
    first = world.scan()
    spikes = [a for a in first.raised if a.kind is AlertKind.FAILURE_SPIKE]
    assert len(spikes) == 1
    assert spikes[0].details is not None
    assert (spikes[0].details["channel"], spikes[0].details["failed"]) == ("email", 12)
    assert spikes[0].details["settled"] == 60
    later = world.scan(now=NOW + timedelta(minutes=10))
    assert [a for a in later.raised if a.kind is AlertKind.FAILURE_SPIKE] == []


def test_a_complaint_spike_after_contact_against_the_same_lines_before(world: World) -> None:
    with world.uow() as uow:
        contacted = NOW - timedelta(days=2)
        add_messages(uow.session, world.case_id, city="C01", outlet="C01D01O001", count=120,
                     start=5000, state=OutboxState.DELIVERED, at=contacted)  # fmt: skip
        uow.commit()
    con = ibis.duckdb.connect()
    complaints = [
        {"complaint_id": i + 1, "subscriber_id": 5000 + i,
         "created_at": (contacted + timedelta(hours=5)).replace(tzinfo=None),
         "category": "marketing", "severity": 1, "org_id": "C01D01O001"}
        for i in range(10)
    ]  # fmt: skip
    # One complaint long before the contact window counts for nothing.
    long_before = (contacted - timedelta(days=30)).replace(tzinfo=None)
    complaints.append({**complaints[0], "complaint_id": 99, "created_at": long_before})
    con.create_table("complaints", ibis.memtable(complaints))
    result = world.scan(con=con)
    spikes = [a for a in result.raised if a.kind is AlertKind.COMPLAINT_SPIKE]
    assert len(spikes) == 1
    details = spikes[0].details or {}
    # The 120 and the world's 80 sent exactly 7 days before: all contacted within the window.
    assert (details["complained"], details["contacted"], details["comparison"]) == (
        10, 200, "before",
    )  # fmt: skip
    assert details["compared_complained"] == 0
    with world.uow() as uow:
        row = uow.session.scalars(
            select(CaseAlert).where(CaseAlert.kind == AlertKind.COMPLAINT_SPIKE)
        ).one()
        assert (row.issue_id, row.dedupe_key) == (None, "case:2026-10-12")
    assert world.scan(con=con).raised == []
