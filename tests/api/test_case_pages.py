"""Marketing cases in the console: pages by role and scope, the wizard's refusals beside their
fields (nothing saved), a stale edit, the life cycle through buttons and the inbox, issuing
down to a city that acknowledges, localises and re-issues, alerts, and targeting from a case."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.auth import passwords
from telmark.auth.permissions import Role
from telmark.cases import issuing
from telmark.cases import service as case_service
from telmark.offers import service as offer_service
from telmark.offers.schemas import parse_offer
from telmark.segments import service as segment_service
from telmark.segments import snapshots
from telmark.segments.schemas import SegmentCreate
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from telmark.web.i18n import LOCALE_COOKIE
from tests._factories.auth import make_user
from tests._factories.auth_client import FAST_HASHER, AuthApp
from tests._factories.cases import ALL_LINES, OFFER
from tests._factories.market import province_app, sample_warehouse
from tests._factories.offers import TODAY, add_products, gift, offer_doc
from tests._factories.warehouse import FactoryWarehouse

START = "2026-12-01"
END = "2026-12-31"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> FactoryWarehouse:
    return sample_warehouse(tmp_path_factory.mktemp("case-pages"))


@pytest.fixture
def app(
    tmp_path: Path, db: sessionmaker[Session], warehouse: FactoryWarehouse
) -> Iterator[tuple[AuthApp, int, sessionmaker[Session]]]:
    """The province app with an active offer and a ready province-wide snapshot (its id)."""
    for client in province_app(tmp_path, db, warehouse):
        with mock.patch.object(passwords, "_HASHER", FAST_HASHER), UnitOfWork(db) as uow:
            make_user(uow, "nj.approver", org="C01", roles=[Role.APPROVER])
            add_products(uow.session)
            uow.commit()
            offer_service.create_offer(uow=uow, spec=parse_offer(offer_doc(OFFER, gift(10**6))))
            offer_service.activate_offer(uow=uow, code=OFFER, today=TODAY)
        con = connect(warehouse.url)
        with UnitOfWork(db, actor=Actor(username="planner", scope_path="/P/")) as uow:
            segment = segment_service.create_segment(
                uow=uow, spec=SegmentCreate(name="全省全量", org_code="P", rule=ALL_LINES)
            )
            snapshot = snapshots.take_snapshot(
                uow=uow, con=con, directory=tmp_path / "snapshots", segment_id=segment.id
            )
        con.disconnect()
        client.client.cookies.set(LOCALE_COOKIE, "en")  # messages asserted in English
        yield client, snapshot.id, db


def _errors(html: str) -> dict[str, str]:
    """Every non-empty field error place of a page, by field."""
    return {
        m.group(1): m.group(2)
        for m in re.finditer(r'data-field-error="([^"]+)"[^>]*>([^<]+)<', html)
    }


def _found(pattern: str, text: str, flags: int = 0) -> str:
    """The first group of ``pattern`` in ``text`` (failing the test when it is absent)."""
    match = re.search(pattern, text, flags)
    assert match is not None, pattern
    return match.group(1)


def _plan_form(csrf: str, snapshot: int, **overrides: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "name": "全省升级",
        "org_code": "P",
        "objective": "upsell",
        "hypothesis": "礼品提高办理率",
        "claim.offer_code": OFFER,
        "claim.uplift_bp": "2.5",
        "snapshot_id": str(snapshot),
        "lines.0.offer_code": OFFER,
        "lines.0.channel": "sms",
        "lines.0.reach_bp": "100",
        "lines.0.take_up_bp": "5",
        "lines.0.contact_cost_fen": "",
        "channels": "",
        "starts_on": START,
        "ends_on": END,
        "horizon_months": "12",
        "budget_fen": "1000",
        "holdout_bp": "10",
        "priority": "5",
        "business_weight_bp": "50",
        "kpis.0.metric": "take_up_bp",
        "kpis.0.target": "4.5",
        "checkpoints.0.on": "2026-12-15",
        "checkpoints.0.metric": "contacts",
        "checkpoints.0.target": "300",
    }
    form.update(overrides)
    return form


def _case_id(response: Any) -> int:
    assert response.status_code == 303, response.text[:2000]
    match = re.match(r"/cases/(\d+)\?done=", response.headers["location"])
    assert match is not None, response.headers["location"]
    return int(match.group(1))


def _post(client: AuthApp, path: str, form: dict[str, str]) -> Any:
    return client.client.post(path, data=form, follow_redirects=False)


def test_pages_by_role(app: tuple[AuthApp, int, Any]) -> None:
    client, snapshot, _ = app
    http = client.client
    client.login("planner")
    listing = http.get("/cases")
    assert listing.status_code == 200
    assert 'id="new-case"' in listing.text
    assert 'href="/cases"' in listing.text  # the navigation entry
    gallery = http.get("/cases/new")
    assert gallery.status_code == 200
    assert len(re.findall(r'data-use-template="', gallery.text)) == 5
    blank = http.get("/cases/new", params={"blank": "1"})
    assert f'<option value="{snapshot}"' in blank.text  # the planner's snapshots to choose from
    assert f'<option value="{OFFER}"' in blank.text
    template = http.get("/cases/new", params={"template": "upgrade_5g"})
    assert 'name="template" value="upgrade_5g"' in template.text

    client.login("approver")  # reads and decides, drafts nothing
    assert http.get("/cases").status_code == 200
    assert 'id="new-case"' not in http.get("/cases").text
    assert http.get("/cases/new").status_code == 403
    assert http.get("/cases/inbox").status_code == 200
    client.login("agent")  # front line: no cases
    assert http.get("/cases").status_code == 403
    client.login("nanjing")
    assert http.get("/cases/inbox").status_code == 403  # no approver role


def test_a_refused_plan_is_shown_beside_its_fields_and_nothing_is_saved(
    app: tuple[AuthApp, int, Any],
) -> None:
    client, snapshot, db = app
    csrf = client.login("planner")
    bad = _post(
        client,
        "/cases/new",
        _plan_form(
            csrf,
            snapshot,
            budget_fen="12.345",
            **{"lines.0.reach_bp": "150", "lines.2.take_up_bp": "abc", "kpis.0.target": "x"},
            ends_on="2026-11-01",
        ),
    )
    assert bad.status_code == 422
    errors = _errors(bad.text)
    assert errors["budget_fen"] == "too many decimal places"
    assert errors["kpis.0.target"] == "not a number"
    # The blank row 1 is dropped: the third row typed is the second line now.
    assert errors["lines.1.take_up_bp"] == "not a number"
    assert 'value="abc"' in bad.text  # what was typed comes back
    assert 'id="form-refused"' in bad.text
    assert "10000" in errors["lines.0.reach_bp"]  # 150 % is more than everyone

    # Parsed fine, refused by the schema and by the service: beside their fields too.
    late = _post(client, "/cases/new", _plan_form(csrf, snapshot, ends_on="2026-11-01"))
    assert late.status_code == 422
    assert "must not be before starts_on" in _errors(late.text)["ends_on"]
    unknown = _post(
        client,
        "/cases/new",
        _plan_form(
            csrf,
            snapshot,
            **{"lines.0.offer_code": "NOPE", "claim.offer_code": "", "claim.uplift_bp": ""},
        ),
    )
    assert unknown.status_code == 422
    assert _errors(unknown.text)["lines.0.offer_code"] == "no such offer"
    with UnitOfWork(db) as uow:
        assert case_service.list_cases(uow=uow) == []


def test_a_draft_from_a_template_is_edited_and_a_stale_edit_conflicts(
    app: tuple[AuthApp, int, Any],
) -> None:
    client, snapshot, _ = app
    http = client.client
    csrf = client.login("planner")
    form = {
        "csrf_token": csrf,
        "template": "upgrade_5g",
        "name": "5G 升级",
        "org_code": "P",
        "snapshot_id": str(snapshot),
        "starts_on": START,
        "budget_fen": "2000",
        f"offer.{OFFER}": "1",
    }
    refused = _post(client, "/cases/new", {**form, "name": ""})
    assert refused.status_code == 422
    assert _errors(refused.text)["name"]
    case_id = _case_id(_post(client, "/cases/new", form))
    page = http.get(f"/cases/{case_id}")
    assert page.status_code == 200
    assert 'id="live-mark"' in page.text
    assert len(re.findall(r'<tr data-factor="', page.text)) == 5
    data = json.loads(_found(r'id="projection-data">([^<]*)<', page.text))
    assert len(data["factors"]) == 5
    assert data["months"] == list(range(1, len(data["months"]) + 1))
    assert data["cumulativeYuan"][0] < 0  # month 1 carries the one-off incentive cost
    assert 'data-action="submit"' in page.text
    assert 'data-action="schedule"' not in page.text  # not from a draft

    editor = http.get(f"/cases/{case_id}/edit")
    version = int(_found(r'name="version" value="(\d+)"', editor.text))
    assert 'name="lines.0.offer_code"' in editor.text
    edit = _plan_form(csrf, snapshot, name="5G 升级（改）", version=str(version))
    saved = _post(client, f"/cases/{case_id}/edit", edit)
    assert _case_id(saved) == case_id
    stale = _post(client, f"/cases/{case_id}/edit", {**edit, "name": "又改"})
    assert stale.status_code == 409
    assert 'id="edit-conflict"' in stale.text
    assert "又改" in stale.text  # the user's input is kept
    assert "5G 升级（改）" in http.get(f"/cases/{case_id}").text
    assert "又改" not in http.get(f"/cases/{case_id}").text


def test_from_draft_to_issued_and_worked_by_a_city(app: tuple[AuthApp, int, Any]) -> None:
    client, snapshot, db = app
    http = client.client
    csrf = client.login("planner")
    case_id = _case_id(_post(client, "/cases/new", _plan_form(csrf, snapshot)))
    page = http.get(f"/cases/{case_id}").text
    version = int(_found(r'name="version" value="(\d+)"', page))
    stale = _post(
        client,
        f"/cases/{case_id}/act",
        {"csrf_token": csrf, "action": "submit", "version": str(version + 3)},
    )
    assert stale.status_code == 409
    assert 'id="action-refused"' in stale.text
    submitted = _post(
        client,
        f"/cases/{case_id}/act",
        {"csrf_token": csrf, "action": "submit", "version": str(version)},
    )
    assert _case_id(submitted) == case_id

    csrf = client.login("approver")
    inbox = http.get("/cases/inbox")
    assert 'data-approve="' in inbox.text
    no_comment = _post(
        client, f"/cases/{case_id}/reject", {"csrf_token": csrf, "from": "inbox", "comment": " "}
    )
    assert no_comment.status_code == 422
    assert _errors(no_comment.text)["comment"]
    approved = _post(client, f"/cases/{case_id}/approve", {"csrf_token": csrf, "from": "inbox"})
    assert approved.status_code == 303
    assert approved.headers["location"].startswith("/cases/inbox")
    assert 'id="inbox-empty"' in http.get("/cases/inbox").text
    detail = http.get(f"/cases/{case_id}").text
    assert 'id="frozen-mark"' in detail
    assert 'data-action="approve"' in detail  # the timeline

    csrf = client.login("planner")
    assert (
        _case_id(_post(client, f"/cases/{case_id}/act", {"csrf_token": csrf, "action": "schedule"}))
        == case_id
    )
    issue_page = http.get(f"/cases/{case_id}/issue")
    assert 'id="issue-form"' in issue_page.text
    units = re.findall(r'<tr data-unit="([^"]+)"', issue_page.text)
    assert "C01" in units
    assert len(units) == 13
    ticked = {f"unit.{u}": "1" for u in units}
    wrong = _post(
        client,
        f"/cases/{case_id}/issue",
        {"csrf_token": csrf, "split": "manual", **ticked, "part.C01": "x"},
    )
    assert wrong.status_code == 422
    assert _errors(wrong.text)["part.C01"] == "not a whole number"
    issued = _post(
        client,
        f"/cases/{case_id}/issue",
        {"csrf_token": csrf, "split": "base", **ticked, "ack_hours": "1"},
    )
    assert issued.status_code == 303, issued.text[:2000]
    tree = http.get(f"/cases/{case_id}/issue").text
    assert len(re.findall(r'<tr data-issue="', tree)) == 13

    client.login("suzhou")  # sees its own part, not Nanjing's form
    assert http.get(f"/cases/{case_id}").status_code == 200
    suzhou = http.get(f"/cases/{case_id}/issue").text
    assert re.findall(r'data-org="([^"]+)"', suzhou) == ["C02"]
    assert 'id="issue-form"' not in suzhou

    csrf = client.login("nanjing")
    tree = http.get(f"/cases/{case_id}/issue").text
    (issue_id,) = re.findall(r'<tr data-issue="(\d+)" data-org="C01"', tree)
    assert f'data-ack="{issue_id}"' in tree
    acked = _post(client, f"/cases/{case_id}/issues/{issue_id}/acknowledge", {"csrf_token": csrf})
    assert acked.status_code == 303
    work = http.get(f"/cases/{case_id}/issue").text
    assert f'id="localise-{issue_id}"' in work
    bad = _post(
        client,
        f"/cases/{case_id}/issues/{issue_id}/localise",
        {"csrf_token": csrf, "rule": "{not json", "share.sms": "60"},
    )
    assert bad.status_code == 422
    assert _errors(bad.text)["rule"].startswith("JSON:")
    shares = _post(
        client,
        f"/cases/{case_id}/issues/{issue_id}/localise",
        {"csrf_token": csrf, "share.sms": "60", "share.app_push": "30"},
    )
    assert shares.status_code == 422
    assert "10000" in _errors(shares.text)["channels"]
    saved = _post(
        client,
        f"/cases/{case_id}/issues/{issue_id}/localise",
        {"csrf_token": csrf, "share.sms": "60", "share.app_push": "40"},
    )
    assert saved.status_code == 303
    found = _found(rf'data-issue="{issue_id}".*?<td class="num">([\d,]+)<', work, re.S)
    target = int(found.replace(",", ""))
    child = _found(r'<option value="(org:C01D\w+)"', work)
    short = _post(
        client,
        f"/cases/{case_id}/issues/{issue_id}/reissue",
        {"csrf_token": csrf, "to.0.to": child, "to.0.target": str(target - 1)},
    )
    assert short.status_code == 422
    assert "not " + str(target) in short.text
    passed = _post(
        client,
        f"/cases/{case_id}/issues/{issue_id}/reissue",
        {"csrf_token": csrf, "to.0.to": child, "to.0.target": str(target)},
    )
    assert passed.status_code == 303
    tree = http.get(f"/cases/{case_id}/issue").text
    assert f'data-org="{child.removeprefix("org:")}"' in tree

    client.login("suzhou")  # another city's issue is not there to act on
    assert (
        _post(
            client, f"/cases/{case_id}/issues/{issue_id}/acknowledge", {"csrf_token": client.csrf()}
        ).status_code
        == 404
    )

    # Suzhou never acknowledged: the scan raises an alert the planner follows up.
    with UnitOfWork(db, actor=Actor(username="scan", scope_path="/P/")) as uow:
        scan = issuing.overdue_issues(uow=uow, now=datetime.now(UTC) + timedelta(hours=2))
    assert {a.org_code for a in scan.raised} >= {"C02"}
    csrf = client.login("planner")
    alerts = http.get("/cases/alerts").text
    alert_id = _found(r'<tr data-alert="(\d+)" data-status="open">', alerts)
    followed = _post(
        client,
        f"/cases/alerts/{alert_id}/acknowledge",
        {"csrf_token": csrf, "next": f"/cases/{case_id}/issue"},
    )
    assert followed.headers["location"] == f"/cases/{case_id}/issue?done=followed"
    assert (
        f'<tr data-alert="{alert_id}" data-status="acknowledged">' in http.get("/cases/alerts").text
    )


def test_targeting_from_a_case(app: tuple[AuthApp, int, Any]) -> None:
    client, snapshot, db = app
    http = client.client
    csrf = client.login("planner")
    draft = _case_id(_post(client, "/cases/new", _plan_form(csrf, snapshot, name="草稿")))
    page = http.get(f"/cases/{draft}").text
    assert 'id="simulate-targeting"' in page
    assert 'id="run-targeting"' not in page  # a draft is simulated, never run
    sim = _post(
        client,
        f"/cases/{draft}/simulate",
        {"csrf_token": csrf, "run_key": "sim-1", "on": "2026-12-10"},
    )
    assert sim.status_code == 200, sim.text[:2000]
    assert 'id="funnel-table"' in sim.text
    assert 'id="no-competition"' in sim.text
    refused = _post(
        client,
        f"/cases/{draft}/targeting",
        {"csrf_token": csrf, "run_key": "real-1", "on": "2026-12-10"},
    )
    assert refused.status_code == 409

    running = _case_id(_post(client, "/cases/new", _plan_form(csrf, snapshot, name="在跑")))
    with UnitOfWork(db, actor=Actor(username="planner", scope_path="/P/")) as uow:
        case_service.submit(uow=uow, case_id=running)
    with UnitOfWork(db, actor=Actor(username="approver", scope_path="/P/")) as uow:
        case_service.approve(uow=uow, case_id=running)
    with UnitOfWork(db, actor=Actor(username="planner", scope_path="/P/")) as uow:
        case_service.schedule(uow=uow, case_id=running)
    bad_day = _post(
        client, f"/cases/{running}/targeting", {"csrf_token": csrf, "run_key": "r", "on": "someday"}
    )
    assert bad_day.status_code == 422
    assert _errors(bad_day.text)["on"]
    run = _post(
        client,
        f"/cases/{running}/targeting",
        {"csrf_token": csrf, "run_key": "case-run-1", "on": "2026-12-10"},
    )
    assert run.status_code == 303, run.text[:2000]
    run_page = http.get(run.headers["location"])
    assert run_page.status_code == 200
    assert f'<tr data-case="{running}">' in run_page.text
    assert 'data-run="' in http.get(f"/cases/{running}").text  # linked from the case

    # The draft now competes with the scheduled case: the simulation says what it takes.
    sim = _post(
        client,
        f"/cases/{draft}/simulate",
        {"csrf_token": csrf, "run_key": "sim-2", "on": "2026-12-10"},
    )
    assert f'<tr data-case="{running}">' in sim.text

    client.login("nanjing")  # no targeting:run
    assert (
        _post(
            client,
            f"/cases/{running}/simulate",
            {"csrf_token": client.csrf(), "run_key": "x", "on": "2026-12-10"},
        ).status_code
        == 403
    )


def test_out_of_scope_cases_are_not_found(app: tuple[AuthApp, int, Any]) -> None:
    client, _, db = app
    http = client.client
    with UnitOfWork(db, actor=Actor(username="nanjing", scope_path="/P/C01/")) as uow:
        from telmark.cases import planning
        from tests._factories.cases import plan

        case_id = planning.create_case(uow=uow, spec=plan("C01", None)).case.id
    csrf = client.login("nanjing")
    assert http.get(f"/cases/{case_id}").status_code == 200
    assert 'id="edit-case"' in http.get(f"/cases/{case_id}").text
    csrf = client.login("suzhou")
    for path in (f"/cases/{case_id}", f"/cases/{case_id}/edit", f"/cases/{case_id}/issue"):
        assert http.get(path).status_code == 404, path
    for path in (f"/cases/{case_id}/act", f"/cases/{case_id}/edit", f"/cases/{case_id}/issue"):
        assert _post(client, path, {"csrf_token": csrf, "action": "submit"}).status_code == 404
    client.login("nanjing.district")  # below the city: reads, never changes the city's case
    assert http.get(f"/cases/{case_id}").status_code == 404
    client.login("planner")  # the province manages every city's cases
    assert 'id="edit-case"' in http.get(f"/cases/{case_id}").text
