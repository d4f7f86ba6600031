"""Case evaluation on a real database, end to end: a targeting run's list (treatment and
control by the keyed holdout hash), outbox rows sent, simulated responses imported and
attributed, the evaluation, recording it, and the case's ``evaluate`` step.

The world: case EVAL (province, offer RENEW-50 by SMS, 20 % control) over subscribers
1–800; odd ids live in Nanjing (C01), even ids in Wuxi (C02). Responses are drawn from
known rates (control 5 %, treatment 15 %); a few treated subscribers complain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pytest
from openpyxl import load_workbook
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.analysis.uplift.domain import ModelStatus as UpliftStatus
from telmark.analysis.uplift.domain import Source as UpliftSource
from telmark.analysis.uplift.models import UpliftModel
from telmark.cases import service as case_service
from telmark.cases.domain import (
    AlertKind,
    AlertStatus,
    CaseLevel,
    CaseStatus,
    IssueStatus,
    Objective,
)
from telmark.cases.models import Case, CaseAlert, CaseIssue, CaseTransition
from telmark.errors import InvalidInput, InvalidTransition, NotFound
from telmark.evaluation.cases import service
from telmark.evaluation.cases.exports import ExportFormat
from telmark.evaluation.cases.qini import case_qini
from telmark.execution.channels.base import Message, SendResult
from telmark.execution.domain import OutboxState, outbox_key
from telmark.execution.models import OutboxMessage
from telmark.execution.monitor import scan as monitor_scan
from telmark.execution.responses import service as responses
from telmark.execution.responses.schemas import EventIn
from telmark.org.models import OrgUnit
from telmark.targeting.domain import holdout_buckets
from telmark.uow import UnitOfWork
from tests._factories.auth import seed_org
from tests._support.outbox import add_run, list_row

SENT = datetime(2026, 10, 5, 2, 0, tzinfo=UTC)
COMPLETED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
SUBSCRIBERS = 800
HOLDOUT_BP = 2_000
RATES = {"control": 0.05, "treatment": 0.15}
OFFER, PER_TAKER_FEN = "RENEW-50", 3_000
UNITS = {1: ("C01", "C01D01O001"), 0: ("C02", "C02D01")}
PROJECTION: dict[str, Any] = {
    "available": True, "frozen": True, "members": 800, "targets": 640, "control": 160,
    "horizon_months": 12, "budget_fen": 0,
    "totals": {"contacts": 640, "takers": 96, "incremental_revenue_fen": 96 * 3_000 * 12,
               "retained_revenue_fen": 0, "incentive_cost_fen": 96 * 2_000,
               "channel_cost_fen": 640 * 5, "cost_fen": 96 * 2_000 + 640 * 5,
               "net_fen": 96 * 3_000 * 12 - 96 * 2_000 - 640 * 5, "roi_bp": 160_000,
               "payback_month": 1},
    "lines": [{"offer_code": OFFER, "channel": "sms", "contacts": 640, "takers": 96,
               "incentive_cost_fen": 96 * 2_000, "contact_cost_fen": 640 * 5,
               "monthly_revenue_fen": 96 * 3_000, "monthly_channel_cost_fen": 0,
               "monthly_retained_revenue_fen": 0}],
    "offers": [{"offer_code": OFFER, "offer_version": 1, "net_incentive_cost_fen": 2_000,
                "incremental_monthly_revenue_fen": 3_000, "channel_cost_fen_per_month": 0}],
}  # fmt: skip


@dataclass
class CaseWorld:
    db: sessionmaker[Session] | None  # None: the configured database (the browser's server)
    directory: Path
    case_id: int
    groups: dict[int, str]  # subscriber → treatment / control
    took: set[int]
    complained: set[int]
    paths: dict[str, str] = field(default_factory=dict)

    def uow(self, actor: Actor | None = None) -> UnitOfWork:
        return UnitOfWork(self.db) if actor is None else UnitOfWork(self.db, actor=actor)

    def expected(self, group: str, city: str | None = None) -> tuple[int, int]:
        """(exposed, responders) the generator made for ``group`` (in ``city``)."""
        ids = [
            s for s, g in self.groups.items() if g == group and (city is None or _city(s) == city)
        ]
        return len(ids), sum(s in self.took for s in ids)


def _city(subscriber: int) -> str:
    return UNITS[subscriber % 2][0]


def add_case(session: Session, *, status: CaseStatus = CaseStatus.COMPLETED) -> int:
    case = Case(
        code="EVAL", name="续约评估案", owner="planner", level=CaseLevel.PROVINCE,
        org_code="P00", objective=Objective.RETAIN,
        lines=[{"offer_code": OFFER, "channel": "sms", "reach_bp": 10_000, "take_up_bp": 1_500,
                "contact_cost_fen": 5}],
        channels=["sms"], starts_on=date(2026, 10, 1), ends_on=date(2026, 11, 30),
        horizon_months=12, checkpoints=[], kpis=[{"metric": "takers", "target": 50}],
        budget_fen=0, holdout_bp=HOLDOUT_BP, priority=5, business_weight_bp=5000,
        status=status, version=1, frozen_projection=PROJECTION, frozen_at=SENT,
        created_by="planner",
    )  # fmt: skip
    session.add(case)
    session.flush()
    session.add(
        CaseTransition(
            case_id=case.id, seq=1, action="complete", from_status=CaseStatus.RUNNING,
            to_status=status, submission=1, comment="", actor="planner", created_at=COMPLETED,
        )
    )  # fmt: skip
    # Issued to Nanjing, so its managers see the case (their part of it).
    session.add(
        CaseIssue(
            case_id=case.id, parent_id=None, org_code="C01", staff_code=None, assignee="org:C01",
            target=100, status=IssueStatus.ISSUED, due_at=SENT, version=1, created_by="planner",
        )
    )  # fmt: skip
    session.flush()
    return case.id


def send(session: Session, *, run_id: int, case_id: int, subscribers: list[int]) -> None:
    """Outbox rows already sent at ``SENT``, each in its subscriber's city and outlet."""
    rows = [
        {"key": outbox_key(run_id=run_id, case_id=case_id, subscriber_id=s, channel="sms"),
         "run_id": run_id, "case_id": case_id, "case_code": "EVAL", "subscriber_id": s,
         "channel": "sms", "address": f"8613{s:09d}", "body": "您好", "offer_code": OFFER,
         "city_id": UNITS[s % 2][0], "outlet_id": UNITS[s % 2][1], "planned_on": SENT.date(),
         "state": OutboxState.SENT, "attempts": 1, "next_attempt_at": SENT, "sent_at": SENT,
         "created_at": SENT, "updated_at": SENT}
        for s in subscribers
    ]  # fmt: skip
    session.execute(insert(OutboxMessage.metadata.tables[OutboxMessage.__tablename__]), rows)


def build_case_world(
    db: sessionmaker[Session] | None, directory: Path, *, seed: int = 7
) -> CaseWorld:
    with UnitOfWork(db) as uow:
        seed_org(uow)
        session = uow.session
        case_id = add_case(session)
        ids = np.arange(1, SUBSCRIBERS + 1)
        control = holdout_buckets("case-holdout", case_id, ids) < HOLDOUT_BP
        groups = {
            int(s): "control" if c else "treatment" for s, c in zip(ids, control, strict=True)
        }
        rows = [
            list_row(case_id, "EVAL", s, group=g, offer_code=OFFER, city_id=UNITS[s % 2][0],
                     outlet_id=UNITS[s % 2][1])
            for s, g in sorted(groups.items())
        ]  # fmt: skip
        run = add_run(session, directory, rows)
        treated = [s for s, g in sorted(groups.items()) if g == "treatment"]
        send(session, run_id=run, case_id=case_id, subscribers=treated)
        uow.commit()
    rng = np.random.default_rng(seed)
    took = {s for s, g in groups.items() if rng.random() < RATES[g]}
    complained = {s for s in treated if rng.random() < 0.02}
    events = [
        EventIn(event_id=f"t{s}", subscriber_id=s, type="offer_accepted", offer_code=OFFER,
                occurred_at=SENT + timedelta(days=1 + s % 20), revenue_fen=PER_TAKER_FEN)
        for s in sorted(took)
    ] + [
        EventIn(event_id=f"c{s}", subscriber_id=s, type="complaint",
                occurred_at=SENT + timedelta(days=2))
        for s in sorted(complained)
    ]  # fmt: skip
    with UnitOfWork(db) as uow:
        responses.ingest(uow=uow, events=events, directory=directory, now=NOW)
    with UnitOfWork(db) as uow:
        paths = dict(uow.session.execute(select(OrgUnit.code, OrgUnit.path)).all())
    return CaseWorld(db, directory, case_id, groups, took, complained, paths)


@pytest.fixture
def world(db: sessionmaker[Session], tmp_path: Path) -> CaseWorld:
    return build_case_world(db, tmp_path / "targeting")


def city_actor(world: CaseWorld, code: str) -> Actor:
    return Actor(username=f"{code.lower()}.manager", scope_path=world.paths[code])


def test_the_evaluation_counts_what_the_generator_made(world: CaseWorld) -> None:
    with world.uow() as uow:
        read = service.evaluate_case(uow=uow, case_id=world.case_id, now=NOW)
    o = read.overall
    assert (o.treatment.customers, o.treatment.successes) == world.expected("treatment")
    assert (o.control.customers, o.control.successes) == world.expected("control")
    low, uplift, high = o.comparison.uplift_low, o.comparison.uplift, o.comparison.uplift_high
    assert low is not None
    assert uplift is not None
    assert high is not None
    assert low < uplift < high
    assert o.comparison.significant  # 15 % against 5 % on 800 subscribers
    cities = {c.key: c for c in next(b for b in read.breakdowns if b.dimension == "city").cells}
    assert set(cities) == {"C01", "C02"}
    assert cities["C02"].label == "无锡分公司"
    for code, cell in cities.items():
        assert (cell.treatment.customers, cell.treatment.successes) == world.expected(
            "treatment", code
        )
        assert (cell.control.customers, cell.control.successes) == world.expected("control", code)
    # Costs at the projection's prices: every treated taker's incentive, every SMS sent.
    treated, takers = world.expected("treatment")
    assert o.cost is not None
    assert (o.cost.contacts, o.cost.takers) == (treated, takers)
    assert o.cost.total_fen == takers * 2_000 + treated * 5
    # Revenue: each taker brought 3,000 fen a month; the difference of means × treated × 12.
    control_n, control_takers = world.expected("control")
    per = PER_TAKER_FEN * (takers / treated - control_takers / control_n)
    assert o.revenue.total_fen == pytest.approx(per * treated * 12, abs=2)
    complaints = next(g for g in o.guardrails if g.kind == "complaint")
    assert complaints.treatment.successes == len(world.complained)
    assert complaints.control.successes == 0
    # The curve ends at the share that took up.
    assert read.curve[-1].treatment == pytest.approx(takers / treated)
    assert read.curve[0].treatment == 0
    # Projection against actual: the four parts add up to the difference of net results.
    assert read.projection is not None
    effects = sum(e.fen or 0 for e in read.projection.effects)
    assert read.projection.actual_net_fen is not None
    assert effects == read.projection.actual_net_fen - read.projection.planned_net_fen
    assert read.detectable.actual is not None
    assert read.detectable.planned is not None
    assert read.kpis[0].actual == takers
    assert not read.partial


def test_a_city_sees_its_part_of_a_province_case(world: CaseWorld) -> None:
    with world.uow(city_actor(world, "C01")) as uow:
        read = service.evaluate_case(uow=uow, case_id=world.case_id, now=NOW)
        assert read.partial
        assert (read.overall.treatment.customers, read.overall.treatment.successes) == (
            world.expected("treatment", "C01")
        )
        cities = next(b for b in read.breakdowns if b.dimension == "city").cells
        assert [c.key for c in cities] == ["C01"]
        # A recording is the whole case's: a city neither reads nor records one.
        with pytest.raises(NotFound):
            service.recorded(uow=uow, case_id=world.case_id)
        with pytest.raises(Exception, match="changed there"):
            service.record_evaluation(uow=uow, case_id=world.case_id, now=NOW)


def test_evaluated_only_with_an_evaluation_recorded(world: CaseWorld) -> None:
    with world.uow() as uow, pytest.raises(InvalidTransition, match="no recorded evaluation"):
        case_service.evaluate(uow=uow, case_id=world.case_id)
    with world.uow() as uow:
        assert uow.session.get(Case, world.case_id).status is CaseStatus.COMPLETED  # type: ignore[union-attr]
        row = service.record_evaluation(uow=uow, case_id=world.case_id, comment="复盘", now=NOW)
    assert (row.cutoff_at, row.comment) == (NOW, "复盘")
    with world.uow() as uow:
        recorded = service.recorded(uow=uow, case_id=world.case_id)
        assert recorded.recorded is not None
        assert recorded.overall.treatment.customers == world.expected("treatment")[0]
        moved = case_service.evaluate(uow=uow, case_id=world.case_id)
    assert moved.status is CaseStatus.EVALUATED


def test_recording_needs_a_completed_case_and_changes_nothing_otherwise(
    world: CaseWorld,
) -> None:
    with world.uow() as uow:
        case = uow.session.get(Case, world.case_id)
        assert case is not None
        case.status = CaseStatus.RUNNING
        uow.commit()
    with world.uow() as uow, pytest.raises(InvalidInput, match="is running"):
        service.record_evaluation(uow=uow, case_id=world.case_id, now=NOW)
    with world.uow() as uow:
        assert service.latest_record(uow, world.case_id) is None
        with pytest.raises(InvalidInput, match="by: one of"):
            service.evaluate_case(uow=uow, case_id=world.case_id, by=["segment"])


def no_mail(messages: Sequence[Message]) -> list[SendResult]:
    assert messages == []  # the scan has no recipients configured: nothing is sent
    return []


def test_overdue_evaluations_raise_one_alert_until_recorded(world: CaseWorld) -> None:
    later = COMPLETED + timedelta(days=31)
    with world.uow() as uow:
        assert service.overdue_evaluations(uow=uow, now=COMPLETED + timedelta(days=29)) == []
        result = monitor_scan.scan(uow=uow, now=later, mailer=no_mail)
    assert [a.kind for a in result.raised] == [AlertKind.EVALUATION_OVERDUE]
    with world.uow() as uow:
        again = monitor_scan.scan(uow=uow, now=later + timedelta(days=1), mailer=no_mail)
        assert again.raised == []
        service.record_evaluation(uow=uow, case_id=world.case_id, now=later)
    with world.uow() as uow:
        alert = uow.session.scalars(
            select(CaseAlert).where(CaseAlert.kind == AlertKind.EVALUATION_OVERDUE)
        ).one()
        assert alert.status is AlertStatus.RESOLVED


def test_exports_open(world: CaseWorld, tmp_path: Path) -> None:
    with world.uow() as uow:
        read, xlsx = service.export_evaluation(
            uow=uow, case_id=world.case_id, fmt=ExportFormat.XLSX, locale="zh_CN", now=NOW
        )
    with world.uow() as uow:
        _, pdf = service.export_evaluation(
            uow=uow, case_id=world.case_id, fmt=ExportFormat.PDF, locale="zh_CN", now=NOW
        )
    path = tmp_path / "e.xlsx"
    path.write_bytes(xlsx)
    book = load_workbook(path)
    texts = {str(c.value) for sheet in book.worksheets for row in sheet.iter_rows() for c in row}
    assert "续约评估案" in texts
    assert "无锡分公司" in texts
    assert len(book.worksheets) >= 3
    assert pdf.startswith(b"%PDF")
    assert b"/Type /Page" in pdf
    assert read.case_code == "EVAL"


def _scored_model(world: CaseWorld, version: int) -> None:
    with world.uow() as uow:
        uow.session.add(
            UpliftModel(
                version=version, status=UpliftStatus.SCORED, source=UpliftSource.CASES,
                case_ids=[world.case_id], trained_at=NOW, trained_by="analyst", seed=1,
                feature_month=date(2026, 9, 1), rows=100, treated=50, responders=10,
                holdout_rows=30, qini=0.0, auuc=0.0, metrics={}, artifact_path="-",
                artifact_sha256="0" * 64, scored_at=NOW, scored_rows=1,
                scored_month=date(2026, 9, 1),
            )
        )  # fmt: skip
        uow.commit()


def test_the_qini_curve_ranks_the_case_by_the_latest_scored_model(world: CaseWorld) -> None:
    con = ibis.duckdb.connect()
    with world.uow() as uow:
        assert case_qini(uow=uow, con=con, case_id=world.case_id) is None  # no model yet
    _scored_model(world, 3)
    ids = sorted(world.groups)[:-5]  # five lines joined after scoring: left out, counted
    # An oracle that knows who took the offer in treatment, and a model that has it backwards.
    oracle = [1.0 if (s in world.took) == (world.groups[s] == "treatment") else 0.0 for s in ids]
    scores = pa.table({
        "subscriber_id": pa.array(ids * 2, pa.int64()),
        "model_version": pa.array([3] * len(ids) + [2] * len(ids), pa.int64()),
        "uplift": pa.array(oracle + [-v for v in oracle], pa.float64()),
    })  # fmt: skip
    con.create_table("uplift_scores", scores)
    _scored_model(world, 2)  # an older version with the reversed scores: the newest is used
    with world.uow() as uow:
        good = case_qini(uow=uow, con=con, case_id=world.case_id)
    assert good is not None
    assert (good.version, good.cases, good.unscored) == (3, [world.case_id], 5)
    assert good.lines == len(ids)
    assert good.share[0] == 0.0
    assert good.share[-1] == 1.0
    assert len(good.share) == len(good.incremental) == 101
    assert good.coefficient > 0.5
    assert max(good.incremental) > good.incremental[-1]  # persuadables come first
