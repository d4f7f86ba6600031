"""The generated province: contract validity, cross-table consistency and realism."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from telmark.warehouse.contract import CONTRACT, TRUTH
from telmark.warehouse.generator import GenerationReport, generate_province
from telmark.warehouse.generator.names import CITIES
from telmark.warehouse.generator.targets import REALISM_TARGETS
from tests.unit._generator_checks import SPECS, consistency_problems, contract_problems, read_table

END = date(2025, 6, 1)  # January 2025 holds the Spring Festival (29 January)
SUBSCRIBERS = 20_000


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationReport]:
    out = tmp_path_factory.mktemp("province") / "generated"
    report = generate_province(
        out_dir=out, subscribers=SUBSCRIBERS, months=6, seed=7, end_month=END, workers=1
    )
    return out, report


@pytest.fixture(scope="module")
def db(province: tuple[Path, GenerationReport]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name in SPECS:
        con.register(name, read_table(province[0], name))
    return con


def one(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    value = con.execute(sql).fetchall()[0][0]
    return float(value)


def test_report_and_manifest_describe_the_files(province: tuple[Path, GenerationReport]) -> None:
    out, report = province
    assert report.end_month == END
    assert report.subscribers == SUBSCRIBERS
    assert list(report.rows) == [*CONTRACT, *TRUTH]
    for name, count in report.rows.items():
        assert read_table(out, name).num_rows == count, name
    assert report.rows["subscribers"] == SUBSCRIBERS
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["params"] == {
        "subscribers": SUBSCRIBERS,
        "months": 6,
        "seed": 7,
        "end_month": "2025-06-01",
    }
    assert manifest["rows"] == report.rows
    assert manifest["generator_version"]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], "staging left over"


def test_every_table_keeps_the_contract(province: tuple[Path, GenerationReport]) -> None:
    assert contract_problems(province[0]) == []


def test_tables_agree_with_each_other(province: tuple[Path, GenerationReport]) -> None:
    problems = consistency_problems(
        province[0], first_month=date(2025, 1, 1), end_month=END, data_date=date(2025, 6, 30)
    )
    assert problems == []


MEASURES: dict[str, str] = {
    "monthly_port_out_rate": """
        SELECT avg(ported / live) FROM (
            SELECT u.month, count(*) AS live,
                   count(*) FILTER (WHERE date_trunc('month', s.port_out_date) = u.month) AS ported
            FROM usage_monthly u JOIN subscribers s USING (subscriber_id) GROUP BY u.month)""",
    "mean_arpu_yuan": "SELECT avg(arpu_fen) / 100 FROM usage_monthly",
    "prepaid_share": "SELECT avg((payment_type = 'prepaid')::INT) FROM subscribers",
    "five_g_plan_share": """
        SELECT avg(p.is_5g::INT) FROM subscribers s JOIN products p ON p.product_id = s.plan_id""",
    "five_g_handset_share": "SELECT avg(handset_5g::INT) FROM subscribers",
    "mean_dou_gb": "SELECT avg(data_mb) / 1024 FROM usage_monthly",
    "mean_mou_min": "SELECT avg(voice_min) FROM usage_monthly",
    "monthly_complaint_rate": """
        SELECT (SELECT count(*) FROM complaints) / (SELECT count(*) FROM usage_monthly)""",
    **{
        f"plan_share_{family}": f"""
            SELECT avg((p.family = '{family}')::INT)
            FROM subscribers s JOIN products p ON p.product_id = s.plan_id"""
        for family in ("5g_plan", "4g_plan", "converged", "family", "enterprise")
    },
    "sleeping_dog_share": "SELECT avg((uplift_gift < 0)::INT) FROM truth_response",
    "mean_base_propensity": "SELECT avg(base_propensity) FROM truth_response",
}


def test_every_target_has_a_measure() -> None:
    assert set(MEASURES) == set(REALISM_TARGETS)


@pytest.mark.parametrize("name", sorted(REALISM_TARGETS))
def test_headline_figures_fall_in_the_documented_range(
    db: duckdb.DuckDBPyConnection, name: str
) -> None:
    target = REALISM_TARGETS[name]
    value = one(db, MEASURES[name])
    assert target.low <= value <= target.high, f"{name} = {value:.4f}"


def test_documentation_states_every_target() -> None:
    text = (Path(__file__).parents[2] / "docs" / "generator.md").read_text(encoding="utf-8")
    for name, target in REALISM_TARGETS.items():
        assert name in text, name
        assert f"{target.low:g} – {target.high:g}" in text, name


def _monthly(db: duckdb.DuckDBPyConnection, expr: str) -> list[float]:
    rows = db.execute(f"SELECT {expr} FROM usage_monthly GROUP BY month ORDER BY month").fetchall()
    return [float(r[0]) for r in rows]


def test_data_use_rises_and_spring_festival_peaks(db: duckdb.DuckDBPyConnection) -> None:
    dou = _monthly(db, "avg(data_mb)")
    mou = _monthly(db, "avg(voice_min)")
    roaming = _monthly(db, "avg(roaming_fen)")
    # Months: Jan (Spring Festival) … Jun. Outside the festival DOU climbs each month.
    assert dou[1] < dou[3] < dou[5]
    assert mou[0] > 1.08 * max(mou[1:])
    assert roaming[0] > 1.5 * max(roaming[1:5])


def test_port_out_hazard_follows_its_drivers(db: duckdb.DuckDBPyConnection) -> None:
    db.execute("""
        CREATE OR REPLACE TEMP VIEW line_month AS
        SELECT u.subscriber_id, u.month,
               lag(u.dropped_calls) OVER (PARTITION BY u.subscriber_id ORDER BY u.month)
                   AS dropped_before,
               (date_trunc('month', s.port_out_date) = u.month) IS TRUE AS ported,
               EXISTS (SELECT 1 FROM complaints c WHERE c.subscriber_id = u.subscriber_id
                        AND c.created_at < u.month + INTERVAL 1 MONTH
                        AND c.created_at >= u.month - INTERVAL 2 MONTH) AS complained,
               s.contract_end >= u.month + INTERVAL 61 DAY AS bound,
               s.household_id IS NOT NULL AS in_household
        FROM usage_monthly u JOIN subscribers s USING (subscriber_id)
        WHERE s.join_date < u.month""")

    def rate(condition: str) -> float:
        return one(db, f"SELECT avg(ported::INT) FROM line_month WHERE {condition}")

    assert rate("complained") > 2.0 * rate("NOT complained")
    assert rate("dropped_before >= 4") > 1.5 * rate("dropped_before <= 1")
    assert rate("bound IS NOT TRUE") > 1.5 * rate("bound")
    assert rate("NOT in_household") > 1.3 * rate("in_household")


def test_truth_is_learnable_from_observables(db: duckdb.DuckDBPyConnection) -> None:
    older = one(
        db,
        """
        SELECT avg(t.uplift_subsidy) FROM truth_response t JOIN subscribers s USING (subscriber_id)
        WHERE s.handset_date < DATE '2022-06-30' AND NOT s.handset_5g""",
    )
    newer = one(
        db,
        """
        SELECT avg(t.uplift_subsidy) FROM truth_response t JOIN subscribers s USING (subscriber_id)
        WHERE s.handset_date > DATE '2024-06-30' AND s.handset_5g""",
    )
    assert older > 2 * newer
    # Sleeping dogs complain about marketing more: the same trait shows in the data.
    dogs = one(
        db,
        """
        SELECT count(c.complaint_id) / count(DISTINCT t.subscriber_id) FROM truth_response t
        LEFT JOIN complaints c ON c.subscriber_id = t.subscriber_id AND c.category = 'marketing'
        WHERE t.uplift_gift < 0""",
    )
    others = one(
        db,
        """
        SELECT count(c.complaint_id) / count(DISTINCT t.subscriber_id) FROM truth_response t
        LEFT JOIN complaints c ON c.subscriber_id = t.subscriber_id AND c.category = 'marketing'
        WHERE t.uplift_gift >= 0""",
    )
    assert dogs > 2 * others


def test_province_is_jiangsu_with_its_13_cities(db: duckdb.DuckDBPyConnection) -> None:
    cities = db.execute("SELECT name FROM org_units WHERE kind = 'city' ORDER BY org_id").fetchall()
    assert [c[0] for c in cities] == [c.name for c in CITIES]
    assert len(cities) == 13
    kinds = dict(db.execute("SELECT kind, count(*) FROM org_units GROUP BY kind").fetchall())
    assert kinds["province"] == 1
    assert kinds["key_account_centre"] == 14
    assert kinds["district"] == sum(len(c.districts) for c in CITIES)
    # Bigger cities have more lines: Suzhou (12.7M people) outnumbers Zhenjiang (3.2M).
    by_city = dict(
        db.execute("""
        SELECT c.name, count(*) FROM subscribers s JOIN org_units o ON o.org_id = s.org_id
        JOIN org_units d ON d.org_id = o.parent_id JOIN org_units c ON c.org_id = d.parent_id
        GROUP BY c.name""").fetchall()
    )
    assert by_city["苏州市"] > 3 * by_city["镇江市"]


def test_staff_span_three_levels_and_ten_grades(db: duckdb.DuckDBPyConnection) -> None:
    levels = {r[0] for r in db.execute("SELECT DISTINCT level FROM staff").fetchall()}
    grades = {r[0] for r in db.execute("SELECT DISTINCT grade FROM staff").fetchall()}
    assert levels == {1, 2, 3}
    assert grades == set(range(1, 11))


def test_catalog_covers_every_product_family(db: duckdb.DuckDBPyConnection) -> None:
    families = {r[0] for r in db.execute("SELECT DISTINCT family FROM products").fetchall()}
    assert families == set(CONTRACT["products"].column("family").allowed or ())
    held = {
        r[0]
        for r in db.execute("""
        SELECT DISTINCT p.family FROM subscriptions x JOIN products p USING (product_id)
    """).fetchall()
    }
    assert held == families


def test_contact_history_targets_plausible_lines(db: duckdb.DuckDBPyConnection) -> None:
    """Campaigns reach the lines they are about, and no line is contacted by every one."""
    share = dict(
        db.execute("""
        SELECT coalesce(c.case_code, 'legacy'), count(DISTINCT c.subscriber_id)
        FROM contact_history c GROUP BY ALL""").fetchall()
    )
    # Every campaign of the six-month window, the legacy one without a case code.
    assert sorted(share) == [
        "YX202503-CONVERGE",
        "YX202504-ENTCARE",
        "YX202504-RENEW",
        "YX202505-5GUP",
        "YX202505-DATAPACK",
        "YX202506-RENEW",
        "legacy",
    ]
    lines = one(db, "SELECT count(*) FROM subscribers")
    contacted = one(db, "SELECT count(DISTINCT subscriber_id) FROM contact_history")
    assert 0.05 < contacted / lines < 0.5
    upgrade_5g = one(
        db,
        """
        SELECT avg(CAST(s.handset_5g AS INT)) FROM contact_history c
        JOIN subscribers s USING (subscriber_id) WHERE c.case_code LIKE '%-5GUP'""",
    )
    assert upgrade_5g == 0.0  # the 5G upgrade goes to lines on 4G handsets only
    renewal = one(
        db,
        """
        SELECT avg(CAST(s.contract_end IS NOT NULL AS INT)) FROM contact_history c
        JOIN subscribers s USING (subscriber_id) WHERE c.case_code = 'YX202506-RENEW'""",
    )
    base = one(db, "SELECT avg(CAST(contract_end IS NOT NULL AS INT)) FROM subscribers")
    assert renewal > 0.95 > base
    enterprise = one(
        db,
        """
        SELECT avg(CAST(s.account_id IS NOT NULL AS INT)) FROM contact_history c
        JOIN subscribers s USING (subscriber_id) WHERE c.case_code LIKE '%-ENTCARE'""",
    )
    assert enterprise == 1.0
    responded = dict(
        db.execute("""
        SELECT channel IN ('outbound_call', 'frontline_task'),
               avg(CAST(outcome = 'responded' AS INT))
        FROM contact_history WHERE case_code IS NOT NULL GROUP BY 1""").fetchall()
    )
    assert 0.005 < responded[False] < 0.05 < responded[True] < 0.3  # people answer people
