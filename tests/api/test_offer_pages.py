"""The offer book in the console: the book and its filters, an offer's terms, economics, pools
and redemptions, the draft editor (refusals beside their fields, the live preview, the tool
fieldsets), activation and retirement rights, and a lottery draw with its replay."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from telmark.auth.permissions import Role
from telmark.uow import UnitOfWork
from tests._factories.auth import make_user
from tests._factories.auth_client import AuthApp
from tests._factories.market import province_app, sample_warehouse
from tests._factories.offers import add_products, lottery, offer_doc
from tests._factories.warehouse import FactoryWarehouse


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> FactoryWarehouse:
    return sample_warehouse(tmp_path_factory.mktemp("offer-pages"))


@pytest.fixture
def app(
    tmp_path: Path, db: sessionmaker[Session], warehouse: FactoryWarehouse
) -> Iterator[AuthApp]:
    with UnitOfWork(db) as uow:
        add_products(uow.session)
        uow.commit()
    yield from province_app(tmp_path, db, warehouse)


def _api(app: AuthApp, path: str, csrf: str, body: Any = None, **headers: str) -> Any:
    response = app.client.post(path, json=body, headers={"X-CSRF-Token": csrf, **headers})
    assert response.status_code in (200, 201), response.text
    return response.json()


def _book(app: AuthApp) -> str:
    """A draft gift offer A and an active lottery-and-points offer L; the planner's CSRF token."""
    csrf = app.login("planner")
    _api(app, "/api/offers", csrf, offer_doc("A"))
    points = {"tool": "points", "multiplier_bp": 20_000, "base_points_per_month": 100, "months": 6}
    prizes = lottery(("phone", 250_000, 100_000, 2), ("cup", 500_000, 500, 100), budget_fen=500_000)
    _api(app, "/api/offers", csrf, offer_doc("L", points, prizes, excludes=["A"]))
    _api(app, "/api/offers/L/activate", csrf)
    return csrf


def _rows(html: str, attribute: str) -> list[str]:
    return re.findall(rf'<tr {attribute}="([^"]+)"', html)


def _found(pattern: str, html: str) -> str:
    match = re.search(pattern, html)
    assert match is not None, pattern
    return match.group(1)


def _error(html: str, path: str) -> str:
    found = re.search(rf'data-field-error="{re.escape(path)}"[^>]*>([^<]*)<', html)
    assert found is not None, f"no error place for {path}"
    return found.group(1)


def _editor_form(csrf: str, **overrides: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "code": "NEW-GIFT",
        "name": "新装送耳机",
        "action": "new",
        "product_codes": "PL5G079, PL5G099",
        "valid_from": "2026-01-01",
        "valid_to": "",
        "excludes": "",
        "description": "",
        "eligibility": "",
        "t0.tool": "gift",
        "t0.item": "蓝牙耳机",
        "t0.unit_cost_fen": "20.5",
        "t0.stock": "300",
        "economics.incremental_monthly_revenue_fen": "20",
        "economics.channel_cost_share_bp": "10",
        "economics.co_funding_bp": "0",
    }
    form.update(overrides)
    return form


def test_the_book_lists_offers_with_tools_economics_and_pools(app: AuthApp) -> None:
    _book(app)
    client = app.client
    page = client.get("/offers")
    assert page.status_code == 200
    assert _rows(page.text, "data-offer") == ["A", "L"]
    assert 'data-tool="lottery"' in page.text
    assert 'data-pool="prize:phone"' in page.text  # L is on sale: its pools are summarised
    assert 'href="/offers/eligibility"' in page.text
    assert 'id="new-offer"' in page.text  # the province planner may add offers
    # A: 20 yuan of gift, 18 yuan a month net of 10 % channel cost → paid back in 2 months.
    assert re.search(r'data-offer="A".*?data-payback="2"', page.text, re.S)

    assert _rows(client.get("/offers", params={"tool": "lottery"}).text, "data-offer") == ["L"]
    assert _rows(client.get("/offers", params={"status": "draft"}).text, "data-offer") == ["A"]
    english = client.get("/offers", params={"lang": "en"})
    assert "Lottery" in english.text
    assert "Net monthly contribution" in english.text

    app.login("approver")  # reads the book, changes nothing
    read_only = client.get("/offers")
    assert read_only.status_code == 200
    assert 'id="new-offer"' not in read_only.text
    app.login("agent")  # front line: no aggregate reads
    assert client.get("/offers").status_code == 403


def test_the_offer_page_shows_terms_economics_pools_and_versions(app: AuthApp) -> None:
    _book(app)
    page = app.client.get("/offers/L", params={"lang": "en"})
    assert page.status_code == 200
    text = page.text
    assert 'data-tool="points"' in text
    assert 'data-tool="lottery"' in text
    assert "×2" in text  # the multiplier as a factor, not 20000 bp
    assert "25%" in text  # the phone's odds as a percentage, not 250000 ppm
    assert "600" in _found(r'data-derived="points">([^<]*)<', text)
    assert '<a href="/offers/A"><code>A</code></a>' in text
    assert '<a href="/catalog/XPACK10"><code>XPACK10</code></a>' in text
    # Points: 600 extra points at 1 fen; lottery: 25 % × 1000 yuan + 50 % × 5 yuan = 252.50 yuan.
    incentive = re.search(r'data-economics="incentive_cost_fen">([^<]*)<', text)
    assert incentive is not None
    assert "258.50" in incentive.group(1)
    data = json.loads(_found(r'id="economics-data">([^<]*)<', text))
    assert data["payback"] == 15  # 25 850 fen / 1 800 fen a month, a part month is a month
    assert data["cumulativeYuan"][0] == -258.5
    assert data["cumulativeYuan"][15] > 0 > data["cumulativeYuan"][14]
    assert 'data-pool="prize:phone"' in text
    assert 'data-pool="lottery"' in text
    assert _rows(text, "data-version") == ["1"]
    assert 'id="activate-form"' not in text  # already on sale
    assert 'id="retire-form"' in text


def test_the_editor_refuses_beside_the_fields_and_saves_nothing(app: AuthApp) -> None:
    csrf = app.login("planner")
    client = app.client
    assert client.get("/offers/new").status_code == 200
    refused = client.post(
        "/offers/new", data=_editor_form(csrf, **{"t0.unit_cost_fen": "abc", "t0.stock": "0"})
    )
    assert refused.status_code == 422
    assert _error(refused.text, "tools[0].unit_cost_fen")
    assert "greater than or equal to 1" in _error(refused.text, "tools[0].stock")
    assert 'name="t0.unit_cost_fen" value="abc"' in refused.text  # what was typed is kept
    assert client.get("/api/offers/NEW-GIFT").status_code == 404

    # The service's own check (the catalog) lands beside the products.
    refused = client.post("/offers/new", data=_editor_form(csrf, product_codes="PL5G079 NOPE"))
    assert refused.status_code == 422
    assert "NOPE" in _error(refused.text, "product_codes")
    assert client.get("/api/offers/NEW-GIFT").status_code == 404

    saved = client.post("/offers/new", data=_editor_form(csrf), follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == "/offers/NEW-GIFT?done=created"
    offer = client.get("/api/offers/NEW-GIFT").json()
    assert offer["tools"] == [
        {"tool": "gift", "item": "蓝牙耳机", "unit_cost_fen": 2_050, "stock": 300}
    ]
    assert offer["economics_in"] == {
        "incremental_monthly_revenue_fen": 2_000,
        "channel_cost_share_bp": 1_000,
        "co_funding_bp": 0,
    }
    # The edit form starts from the saved terms, in yuan and percent.
    edit = client.get("/offers/NEW-GIFT/edit")
    assert 'name="t0.unit_cost_fen" value="20.5"' in edit.text
    assert 'name="economics.channel_cost_share_bp" value="10"' in edit.text
    again = client.post(
        "/offers/NEW-GIFT/edit",
        data=_editor_form(csrf, **{"t0.stock": "500"}),
        follow_redirects=False,
    )
    assert again.status_code == 303
    assert client.get("/api/offers/NEW-GIFT").json()["version"] == 2
    taken = client.post("/offers/new", data=_editor_form(csrf))
    assert taken.status_code == 422
    assert "already exists" in _error(taken.text, "code")


def test_the_preview_computes_economics_without_saving(app: AuthApp) -> None:
    csrf = app.login("planner")
    client = app.client
    form = _editor_form(csrf, code="", name="", product_codes="")
    form |= {
        "t1.tool": "lottery",
        "t1.budget_fen": "1000",
        "t1.prizes.0.code": "phone",
        "t1.prizes.0.name": "手机",
        "t1.prizes.0.odds_ppm": "1",
        "t1.prizes.0.unit_cost_fen": "2000",
        "t1.prizes.0.stock": "3",
    }
    preview = client.post("/offers/preview", data=form)
    assert preview.status_code == 200
    # 20.50 yuan of gift + 1 % × 2000 yuan of phone; unnamed is fine for a preview.
    incentive = re.search(r'data-economics="incentive_cost_fen">([^<]*)<', preview.text)
    assert incentive is not None
    assert "40.50" in incentive.group(1)
    assert 'id="economics-data"' in preview.text

    form["t1.prizes.0.odds_ppm"] = "101"
    invalid = client.post("/offers/preview", data=form)
    assert invalid.status_code == 200  # HTMX swaps only successful answers
    assert 'data-economics="incentive_cost_fen"' not in invalid.text
    assert "less than or equal to 1000000" in _error(invalid.text, "tools[1].prizes[0].odds_ppm")
    assert 'hx-swap-oob="true"' in invalid.text
    assert _error(invalid.text, "tools[0].unit_cost_fen") == ""  # fine fields are cleared
    assert client.get("/api/offers").json() == []


def test_tools_are_added_and_removed_as_fieldsets(app: AuthApp) -> None:
    csrf = app.login("planner")
    client = app.client
    form = _editor_form(csrf, add_tool="lottery")
    added = client.post("/offers/editor/tools", data=form)
    assert added.status_code == 200
    assert re.findall(r'<fieldset class="tool-fieldset" data-tool="(\w+)"', added.text) == [
        "gift",
        "lottery",
    ]
    assert 'name="t1.prizes.2.odds_ppm"' in added.text  # three prize rows to start with
    assert 'name="t0.item" value="蓝牙耳机"' in added.text  # the gift keeps what was typed
    assert '<option value="gift">' not in added.text  # a tool appears once per offer
    removed = client.post("/offers/editor/tools", data=_editor_form(csrf, remove_tool="0"))
    assert 'data-tool="gift"' not in removed.text


def test_only_province_offer_managers_activate_and_retire(
    app: AuthApp, db: sessionmaker[Session]
) -> None:
    with UnitOfWork(db) as uow:
        make_user(uow, "nj.planner", org="C01", roles=[Role.MARKETING_PLANNER])
    _book(app)
    client = app.client
    for user in ("approver", "nanjing"):  # no offers:manage
        csrf = app.login(user)
        page = client.get("/offers/A")
        assert page.status_code == 200
        assert 'id="activate-form"' not in page.text
        denied = client.post("/offers/A/activate", data={"csrf_token": csrf})
        assert denied.status_code == 403
    csrf = app.login("nj.planner")  # offers:manage, but in a city: the book is province-wide
    assert 'id="activate-form"' not in client.get("/offers/A").text
    assert client.post("/offers/A/activate", data={"csrf_token": csrf}).status_code == 403
    assert client.get("/api/offers/A").json()["status"] == "draft"

    csrf = app.login("planner")
    page = client.get("/offers/A")
    assert 'id="activate-form"' in page.text
    assert 'id="edit-offer"' in page.text
    assert client.post("/offers/A/activate").status_code == 403  # no CSRF token
    done = client.post("/offers/A/activate", data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert client.get("/api/offers/A").json()["status"] == "active"
    assert client.get("/offers/A/edit").status_code == 409  # only a draft is edited
    done = client.post("/offers/A/retire", data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert 'data-status="retired"' in page.text
    assert 'id="retire-form"' not in page.text


def _subscriber(warehouse: FactoryWarehouse, prefix: str) -> int:
    rows = warehouse.tables["subscribers"].select(["subscriber_id", "org_id"]).to_pylist()
    return int(next(r["subscriber_id"] for r in rows if str(r["org_id"]).startswith(prefix)))


def test_redemptions_in_scope_and_a_draw_replayed(
    app: AuthApp, warehouse: FactoryWarehouse
) -> None:
    csrf = app.login("planner")
    certain = lottery(("phone", 1_000_000, 100, 1), budget_fen=1_000)
    _api(app, "/api/offers", csrf, offer_doc("W", certain))
    _api(app, "/api/offers/W/activate", csrf)
    csrf = app.login("agent")
    line = _subscriber(warehouse, "C01D1O1")
    redemption = _api(
        app, "/api/offers/W/redeem", csrf, {"subscriber_id": line}, **{"Idempotency-Key": "p-1"}
    )
    draw_id = redemption["draw"]["id"]
    client = app.client

    app.login("nanjing")  # the city of the line
    page = client.get("/offers/W")
    assert _rows(page.text, "data-redemption") == [str(redemption["id"])]
    assert f'href="/draws/{draw_id}"' in page.text
    draw = client.get(f"/draws/{draw_id}", params={"lang": "en"})
    assert draw.status_code == 200
    assert redemption["draw"]["seed"] in draw.text
    assert 'data-prize="phone"' in draw.text
    replay = client.get(f"/draws/{draw_id}/replay", params={"lang": "en"})
    assert 'data-matches="true"' in replay.text
    assert "matches the recorded draw" in replay.text

    app.login("suzhou")  # another city: neither the redemption nor its draw
    assert _rows(client.get("/offers/W").text, "data-redemption") == []
    assert client.get(f"/draws/{draw_id}").status_code == 404
    assert client.get(f"/draws/{draw_id}/replay").status_code == 404
    app.login("approver")  # judges aggregates: no customer:read, no redemptions panel
    assert 'id="offer-redemptions"' not in client.get("/offers/W").text
    assert client.get(f"/draws/{draw_id}").status_code == 403
