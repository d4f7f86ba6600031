"""``telmark demo --no-serve``: from an empty data dir to a loaded province, and cheap reruns."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from telmark.auth.permissions import Role
from telmark.cases import service as case_service
from telmark.cases.domain import CaseStatus
from telmark.catalog import service as catalog_service
from telmark.catalog.domain import ProductKind
from telmark.cli import app
from telmark.config import get_settings
from telmark.execution import service as execution_service
from telmark.execution.domain import OutboxState
from telmark.execution.responses.service import response_counts
from telmark.execution.tasks import service as tasks_service
from telmark.offers import service as offer_service
from telmark.offers.domain import OfferStatus
from telmark.offers.tools import TOOL_LABELS
from telmark.org import service as org_service
from telmark.segments import service as segment_service
from telmark.segments.examples import EXAMPLES
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect

pytestmark = pytest.mark.slow
SENT = {OutboxState.SENT, OutboxState.DELIVERED, OutboxState.RESPONDED}


def test_demo_prepares_everything_once() -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["demo", "--no-serve", "--subscribers", "3000", "--json"])
    assert first.exit_code == 0, first.output
    state = json.loads(first.stdout)
    assert state["generated"] is True
    assert state["loaded"] is True
    assert state["url"] == "http://127.0.0.1:8000/"
    roles = {login["role"] for login in state["logins"]}
    assert roles == {str(role) for role in Role}
    # Port-outs stay in the subscriber table; the warehouse holds every generated line.
    assert state["subscribers"] == 3000

    data_dir = get_settings().data_dir
    assert (data_dir / "telmark.db").exists()
    assert (data_dir / "generated" / "manifest.json").exists()
    with UnitOfWork() as uow:
        units = org_service.list_units(uow=uow, max_depth=1)
    assert units[0].kind == "province"
    assert len([u for u in units if u.kind == "city"]) == 13

    con = connect()
    tables = set(con.list_tables())
    assert {"subscribers", "usage_monthly", "org_closure", "truth_response"} <= tables
    # The analyses the console shows are built too; a churn model needs enough port-outs,
    # and if there are too few the demo says so instead of failing.
    assert {"kpi_cube", "customer_value"} <= tables
    assert ("churn_scores" in tables) != any("churn" in note for note in state["notes"])
    # The example segments are saved and count real lines (the churn one only if scored).
    with UnitOfWork() as uow:
        saved = segment_service.list_segments(uow=uow)
        assert len(saved) == len(EXAMPLES)
        counts = [
            segment_service.count_segment(uow=uow, con=con, segment_id=s.id).count
            for s in saved
            if "churn" not in json.dumps(s.rule) or "churn_scores" in tables
        ]
    assert counts
    assert all(c > 0 for c in counts)
    con.disconnect()
    # A realistic catalog (several plan families, bundles, handset contracts) and at least
    # one active offer per marketing tool on it.
    with UnitOfWork() as uow:
        products = catalog_service.list_products(uow=uow)
        offers = offer_service.list_offers(uow=uow)
    plan_families = {p.family for p in products if p.kind is ProductKind.PLAN}
    assert len(plan_families) >= 3, plan_families
    assert any(p.kind is ProductKind.BUNDLE for p in products)
    assert any(p.kind is ProductKind.HANDSET_CONTRACT for p in products)
    active = [o for o in offers if o.status is OfferStatus.ACTIVE]
    assert {t["tool"] for o in active for t in o.tools} == set(TOOL_LABELS)
    # Marketing cases in several states: one issued to the cities, one waiting for approval.
    with UnitOfWork() as uow:
        cases = case_service.list_cases(uow=uow)
    states = {c.status for c in cases}
    assert {CaseStatus.ISSUED, CaseStatus.SUBMITTED, CaseStatus.RUNNING} <= states
    assert len(states) >= 3
    # The live case filled its funnel: sandbox sends, front-line tasks and responses of the
    # treatment and control groups (drawn from the hidden model), each counted by its module.
    (live,) = [c for c in cases if c.status is CaseStatus.RUNNING]
    with UnitOfWork() as uow:
        outbox = execution_service.counts(uow=uow, case_id=live.id)
        responded = response_counts(uow=uow, case_id=live.id)
        tasks = tasks_service.report(uow=uow, case_id=live.id)
    assert sum(r.count for r in outbox if r.state in SENT) > 0
    assert {r.group for r in responded} == {"treatment", "control"}
    assert sum(r.responders for r in responded) > 0
    assert tasks.total.assigned > 0  # the first city's channel mix sends half to its outlets
    sandbox = data_dir / "sandbox" / "sms.jsonl"
    assert all(json.loads(line)["provider_id"].startswith("sandbox-") for line in
               sandbox.read_text(encoding="utf-8").splitlines())  # fmt: skip

    again = runner.invoke(app, ["demo", "--no-serve", "--subscribers", "3000", "--json"])
    assert again.exit_code == 0, again.output
    rerun = json.loads(again.stdout)
    assert (rerun["generated"], rerun["loaded"]) == (False, False)
    with UnitOfWork() as uow:
        assert len(segment_service.list_segments(uow=uow)) == len(EXAMPLES)  # not doubled
        assert len(offer_service.list_offers(uow=uow)) == len(offers)
        assert len(case_service.list_cases(uow=uow)) == len(cases)
        assert len(catalog_service.list_products(uow=uow)) == len(products)
