"""Segment console pages: rights, scope, the builder endpoint (count, node errors), saving."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from telmark.audit.models import AuditEntry
from telmark.segments import builder
from telmark.segments.compile import count
from telmark.segments.rules import parse_rule
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from telmark.warehouse.scope import scoped
from tests._factories.auth_client import AuthApp
from tests._factories.market import province_app, sample_warehouse
from tests._factories.warehouse import FactoryWarehouse

PREPAID = {
    "version": 1,
    "root": {"kind": "field", "field": "payment_type", "op": "=", "value": "prepaid"},
}
RICH = {
    "version": 1,
    "root": {
        "all": [
            {"kind": "field", "field": "payment_type", "op": "=", "value": "prepaid"},
            {"kind": "tenure_months", "op": ">=", "value": 6},
            {
                "not": {
                    "any": [
                        {"kind": "field", "field": "handset_5g", "op": "=", "value": True},
                        {"kind": "usage", "measure": "arpu_fen", "agg": "avg", "months": 3,
                         "op": "between", "value": [0, 1000]},
                    ]
                }
            },
        ]
    },
}  # fmt: skip


FIVE_G = {
    "version": 1,
    "root": {"kind": "field", "field": "handset_5g", "op": "=", "value": True},
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> FactoryWarehouse:
    return sample_warehouse(tmp_path_factory.mktemp("segment-pages"))


@pytest.fixture
def app(
    tmp_path: Path, db: sessionmaker[Session], warehouse: FactoryWarehouse
) -> Iterator[AuthApp]:
    yield from province_app(tmp_path, db, warehouse)


def _count(warehouse: FactoryWarehouse, rule: dict[str, Any], org: str | None = None) -> int:
    con = connect(warehouse.url)
    try:
        target = con if org is None else scoped(con, org_code=org, org_path=f"/P/{org}/")
        return count(target, parse_rule(rule))
    finally:
        con.disconnect()


def _shown_count(html: str) -> int | None:
    match = re.search(r'<output id="segment-count" data-count="(\d*)"', html)
    assert match is not None, html[:2000]
    return int(match.group(1)) if match.group(1) else None


def _post_builder(app: AuthApp, fields: dict[str, list[str]], **extra: str) -> tuple[int, str]:
    data: dict[str, list[str]] = {**fields, **{k: [v] for k, v in extra.items()}}
    response = app.client.post(
        "/segments/builder", data=data, headers={"X-CSRF-Token": app.csrf(), "HX-Request": "true"}
    )
    return response.status_code, response.text


def _save(app: AuthApp, url: str, rule: dict[str, Any], **meta: str) -> Any:
    data = {**builder.draft_to_form(rule), "csrf_token": [app.csrf()]}
    data.update({k: [v] for k, v in meta.items()})
    return app.client.post(url, data=data, follow_redirects=False)


def test_nav_list_and_rights(app: AuthApp) -> None:
    client = app.client
    assert client.get("/segments", follow_redirects=False).status_code == 303  # to the login
    app.login("approver")
    page = client.get("/segments")
    assert page.status_code == 200
    assert 'href="/segments"' in page.text  # the nav entry
    assert 'id="new-segment"' not in page.text  # approvers read, they do not define
    assert client.get("/segments/new").status_code == 403
    assert _post_builder(app, builder.draft_to_form(PREPAID))[0] == 403
    app.login("agent")  # no aggregate reads: no nav entry, no page
    assert 'href="/segments"' not in client.get("/customers").text
    assert client.get("/segments").status_code == 403


def test_nav_entry_follows_customers_before_the_catalog(app: AuthApp) -> None:
    app.login("planner")
    nav = app.client.get("/segments").text.split('<ul class="nav">')[1].split("</ul>")[0]
    links = re.findall(r'href="([^"]+)"', nav)
    assert links.index("/customers") + 1 == links.index("/segments")
    assert links.index("/segments") + 1 == links.index("/catalog")
    assert links.index("/catalog") < links.index("/market")


def test_builder_counts_validates_and_edits_the_tree(
    app: AuthApp, warehouse: FactoryWarehouse
) -> None:
    app.login("planner")
    app.client.cookies.set("telmark_lang", "en")
    page = app.client.get("/segments/new")
    assert page.status_code == 200
    assert "Add at least one condition to this group" in page.text
    assert _shown_count(page.text) is None
    for kind in builder.condition_kinds():  # every kind of the language can be added
        assert f'<option value="{kind}">' in page.text

    status, html = _post_builder(app, builder.draft_to_form(RICH))
    assert status == 200
    assert _shown_count(html) == _count(warehouse, RICH)
    assert 'data-valid="true"' in html

    # A button: add a tenure condition to the OR group inside the NOT (two levels down).
    fields = builder.draft_to_form(RICH)
    status, html = _post_builder(
        app,
        fields,
        action="add:root.all[2].not",
        **{"root.all[2].not:newkind": "tenure_months"},
    )
    assert 'data-path="root.all[2].not.any[2]"' in html
    # Its value is missing: the error is shown at that node, and no count.
    errors = re.search(r'data-errors-for="root.all\[2\].not.any\[2\]">(.*?)</ul>', html, re.S)
    assert errors is not None
    assert "Enter a value" in errors.group(1)
    assert _shown_count(html) is None

    # A typed error: text where a whole number belongs, reported at the node's value.
    bad = builder.draft_to_form(RICH)
    bad["root.all[1]:value"] = ["six"]
    status, html = _post_builder(app, bad)
    errors = re.search(r'data-errors-for="root.all\[1\]">(.*?)</ul>', html, re.S)
    assert errors is not None
    assert "six" in errors.group(1)

    # The count follows the as-of month and the caller's scope.
    months = re.findall(r'<option value="(\d{4}-\d{2}-01)"', html)
    assert len(months) >= 2
    status, html = _post_builder(app, builder.draft_to_form(RICH), as_of=months[-1])
    rule = parse_rule(RICH)
    con = connect(warehouse.url)
    try:
        expected = count(con, rule, as_of=date.fromisoformat(months[-1]))
    finally:
        con.disconnect()
    assert _shown_count(html) == expected
    app.login("nanjing")
    app.client.cookies.set("telmark_lang", "en")
    status, html = _post_builder(app, builder.draft_to_form(PREPAID))
    assert _shown_count(html) == _count(warehouse, PREPAID, org="C01")
    assert 0 < _count(warehouse, PREPAID, org="C01") < _count(warehouse, PREPAID)


def test_json_tab_accepts_a_document_and_reports_bad_text(
    app: AuthApp, warehouse: FactoryWarehouse
) -> None:
    app.login("planner")
    status, html = _post_builder(app, {}, source="json", tab="tree", rule_json=json.dumps(PREPAID))
    assert status == 200
    assert _shown_count(html) == _count(warehouse, PREPAID)
    assert 'name="root:field" ' in html or 'name="root:field"' in html
    status, html = _post_builder(app, {}, source="json", tab="json", rule_json="{not json")
    assert 'id="builder-errors"' in html
    assert "{not json" in html  # the text is kept for fixing


def test_save_edit_and_detail(app: AuthApp, db: sessionmaker[Session]) -> None:
    app.login("planner")
    refused = _save(app, "/segments", {"version": 1, "root": {"all": []}}, name="空", org_code="P")
    assert refused.status_code == 422
    assert 'data-errors-for="root"' in refused.text  # the empty group, at its node
    created = _save(app, "/segments", RICH, name="预付费老用户", org_code="C01", note="首版")
    assert created.status_code == 303
    location = created.headers["location"]
    segment_id = int(location.split("/")[2].split("?")[0])
    detail = app.client.get(location)
    assert detail.status_code == 200
    assert "预付费老用户" in detail.text
    assert "付费类型" in detail.text
    assert "预付费" in detail.text
    assert f"/segments/{segment_id}/insights" in detail.text
    edited = _save(app, f"/segments/{segment_id}/edit", PREPAID, name="预付费", note="只看预付费")
    assert edited.status_code == 303
    detail = app.client.get(f"/segments/{segment_id}")
    assert 'id="segment-version">v2<' in detail.text
    old = app.client.get(f"/segments/{segment_id}?version=1")
    assert "月均收入ARPU（分）" in old.text  # version 1's usage condition, in words
    assert "月均收入ARPU（分）" not in detail.text
    insights = app.client.get(f"/segments/{segment_id}/insights")
    assert insights.status_code == 200
    assert 'id="segment-data"' in insights.text
    assert 'href="/customers/' in insights.text  # planners may open customer 360
    # Errors render as pages (or next to the form), never as a server error.
    assert app.client.get(f"/segments/{segment_id}?version=9").status_code == 404
    assert app.client.get("/segments/999999").status_code == 404
    status, html = _post_builder(app, builder.draft_to_form(PREPAID), as_of="June")
    assert status == 422
    assert "as_of" in html
    status, html = _post_builder(app, builder.draft_to_form(PREPAID), action="add:root.any[3]")
    assert status == 422
    archived = app.client.post(
        f"/segments/{segment_id}/archive", data={"csrf_token": app.csrf()}, follow_redirects=False
    )
    assert archived.status_code == 303
    assert app.client.get(f"/segments/{segment_id}/edit").status_code == 409
    refused = _save(app, f"/segments/{segment_id}/edit", PREPAID, name="x", note="y")
    assert refused.status_code == 409
    assert 'id="form-errors"' in refused.text  # the builder again, with the reason
    restored = app.client.post(
        f"/segments/{segment_id}/restore", data={"csrf_token": app.csrf()}, follow_redirects=False
    )
    assert restored.headers["location"] == f"/segments/{segment_id}?done=restored"
    with UnitOfWork(db) as uow:
        entries = uow.session.scalars(
            select(AuditEntry).where(AuditEntry.entity_type == "segment_version")
        ).all()
        assert len(entries) >= 2


def test_city_manager_sees_only_their_city(app: AuthApp, warehouse: FactoryWarehouse) -> None:
    app.login("planner")
    nanjing = _save(app, "/segments", PREPAID, name="南京预付费", org_code="C01")
    suzhou = _save(app, "/segments", PREPAID, name="苏州预付费", org_code="C02")
    nj_id = int(nanjing.headers["location"].split("/")[2].split("?")[0])
    sz_id = int(suzhou.headers["location"].split("/")[2].split("?")[0])
    app.login("nanjing")
    listing = app.client.get("/segments").text
    assert "南京预付费" in listing
    assert "苏州预付费" not in listing
    for path in ("", "/edit", "/insights"):
        assert app.client.get(f"/segments/{sz_id}{path}").status_code == 404, path
    insights = app.client.get(f"/segments/{nj_id}/insights").text
    shown = re.search(r'id="insight-count" data-count="(\d+)"', insights)
    assert shown is not None
    assert 0 < int(shown.group(1)) < _count(warehouse, PREPAID)
    overlap = app.client.get(f"/segments/overlap?ids={nj_id}&ids={sz_id}")
    assert overlap.status_code == 404
    # Creating in another city is refused and re-renders the form.
    refused = _save(app, "/segments", PREPAID, name="越权", org_code="C02")
    assert refused.status_code == 404


def test_overlap_page(app: AuthApp) -> None:
    app.login("planner")
    ids = []
    for name, rule in (("预付费", PREPAID), ("5G终端", FIVE_G)):
        response = _save(app, "/segments", rule, name=name, org_code="P")
        ids.append(int(response.headers["location"].split("/")[2].split("?")[0]))
    page = app.client.get("/segments/overlap", params={"ids": ids})
    assert page.status_code == 200
    assert 'id="overlap-data"' in page.text
    assert 'id="overlap-table"' in page.text
    single = app.client.get("/segments/overlap", params={"ids": ids[:1]})
    assert single.status_code == 422
    assert 'class="form-error"' in single.text


def test_freeze_a_snapshot_from_the_detail_page(app: AuthApp, warehouse: FactoryWarehouse) -> None:
    app.login("planner")
    created = _save(app, "/segments", PREPAID, name="预付费", org_code="C01")
    segment_id = int(created.headers["location"].split("/")[2].split("?")[0])
    detail = app.client.get(f"/segments/{segment_id}").text
    assert 'id="freeze-snapshot"' in detail
    assert 'id="no-snapshots"' in detail
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', detail)
    assert key is not None
    form = {"version": "1", "idempotency_key": key.group(1), "csrf_token": app.csrf()}
    headers = {"HX-Request": "true"}
    first = app.client.post(f"/segments/{segment_id}/snapshots", data=form, headers=headers)
    again = app.client.post(f"/segments/{segment_id}/snapshots", data=form, headers=headers)
    assert first.status_code == again.status_code == 200
    rows = re.findall(r'<tr data-snapshot="(\d+)">', again.text)
    assert len(rows) == 1  # the same key froze one list, not two
    members = re.search(r'<td class="num">([\d,]+)</td>', again.text)
    assert members is not None
    assert int(members.group(1).replace(",", "")) == _count(warehouse, PREPAID)
    assert f"/api/segments/snapshots/{rows[0]}/export?format=csv" in again.text
    app.login("approver")  # reads the list, may neither freeze nor export
    detail = app.client.get(f"/segments/{segment_id}").text
    assert f'data-snapshot="{rows[0]}"' in detail
    assert 'id="freeze-snapshot"' not in detail
    assert "/export?format=csv" not in detail
    app.login("suzhou")
    assert app.client.post(
        f"/segments/{segment_id}/snapshots", data={**form, "csrf_token": app.csrf()}
    ).status_code in (403, 404)


def test_new_condition_kinds_get_widgets_from_the_model(
    app: AuthApp, warehouse: FactoryWarehouse
) -> None:
    """``segment`` and ``contacted`` appear in the builder without builder code of their own."""
    app.login("planner")
    saved = _save(app, "/segments", PREPAID, name="预付费", org_code="P")
    saved_id = saved.headers["location"].split("/")[2].split("?")[0]
    reference = {"version": 1, "root": {"kind": "segment", "segment_id": int(saved_id)}}
    status, html = _post_builder(app, builder.draft_to_form(reference))
    assert status == 200
    # The saved segments are offered by name, and the reference counts the same members.
    assert f'<option value="{saved_id}" selected>预付费 (#{saved_id})</option>' in html
    assert _shown_count(html) == _count(warehouse, PREPAID)
    contacted = {"version": 1, "root": {"kind": "contacted", "days": 30, "channels": ["sms"]}}
    status, html = _post_builder(app, builder.draft_to_form(contacted))
    assert 'name="root:channels" value="sms" checked' in html  # a checkbox per channel
    assert 'name="root:outcomes" value="reached"' in html
    assert 'name="root:case_codes"' in html  # free text: comma-separated codes
    assert 'name="root:days"' in html
