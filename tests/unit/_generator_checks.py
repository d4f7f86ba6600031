"""Contract checks of a generated province, shared by the generator tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from telmark.warehouse.contract import CONTRACT, TRUTH, TableSpec
from telmark.warehouse.generator.writer import arrow_schema

SPECS: dict[str, TableSpec] = {**CONTRACT, **TRUTH}


def read_table(root: Path, name: str) -> pa.Table:
    return ds.dataset(root / name, format="parquet").to_table()


def contract_problems(root: Path) -> list[str]:
    """Every way the Parquet under ``root`` breaks the contract (empty when valid)."""
    problems: list[str] = []
    con = duckdb.connect()
    for name, spec in SPECS.items():
        files = sorted((root / name).glob("part-*.parquet"))
        if not files:
            problems.append(f"{name}: no part files")
            continue
        table = read_table(root, name)
        expected = arrow_schema(spec)
        if table.schema.names != expected.names or table.schema.types != expected.types:
            problems.append(f"{name}: schema {table.schema} != {expected}")
            continue
        con.register(name, table)
        for column in spec.columns:
            values = table.column(column.name)
            if column.required and values.null_count:
                problems.append(f"{name}.{column.name}: {values.null_count} nulls")
            present = pc.drop_null(values)
            if not len(present):
                continue
            if column.minimum is not None and pc.min(present).as_py() < column.minimum:
                problems.append(f"{name}.{column.name}: below {column.minimum}")
            if column.maximum is not None and pc.max(present).as_py() > column.maximum:
                problems.append(f"{name}.{column.name}: above {column.maximum}")
            if column.allowed is not None:
                seen = set(pc.unique(present).to_pylist())
                if not seen <= set(column.allowed):
                    problems.append(f"{name}.{column.name}: {seen - set(column.allowed)}")
            if column.pattern is not None:
                ok = pc.all(pc.match_substring_regex(present, column.pattern)).as_py()
                if not ok:
                    problems.append(f"{name}.{column.name}: values off pattern {column.pattern}")
        key = ", ".join(spec.key)
        dupes = con.execute(
            f"SELECT count(*) FROM (SELECT {key} FROM {name} GROUP BY {key} HAVING count(*) > 1)"
        ).fetchall()[0][0]
        if dupes:
            problems.append(f"{name}: {dupes} duplicate keys ({key})")
    for name, spec in SPECS.items():
        for column, target, target_column in spec.references:
            dangling = con.execute(
                f"SELECT count(*) FROM {name} a WHERE a.{column.name} IS NOT NULL AND NOT EXISTS "
                f"(SELECT 1 FROM {target} b WHERE b.{target_column} = a.{column.name})"
            ).fetchall()[0][0]
            if dangling:
                problems.append(f"{name}.{column.name}: {dangling} dangling references")
    return problems


# Each query counts rows breaking one cross-table rule the contract cannot express.
CONSISTENCY_RULES: dict[str, str] = {
    "plan is a plan or bundle of the line's payment type": """
        SELECT count(*) FROM subscribers s JOIN products p ON p.product_id = s.plan_id
        WHERE p.kind NOT IN ('plan', 'bundle')
           OR p.payment_type NOT IN (s.payment_type, 'any')""",
    "msisdn unique": "SELECT count(*) - count(DISTINCT msisdn) FROM subscribers",
    "msisdn prefix is a China Mobile segment": """
        SELECT count(*) FROM subscribers WHERE substr(msisdn, 1, 3) NOT IN (
            '134','135','136','137','138','139','147','150','151','152','157','158','159',
            '172','178','182','183','184','187','188','195','197','198')""",
    "ID check digit valid (ISO 7064 MOD 11-2)": """
        SELECT count(*) FROM (
            SELECT id_number, list_sum(list_transform(range(17),
                lambda i: (ascii(substr(id_number, i + 1, 1)) - 48)
                     * [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2][i + 1])) % 11 AS r
            FROM subscribers)
        WHERE substr(id_number, 18, 1) != substr('10X98765432', CAST(r AS BIGINT) + 1, 1)""",
    "ID 17th digit parity matches gender": """
        SELECT count(*) FROM subscribers
        WHERE (CAST(substr(id_number, 17, 1) AS INT) % 2 = 1) != (gender = 'M')""",
    "ID birth year matches birth_year": """
        SELECT count(*) FROM subscribers
        WHERE CAST(substr(id_number, 7, 4) AS INT) != birth_year""",
    "ID birth date is a real date": """
        SELECT count(*) FROM subscribers
        WHERE try_strptime(substr(id_number, 7, 8), '%Y%m%d') IS NULL""",
    "grid and outlet are a grid and an outlet of one district": """
        SELECT count(*) FROM subscribers s
        JOIN org_units o ON o.org_id = s.org_id JOIN org_units g ON g.org_id = s.grid_id
        WHERE o.kind != 'outlet' OR g.kind != 'grid' OR o.parent_id != g.parent_id""",
    "household members live in the household's grid": """
        SELECT count(*) FROM subscribers s JOIN households h USING (household_id)
        WHERE s.grid_id != h.grid_id""",
    "household bundle is a converged bundle": """
        SELECT count(*) FROM households h JOIN products p ON p.product_id = h.bundle_id
        WHERE p.kind != 'bundle'""",
    "every household and account has a member line": """
        SELECT (SELECT count(*) FROM households WHERE household_id NOT IN
                    (SELECT household_id FROM subscribers WHERE household_id IS NOT NULL))
             + (SELECT count(*) FROM enterprise_accounts WHERE account_id NOT IN
                    (SELECT account_id FROM subscribers WHERE account_id IS NOT NULL))""",
    "accounts are served by a key-account centre's account manager": """
        SELECT count(*) FROM enterprise_accounts a JOIN org_units o USING (org_id)
        JOIN staff m ON m.staff_id = a.account_manager_id
        WHERE o.kind != 'key_account_centre' OR m.org_id != a.org_id
           OR m.position != 'account_manager'""",
    "port-out status, status date and port-out date agree": """
        SELECT count(*) FROM subscribers
        WHERE (status = 'ported_out') != (port_out_date IS NOT NULL)
           OR (status = 'ported_out' AND status_date != port_out_date)""",
    "dates are ordered: join <= handset, status; window end bounds them": """
        SELECT count(*) FROM subscribers WHERE handset_date < join_date
           OR status_date < join_date OR status_date > $data_date OR join_date > $data_date""",
    "usage months are first days within the window": """
        SELECT count(*) FROM usage_monthly
        WHERE day(month) != 1 OR month < $first_month OR month > $end_month""",
    "no usage before joining or after leaving": """
        SELECT count(*) FROM usage_monthly u JOIN subscribers s USING (subscriber_id)
        WHERE u.month < date_trunc('month', s.join_date)
           OR (s.status IN ('ported_out', 'terminated')
               AND u.month > date_trunc('month', s.status_date))""",
    "live lines have a usage row every month since joining": """
        SELECT count(*) FROM subscribers s WHERE s.status IN ('active', 'suspended') AND
            (SELECT count(*) FROM usage_monthly u WHERE u.subscriber_id = s.subscriber_id)
            != date_diff('month', greatest(date_trunc('month', s.join_date), $first_month),
                         $end_month) + 1""",
    "subscriptions start after joining and launch, end after start": """
        SELECT count(*) FROM subscriptions x JOIN subscribers s USING (subscriber_id)
        JOIN products p USING (product_id)
        WHERE x.start_date < s.join_date OR x.start_date < p.launch_date
           OR x.end_date < x.start_date OR x.end_date > $data_date OR x.start_date > $data_date""",
    "every line holds its current plan": """
        SELECT count(*) FROM subscribers s WHERE NOT EXISTS (
            SELECT 1 FROM subscriptions x WHERE x.subscriber_id = s.subscriber_id
              AND x.product_id = s.plan_id
              AND (x.end_date IS NULL OR s.status IN ('ported_out', 'terminated')))""",
    "orders fall in the window and before the line left": """
        SELECT count(*) FROM orders o JOIN subscribers s USING (subscriber_id)
        WHERE o.ordered_at < $first_month::TIMESTAMPTZ - INTERVAL 8 HOUR
           OR o.ordered_at >= ($data_date + 1)::TIMESTAMPTZ
           OR (s.status IN ('ported_out', 'terminated')
               AND o.ordered_at > (s.status_date + 1)::TIMESTAMPTZ)""",
    "new-line orders only for lines that joined in the window": """
        SELECT count(*) FROM orders o JOIN subscribers s USING (subscriber_id)
        WHERE o.action = 'new' AND s.join_date < $first_month""",
    "credited staff and agents work at the credited org unit": """
        SELECT count(*) FROM orders o
        LEFT JOIN staff f ON f.staff_id = o.staff_id LEFT JOIN agents a ON a.agent_id = o.agent_id
        WHERE (o.staff_id IS NOT NULL AND f.org_id != o.org_id)
           OR (o.agent_id IS NOT NULL AND a.org_id != o.org_id)
           OR (o.channel = 'agent') != (o.agent_id IS NOT NULL)""",
    "complaints resolve after they are made": """
        SELECT count(*) FROM complaints WHERE resolved_at < created_at""",
    "recharges fall in the window": """
        SELECT count(*) FROM recharges
        WHERE recharged_at < $first_month::TIMESTAMPTZ - INTERVAL 8 HOUR
           OR recharged_at >= ($data_date + 1)::TIMESTAMPTZ""",
    "contacts fall in the window, on days the line was on the network": """
        SELECT count(*) FROM contact_history c JOIN subscribers s USING (subscriber_id)
        WHERE c.contacted_at < $first_month::TIMESTAMPTZ - INTERVAL 8 HOUR
           OR c.contacted_at >= ($data_date + 1)::TIMESTAMPTZ - INTERVAL 8 HOUR
           OR CAST(c.contacted_at + INTERVAL 8 HOUR AS DATE) < s.join_date
           OR (s.status IN ('ported_out', 'terminated')
               AND CAST(c.contacted_at + INTERVAL 8 HOUR AS DATE) > s.status_date)""",
    "contact outcomes fit their channel": """
        SELECT count(*) FROM contact_history
        WHERE (channel IN ('outbound_call', 'frontline_task')
               AND outcome IN ('delivered', 'failed'))
           OR (channel NOT IN ('outbound_call', 'frontline_task')
               AND outcome IN ('reached', 'unreachable', 'declined'))
           OR ((case_code IS NULL) != (outcome = 'sent'))""",
    "truth: propensity plus uplift is a probability": """
        SELECT count(*) FROM truth_response WHERE base_propensity + uplift_gift NOT BETWEEN 0 AND 1
           OR base_propensity + uplift_bundle NOT BETWEEN 0 AND 1""",
}


def consistency_problems(
    root: Path, *, first_month: date, end_month: date, data_date: date
) -> list[str]:
    """Names (and counts) of the cross-table rules the province breaks."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name in SPECS:
        con.register(name, read_table(root, name))
    params = {"first_month": first_month, "end_month": end_month, "data_date": data_date}
    problems = []
    for rule, sql in CONSISTENCY_RULES.items():
        used = {k: v for k, v in params.items() if f"${k}" in sql}
        count = con.execute(sql, used).fetchall()[0][0]
        if count:
            problems.append(f"{rule}: {count}")
    return problems
