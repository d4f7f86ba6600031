"""Every route of the app's route table: anonymous callers are refused, and a user of
city A (holding every role) can neither read nor change city B's objects.

Routes are enumerated from the app itself, so a new route is covered the moment it
is added: it must either be declared public or province-wide below (with a reason),
or have city-B samples for its path parameters (or body), or the test fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from unittest import mock

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.analysis.kpi import service as kpi_service
from telmark.analysis.value import service as value_service
from telmark.auth import passwords
from telmark.auth import service as auth_service
from telmark.auth.permissions import Role
from telmark.cases import issuing as case_issuing
from telmark.cases import planning as case_planning
from telmark.cases import service as case_service
from telmark.cases.schemas import CaseCreate, IssueIn
from telmark.catalog import service as catalog_service
from telmark.config import Settings
from telmark.errors import NotFound
from telmark.execution.tasks.domain import TaskState
from telmark.execution.tasks.models import Task
from telmark.market import service as market_service
from telmark.market.schemas import OfferCreate, ShareCreate
from telmark.offers import service as offer_service
from telmark.offers.schemas import parse_offer
from telmark.org import service as org_service
from telmark.org.models import OrgUnit
from telmark.segments import service as segment_service
from telmark.segments import snapshots as segment_snapshots
from telmark.segments.schemas import SegmentCreate
from telmark.targeting.domain import RunStatus
from telmark.targeting.models import TargetingRun
from telmark.uow import UnitOfWork, uow_dependency
from telmark.warehouse.connection import connect
from telmark.warehouse.generator import generate_province
from telmark.warehouse.importer import load_directory
from telmark.web.app import create_app
from tests._factories.auth import PASSWORD
from tests._factories.auth_client import FAST_HASHER, LOGIN_CSRF, META_CSRF
from tests._factories.offers import TODAY, add_products, lottery, offer_doc

# Reachable without signing in, and why.
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/api/health"): "monitoring probes; reports reachability only, no data",
    ("GET", "/api/version"): "the version string only",
    ("GET", "/api/docs"): "the static API documentation page (the API behind it is guarded)",
    ("GET", "/login"): "the login form",
    ("POST", "/login"): "logging in",
}
# Routes over data that is province-wide by design (no city owns it), and why.
PROVINCE_WIDE: dict[str, str] = {
    "/api/consent": "a customer's opt-out applies in every city (consent.domain)",
    "/consent": "the console of the same province-wide consent register",
    "/api/analysis/kpi/refresh": "rebuilds the province-wide kpi_cube; 403 below the province",
    "/api/analysis/value/refresh": "rebuilds the province-wide customer_value; 403 below it",
    # Churn models are trained on and score the whole province (analysis.churn.domain);
    # reading them is province-wide, training/scoring/activation is 403 below the province.
    "/api/analysis/churn/models": "province-wide churn model versions and their metrics",
    "/api/analysis/churn/train": "trains a province-wide churn model; 403 below the province",
    "/api/analysis/churn/score": "scores the whole province into churn_scores; 403 below it",
    "/analysis/churn/models": "activates a province-wide churn model; 403 below the province",
    "/analysis/churn/train": "the console's train button; 403 below the province",
    "/analysis/churn/score": "the console's score button; 403 below the province",
    # Uplift models learn from finished cases of any city and score the whole province
    # (analysis.uplift.domain); reading is province-wide, training/scoring 403 below it.
    "/api/analysis/uplift": "province-wide uplift model versions; training/scoring 403 below it",
    "/analysis/uplift": "the console of the same uplift models; training/scoring 403 below it",
    # One product catalog for the whole province (catalog.service): everyone reads it,
    # changes are 403 below the province.
    "/api/catalog/products": "the province-wide product catalog; changes 403 below the province",
    "/api/catalog/sync": "fills the province-wide catalog; 403 below the province",
    "/catalog": "the console of the same province-wide catalog",
    # One offer book for the whole province (offers.service): everyone reads it, changes are
    # 403 below the province. Redeeming checks the subscriber against the caller's scope
    # (tests/api/test_offer_api.py); redemptions and draws are city-scoped and tested below.
    "/api/offers": "the province-wide offer book; changes 403 below the province",
    # Its console (not "/offers" itself: that prefix would also cover the eligibility pages,
    # which are about one subscriber and city-scoped). The offer page's redemptions panel lists
    # only the caller's scope (tests/api/test_offer_pages.py); its draws are tested below.
    "/offers/new": "the editor of the province-wide offer book; saving is 403 below it",
    "/offers/{code}": "the console of the same province-wide offer book; changes 403 below it",
    # One contact policy for the province; runs arbitrate across every city's cases, so they
    # need targeting:run and a province user to start (targeting.service).
    "/api/targeting": "the province-wide contact policy and targeting runs; 403 below it",
    "/targeting": "the console of the same province-wide policy and runs",
    # The overdue-acknowledgement scan raises alerts across the province (cases.issuing);
    # below the province it is 403. Alerts themselves are listed city-scoped (tested below).
    "/api/cases/alerts/scan": "raises overdue alerts across the province; 403 below it",
    # Generation reads a province-wide targeting run (execution.tasks.service); 403 below it.
    "/api/tasks/generate": "generates tasks from a province-wide run; 403 below the province",
    # The trigger engine arbitrates across every city's cases (execution.triggers.service);
    # below the province sending events is 403. Rules and decisions are city-scoped (below).
    "/api/triggers/events": "decides events against every city's cases; 403 below the province",
    # Loading reads a province-wide targeting run (execution.service.load_run); 403 below it.
    "/api/execution/runs": "loads a province-wide run into the outbox; 403 below the province",
    # The monitor's scan evaluates every running case (execution.monitor.scan); 403 below it.
    "/api/monitor/scan": "evaluates every running case for alerts; 403 below the province",
    "/monitor/scan": "the console's scan button; 403 below the province",
    # Order events come from BOSS for the whole province, and attribution runs over every
    # city's contacts (execution.responses.service); both are 403 below the province.
    "/api/responses/events": "stores province-wide order events; 403 below the province",
    "/api/responses/attribute": "attributes every city's events; 403 below the province",
}
# Routes without path parameters that act only on the caller's own account.
OWN_ACCOUNT: dict[tuple[str, str], str] = {
    ("POST", "/api/auth/password"): "changes the caller's own password",
    ("POST", "/api/auth/tokens"): "issues a token for the caller",
    ("POST", "/account/tokens"): "issues a token for the caller",
    ("POST", "/account/password"): "changes the caller's own password",
    ("POST", "/logout"): "ends the caller's own session",
    ("POST", "/api/analysis/propensity/train"): "trains on the caller's uploaded file only",
    ("POST", "/api/analysis/retention/fit"): "fits the caller's own survivor counts; reads nothing",
    ("POST", "/api/analysis/clv/fit"): "fits the caller's uploaded file; reads nothing stored",
    # Uploads cannot be sent by this test; each row's org_code is checked against the
    # caller's scope (tests/integration/test_market_service.py, tests/api/test_market_api.py).
    ("POST", "/api/market/offers/import"): "imports rows checked one by one against the scope",
    ("POST", "/api/market/shares/import"): "imports rows checked one by one against the scope",
    ("POST", "/market/imports"): "imports rows checked one by one against the scope",
    ("POST", "/offers/preview"): "the economics of the caller's draft; reads and stores nothing",
    ("POST", "/api/evaluation/experiments"): "evaluates the caller's uploaded file only",
    ("POST", "/evaluation/experiments"): "evaluates the caller's uploaded file only",
    ("POST", "/api/evaluation/detectable-uplift"): "arithmetic on the caller's numbers",
    ("POST", "/api/evaluation/sample-size"): "arithmetic on the caller's numbers",
    ("POST", "/offers/editor/tools"): "re-renders the caller's draft tool list; stores nothing",
    ("POST", "/segments/builder"): (
        "counts the caller's draft rule on the caller's scoped warehouse (org_unit and "
        "segment references outside the scope are refused); stores nothing"
    ),
}
# City B's market inputs (created in the world; their ids are path samples).
WX_OFFER: dict[str, object] = {
    "org_code": "C02",
    "competitor": "china_unicom",
    "name": "无锡冰激凌",
    "monthly_fee_fen": 12_900,
    "launched_on": "2026-01-01",
}
WX_SHARE: dict[str, object] = {
    "org_code": "C02",
    "month": "2026-06-01",
    "competitor": "china_telecom",
    "share_bp": 2500,
}
# City B's segment (its id is the `segment_id` sample) and a rule for segment bodies.
WX_RULE = {"version": 1, "root": {"kind": "tenure_months", "op": ">=", "value": 1}}
# City B's case plan (its id is the `case_id` sample) and a minimal plan for case bodies.
WX_PLAN: dict[str, object] = {
    "name": "锡城案",
    "objective": "upsell",
    "starts_on": "2026-12-01",
    "ends_on": "2026-12-31",
}
WX_CASE: dict[str, object] = {**WX_PLAN, "org_code": "C02"}
WX_FROM_TEMPLATE: dict[str, object] = {
    "template": "member_day",
    "name": "锡",
    "org_code": "C02",
    "starts_on": "2026-12-01",
}
# Things of city B whose appearance in city A's responses would be a leak.
CITY_B_MARKERS = ("C02", "无锡", "wx.manager", "wx-token")


@dataclass
class World:
    app: FastAPI
    client: TestClient
    nj_token: str
    samples: dict[str, str]  # path parameter → the id of a city-B object
    queries: dict[tuple[str, str], str]  # query strings naming city-B objects
    bodies: dict[tuple[str, str], dict[str, object]]  # city-B payloads without path params
    wx_user_id: int
    db: sessionmaker[Session]


@pytest.fixture(scope="module")
def warehouse_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("access")
    generate_province(
        out_dir=root / "p", subscribers=1_500, months=2, seed=3, end_month=date(2026, 6, 1)
    )
    con = connect("duckdb://" + str(root / "w.duckdb"))
    load_directory(con=con, directory=root / "p")
    kpi_service.refresh_cube(con=con)
    value_service.refresh_customer_value(con=con)
    con.disconnect()
    return "duckdb://" + str(root / "w.duckdb")


@pytest.fixture
def world(tmp_path: Path, db: sessionmaker[Session], warehouse_url: str) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path, warehouse_url=warehouse_url)
    every_role = list(Role)
    with mock.patch.object(passwords, "_HASHER", FAST_HASHER):
        with UnitOfWork(db) as uow:
            con = connect(warehouse_url)
            org_service.sync_from_warehouse(uow=uow, con=con)
            con.disconnect()
            nj = auth_service.create_user(
                uow=uow,
                username="nj.manager",
                display_name="南京",
                org_code="C01",
                roles=every_role,
                password=PASSWORD,
            )
            wx = auth_service.create_user(
                uow=uow,
                username="wx.manager",
                display_name="无锡",
                org_code="C02",
                roles=every_role,
                password=PASSWORD,
            )
            nj_token = auth_service.issue_token(uow=uow, user_id=nj.id, name="nj-token")
            wx_token = auth_service.issue_token(uow=uow, user_id=wx.id, name="wx-token")
            wx_offer = market_service.add_offer(uow=uow, offer=OfferCreate(**WX_OFFER))
            wx_share = market_service.add_share(uow=uow, share=ShareCreate(**WX_SHARE))
            wx_segment = segment_service.create_segment(
                uow=uow, spec=SegmentCreate(name="锡城", org_code="C02", rule=WX_RULE)
            )
            wx_other = segment_service.create_segment(
                uow=uow, spec=SegmentCreate(name="锡城二", org_code="C02", rule=WX_RULE)
            )
            wx_path = uow.session.scalars(select(OrgUnit.path).where(OrgUnit.code == "C02")).one()
            # City B's redemption (of subscriber 7, homed in C02) with its lottery draw.
            add_products(uow.session)
            uow.commit()
            wx_lottery = offer_doc("WX-LOTTERY", lottery(("p", 1_000_000, 0, 5), budget_fen=1))
            offer_service.create_offer(uow=uow, spec=parse_offer(wx_lottery))
            offer_service.activate_offer(uow=uow, code="WX-LOTTERY", today=TODAY)
            con = connect(warehouse_url)
            wx_redemption = offer_service.redeem(
                uow=uow, con=con, code="WX-LOTTERY", subscriber_id=7, idempotency_key="wx-r",
                today=TODAY,
            )  # fmt: skip
            assert wx_redemption.draw is not None
            # City B's order (credited to a C02 outlet), priced from the synced catalog.
            catalog_service.sync_from_warehouse(uow=uow, con=con)
            orders = con.table("orders")
            wx_order = int(
                orders.filter(orders.org_id.startswith("C02")).order_id.min().to_pyarrow().as_py()
            )
            con.disconnect()
        # City B's snapshot, taken in city B's scope (its id is the `snapshot_id` sample).
        with UnitOfWork(db, actor=Actor(username="wx.manager", scope_path=wx_path)) as uow:
            con = connect(warehouse_url)
            wx_snapshot = segment_snapshots.take_snapshot(
                uow=uow,
                con=con,
                directory=settings.resolved_snapshot_dir,
                segment_id=wx_segment.id,
            )
            con.disconnect()
        # City B's case: submitted by city B, approved by another city-B user, scheduled and
        # issued to a unit of city B that let its deadline pass (so it has an alert).
        wx_actor = Actor(username="wx.manager", scope_path=wx_path)
        with UnitOfWork(db, actor=wx_actor) as uow:
            wx_case = case_planning.create_case(
                uow=uow,
                spec=CaseCreate.model_validate(
                    {**WX_PLAN, "org_code": "C02", "snapshot_id": wx_snapshot.id,
                     "lines": [{"offer_code": "WX-LOTTERY", "channel": "sms", "reach_bp": 10_000,
                                "take_up_bp": 100}]}
                ),
            ).case  # fmt: skip
            case_service.submit(uow=uow, case_id=wx_case.id)
        with UnitOfWork(db, actor=Actor(username="wx.approver", scope_path=wx_path)) as uow:
            case_service.approve(uow=uow, case_id=wx_case.id)
        with UnitOfWork(db, actor=wx_actor) as uow:
            case_service.schedule(uow=uow, case_id=wx_case.id)
            wx_district = uow.session.scalars(
                select(OrgUnit.code).where(OrgUnit.path.startswith(wx_path), OrgUnit.depth == 2)
            ).first()
            assert wx_district is not None
            case_issuing.issue(
                uow=uow,
                case_id=wx_case.id,
                spec=IssueIn(units=[wx_district], parts={wx_district: 5}, ack_hours=1),
                now=datetime(2026, 1, 1, tzinfo=UTC),
            )
            (wx_issue,) = case_issuing.issue_tree(uow=uow, case_id=wx_case.id)
            (wx_alert,) = case_issuing.overdue_issues(uow=uow, now=datetime.now(UTC)).raised
        # City B's front-line task (its id is the `task_id` sample), on a run of the province.
        with UnitOfWork(db) as uow:
            wx_task = _wx_task(uow, wx_district)

        def test_uow() -> Iterator[UnitOfWork]:
            with UnitOfWork(db) as unit:
                yield unit

        app = create_app(settings)
        app.dependency_overrides[uow_dependency] = test_uow
        with TestClient(app) as client:
            yield World(
                app=app,
                client=client,
                nj_token=nj_token.token,
                samples={
                    "code": "C02",
                    "user_id": str(wx.id),
                    "token_id": str(wx_token.id),
                    "entry_id": "1",
                    "offer_id": str(wx_offer.id),
                    "share_id": str(wx_share.id),
                    "segment_id": str(wx_segment.id),
                    "snapshot_id": str(wx_snapshot.id),
                    "redemption_id": str(wx_redemption.id),
                    "draw_id": str(wx_redemption.draw.id),
                    "order_id": str(wx_order),
                    # Home outlet C02D04O001 in the generated province (seed 3).
                    "subscriber_id": "7",
                    # Churn model versions are province-wide (see PROVINCE_WIDE); any number
                    # serves for the anonymous check.
                    "version": "1",
                    # Targeting runs are province-wide (see PROVINCE_WIDE).
                    "run_id": "1",
                    "case_id": str(wx_case.id),
                    "channel": "sms",
                    "issue_id": str(wx_issue.id),
                    "alert_id": str(wx_alert.id),
                    "task_id": str(wx_task),
                },
                queries={
                    ("GET", "/api/segments/overlap"): f"ids={wx_segment.id},{wx_other.id}",
                },
                bodies={
                    ("POST", "/api/market/offers"): WX_OFFER,
                    ("POST", "/api/segments"): {"name": "锡", "org_code": "C02", "rule": WX_RULE},
                    ("POST", "/api/cases"): WX_CASE,
                    ("POST", "/api/cases/from-template"): WX_FROM_TEMPLATE,
                    ("PUT", "/api/cases/{case_id}"): WX_PLAN,
                    ("POST", "/cases/new"): WX_CASE,
                    ("POST", "/api/cases/{case_id}/reject"): {"comment": "否"},
                    ("POST", "/api/cases/issues/{issue_id}/localise"): {},
                    ("POST", "/api/cases/issues/{issue_id}/reissue"): {
                        "to": [{"org_code": "C02", "target": 1}]
                    },
                    ("PUT", "/api/segments/{segment_id}"): {"rule": WX_RULE},
                    ("POST", "/api/tasks/{task_id}/outcome"): {"outcome": "reached"},
                    ("PUT", "/api/execution/cases/{case_id}/templates"): {
                        "channel": "sms",
                        "body": "您好",
                    },
                    ("POST", "/api/execution/cases/{case_id}/templates/preview"): {
                        "channel": "sms",
                        "body": "您好",
                    },
                    ("POST", "/api/tasks/{task_id}/correction"): {
                        "outcome": "reached",
                        "note": "改",
                    },
                    ("POST", "/api/tasks/{task_id}/reassign"): {"org_code": "C01"},
                    ("POST", "/api/tasks/{task_id}/cancel"): {"note": "取消"},
                    ("POST", "/tasks/{task_id}/outcome"): {"outcome": "reached"},
                    ("PUT", "/api/responses/cases/{case_id}/window"): {"days": 5},
                    ("POST", "/api/monitor/alerts/{alert_id}/acknowledge"): {"note": "督办"},
                    ("POST", "/api/monitor/alerts/{alert_id}/resolve"): {"note": "已处理"},
                    ("PUT", "/api/monitor/settings/{code}"): {"recipients": ["a@b.cn"]},
                    ("POST", "/monitor/alerts/{alert_id}/acknowledge"): {"note": "督办"},
                    ("POST", "/monitor/alerts/{alert_id}/resolve"): {"note": "已处理"},
                    ("PUT", "/api/triggers/rules/{case_id}"): {"event_type": "balance_low"},
                    ("POST", "/triggers/rules"): {"case_id": wx_case.id, "event_type": "quota_80"},
                    ("POST", "/api/redemptions/{redemption_id}/release"): {"reason": "取消"},
                    # The explainer's subscriber: city B's line 7 (see samples).
                    ("POST", "/offers/eligibility"): {"subscriber_id": "7"},
                    ("POST", "/api/offers/eligibility"): {"subscriber_id": 7},
                    ("POST", "/segments"): {
                        "name": "锡",
                        "org_code": "C02",
                        "root:node": "tenure_months",
                        "root:op": ">=",
                        "root:value": "1",
                    },
                    ("POST", "/api/market/shares"): {**WX_SHARE, "competitor": "other"},
                    ("POST", "/market/offers"): {**WX_OFFER, "monthly_fee_yuan": "129"},
                    ("POST", "/market/shares"): {**WX_SHARE, "month": "2026-06", "share_pct": "1"},
                    ("POST", "/api/users"): {
                        "username": "new.wx",
                        "display_name": "新",
                        "org_code": "C02",
                        "roles": ["analyst"],
                        "password": "Long-enough-42",
                    },
                    ("PUT", "/api/users/{user_id}/roles"): {"roles": ["analyst"]},
                    ("POST", "/api/users/{user_id}/reset-password"): {"password": "Long-enough-42"},
                    ("POST", "/users/{user_id}/roles"): {"roles": "analyst"},
                    ("POST", "/users/{user_id}/reset-password"): {
                        "password": "Long-enough-42",
                        "repeat_password": "Long-enough-42",
                    },
                    ("POST", "/users"): {
                        "username": "new.wx",
                        "display_name": "新",
                        "org_code": "C02",
                        "roles": "analyst",
                        "password": "Long-enough-42",
                        "repeat_password": "Long-enough-42",
                    },
                },
                wx_user_id=wx.id,
                db=db,
            )


def _wx_task(uow: UnitOfWork, district: str) -> int:
    """A front-line task of city B's unit ``district`` on a (failed, empty) province run."""
    unit = uow.session.scalars(select(OrgUnit).where(OrgUnit.code == district)).one()
    run = TargetingRun(
        run_key="wx-tasks", status=RunStatus.FAILED, run_on=date(2026, 6, 1), policy_version=0,
        cases=[], fingerprint="-", file_path="", created_by="planner",
    )  # fmt: skip
    uow.session.add(run)
    uow.session.flush()
    task = Task(
        run_id=run.id, case_id=1, case_code="WX-TASK", subscriber_id=7, offer_code=None,
        city_code="C02", org_code=unit.code, org_path=unit.path, staff_code=None,
        planned_on=date(2026, 6, 1), due_on=date(2026, 6, 8), state=TaskState.OPEN, version=1,
    )  # fmt: skip
    uow.session.add(task)
    uow.session.flush()
    uow.commit()
    return task.id


def routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """(method, path, route) for every endpoint in the app's route table."""
    found: list[tuple[str, str, APIRoute]] = []
    for context in iter_route_contexts(app.router.routes):
        route = context.route
        if isinstance(route, APIRoute):
            found.extend(
                (method, route.path if context.path is None else context.path, route)
                for method in sorted(route.methods or ())
            )
    return found


def _params(path: str) -> list[str]:
    return re.findall(r"{(\w+)}", path)


def _fill(path: str, samples: dict[str, str]) -> str:
    for name in _params(path):
        assert name in samples, (
            f"{path}: no city-B sample for path parameter {name!r}; add one to "
            "World.samples so the route's scope is tested"
        )
        path = path.replace("{" + name + "}", samples[name])
    return path


# Routes under a province-wide prefix that are about one subscriber, so city-scoped after all.
SCOPED_UNDER_PROVINCE_WIDE: dict[str, str] = {
    "/api/offers/eligibility": "explains the offers of one line: 404 for another city's line",
}


def _province_wide(path: str) -> bool:
    if path in SCOPED_UNDER_PROVINCE_WIDE:
        return False
    return any(path == p or path.startswith(p + "/") for p in PROVINCE_WIDE)


def test_the_route_table_is_enumerated(world: World) -> None:
    table = routes(world.app)
    assert len(table) > 40
    assert ("GET", "/api/org/units/{code}") in {(m, p) for m, p, _ in table}


def test_anonymous_requests_are_refused(world: World) -> None:
    for method, path, _route in routes(world.app):
        if (method, path) in PUBLIC:
            continue
        url = _fill(path, world.samples)
        response = world.client.request(method, url, follow_redirects=False)
        if path.startswith("/api/"):
            assert response.status_code == 401, (method, path, response.status_code)
        else:
            assert response.status_code in (303, 307, 401), (method, path, response.status_code)
            if response.status_code != 401:
                assert response.headers["location"].startswith("/login"), (method, path)


def _console_login(client: TestClient) -> str:
    page = client.get("/login")
    match = LOGIN_CSRF.search(page.text)
    assert match is not None
    response = client.post(
        "/login",
        data={
            "username": "nj.manager",
            "password": PASSWORD,
            "csrf_token": match.group(1),
            "next": "/",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    meta = META_CSRF.search(client.get("/account/password").text)
    assert meta is not None
    return meta.group(1)


def _send(
    client: TestClient,
    method: str,
    url: str,
    *,
    api: bool,
    headers: dict[str, str],
    body: dict[str, object] | None,
) -> httpx.Response:
    """One request as city A: JSON for the API, a form for the console."""
    if api:
        return client.request(method, url, headers=headers, json=body, follow_redirects=False)
    form = {k: str(v) for k, v in (body or {}).items()}
    return client.request(method, url, headers=headers, data=form, follow_redirects=False)


def test_city_a_cannot_reach_city_b(world: World) -> None:
    client = world.client
    with mock.patch.object(passwords, "_HASHER", FAST_HASHER):
        csrf = _console_login(client)
    bearer = {"Authorization": f"Bearer {world.nj_token}"}
    checked = 0
    for method, path, _route in routes(world.app):
        if (method, path) in PUBLIC or _province_wide(path):
            continue
        api = path.startswith("/api/")
        headers = bearer if api else {"X-CSRF-Token": csrf}
        url = _fill(path, world.samples)
        body = world.bodies.get((method, path))
        if _params(path):
            response = _send(client, method, url, api=api, headers=headers, body=body)
            assert response.status_code != 422, (
                f"{method} {path}: the request was invalid, so scope was never checked; "
                "add a valid city-B body to World.bodies"
            )
            assert response.status_code == 404, (method, path, response.status_code)
        elif method != "GET":
            if (method, path) in OWN_ACCOUNT:
                continue
            assert body is not None, (
                f"{method} {path}: no city-B payload; add one to World.bodies (or declare it "
                "in OWN_ACCOUNT with the reason) so the route's scope is tested"
            )
            response = _send(client, method, url, api=api, headers=headers, body=body)
            # The console's forms re-render with the problem (422); the API answers 404.
            refused = (404,) if api else (404, 422)
            assert response.status_code in refused, (method, path, response.status_code)
        elif (method, path) in world.queries:
            # Parameters naming city-B objects travel in the query string here.
            url = f"{url}?{world.queries[(method, path)]}"
            response = _send(client, method, url, api=api, headers=headers, body=None)
            assert response.status_code == 404, (method, path, response.status_code)
        else:
            response = _send(client, method, url, api=api, headers=headers, body=None)
            assert response.status_code in (200, 403), (method, path, response.status_code)
            leaked = [m for m in CITY_B_MARKERS if m in response.text]
            assert leaked == [], (method, path, leaked)
        checked += 1
    assert checked > 25

    # Nothing of city B changed on the way.
    with UnitOfWork(world.db) as uow:
        wx = auth_service.get_user(uow=uow, user_id=world.wx_user_id)
        assert wx.active
        assert sorted(wx.roles) == sorted(Role)
        assert [
            t.name
            for t in auth_service.list_tokens(uow=uow, user_id=world.wx_user_id)
            if t.revoked_at is None
        ] == ["wx-token"]
        with pytest.raises(NotFound):
            auth_service.user_id_of(uow=uow, username="new.wx")
        assert [o.name for o in market_service.list_offers(uow=uow)] == ["无锡冰激凌"]
        assert [s.competitor for s in market_service.list_shares(uow=uow)] == ["china_telecom"]
