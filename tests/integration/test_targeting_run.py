"""Targeting runs on SQLite and PostgreSQL over a generated province: funnel, caps across
runs, consent, arbitration explained, holdout and balance, idempotency, crash safety,
simulation, and the versioned contact policy."""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from ibis.backends import BaseBackend
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.audit.models import AuditEntry
from telmark.config import get_settings
from telmark.consent import service as consent_service
from telmark.consent.domain import Channel, ConsentKind, Source
from telmark.consent.schemas import ConsentEntryCreate
from telmark.errors import Conflict, Forbidden, InvalidInput, NotFound
from telmark.offers import service as offer_service
from telmark.offers.schemas import parse_offer
from telmark.org import service as org_service
from telmark.org.models import OrgUnit
from telmark.segments import service as segments_service
from telmark.segments import snapshots
from telmark.segments.schemas import SegmentCreate
from telmark.targeting import compute, lists, results, service
from telmark.targeting.domain import CaseSpec, Group, Period, Reason, RunStatus, in_holdout
from telmark.targeting.models import TargetingRun
from telmark.targeting.schemas import ContactPolicyIn, TargetingRunRead
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from tests._factories.offers import TODAY, add_products, offer_doc
from tests._factories.segments import add_analysis_tables, load_warehouse, province_directory

ON = date(2026, 10, 5)  # a Monday
RULES = (
    {"version": 1, "root": {"kind": "field", "field": "payment_type", "op": "=",
                            "value": "prepaid"}},
    {"version": 1, "root": {"kind": "tenure_months", "op": ">=", "value": 24}},
    {"version": 1, "root": {"kind": "field", "field": "handset_5g", "op": "=", "value": False}},
)  # fmt: skip


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so no handler in the service runs."""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("targeting")
    con = load_warehouse(province_directory(root, subscribers=2_000, seed=23), root / "w.duckdb")
    add_analysis_tables(con, seed=23)
    con.disconnect()
    return root / "w.duckdb"


@dataclass
class World:
    db: sessionmaker[Session]
    con: BaseBackend
    directory: Path
    snapshot_dir: Path
    province: Actor
    city: Actor
    cases: list[CaseSpec]

    def uow(self, actor: Actor | None = None) -> UnitOfWork:
        return UnitOfWork(self.db, actor=actor or self.province)

    def run(
        self, key: str, on: date = ON, cases: list[CaseSpec] | None = None, **kw: object
    ) -> TargetingRunRead:
        with self.uow() as uow:
            return service.run_targeting(
                uow=uow, con=self.con, cases=cases or self.cases, run_key=key, on=on,
                directory=self.directory, snapshot_dir=self.snapshot_dir, **kw,  # type: ignore[arg-type]
            )  # fmt: skip

    def lists(self, run: TargetingRunRead) -> list[dict[str, Any]]:
        assert run.id is not None
        with self.uow() as uow:
            path = service.list_file(uow=uow, run_id=run.id, directory=self.directory)
        rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
        return rows

    def set_policy(self, **fields: object) -> None:
        with self.uow() as uow:
            service.set_policy(uow=uow, spec=ContactPolicyIn.model_validate(fields))


@pytest.fixture
def world(built: Path, tmp_path: Path, db: sessionmaker[Session]) -> Iterator[World]:
    shutil.copy(built, tmp_path / "w.duckdb")
    con = connect("duckdb://" + str(tmp_path / "w.duckdb"))
    with UnitOfWork(db) as uow:
        org_service.sync_from_warehouse(uow=uow, con=con)
        paths: dict[str, str] = dict(uow.session.execute(select(OrgUnit.code, OrgUnit.path)).all())
    root = next(path for path in paths.values() if path.count("/") == 2)
    province = Actor(username="planner", channel="web", scope_path=root)
    # The configured directories (a data dir per test), so the defaults are exercised too.
    snapshot_dir = get_settings().resolved_snapshot_dir
    ids = []
    with UnitOfWork(db, actor=province) as uow:
        for i, rule in enumerate(RULES):
            segment = segments_service.create_segment(
                uow=uow, spec=SegmentCreate(name=f"目标{i}", rule=rule)
            )
            ids.append(
                snapshots.take_snapshot(
                    uow=uow, con=con, directory=snapshot_dir, segment_id=segment.id
                ).id
            )
    setup = ((7, 5000, ("sms",)), (7, 2000, ("sms", "app_push")), (4, 9000, ("outbound_call",)))
    cases = [
        CaseSpec(
            case_id=i + 1, code=f"C{i + 1}", org_path=root, priority=p, business_weight_bp=w,
            snapshot_id=ids[i], offer_codes=(), channels=ch, holdout_bp=1000,
            starts_on=date(2026, 9, 1), ends_on=date(2026, 12, 31),
        )
        for i, (p, w, ch) in enumerate(setup)
    ]  # fmt: skip
    yield World(
        db=db,
        con=con,
        directory=get_settings().resolved_targeting_dir,
        snapshot_dir=snapshot_dir,
        province=province,
        city=Actor(username="nj.manager", channel="web", scope_path=paths["C01"]),
        cases=cases,
    )
    con.disconnect()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_run_counts_every_step_and_writes_verified_lists(world: World) -> None:
    run = world.run("day-1")
    assert run.status is RunStatus.COMPLETE
    assert run.summary is not None
    rows = world.lists(run)
    files = [p for p in world.directory.rglob("*") if p.is_file()]
    assert len(files) == 1
    assert run.sha256 == _sha(files[0])
    groups = Counter(r["group"] for r in rows)
    assert (groups[Group.TREATMENT], groups[Group.CONTROL]) == (run.contacts, run.controls)
    assert run.contacts
    assert run.controls
    assert groups[Group.LOST]
    # Snapshot sizes are the funnel's first step; every step only shrinks.
    with world.uow() as uow:
        sizes = {
            c.case_id: int(
                snapshots.get_snapshot(uow=uow, snapshot_id=c.snapshot_id).member_count or 0
            )
            for c in world.cases
        }
    for funnel in run.summary.funnel[:-1]:
        counts = [s.count for s in funnel.steps]
        assert funnel.case_id is not None
        assert counts[0] == sizes[funnel.case_id]
        assert counts == sorted(counts, reverse=True)
        selected = [r for r in rows if r["case_id"] == funnel.case_id and r["group"] != "lost"]
        assert counts[4] == len(selected)  # after arbitration: treatment + control
        assert funnel.exclusions[Reason.CONTROL] == counts[4] - counts[5]
    total = run.summary.funnel[-1]
    assert total.steps[0].count == sum(sizes.values())
    # Default policy (gap of 2 days): a subscriber is selected for at most one case a run.
    per_line = Counter(r["subscriber_id"] for r in rows if r["group"] != "lost")
    assert max(per_line.values()) == 1
    # List rows carry channel, city, outlet, send window; losers name their winner.
    treated = [r for r in rows if r["group"] == "treatment"]
    assert all(r["channel"] and r["city_id"] and r["outlet_id"] for r in treated)
    assert {(r["send_from"], r["send_until"]) for r in treated if r["channel"] == "sms"} == {
        ("08:00", "21:00")
    }
    lost = [r for r in rows if r["group"] == "lost"]
    assert all(r["beaten_by"] in {1, 2, 3} and r["beaten_by"] != r["case_id"] for r in lost)
    assert sum(loss.count for loss in run.summary.losses) == len(lost)


def test_arbitration_is_deterministic_and_explained(world: World) -> None:
    run = world.run("day-1")
    rows = world.lists(run)
    loser = next(r for r in rows if r["group"] == "lost")
    assert run.id is not None
    with world.uow() as uow:
        found = lists.explain(uow=uow, run_id=run.id, subscriber_id=int(loser["subscriber_id"]))
    winner, *others = found.candidates
    assert winner.group is not Group.LOST
    assert winner.rank == 1
    for other in others:
        assert (winner.score, -winner.case_id) > (other.score, -other.case_id)
        assert other.beaten_by == winner.case_id
    # Score factors as documented; case 1 beats case 2 (same priority, higher weight).
    assert winner.score == (
        winner.priority * (winner.business_weight_bp + 1)
        * (winner.propensity_permille + 1) * winner.value_yuan
    )  # fmt: skip
    with world.uow() as uow, pytest.raises(NotFound):
        lists.explain(uow=uow, run_id=run.id, subscriber_id=10**9)


def test_rerun_returns_the_same_lists_and_recomputing_gives_the_same_bytes(world: World) -> None:
    first = world.run("day-1")
    again = world.run("day-1")
    assert (again.id, again.sha256) == (first.id, first.sha256)
    with pytest.raises(Conflict, match="another run"):
        world.run("day-1", cases=world.cases[:2])
    # Forget the result (as if it had failed after writing) and recompute: same bytes.
    with world.uow() as uow:
        uow.session.execute(
            update(TargetingRun).where(TargetingRun.id == first.id).values(status="failed",
            sha256=None, summary=None, contacts=None, controls=None, completed_at=None)
        )  # fmt: skip
        uow.commit()
    recomputed = world.run("day-1")
    assert recomputed.id == first.id
    assert recomputed.sha256 == first.sha256
    assert len(list(world.directory.rglob("*.parquet"))) == 1


def test_a_crash_mid_run_leaves_nothing_and_a_rerun_completes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = results.list_parts

    def crash(**_: object) -> object:
        raise Crash

    monkeypatch.setattr(results, "list_parts", crash)
    with pytest.raises(Crash):
        world.run("day-1")
    monkeypatch.setattr(results, "list_parts", real)
    # As after a real crash: at most a hidden temporary file, never a list under its name.
    left = [p for p in world.directory.rglob("*") if p.is_file()]
    assert all(p.name.startswith(".") and p.name.endswith(".tmp") for p in left)
    with world.uow() as uow:
        stuck = uow.session.scalar(select(TargetingRun).where(TargetingRun.run_key == "day-1"))
        assert stuck is not None
        assert stuck.status is RunStatus.RUNNING
    # Another run meanwhile: the crashed one is marked failed and counts no contacts.
    other = world.run("day-1b", on=ON + timedelta(days=3))
    assert other.status is RunStatus.COMPLETE
    with world.uow() as uow:
        failed = uow.session.scalar(select(TargetingRun).where(TargetingRun.run_key == "day-1"))
        assert failed is not None
        assert failed.status is RunStatus.FAILED
    done = world.run("day-1")
    assert done.status is RunStatus.COMPLETE
    assert done.failure is None
    assert not list(world.directory.rglob(".*.tmp"))  # the takeover removed the leftover

    # An ordinary error: marked failed with the reason, partial files removed.
    def broken(final: Path, _produce: object) -> object:
        final.parent.mkdir(parents=True, exist_ok=True)
        final.with_name(f".{final.name}.tmp").write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(compute, "write_lists", broken)
    with pytest.raises(OSError, match="disk full"):
        world.run("day-9", on=ON + timedelta(days=9))
    with world.uow() as uow:
        row = uow.session.scalar(select(TargetingRun).where(TargetingRun.run_key == "day-9"))
        assert row is not None
        assert (row.status, row.failure) == (RunStatus.FAILED, "OSError: disk full")
    assert not list(world.directory.rglob(".*.tmp"))


def test_caps_hold_across_runs_of_one_period(world: World) -> None:
    world.set_policy(period=Period.WEEK, global_cap=1, min_gap_days=0)
    first = world.run("mon")
    second = world.run("wed", on=ON + timedelta(days=2))
    contacted_first = {r["subscriber_id"] for r in world.lists(first) if r["group"] == "treatment"}
    contacted_second = {
        r["subscriber_id"] for r in world.lists(second) if r["group"] == "treatment"
    }
    assert contacted_first
    assert not contacted_first & contacted_second
    assert second.summary is not None
    assert second.summary.funnel[-1].exclusions[Reason.CAP] > 0
    # Next week the cap is free again.
    third = world.run("next-mon", on=ON + timedelta(days=7))
    contacted_third = {r["subscriber_id"] for r in world.lists(third) if r["group"] == "treatment"}
    assert contacted_third & contacted_first


def test_consent_register_is_honoured(world: World) -> None:
    rows = world.lists(world.run("probe", on=ON + timedelta(days=20)))
    chosen = [int(r["subscriber_id"]) for r in rows if r["group"] == "treatment"][:5]
    numbers = world.con.table("subscribers")
    found = numbers.filter(numbers.subscriber_id.isin(chosen)).select("msisdn").to_pyarrow()
    with world.uow() as uow:
        for msisdn in found.column("msisdn").to_pylist():
            consent_service.add_entry(
                uow=uow,
                entry=ConsentEntryCreate(
                    msisdn=msisdn, kind=ConsentKind.DND, channel=Channel.ALL,
                    source=Source.MANUAL, reason="",
                ),
                unmask=False,
            )  # fmt: skip
    run = world.run("after-dnd", on=ON + timedelta(days=40))
    assert run.summary is not None
    assert run.summary.funnel[-1].exclusions[Reason.CONSENT] >= len(chosen)
    listed = {r["subscriber_id"] for r in world.lists(run) if r["group"] != "lost"}
    assert not listed & set(chosen)


def test_holdout_is_reproducible_its_share_within_error_and_balance_reported(
    world: World,
) -> None:
    run = world.run("day-1")
    rows = [r for r in world.lists(run) if r["group"] != "lost"]
    key = get_settings().holdout_key.get_secret_value()
    for case in world.cases:
        mine = [r for r in rows if r["case_id"] == case.case_id]
        ids = np.array([int(r["subscriber_id"]) for r in mine])
        control = np.array([r["group"] == "control" for r in mine])
        assert (in_holdout(key, case.case_id, ids, case.holdout_bp) == control).all()
        n, share = len(mine), case.holdout_bp / 10_000
        assert abs(control.sum() - n * share) < 4 * np.sqrt(n * share * (1 - share))
    assert run.summary is not None
    covered = {(b.case_id, b.covariate) for b in run.summary.balance}
    assert {c for _, c in covered} == {"arpu_fen", "data_mb", "tenure_months", "churn_probability"}
    assert all(b.treatment_n > 0 and b.control_n > 0 for b in run.summary.balance)


def test_global_holdout_is_excluded_from_every_case(world: World) -> None:
    world.set_policy(global_holdout_bp=2000, global_holdout_key="2026")
    run = world.run("held")
    assert run.summary is not None
    held = run.summary.funnel[-1].exclusions[Reason.GLOBAL_HOLDOUT]
    assert held > 0
    ids = np.array([int(r["subscriber_id"]) for r in world.lists(run) if r["group"] != "lost"])
    assert not in_holdout("2026", 0, ids, 2000).any()


def test_simulation_shows_what_a_new_case_takes_and_stores_nothing(world: World) -> None:
    greedy = replace(world.cases[2], priority=9, business_weight_bp=10_000)
    simulated = world.run("what-if", cases=[*world.cases[:2], greedy], simulate=True)
    assert simulated.id is None
    assert simulated.simulated
    assert simulated.summary is not None
    assert simulated.summary.taken_from is not None
    baseline = world.run("base", cases=world.cases[:2], on=ON + timedelta(days=30))
    with_new = world.run("with", cases=[*world.cases[:2], greedy], on=ON + timedelta(days=60))
    assert baseline.summary is not None
    assert with_new.summary is not None
    for case in world.cases[:2]:
        before = next(f for f in baseline.summary.funnel if f.case_id == case.case_id)
        after = next(f for f in with_new.summary.funnel if f.case_id == case.case_id)
        assert simulated.summary.taken_from[case.case_id] == (
            before.steps[4].count - after.steps[4].count
        )
    assert sum(simulated.summary.taken_from.values()) > 0
    with world.uow() as uow:
        keys = set(uow.session.scalars(select(TargetingRun.run_key)))
    assert "what-if" not in keys


def test_offers_eligibility_is_applied_set_wise(world: World) -> None:
    with world.uow() as uow:
        add_products(uow.session)
        rule = {"version": 1, "root": {"kind": "field", "field": "gender", "op": "=", "value": "F"}}
        offer_service.create_offer(
            uow=uow,
            spec=parse_offer(offer_doc("FEMALE", valid_from="2026-01-01", eligibility=rule)),
        )
        offer_service.activate_offer(uow=uow, code="FEMALE", today=TODAY)
        offer_service.create_offer(uow=uow, spec=parse_offer(offer_doc("DRAFT")))
    cases = [replace(c, offer_codes=("FEMALE",)) for c in world.cases]
    run = world.run("offers", cases=cases)
    ids = [int(r["subscriber_id"]) for r in world.lists(run) if r["group"] != "lost"]
    subs = world.con.table("subscribers")
    genders = subs.filter(subs.subscriber_id.isin(ids)).gender.to_pyarrow()
    assert set(pc.unique(genders).to_pylist()) == {"F"}
    assert {r["offer_code"] for r in world.lists(run) if r["group"] != "lost"} == {"FEMALE"}
    drafted = world.run("draft", cases=[replace(world.cases[0], offer_codes=("DRAFT",))])
    assert drafted.summary is not None
    assert drafted.contacts == 0
    assert drafted.summary.funnel[0].exclusions[Reason.NOT_ELIGIBLE] > 0
    with pytest.raises(NotFound, match="NOPE"):
        world.run("missing", cases=[replace(world.cases[0], offer_codes=("NOPE",))])


def test_policy_is_versioned_audited_and_province_only(world: World) -> None:
    with world.uow() as uow:
        default = service.get_policy(uow=uow)
    assert default.is_default
    world.set_policy(global_cap=3, channel_caps={"sms": 1}, quiet_start=time(22, 0))
    world.set_policy(global_cap=4, note="旺季")
    with world.uow() as uow:
        current = service.get_policy(uow=uow)
        history = service.policy_history(uow=uow)
        audited = uow.session.scalars(
            select(AuditEntry).where(AuditEntry.entity_type == "contact_policy")
        ).all()
    assert (current.version, current.global_cap, current.note) == (2, 4, "旺季")
    assert [p.version for p in history] == [2, 1]
    assert history[1].channel_caps == {"sms": 1}
    assert len(audited) == 2
    with world.uow(world.city) as uow, pytest.raises(Forbidden):
        service.set_policy(uow=uow, spec=ContactPolicyIn(global_cap=9))
    with world.uow() as uow, pytest.raises(InvalidInput, match="channel_caps"):
        service.set_policy(uow=uow, spec=ContactPolicyIn(channel_caps={"fax": 1}))
    with pytest.raises(Forbidden), world.uow(world.city) as uow:
        service.run_targeting(
            uow=uow, con=world.con, cases=world.cases, run_key="city", on=ON,
            directory=world.directory, snapshot_dir=world.snapshot_dir,
        )  # fmt: skip


def test_propensity_scores_decide_between_equal_cases(world: World) -> None:
    subscribers = world.con.table("subscribers").subscriber_id.to_pyarrow().to_pylist()
    world.con.create_table(
        "propensity_scores",
        pa.table(
            {
                "subscriber_id": pa.array(subscribers * 2, pa.int64()),
                "case_code": ["C1"] * len(subscribers) + ["C2"] * len(subscribers),
                "propensity": [0.05] * len(subscribers) + [0.9] * len(subscribers),
            }
        ),
    )
    equal = [replace(c, priority=5, business_weight_bp=5000) for c in world.cases[:2]]
    run = world.run("propensity", cases=equal)
    rows = world.lists(run)
    lost = {r["case_id"] for r in rows if r["group"] == "lost"}
    assert lost == {1}  # case 2 scores 901 ‰ + 1 against 51: it wins every shared line
    assert {r["propensity"] for r in rows if r["case_id"] == 2} == {900}


def test_buckets_give_the_same_decisions_as_one_pass(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = world.run("whole", simulate=True)
    assert whole.summary is not None
    pairs = whole.summary.funnel[-1].steps[0].count
    monkeypatch.setattr(compute, "BUCKET_PAIRS", 700)  # several buckets on this province
    assert compute.bucket_count(pairs) > 3
    split = world.run("split", simulate=True)
    assert whole.summary is not None
    assert split.summary is not None
    assert split.summary.funnel == whole.summary.funnel
    assert split.summary.losses == whole.summary.losses
    assert split.summary.lists == whole.summary.lists
    assert split.summary.taken_from == whole.summary.taken_from
    for a, b in zip(split.summary.balance, whole.summary.balance, strict=True):
        assert (a.case_id, a.covariate, a.treatment_n, a.control_n) == (
            b.case_id, b.covariate, b.treatment_n, b.control_n,
        )  # fmt: skip
        assert a.smd == pytest.approx(b.smd, rel=1e-9, abs=1e-12)


def test_a_case_reaches_only_its_area_and_its_units_local_narrowing(world: World) -> None:
    with world.uow() as uow:
        city_path = uow.session.scalars(select(OrgUnit.path).where(OrgUnit.code == "C01")).one()
    # The first case as a C01 case, and the second as a province case that C02 narrowed to
    # women.
    narrowing = '{"root":{"field":"gender","kind":"field","op":"=","value":"F"},"version":1}'
    city_case = replace(world.cases[0], org_path=city_path)
    narrowed = replace(world.cases[1], local_rules=(("C02", narrowing),))
    run = world.run("areas", cases=[city_case, narrowed])
    assert run.summary is not None
    excluded = {f.case_id: f.exclusions[Reason.OUTSIDE_AREA] for f in run.summary.funnel[:-1]}
    assert excluded[city_case.case_id] > 0
    assert excluded[narrowed.case_id] > 0
    rows = [r for r in world.lists(run) if r["group"] != Group.LOST]
    assert {r["city_id"] for r in rows if r["case_code"] == city_case.code} == {"C01"}
    others = {r["city_id"] for r in rows if r["case_code"] == narrowed.code}
    assert {"C01", "C02"} <= others  # the narrowing touches C02 only
    c02 = [
        r["subscriber_id"]
        for r in rows
        if r["case_code"] == narrowed.code and r["city_id"] == "C02"
    ]
    subs = world.con.table("subscribers")
    genders = subs.filter(subs.subscriber_id.isin(c02)).gender.to_pyarrow()
    assert set(pc.unique(genders).to_pylist()) == {"F"}
    # Rules and areas are part of the run's identity: the same key with a new rule conflicts.
    with pytest.raises(Conflict):
        world.run("areas", cases=[city_case, replace(narrowed, local_rules=())])


def test_a_units_channel_mix_splits_its_lines_by_the_shares(world: World) -> None:
    # C02 asked for half by SMS and half by outbound call on the first case (an SMS case).
    mixed = replace(
        world.cases[0], local_channels=(("C02", (("sms", 5000), ("outbound_call", 5000))),)
    )
    run = world.run("mix", cases=[mixed])
    rows = [r for r in world.lists(run) if r["group"] != Group.LOST]
    c02 = Counter(r["channel"] for r in rows if r["city_id"] == "C02")
    others = Counter(r["channel"] for r in rows if r["city_id"] != "C02")
    assert set(others) == {"sms"}  # the case's own order elsewhere
    assert set(c02) == {"sms", "outbound_call"}
    total = sum(c02.values())
    # Binomial share within four standard deviations (the draw is a hash, not random).
    assert abs(c02["outbound_call"] - total / 2) <= 4 * (total / 4) ** 0.5
