"""The experiment page in headless Chromium: upload a file, read the table, see the chart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from telmark.auth.permissions import Role
from telmark.config import Settings
from telmark.dbcli import upgrade_database
from telmark.uow import UnitOfWork
from tests._factories.auth import PASSWORD, make_user, seed_org
from tests._factories.warehouse import build_empty_warehouse
from tests.browser.conftest import LiveServer, PageProbe, _serve, login

pytestmark = pytest.mark.browser

PAGE = "/evaluation/experiments?lang=en"
# An error-bar chart is mostly blank canvas, so the overview's "painted pixels" threshold does
# not fit: here the chart must exist, hold an interval and a point per arm, and paint something.
CHART_DRAWN = """
(id) => {
  const el = document.getElementById(id);
  if (!el || typeof echarts === "undefined") return null;
  const chart = echarts.getInstanceByDom(el);
  const canvas = el.querySelector("canvas");
  if (!chart || !canvas || canvas.width === 0) return null;
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4 * 7) if (pixels[i] > 0) painted += 1;
  if (painted === 0) return null;
  return chart.getOption().series.map((s) => [s.type, (s.data || []).length]);
}
"""


@pytest.fixture(scope="module")
def evaluation_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app on an empty warehouse: the page reads only what is uploaded."""
    root = tmp_path_factory.mktemp("evaluation-live")
    url = build_empty_warehouse(root / "wh").url
    server, thread, address = _serve(Settings(data_dir=root / "data", warehouse_url=url))
    yield LiveServer(url=address, data_dir=root)
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture(autouse=True)
def signed_in(evaluation_server: LiveServer, probe: PageProbe) -> None:
    upgrade_database()
    with UnitOfWork() as uow:
        seed_org(uow)
        make_user(uow, "analyst", roles=[Role.ANALYST], display_name="分析员")
    login(probe, evaluation_server.url, "analyst", PAGE, PASSWORD)


def _experiment(path: Path) -> Path:
    lines = ["customer,group,took"]
    for group, takers in (("control", 30), ("offer A", 60), ("offer B", 33)):
        lines += [f"{group}-{i},{group},{'是' if i < takers else '否'}" for i in range(500)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_uploading_an_experiment_shows_the_arms_and_the_uplift_chart(
    evaluation_server: LiveServer, probe: PageProbe, tmp_path: Path
) -> None:
    page = probe.page
    page.goto(evaluation_server.url + PAGE)
    form = page.locator("#experiment-upload form")
    form.locator("input[name=file]").set_input_files(str(_experiment(tmp_path / "ab.csv")))
    form.locator("input[name=arm]").fill("group")
    form.locator("input[name=outcomes]").fill("took")
    form.get_by_role("button", name="Evaluate").click()
    page.wait_for_selector("#rates-0")
    rows = page.locator("#rates-0 tbody tr")
    assert rows.all_inner_texts()[0].startswith("control")
    assert [r.get_attribute("data-arm") for r in rows.all()] == ["control", "offer A", "offer B"]
    rates = page.locator("#rates-0 td[data-col=rate]").all_inner_texts()
    assert rates == ["6.00%", "12.00%", "6.60%"]
    uplift = page.locator("#comparisons-0 tr[data-arm='offer A'] td[data-col=uplift]")
    assert uplift.inner_text() == "+6.00 pp"
    significant = page.locator("#comparisons-0 td[data-col=significant]").all_inner_texts()
    assert significant == ["yes", "no"]
    drawn = page.wait_for_function(CHART_DRAWN, arg="uplift-chart-0").json_value()
    assert drawn == [["custom", 2], ["scatter", 2]]  # an interval and a point per arm
    assert probe.errors == []
    assert probe.foreign_requests() == []


def test_the_calculator_answers_on_the_same_page(
    evaluation_server: LiveServer, probe: PageProbe
) -> None:
    page = probe.page
    page.goto(evaluation_server.url + PAGE)
    calculator = page.locator("#mde-form")
    calculator.locator("input[name=mde_treatment]").fill("3000")
    calculator.locator("input[name=mde_control]").fill("3000")
    calculator.get_by_role("button", name="Detectable uplift").click()
    page.wait_for_selector("#mde-answer")
    assert "can detect ≥ 1.14 points" in page.locator("#mde-answer").inner_text()
