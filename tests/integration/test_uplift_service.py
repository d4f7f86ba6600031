"""Uplift models on a generated province: rows from finished cases, the registry, scores, segments.

One generated province (8,000 lines, 2 months) serves every test. A randomised
case is simulated on it with a strong effect (so each group has plenty of
responders): the cases path stores it as exposures and attributed take-up
events, the file path as a CSV.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from ibis.backends import BaseBackend
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.analysis.uplift import service
from telmark.analysis.uplift.features import labelled_from_cases, labelled_from_file
from telmark.analysis.uplift.models import UpliftModel
from telmark.cases.domain import CaseLevel, CaseStatus, Objective
from telmark.cases.models import Case
from telmark.errors import Forbidden, InvalidInput, NotFound, WarehouseEmpty
from telmark.execution.responses.models import (
    ResponseAttribution,
    ResponseEvent,
    ResponseExposure,
    ResponseImport,
)
from telmark.segments.compile import compile_rule
from telmark.segments.rules import InvalidRule, parse_rule
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from tests._factories.churn import churn_warehouse

LINES = 8_000
EXPOSED = datetime(2026, 7, 3, 2, 0, tzinfo=UTC)
RESPONDED = datetime(2026, 7, 10, 2, 0, tzinfo=UTC)


def simulate(ids: np.ndarray, base: np.ndarray, gain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Treatment by a keyed hash of the id (50/50); response from base + 3 × the true uplift."""
    treated = np.array(
        [hashlib.blake2b(int(i).to_bytes(8, "little"), key=b"case").digest()[0] & 1 for i in ids]
    )
    rng = np.random.default_rng(3)
    outcome = (rng.random(len(ids)) < base + treated * np.clip(3 * gain, 0, 1)).astype(np.int64)
    return treated.astype(np.int64), outcome


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, pa.Table]:
    """The warehouse URL and the simulated case (subscriber_id, treated, outcome)."""
    directory = tmp_path_factory.mktemp("uplift-service")
    url = churn_warehouse(directory, subscribers=LINES, months=2, seed=7)
    con = connect(url)
    try:
        truth = con.table("truth_response").order_by("subscriber_id").to_pyarrow()
    finally:
        con.disconnect()
    ids = truth.column("subscriber_id").to_numpy()
    treated, outcome = simulate(
        ids, truth.column("base_propensity").to_numpy(), truth.column("uplift_subsidy").to_numpy()
    )
    return url, pa.table({"subscriber_id": ids, "treated": treated, "outcome": outcome})


@pytest.fixture
def con(province: tuple[str, pa.Table], tmp_path: Path) -> Iterator[BaseBackend]:
    """A private copy of the warehouse, so scores written by one test stay in it."""
    source = Path(province[0].removeprefix("duckdb://"))
    copy = tmp_path / "warehouse.duckdb"
    copy.write_bytes(source.read_bytes())
    connection = connect("duckdb://" + str(copy))
    yield connection
    connection.disconnect()


def _csv(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink)
    return bytes(sink.getvalue().to_pybytes())


def province_uow(db: sessionmaker[Session]) -> UnitOfWork:
    return UnitOfWork(db, actor=Actor(username="analyst", scope_path="/P00/"))


def add_case(session: Session, code: str, status: CaseStatus) -> int:
    case = Case(
        code=code, name=f"测试{code}", owner="planner", level=CaseLevel.PROVINCE,
        org_code="P00", objective=Objective.RETAIN,
        lines=[{"offer_code": "SUB", "channel": "sms", "reach_bp": 10_000, "take_up_bp": 500}],
        channels=["sms"], starts_on=date(2026, 7, 1), ends_on=date(2026, 7, 31),
        horizon_months=12, checkpoints=[], kpis=[], budget_fen=0, holdout_bp=5000, priority=5,
        business_weight_bp=5000, status=status, version=1, created_by="planner",
    )  # fmt: skip
    session.add(case)
    session.flush()
    return case.id


def record_case(session: Session, case_id: int, code: str, rows: pa.Table) -> None:
    """Exposures for every line and an attributed take-up event for every responder."""
    ids = rows.column("subscriber_id").to_pylist()
    treated = rows.column("treated").to_pylist()
    outcome = rows.column("outcome").to_pylist()
    session.execute(
        insert(ResponseExposure.metadata.tables[ResponseExposure.__tablename__]),
        [
            {
                "case_id": case_id, "case_code": code, "subscriber_id": s,
                "group": "treatment" if t else "control", "kind": "outbox" if t else "control",
                "ref": s, "exposed_at": EXPOSED,
            }
            for s, t in zip(ids, treated, strict=True)
        ],
    )  # fmt: skip
    batch = ResponseImport(
        source="test", rows=sum(outcome), new_events=sum(outcome), created_by="t"
    )
    session.add(batch)
    session.flush()
    exposures = dict(
        session.execute(
            select(ResponseExposure.subscriber_id, ResponseExposure.id).where(
                ResponseExposure.case_id == case_id
            )
        ).all()
    )
    responders = [(s, t) for s, t, o in zip(ids, treated, outcome, strict=True) if o]
    session.execute(
        insert(ResponseEvent.metadata.tables[ResponseEvent.__tablename__]),
        [
            {
                "event_id": f"{code}-{s}", "subscriber_id": s, "type": "offer_accepted",
                "offer_code": "SUB", "occurred_at": RESPONDED, "revenue_fen": 0,
                "source": "test", "import_id": batch.id,
            }
            for s, _t in responders
        ],
    )  # fmt: skip
    session.execute(
        insert(ResponseAttribution.metadata.tables[ResponseAttribution.__tablename__]),
        [
            {
                "event_id": f"{code}-{s}", "case_id": case_id, "case_code": code,
                "subscriber_id": s, "type": "offer_accepted", "occurred_at": RESPONDED,
                "revenue_fen": 0, "exposure_id": exposures[s],
                "group": "treatment" if t else "control", "kind": "outbox" if t else "control",
                "ref": s, "exposed_at": EXPOSED,
            }
            for s, t in responders
        ],
    )  # fmt: skip
    session.flush()


def test_rows_from_a_finished_case_are_its_groups_and_attributed_take_up(
    db: sessionmaker[Session],
    con: BaseBackend,
    province: tuple[str, pa.Table],
) -> None:
    rows = province[1].slice(0, 3_000)
    with province_uow(db) as uow:
        case_id = add_case(uow.session, "UP-1", CaseStatus.COMPLETED)
        record_case(uow.session, case_id, "UP-1", rows)
        labelled = labelled_from_cases(uow=uow, case_ids=[case_id], con=con)
    got = labelled.table.sort_by("subscriber_id")
    assert got.column("subscriber_id").to_pylist() == rows.column("subscriber_id").to_pylist()
    assert got.column("treated").to_pylist() == rows.column("treated").to_pylist()
    assert got.column("outcome").to_pylist() == rows.column("outcome").to_pylist()
    # Features come from the last usage month before the case started (July 2026).
    assert labelled.feature_month == date(2026, 6, 1)
    assert labelled.case_ids == (case_id,)


def test_unfinished_missing_or_empty_cases_are_refused(
    db: sessionmaker[Session],
    con: BaseBackend,
) -> None:
    with province_uow(db) as uow:
        running = add_case(uow.session, "UP-2", CaseStatus.RUNNING)
        empty = add_case(uow.session, "UP-3", CaseStatus.CLOSED)
        with pytest.raises(InvalidInput, match="is running: an uplift model learns from finished"):
            labelled_from_cases(uow=uow, case_ids=[running], con=con)
        with pytest.raises(NotFound, match="case 999999 not found"):
            labelled_from_cases(uow=uow, case_ids=[999_999], con=con)
        with pytest.raises(InvalidInput, match="has no treatment or control lines"):
            labelled_from_cases(uow=uow, case_ids=[empty], con=con)
        with pytest.raises(InvalidInput, match="at least one case"):
            labelled_from_cases(uow=uow, case_ids=[], con=con)


def test_bad_files_name_the_column() -> None:
    with pytest.raises(InvalidInput, match="missing column\\(s\\) outcome"):
        labelled_from_file(b"subscriber_id,treated\n1,0\n", filename="x.csv")
    rows = "\n".join(f"{i},{i % 2},{(i // 2) % 2}" for i in range(1, 200))
    with pytest.raises(InvalidInput, match="subscriber_id has 1 blank or non-integer"):
        labelled_from_file(
            f"subscriber_id,treated,outcome\n{rows}\nabc,1,0\n".encode(), filename="x.csv"
        )
    with pytest.raises(InvalidInput, match="'treated' must be binary"):
        labelled_from_file(
            f"subscriber_id,treated,outcome\n{rows}\n5,maybe,0\n".encode(), filename="x.csv"
        )


def test_train_score_and_target_the_top_share_in_a_segment(
    db: sessionmaker[Session],
    con: BaseBackend,
    province: tuple[str, pa.Table],
    tmp_path: Path,
) -> None:
    labelled = labelled_from_file(_csv(province[1]), filename="case.csv")
    with province_uow(db) as uow:
        model = service.train_model(
            uow=uow, con=con, models_dir=tmp_path, labelled=labelled, seed=4
        )
    assert model.version == 1
    assert model.status == "trained"
    assert model.source == "file"
    assert model.qini > 0
    assert [k.k for k in model.metrics.uplift_at_k] == [0.1, 0.2, 0.3]
    assert Path(model.artifact_path).exists()
    with province_uow(db) as uow:
        run = service.score(uow=uow, con=con, version=1)
        second = service.train_model(
            uow=uow, con=con, models_dir=tmp_path, labelled=labelled, seed=5
        )
        service.score(uow=uow, con=con, version=second.version)
        run_again = service.score(uow=uow, con=con, version=1)
        assert service.get_model(uow=uow, version=1).status == "scored"
    assert run.rows == run_again.rows > 7_000
    scores = con.table(service.SCORES_TABLE).to_pyarrow().to_pandas()
    # Both versions' rows are kept; rescoring version 1 replaced only its own.
    assert scores.groupby("model_version").size().to_dict() == {1: run.rows, 2: run.rows}
    mine = scores[scores.model_version == 1].sort_values("uplift_rank")
    assert mine.uplift_rank.tolist() == list(range(1, run.rows + 1))
    assert mine.uplift.is_monotonic_decreasing
    assert set(mine.uplift_decile) == set(range(1, 11))

    rule = parse_rule({"version": 1, "root": {"kind": "uplift", "model": 1, "top_pct": 20}})
    members = set(compile_rule(con, rule).to_pyarrow().column("subscriber_id").to_pylist())
    expected = set(mine[mine.uplift_rank * 100 <= 20 * run.rows].subscriber_id)
    assert members == expected
    assert len(members) == run.rows * 20 // 100
    # The complement under "not" is exact, and combines with other conditions.
    negated = parse_rule(
        {"version": 1, "root": {"not": {"kind": "uplift", "model": 1, "top_pct": 20}}}
    )
    others = compile_rule(con, negated).count().to_pyarrow().as_py()
    total = con.table("subscribers").count().to_pyarrow().as_py()
    assert others == total - len(members)

    unscored = parse_rule({"version": 1, "root": {"kind": "uplift", "model": 9, "top_pct": 20}})
    with pytest.raises(InvalidRule, match="root.model: uplift model 9 has no scores"):
        compile_rule(con, unscored)


def test_registry_refuses_city_users_unknown_versions_and_changed_files(
    db: sessionmaker[Session],
    con: BaseBackend,
    province: tuple[str, pa.Table],
    tmp_path: Path,
) -> None:
    labelled = labelled_from_file(_csv(province[1]), filename="case.csv")
    city = Actor(username="city", scope_path="/P00/C01/")
    with UnitOfWork(db, actor=city) as uow, pytest.raises(Forbidden, match="province-level"):
        service.train_model(uow=uow, con=con, models_dir=tmp_path, labelled=labelled)
    with province_uow(db) as uow:
        with pytest.raises(NotFound, match="no uplift model version 3"):
            service.get_model(uow=uow, version=3)
        model = service.train_model(uow=uow, con=con, models_dir=tmp_path, labelled=labelled)
        Path(model.artifact_path).write_bytes(b"swapped")
        with pytest.raises(InvalidInput, match="has been changed since it was trained"):
            service.score(uow=uow, con=con, version=model.version)
        row = uow.session.get(UpliftModel, model.version)
        assert row is not None
        assert row.status == "trained"
    assert service.SCORES_TABLE not in con.list_tables()


def test_segment_condition_without_scores_says_how_to_build_them(con: BaseBackend) -> None:
    rule = parse_rule({"version": 1, "root": {"kind": "uplift", "model": 1, "top_pct": 10}})
    with pytest.raises(WarehouseEmpty, match="uplift analysis uplift score|uplift score --model"):
        compile_rule(con, rule)


def test_too_few_responders_is_refused_naming_the_cells(con: BaseBackend) -> None:
    ids = np.arange(1, 2_001)
    table = pa.table(
        {"subscriber_id": ids, "treated": ids % 2, "outcome": (ids % 40 == 0).astype(int)}
    )
    labelled = labelled_from_file(_csv(table), filename="few.csv")
    # Every responder is in control (even ids): no treated responder to learn from.
    with pytest.raises(InvalidInput, match="has 0 treated responders"):
        service.fit_uplift(con=con, labelled=labelled)
