"""The outbox over HTTP: templates checked and previewed, a run loaded once, scoped reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy.orm import Session, sessionmaker

from telmark.auth import passwords
from tests._factories.auth_client import FAST_HASHER, AuthApp
from tests._factories.market import province_app, sample_warehouse
from tests._factories.warehouse import FactoryWarehouse
from tests._support.outbox import add_case, add_run, list_row

TEMPLATE = "尊敬的客户，{{ city_name }}为您准备了{{ plan_name }}的续约礼包，回复1办理。"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> FactoryWarehouse:
    return sample_warehouse(tmp_path_factory.mktemp("outbox-api"))


@pytest.fixture
def app(
    tmp_path: Path, db: sessionmaker[Session], warehouse: FactoryWarehouse
) -> Iterator[tuple[AuthApp, int, int]]:
    with mock.patch.object(passwords, "_HASHER", FAST_HASHER):
        for built in province_app(tmp_path, db, warehouse):
            with db() as session:
                case_id = add_case(session)
                rows = [
                    list_row(case_id, "RENEW", i, city_id="C01" if i % 2 else "C02",
                             outlet_id=None, group="control" if i % 5 == 0 else "treatment")
                    for i in range(1, 41)
                ] + [list_row(case_id, "RENEW", 41, channel="outbound_call")]  # fmt: skip
                run_id = add_run(session, tmp_path / "targeting", rows)
                session.commit()
            yield built, case_id, run_id


def test_a_template_is_checked_previewed_and_a_run_loaded_once(
    app: tuple[AuthApp, int, int],
) -> None:
    client, case_id, run_id = app
    headers = {"X-CSRF-Token": client.login("planner")}
    api = client.client
    url = f"/api/execution/cases/{case_id}/templates"

    # Loading before the case has an SMS text names what is missing; nothing is loaded.
    refused = api.post(f"/api/execution/runs/{run_id}/load", headers=headers)
    assert refused.status_code == 422, refused.text
    assert "RENEW/sms" in refused.text

    typo = api.put(url, json={"channel": "sms", "body": "{{ offer_nmae }}"}, headers=headers)
    assert typo.status_code == 422
    assert "offer_nmae" in typo.text

    saved = api.put(url, json={"channel": "sms", "body": TEMPLATE}, headers=headers)
    assert saved.status_code == 200, saved.text
    assert saved.json()["variables"] == ["city_name", "plan_name"]

    preview = api.post(
        f"{url}/preview",
        json={"channel": "sms", "body": TEMPLATE, "run_id": run_id, "samples": 2},
        headers=headers,
    )
    assert preview.status_code == 200, preview.text
    samples = preview.json()["samples"]
    assert len(samples) == 2
    assert all(s["body"].startswith("尊敬的客户，") and "{{" not in s["body"] for s in samples)
    assert all(s["sms_coding"] == "UCS2" and s["sms_segments"] == 1 for s in samples)
    assert all("msisdn" not in s["values"] for s in samples)

    loaded = api.post(f"/api/execution/runs/{run_id}/load", headers=headers)
    assert loaded.status_code == 200, loaded.text
    body = loaded.json()
    # 40 listed by SMS, every fifth a control (kept out), one outbound call (not sent here).
    assert (body["inserted"], body["control"], body["not_dispatched"]) == (32, 8, 1)
    again = api.post(f"/api/execution/runs/{run_id}/load", headers=headers).json()
    assert (again["inserted"], again["already_loaded"]) == (0, 32)

    counts = api.get("/api/execution/outbox/counts", params={"run_id": run_id}).json()
    assert {(c["city_id"], c["state"], c["count"]) for c in counts} == {
        ("C01", "planned", 16),
        ("C02", "planned", 16),
    }
    page = api.get("/api/execution/outbox", params={"case_id": case_id, "page_size": 5}).json()
    assert page["total"] == 32
    assert all("****" in row["address"] for row in page["items"])


def test_a_city_sees_its_own_rows_and_may_not_load(app: tuple[AuthApp, int, int]) -> None:
    client, case_id, run_id = app
    headers = {"X-CSRF-Token": client.login("planner")}
    api = client.client
    api.put(
        f"/api/execution/cases/{case_id}/templates",
        json={"channel": "sms", "body": TEMPLATE},
        headers=headers,
    )
    assert api.post(f"/api/execution/runs/{run_id}/load", headers=headers).status_code == 200
    api.post("/logout", headers=headers)

    headers = {"X-CSRF-Token": client.login("nanjing")}
    counts = api.get("/api/execution/outbox/counts").json()
    assert {c["city_id"] for c in counts} == {"C01"}
    assert api.get("/api/execution/outbox").json()["total"] == 16
    refused = api.post(f"/api/execution/runs/{run_id}/load", headers=headers)
    assert refused.status_code == 403
