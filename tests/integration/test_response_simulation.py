"""The demo's response simulation: reproducible by seed, treatment above control, demo data only.

One case (offer RED with a red-packet tool) sent SMS to lines 1–1000 and held
back lines 1001–2000. The hidden truth gives every line a 2% monthly base and
a red-packet uplift of 10 points, so over the 30-day window about 2% of the
control group and 12% of the treatment group respond.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import ibis
import pyarrow as pa
import pytest
from ibis.backends import BaseBackend
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from telmark.errors import InvalidInput
from telmark.execution.responses import service, simulate
from telmark.execution.responses.models import (
    ResponseAttribution,
    ResponseEvent,
    ResponseImport,
)
from telmark.execution.responses.schemas import SimulationRead
from telmark.offers.domain import OfferStatus, ProductAction
from telmark.offers.models import Offer, OfferVersion
from telmark.uow import UnitOfWork
from telmark.warehouse.contract import OFFER_TYPES
from tests._factories.auth import seed_org
from tests._support.outbox import add_run, list_row
from tests.integration.test_response_attribution import (
    CITY,
    OUTLET,
    PLANNED,
    SENT,
    add_case,
    sent_outbox,
)

TREATED = range(1, 1001)
HELD_BACK = range(1001, 2001)
END = date(2026, 11, 30)


def add_offer(session: Session) -> None:
    offer = Offer(code="RED", status=OfferStatus.ACTIVE, current_version=1, created_by="planner")
    session.add(offer)
    session.flush()
    session.add(
        OfferVersion(
            offer_id=offer.id,
            version=1,
            name="红包",
            action=ProductAction.NEW,
            product_codes=[],
            valid_from=date(2026, 1, 1),
            excludes=[],
            tools=[{"tool": "red_packet", "amount_fen": 500}],
            eligibility=None,
            incremental_monthly_revenue_fen=1500,
            channel_cost_share_bp=0,
            co_funding_bp=0,
            created_by="planner",
        )  # fmt: skip
    )


@pytest.fixture
def case_id(db: sessionmaker[Session], tmp_path: Path) -> int:
    with UnitOfWork(db) as uow:
        seed_org(uow)
        case = add_case(uow.session, "RED", "RED")
        add_offer(uow.session)
        where = {"city_id": CITY, "outlet_id": OUTLET, "offer_code": "RED"}
        rows = [list_row(case, "RED", s, **where) for s in TREATED] + [
            list_row(case, "RED", s, group="control", **where) for s in HELD_BACK
        ]
        run = add_run(uow.session, tmp_path / "targeting", rows)
        sent_outbox(uow.session, run_id=run, case_id=case, code="RED", offer="RED",
                    subscribers=TREATED)  # fmt: skip
        uow.commit()
    return case


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[BaseBackend]:
    con = ibis.duckdb.connect(str(tmp_path / "w.duckdb"))
    ids = list(range(1, 2001))
    columns: dict[str, object] = {"subscriber_id": ids, "base_propensity": [0.02] * len(ids)}
    for kind in OFFER_TYPES:
        columns[f"uplift_{kind}"] = [0.10 if kind == "red_packet" else 0.0] * len(ids)
    con.create_table("truth_response", pa.table(columns))
    yield con
    con.disconnect()


def run(
    db: sessionmaker[Session], con: BaseBackend, tmp_path: Path, *, seed: int, until: date
) -> SimulationRead:
    with UnitOfWork(db) as uow:
        return simulate.simulate(
            uow=uow, con=con, seed=seed, until=until, directory=tmp_path / "targeting"
        )


def drawn(db: sessionmaker[Session]) -> set[tuple[str, datetime, int]]:
    with UnitOfWork(db) as uow:
        e = ResponseEvent
        return set(uow.session.execute(select(e.event_id, e.occurred_at, e.revenue_fen)).all())


def forget_responses(db: sessionmaker[Session]) -> None:
    with UnitOfWork(db) as uow:
        for model in (ResponseAttribution, ResponseEvent, ResponseImport):
            uow.session.execute(delete(model))
        uow.commit()


def test_treatment_takes_up_more_than_control_and_seeds_reproduce(
    db: sessionmaker[Session], case_id: int, warehouse: BaseBackend, tmp_path: Path
) -> None:
    first = run(db, warehouse, tmp_path, seed=7, until=END)
    assert first.cases == [case_id]
    assert first.exposed == 2000
    assert first.import_read.new_events == first.drawn
    with UnitOfWork(db) as uow:
        counts = {c.group: c for c in service.response_counts(uow=uow, case_id=case_id)}
    treatment, control = counts["treatment"], counts["control"]
    assert (treatment.exposed, control.exposed) == (1000, 1000)
    assert treatment.responders == first.treatment_drawn
    assert control.responders == first.control_drawn
    # 12% against 2% of 1000 lines: far beyond chance (sd of the difference ≈ 1.2 points).
    assert treatment.take_up_bp is not None
    assert control.take_up_bp is not None
    assert 800 <= treatment.take_up_bp <= 1600
    assert 50 <= control.take_up_bp <= 400
    assert treatment.revenue_fen == 1500 * treatment.responders
    events = drawn(db)
    assert all(SENT - timedelta(days=1) < at <= SENT + timedelta(days=30) for _, at, _ in events)

    again = run(db, warehouse, tmp_path, seed=7, until=END)
    assert (again.drawn, again.import_read.new_events) == (first.drawn, 0)

    # The same seed draws the same responses from scratch, and in steps of days alike.
    forget_responses(db)
    run(db, warehouse, tmp_path, seed=7, until=PLANNED + timedelta(days=10))
    part = drawn(db)
    assert 0 < len(part) < len(events)
    run(db, warehouse, tmp_path, seed=7, until=END)
    assert drawn(db) == events

    forget_responses(db)
    run(db, warehouse, tmp_path, seed=8, until=END)
    assert drawn(db) != events


def test_a_warehouse_without_the_hidden_model_is_refused(
    db: sessionmaker[Session], case_id: int, tmp_path: Path
) -> None:
    con = ibis.duckdb.connect(str(tmp_path / "real.duckdb"))
    try:
        with pytest.raises(InvalidInput, match="truth_response"):
            run(db, con, tmp_path, seed=7, until=END)
    finally:
        con.disconnect()
    with UnitOfWork(db) as uow:
        assert service.response_counts(uow=uow, case_id=case_id)[0].exposed == 0
