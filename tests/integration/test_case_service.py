"""Marketing cases on SQLite and PostgreSQL: drafting, approval routing, the frozen
projection, the timeline, issuing down the organisation, acknowledgement alerts, scope."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.audit.models import AuditEntry
from telmark.cases import issuing, planning, service
from telmark.cases.access import get_case_row
from telmark.cases.domain import AlertStatus, CaseLevel, CaseStatus, IssueStatus
from telmark.cases.models import CaseAlert
from telmark.cases.schemas import (
    ActionIn,
    CaseUpdate,
    FromTemplate,
    IssueIn,
    LocaliseIn,
    ReissueIn,
    RejectIn,
)
from telmark.config import get_settings
from telmark.errors import Conflict, Forbidden, InvalidInput, InvalidTransition, NotFound
from telmark.evaluation.cases import service as case_evaluation
from telmark.offers.models import Offer, OfferVersion
from telmark.segments.snapshots import store
from telmark.warehouse.connection import connect
from tests._factories.cases import OFFER, START, CaseWorld, build_world, plan
from tests._factories.segments import load_warehouse, province_directory

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cases")
    con = load_warehouse(province_directory(root, subscribers=800, seed=5), root / "w.duckdb")
    con.disconnect()
    return root / "w.duckdb"


@pytest.fixture
def world(built: Path, tmp_path: Path, db: sessionmaker[Session]) -> Iterator[CaseWorld]:
    shutil.copy(built, tmp_path / "w.duckdb")
    con = connect("duckdb://" + str(tmp_path / "w.duckdb"))
    yield build_world(db, con, tmp_path / "snapshots")
    con.disconnect()


def _create(world: CaseWorld, actor: Actor, org: str, snapshot: int, **kw: object) -> int:
    with world.uow(actor) as uow:
        return planning.create_case(uow=uow, spec=plan(org, snapshot, **kw), **world.wh).case.id


def _submitted_city_case(world: CaseWorld, budget_fen: int = 1_000_000) -> int:
    case_id = _create(
        world, world.city("C01"), "C01", world.city_snapshots["C01"], budget_fen=budget_fen
    )
    with world.uow(world.city("C01")) as uow:
        service.submit(uow=uow, case_id=case_id)
    return case_id


def _approved_province_case(world: CaseWorld) -> int:
    case_id = _create(world, world.planner, world.province, world.province_snapshot)
    with world.uow(world.planner) as uow:
        service.submit(uow=uow, case_id=case_id)
    with world.uow(world.approver) as uow:
        service.approve(uow=uow, case_id=case_id, **world.wh)
    with world.uow(world.planner) as uow:
        service.schedule(uow=uow, case_id=case_id)
    return case_id


def test_a_new_case_is_a_draft_with_a_code_and_a_live_projection(world: CaseWorld) -> None:
    with world.uow(world.planner) as uow:
        detail = planning.create_case(
            uow=uow, spec=plan(world.province, world.province_snapshot), **world.wh
        )
    case = detail.case
    assert case.status is CaseStatus.DRAFT
    assert case.level is CaseLevel.PROVINCE
    assert case.code.startswith("YX-2026-") or case.code.startswith("YX-")
    members = _members(world, world.province_snapshot)
    p = detail.projection
    assert p.available
    assert not p.frozen
    assert p.members == members
    # 10 % control, rounded half up; every target reached by SMS, 10 % take up.
    control = (members * 1_000 + 5_000) // 10_000
    assert p.control == control
    assert p.targets == members - control
    assert p.totals is not None
    assert p.totals.contacts == p.targets
    takers = (p.targets * 1_000 + 5_000) // 10_000
    assert p.totals.takers == takers
    assert p.totals.incentive_cost_fen == takers * 2_000
    assert p.totals.incremental_revenue_fen == takers * 2_000 * 12
    assert p.totals.channel_cost_fen == p.targets * 5 + takers * 200 * 12
    # Upsell is not a retention objective: no retained revenue, and no note about it.
    assert p.totals.retained_revenue_fen == 0
    assert p.notes == []


def test_codes_are_sequential(world: CaseWorld) -> None:
    first = _create(world, world.planner, world.province, world.province_snapshot)
    second = _create(world, world.planner, world.province, world.province_snapshot)
    with world.uow(world.planner) as uow:
        a = get_case_row(uow, first).code
        b = get_case_row(uow, second).code
    assert int(b.rsplit("-", 1)[1]) == int(a.rsplit("-", 1)[1]) + 1


def _members(world: CaseWorld, snapshot_id: int) -> int:
    with world.uow(Actor(username="system")) as uow:
        count = store.get_snapshot(uow=uow, snapshot_id=snapshot_id).member_count
    assert count is not None
    return count


def test_retention_projection_says_when_churn_and_value_are_absent(world: CaseWorld) -> None:
    with world.uow(world.planner) as uow:
        detail = planning.create_case(
            uow=uow,
            spec=plan(world.province, world.province_snapshot, objective="retain"),
            **world.wh,
        )
    assert detail.projection.retention is None
    assert detail.projection.totals is not None
    assert detail.projection.totals.retained_revenue_fen == 0
    assert any("absent" in n for n in detail.projection.notes)


def test_retention_projection_uses_churn_and_value(world: CaseWorld) -> None:
    subs = world.con.table("subscribers").subscriber_id.to_pyarrow().to_pylist()
    # Every line: 30 % churn probability, 5,000 fen monthly revenue.
    world.con.create_table(
        "churn_scores",
        {"subscriber_id": subs, "churn_probability": [0.3] * len(subs)},
    )
    world.con.create_table(
        "customer_value",
        {"subscriber_id": subs, "monetary_fen": [5_000] * len(subs)},
    )
    with world.uow(world.planner) as uow:
        detail = planning.create_case(
            uow=uow,
            spec=plan(world.province, world.province_snapshot, objective="retain"),
            **world.wh,
        )
    p = detail.projection
    assert p.retention is not None
    assert (p.retention.churn_probability_bp, p.retention.arpu_fen) == (3_000, 5_000)
    assert p.totals is not None
    takers = p.totals.takers
    # retained = takers × 30 % × 5,000 fen a month, over 12 months
    assert p.totals.retained_revenue_fen == 12 * ((takers * 3_000 * 5_000 + 5_000) // 10_000)


def test_edit_recomputes_and_only_drafts_are_edited(world: CaseWorld) -> None:
    case_id = _create(world, world.planner, world.province, world.province_snapshot)
    line = {"offer_code": OFFER, "channel": "sms", "reach_bp": 10_000, "take_up_bp": 2_000}
    base = plan(world.province, world.province_snapshot).model_dump(exclude={"org_code"})
    update = CaseUpdate.model_validate({**base, "lines": [line]})
    with world.uow(world.planner) as uow:
        before = planning.get_case(uow=uow, case_id=case_id, **world.wh).projection.totals
        after = planning.update_case(uow=uow, case_id=case_id, spec=update, **world.wh)
    assert before is not None
    assert after.projection.totals is not None
    assert after.projection.totals.takers > before.takers
    assert after.case.lines[0].contact_cost_fen == 5  # the channel's planning default
    with world.uow(world.planner) as uow:
        service.submit(uow=uow, case_id=case_id)
    with world.uow(world.planner) as uow, pytest.raises(InvalidTransition, match="draft"):
        planning.update_case(uow=uow, case_id=case_id, spec=update, **world.wh)


def test_bad_input_names_the_field(world: CaseWorld) -> None:
    with world.uow(world.planner) as uow, pytest.raises(InvalidInput) as error:
        planning.create_case(
            uow=uow,
            spec=plan(
                world.province,
                world.province_snapshot,
                lines=[{"offer_code": "NOPE", "channel": "sms", "reach_bp": 1, "take_up_bp": 1}],
            ),
        )
    assert error.value.details[0]["field"] == "lines[0].offer_code"
    with world.uow(world.planner) as uow, pytest.raises(InvalidInput, match="org_code"):
        planning.create_case(uow=uow, spec=plan("C01D01", None))


def test_a_city_case_below_the_threshold_needs_only_city_approval(world: CaseWorld) -> None:
    case_id = _submitted_city_case(world)
    with world.uow(world.city("C01", "approver")) as uow:
        inbox = service.inbox(uow=uow)
        assert [i.case.id for i in inbox] == [case_id]
        case = service.approve(uow=uow, case_id=case_id, **world.wh)
    assert case.status is CaseStatus.APPROVED
    assert [a.level for a in case.approvals] == [CaseLevel.CITY]


def test_a_city_case_above_the_threshold_needs_city_then_province(world: CaseWorld) -> None:
    threshold = get_settings().case_province_approval_fen
    case_id = _submitted_city_case(world, budget_fen=threshold + 1)
    with world.uow(world.approver) as uow:
        assert service.inbox(uow=uow) == []  # the city decides first
        with pytest.raises(Forbidden, match="city-level"):
            service.approve(uow=uow, case_id=case_id, **world.wh)
    with world.uow(world.city("C01", "approver")) as uow:
        case = service.approve(uow=uow, case_id=case_id, **world.wh)
    assert case.status is CaseStatus.SUBMITTED
    assert case.pending_level is CaseLevel.PROVINCE
    with world.uow(world.city("C01", "approver")) as uow:
        assert service.inbox(uow=uow) == []
        with pytest.raises(Forbidden):
            service.approve(uow=uow, case_id=case_id, **world.wh)
    with world.uow(world.approver) as uow:
        assert [i.waiting_level for i in service.inbox(uow=uow)] == [CaseLevel.PROVINCE]
        case = service.approve(uow=uow, case_id=case_id, **world.wh)
    assert case.status is CaseStatus.APPROVED
    assert [a.level for a in case.approvals] == [CaseLevel.CITY, CaseLevel.PROVINCE]


def test_exactly_at_the_threshold_the_city_alone_approves(world: CaseWorld) -> None:
    threshold = get_settings().case_province_approval_fen
    case_id = _submitted_city_case(world, budget_fen=threshold)
    with world.uow(world.city("C01", "approver")) as uow:
        assert service.approve(uow=uow, case_id=case_id, **world.wh).status is CaseStatus.APPROVED


def test_approvers_act_only_in_their_scope_and_never_on_their_own(world: CaseWorld) -> None:
    case_id = _submitted_city_case(world)
    with world.uow(world.city("C02", "approver")) as uow, pytest.raises(NotFound):
        service.approve(uow=uow, case_id=case_id)
    with world.uow(world.city("C01")) as uow, pytest.raises(Forbidden, match="submitted"):
        service.approve(uow=uow, case_id=case_id)  # the submitter
    # A province case is decided at the province; a city approver does not even see it.
    prov = _create(world, world.planner, world.province, world.province_snapshot)
    with world.uow(world.planner) as uow:
        service.submit(uow=uow, case_id=prov)
    with world.uow(world.city("C01", "approver")) as uow, pytest.raises(NotFound):
        service.approve(uow=uow, case_id=prov)


def test_rejection_returns_to_draft_through_rework(world: CaseWorld) -> None:
    case_id = _submitted_city_case(world)
    with world.uow(world.city("C01", "approver")) as uow:
        case = service.reject(uow=uow, case_id=case_id, body=RejectIn(comment="预算过高"))
    assert case.status is CaseStatus.REJECTED
    with world.uow(world.city("C01")) as uow:
        case = service.rework(uow=uow, case_id=case_id)
        assert case.status is CaseStatus.DRAFT
        case = service.submit(uow=uow, case_id=case_id)
    assert case.submission == 2
    assert case.approvals == []  # the first round's decisions do not carry over
    with world.uow(world.city("C01")) as uow:
        steps = [
            (t.action, t.from_status, t.to_status)
            for t in service.timeline(uow=uow, case_id=case_id)
        ]
        comments = [t.comment for t in service.timeline(uow=uow, case_id=case_id)]
    assert steps == [
        ("create", None, CaseStatus.DRAFT),
        ("submit", CaseStatus.DRAFT, CaseStatus.SUBMITTED),
        ("reject", CaseStatus.SUBMITTED, CaseStatus.REJECTED),
        ("rework", CaseStatus.REJECTED, CaseStatus.DRAFT),
        ("submit", CaseStatus.DRAFT, CaseStatus.SUBMITTED),
    ]
    assert "预算过高" in comments


def test_every_transition_is_audited(world: CaseWorld) -> None:
    _submitted_city_case(world)
    with world.uow(world.city("C01")) as uow:
        entries = uow.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.entity_type == "case_transition")
        )
    assert entries == 2  # create and submit


def test_the_projection_is_frozen_at_approval(world: CaseWorld) -> None:
    case_id = _submitted_city_case(world)
    with world.uow(world.city("C01", "approver")) as uow:
        service.approve(uow=uow, case_id=case_id, **world.wh)
    with world.uow(world.planner) as uow:
        frozen = planning.case_projection(uow=uow, case_id=case_id, **world.wh)
        # The offer's economics change afterwards (a new version with double the revenue).
        offer = uow.session.scalars(select(Offer).where(Offer.code == OFFER)).one()
        version = uow.session.scalars(
            select(OfferVersion).where(OfferVersion.offer_id == offer.id)
        ).one()
        version.incremental_monthly_revenue_fen *= 2
        uow.commit()
        later = planning.case_projection(uow=uow, case_id=case_id, **world.wh)
    assert frozen.frozen
    assert frozen.frozen_at is not None
    assert later == frozen
    # A draft of the same plan sees the new economics: the frozen one really is frozen.
    other = _create(world, world.city("C01"), "C01", world.city_snapshots["C01"])
    with world.uow(world.city("C01")) as uow:
        live = planning.case_projection(uow=uow, case_id=other, **world.wh)
    assert live.totals is not None
    assert frozen.totals is not None
    assert live.totals.incremental_revenue_fen == 2 * frozen.totals.incremental_revenue_fen


def test_a_stale_version_is_a_conflict(world: CaseWorld) -> None:
    case_id = _create(world, world.planner, world.province, world.province_snapshot)
    with world.uow(world.planner) as uow, pytest.raises(Conflict, match="version"):
        service.submit(uow=uow, case_id=case_id, body=ActionIn(version=7))


def test_wrong_state_names_from_and_to(world: CaseWorld) -> None:
    case_id = _create(world, world.planner, world.province, world.province_snapshot)
    with world.uow(world.planner) as uow, pytest.raises(InvalidTransition) as error:
        service.start(uow=uow, case_id=case_id)
    assert error.value.details[0]["from"] == "draft"
    assert error.value.details[0]["to"] == "running"


def test_full_life_cycle(world: CaseWorld) -> None:
    case_id = _approved_province_case(world)
    with world.uow(world.planner) as uow:
        for step in (service.start, service.pause, service.resume, service.complete):
            step(uow=uow, case_id=case_id)
        with pytest.raises(InvalidTransition, match="no recorded evaluation"):
            service.evaluate(uow=uow, case_id=case_id)
        case_evaluation.record_evaluation(uow=uow, case_id=case_id)
        for step in (service.evaluate, service.close):
            step(uow=uow, case_id=case_id)
        assert get_case_row(uow, case_id).status is CaseStatus.CLOSED
        with pytest.raises(InvalidTransition):
            service.cancel(uow=uow, case_id=case_id)


def test_a_city_sees_its_cases_and_the_province_cases_issued_to_it(world: CaseWorld) -> None:
    wx = _create(world, world.city("C02"), "C02", world.city_snapshots["C02"])
    prov = _approved_province_case(world)
    with world.uow(world.city("C01")) as uow:
        assert [c.id for c in service.list_cases(uow=uow)] == []
        with pytest.raises(NotFound):
            get_case_row(uow, wx)
    with world.uow(world.planner) as uow:
        issuing.issue(uow=uow, case_id=prov, spec=IssueIn(units=["C01"], total=10), **world.wh)
    with world.uow(world.city("C01")) as uow:
        assert [c.id for c in service.list_cases(uow=uow)] == [prov]
        with pytest.raises(Forbidden):
            service.pause(uow=uow, case_id=prov)  # changed at the province only


def test_issue_splits_by_base_size_exactly(world: CaseWorld) -> None:
    case_id = _approved_province_case(world)
    with world.uow(world.planner) as uow:
        case = issuing.issue(uow=uow, case_id=case_id, spec=IssueIn(total=1_001), **world.wh)
        tree = issuing.issue_tree(uow=uow, case_id=case_id)
        bases = issuing.base_sizes(
            uow=uow,
            snapshot_id=world.province_snapshot,
            units=[t.org_code for t in tree],
            **world.wh,
        )
    assert case.status is CaseStatus.ISSUED
    assert len(tree) >= 2
    assert sum(t.target for t in tree) == 1_001
    assert sum(bases.values()) == _members(world, world.province_snapshot)
    for node in tree:  # each part within one of its exact quota
        quota = 1_001 * bases[node.org_code] / sum(bases.values())
        assert abs(node.target - quota) < 1


def test_acknowledge_localise_and_reissue(world: CaseWorld) -> None:
    case_id = _approved_province_case(world)
    with world.uow(world.planner) as uow:
        issuing.issue(
            uow=uow,
            case_id=case_id,
            spec=IssueIn(units=["C01", "C02"], parts={"C01": 60, "C02": 40}),
        )
        nj = next(t for t in issuing.issue_tree(uow=uow, case_id=case_id) if t.org_code == "C01")
    city = world.city("C01")
    with world.uow(city) as uow, pytest.raises(InvalidTransition, match="acknowledge"):
        issuing.localise(uow=uow, issue_id=nj.id, spec=LocaliseIn())
    with world.uow(world.planner) as uow, pytest.raises(Forbidden):
        issuing.acknowledge(uow=uow, issue_id=nj.id)  # only the city acknowledges its part
    with world.uow(city) as uow:
        acked = issuing.acknowledge(uow=uow, issue_id=nj.id)
        assert acked.status is IssueStatus.ACKNOWLEDGED
        rule = {"version": 1, "root": {"kind": "tenure_months", "op": ">=", "value": 12}}
        outlets = sorted(c for c in world.paths if c.startswith("C01D") and "O" in c)[:2]
        local = issuing.localise(
            uow=uow,
            issue_id=nj.id,
            spec=LocaliseIn.model_validate(
                {
                    "rule": rule,
                    "outlets": outlets,
                    "channels": [
                        {"channel": "sms", "share_bp": 6000},
                        {"channel": "frontline", "share_bp": 4000},
                    ],
                }
            ),
        )
        assert local.local_outlets == outlets
        with pytest.raises(InvalidInput):
            issuing.reissue(
                uow=uow,
                issue_id=nj.id,
                spec=ReissueIn.model_validate({"to": [{"org_code": outlets[0], "target": 59}]}),
            )
        children = issuing.reissue(
            uow=uow,
            issue_id=nj.id,
            spec=ReissueIn.model_validate(
                {
                    "to": [
                        {"org_code": outlets[0], "target": 35},
                        {"org_code": outlets[1], "target": 25},
                    ]
                }
            ),
        )
        assert [c.target for c in children] == [35, 25]
        tree = issuing.issue_tree(uow=uow, case_id=case_id)
    assert [t.org_code for t in tree] == ["C01"]  # C01 sees its own part, not C02's
    assert [c.org_code for c in tree[0].children] == outlets
    # Targeting applies C01's narrowing to C01's lines (pipeline.in_area).
    with world.uow(world.planner) as uow:
        (spec,) = service.targeting_inputs(uow=uow, case_ids=[case_id])
    assert [(org, json.loads(text)) for org, text in spec.local_rules] == [("C01", rule)]
    assert spec.local_channels == (("C01", (("sms", 6000), ("frontline", 4000))),)


def test_overdue_acknowledgement_raises_one_alert(world: CaseWorld) -> None:
    case_id = _approved_province_case(world)
    with world.uow(world.planner) as uow:
        issuing.issue(
            uow=uow, case_id=case_id, now=NOW,
            spec=IssueIn(units=["C01", "C02"], parts={"C01": 1, "C02": 1}, ack_hours=24),
        )  # fmt: skip
        assert issuing.overdue_issues(uow=uow, now=NOW + timedelta(hours=23)).raised == []
        first = issuing.overdue_issues(uow=uow, now=NOW + timedelta(hours=25))
        again = issuing.overdue_issues(uow=uow, now=NOW + timedelta(hours=26))
    assert sorted(a.org_code for a in first.raised) == ["C01", "C02"]
    assert again.raised == []
    with world.uow(world.city("C01")) as uow:
        (alert,) = issuing.list_alerts(uow=uow)
        assert alert.org_code == "C01"
        nj = issuing.issue_tree(uow=uow, case_id=case_id)[0]
        assert nj.overdue is False or nj.status is IssueStatus.ISSUED
        issuing.acknowledge(uow=uow, issue_id=nj.id)
        assert issuing.list_alerts(uow=uow)[0].status is AlertStatus.RESOLVED
    with world.uow(world.planner) as uow:
        statuses = sorted(a.status for a in issuing.list_alerts(uow=uow))
        assert statuses == [AlertStatus.OPEN, AlertStatus.RESOLVED]
        count = uow.session.scalar(select(func.count()).select_from(CaseAlert))
    assert count == 2


def test_targeting_inputs(world: CaseWorld) -> None:
    draft = _create(world, world.planner, world.province, world.province_snapshot)
    scheduled = _approved_province_case(world)
    with world.uow(world.planner) as uow:
        found = service.targeting_inputs(uow=uow)
        assert [c.case_id for c in found] == [scheduled]
        (case,) = found
        assert case.org_path == world.paths[world.province]
        assert case.offer_codes == (OFFER,)
        assert case.channels == ("sms",)
        assert case.holdout_bp == 1_000
        assert case.starts_on == START
        given = service.targeting_inputs(uow=uow, case_ids=[draft])
        assert [c.case_id for c in given] == [draft]
    with world.uow(world.city("C01")) as uow, pytest.raises(NotFound):
        service.targeting_inputs(uow=uow, case_ids=[draft])


def test_create_from_template(world: CaseWorld) -> None:
    with world.uow(world.planner) as uow:
        detail = planning.create_from_template(
            uow=uow,
            spec=FromTemplate(
                template="upgrade_5g",
                name="5G升级",
                org_code=world.province,
                snapshot_id=world.province_snapshot,
                offer_codes=[OFFER],
                starts_on=START,
            ),
            **world.wh,
        )
    case = detail.case
    assert case.template == "upgrade_5g"
    assert case.channels == ["sms", "app_push", "frontline"]
    assert (case.ends_on - case.starts_on).days == 44
    assert detail.projection.totals is not None
    takers = next(k for k in case.kpis if k.metric == "takers")
    assert takers.target == detail.projection.totals.takers
    with world.uow(world.planner) as uow, pytest.raises(InvalidInput, match="template"):
        planning.create_from_template(
            uow=uow,
            spec=FromTemplate(template="nope", name="x", org_code=world.province, starts_on=START),
        )
