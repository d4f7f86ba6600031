"""KPI cube build vs a hand-written DuckDB SQL query computing the same numbers.

    flock /tmp/bench.lock .venv/bin/python benchmarks/bench_kpi.py --subscribers 10000000

Both sides run in the same process on the same read-only warehouse
(``province_warehouse``: a generated province, 6 months of usage) and are
materialised to Arrow; the medians of ``--runs`` runs each are compared
(target: Ibis cube ≤ 1.5× the hand-written SQL) and the two results must be
identical row for row. Writing the ~100k-row result into ``kpi_cube`` is
left out of both timings (the refresh does that once; it is the same cost for
either query).

Two hand-written queries are timed: ``HAND_SQL`` is the direct translation of
the definitions an analyst would write for DuckDB (every line joined to its
plan and household, crossed with the usage months, counted with FILTER
clauses; usage and complaints summed per grain; the parts full-outer-joined);
``HAND_SQL_FLOWS`` applies the cube's own flows reduction by hand. The target
is checked against the faster of the two.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402 - the helper module sits beside this script
    machine,
    machine_markdown,
    now_utc,
    province_warehouse,
    repeat,
    update_section,
    write_json,
)
from telmark.analysis.kpi.cube import CUBE_COLUMNS, GRAIN, cube, usage_months  # noqa: E402
from telmark.analysis.kpi.domain import MEASURES  # noqa: E402

TARGET_RATIO = 1.5

HAND_SQL = """
WITH months AS (SELECT DISTINCT month FROM usage_monthly),
lines AS (
  SELECT s.subscriber_id, s.org_id, s.payment_type,
         coalesce(p.family, 'unknown') AS plan_family,
         coalesce(p.is_5g, false) AS is_5g,
         h.household_id IS NOT NULL AS in_bundle,
         date_trunc('month', s.join_date) AS join_month,
         CASE WHEN s.status IN ('ported_out', 'terminated')
              THEN date_trunc('month', s.status_date) END AS exit_month,
         CASE WHEN s.status = 'terminated'
              THEN date_trunc('month', s.status_date) END AS terminated_month,
         date_trunc('month', s.port_out_date) AS port_month
  FROM subscribers s
  LEFT JOIN products p ON p.product_id = s.plan_id
  LEFT JOIN households h ON h.household_id = s.household_id AND h.bundle_id IS NOT NULL
),
base AS (
  SELECT l.org_id, m.month, l.plan_family, l.payment_type,
    count(*) FILTER (WHERE join_month <= m.month
                     AND (exit_month IS NULL OR exit_month > m.month)) AS subscribers,
    count(*) FILTER (WHERE join_month < m.month
                     AND (exit_month IS NULL OR exit_month >= m.month)) AS opening_subscribers,
    count(*) FILTER (WHERE join_month = m.month) AS gross_adds,
    count(*) FILTER (WHERE port_month = m.month) AS port_outs,
    count(*) FILTER (WHERE terminated_month = m.month) AS terminations,
    count(*) FILTER (WHERE is_5g AND join_month <= m.month
                     AND (exit_month IS NULL OR exit_month > m.month)) AS lines_5g,
    count(*) FILTER (WHERE in_bundle AND join_month <= m.month
                     AND (exit_month IS NULL OR exit_month > m.month)) AS bundle_lines
  FROM lines l CROSS JOIN months m
  GROUP BY ALL
),
usage AS (
  SELECT s.org_id, u.month, coalesce(p.family, 'unknown') AS plan_family, s.payment_type,
         sum(u.arpu_fen) AS revenue_fen, count(*) AS billed_lines,
         sum(u.data_mb) AS data_mb, sum(u.voice_min) AS voice_min
  FROM usage_monthly u
  JOIN subscribers s ON s.subscriber_id = u.subscriber_id
  LEFT JOIN products p ON p.product_id = s.plan_id
  GROUP BY ALL
),
lodged AS (
  SELECT s.org_id, CAST(date_trunc('month', c.created_at) AS DATE) AS month,
         coalesce(p.family, 'unknown') AS plan_family, s.payment_type, count(*) AS complaints
  FROM complaints c
  JOIN subscribers s ON s.subscriber_id = c.subscriber_id
  LEFT JOIN products p ON p.product_id = s.plan_id
  WHERE CAST(date_trunc('month', c.created_at) AS DATE) IN (SELECT month FROM months)
  GROUP BY ALL
)
SELECT
  coalesce(b.org_id, u.org_id, c.org_id) AS org_id,
  coalesce(b.month, u.month, c.month) AS month,
  coalesce(b.plan_family, u.plan_family, c.plan_family) AS plan_family,
  coalesce(b.payment_type, u.payment_type, c.payment_type) AS payment_type,
  coalesce(b.subscribers, 0) AS subscribers,
  coalesce(b.opening_subscribers, 0) AS opening_subscribers,
  coalesce(b.gross_adds, 0) AS gross_adds,
  coalesce(b.port_outs, 0) AS port_outs,
  coalesce(b.terminations, 0) AS terminations,
  coalesce(u.revenue_fen, 0) AS revenue_fen,
  coalesce(u.billed_lines, 0) AS billed_lines,
  coalesce(u.data_mb, 0) AS data_mb,
  coalesce(u.voice_min, 0) AS voice_min,
  coalesce(b.lines_5g, 0) AS lines_5g,
  coalesce(b.bundle_lines, 0) AS bundle_lines,
  coalesce(c.complaints, 0) AS complaints
FROM base b
FULL JOIN usage u USING (org_id, month, plan_family, payment_type)
FULL JOIN lodged c USING (org_id, month, plan_family, payment_type)
"""


# The same numbers, hand-written with the cube's own idea (lines reduced to flows
# before they meet the months), so the comparison is also against SQL that knows
# the trick. Clamping needs the first cube month; it comes from the data.
HAND_SQL_FLOWS = """
WITH months AS (SELECT DISTINCT month FROM usage_monthly),
horizon AS (SELECT min(month) - INTERVAL 1 MONTH AS before, max(month) AS last FROM months),
flows AS (
  SELECT s.org_id, s.plan_id, s.payment_type,
         h.household_id IS NOT NULL AS in_bundle,
         greatest(date_trunc('month', s.join_date), z.before) AS join_key,
         CASE WHEN s.status IN ('ported_out', 'terminated')
                   AND date_trunc('month', s.status_date) <= z.last
              THEN greatest(date_trunc('month', s.status_date), z.before) END AS exit_key,
         CASE WHEN s.status = 'terminated'
                   AND date_trunc('month', s.status_date) BETWEEN z.before + INTERVAL 1 MONTH
                                                              AND z.last
              THEN date_trunc('month', s.status_date) END AS terminated_key,
         CASE WHEN date_trunc('month', s.port_out_date) BETWEEN z.before + INTERVAL 1 MONTH
                                                            AND z.last
              THEN date_trunc('month', s.port_out_date) END AS port_key,
         count(*) AS lines
  FROM subscribers s
  CROSS JOIN horizon z
  LEFT JOIN households h ON h.household_id = s.household_id AND h.bundle_id IS NOT NULL
  GROUP BY ALL
),
base AS (
  SELECT f.org_id, m.month, coalesce(p.family, 'unknown') AS plan_family, f.payment_type,
    sum(lines) FILTER (WHERE join_key <= m.month
                       AND (exit_key IS NULL OR exit_key > m.month)) AS subscribers,
    sum(lines) FILTER (WHERE join_key < m.month
                       AND (exit_key IS NULL OR exit_key >= m.month)) AS opening_subscribers,
    sum(lines) FILTER (WHERE join_key = m.month) AS gross_adds,
    sum(lines) FILTER (WHERE port_key = m.month) AS port_outs,
    sum(lines) FILTER (WHERE terminated_key = m.month) AS terminations,
    sum(lines) FILTER (WHERE coalesce(p.is_5g, false) AND join_key <= m.month
                       AND (exit_key IS NULL OR exit_key > m.month)) AS lines_5g,
    sum(lines) FILTER (WHERE in_bundle AND join_key <= m.month
                       AND (exit_key IS NULL OR exit_key > m.month)) AS bundle_lines
  FROM flows f
  LEFT JOIN products p ON p.product_id = f.plan_id
  CROSS JOIN months m
  GROUP BY ALL
),
usage AS (
  SELECT u.org_id, u.month, coalesce(p.family, 'unknown') AS plan_family, u.payment_type,
         sum(u.revenue_fen) AS revenue_fen, sum(u.billed_lines) AS billed_lines,
         sum(u.data_mb) AS data_mb, sum(u.voice_min) AS voice_min
  FROM (
    SELECT s.org_id, s.plan_id, s.payment_type, u.month, sum(u.arpu_fen) AS revenue_fen,
           count(*) AS billed_lines, sum(u.data_mb) AS data_mb, sum(u.voice_min) AS voice_min
    FROM usage_monthly u JOIN subscribers s ON s.subscriber_id = u.subscriber_id
    GROUP BY ALL
  ) u
  LEFT JOIN products p ON p.product_id = u.plan_id
  GROUP BY ALL
),
lodged AS (
  SELECT s.org_id, CAST(date_trunc('month', c.created_at) AS DATE) AS month,
         coalesce(p.family, 'unknown') AS plan_family, s.payment_type, count(*) AS complaints
  FROM complaints c
  JOIN subscribers s ON s.subscriber_id = c.subscriber_id
  LEFT JOIN products p ON p.product_id = s.plan_id
  WHERE CAST(date_trunc('month', c.created_at) AS DATE) IN (SELECT month FROM months)
  GROUP BY ALL
)
""" + HAND_SQL[HAND_SQL.index("SELECT\n  coalesce(b.org_id") :]


def _normalised(table: pa.Table) -> list[tuple[Any, ...]]:
    """Rows with a non-zero measure, as (grain..., measures...) tuples, sorted."""
    columns = [*GRAIN, *MEASURES]
    rows = table.select(columns).to_pylist()
    kept = [
        tuple(int(r[c]) if c in MEASURES else r[c] for c in columns)
        for r in rows
        if any(int(r[m]) != 0 for m in MEASURES)
    ]
    return sorted(kept, key=lambda t: tuple(str(v) for v in t))


def run(*, subscribers: int, runs: int) -> dict[str, Any]:
    url = province_warehouse(subscribers=subscribers, months=6)
    path = url.removeprefix("duckdb://")
    con = ibis.duckdb.connect(path, read_only=True)
    months = sorted(usage_months(con).to_pyarrow().column("month").to_pylist())
    built_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    expr = cube(con, months=months, built_at=built_at)
    raw = con.con  # the DuckDB connection Ibis wraps

    contenders: dict[str, Callable[[], pa.Table]] = {
        "ibis": expr.to_pyarrow,
        "sql_direct": lambda: raw.sql(HAND_SQL).fetch_arrow_table(),
        "sql_flows": lambda: raw.sql(HAND_SQL_FLOWS).fetch_arrow_table(),
    }
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    results: dict[str, pa.Table] = {}
    for fn in contenders.values():
        fn()  # warm the file cache once each
    # Alternate, so a change in machine load hits every contender alike.
    for _ in range(runs):
        for name, fn in contenders.items():
            measured, results[name] = repeat(fn, times=1, memory=False)
            seconds[name] += measured.seconds
    con.disconnect()
    reference = _normalised(results["ibis"])
    identical = {name: _normalised(table) == reference for name, table in results.items()}
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    best_sql = min(medians["sql_direct"], medians["sql_flows"])
    ratio = medians["ibis"] / best_sql
    return {
        "name": "kpi",
        "measured_at": now_utc(),
        "machine": machine(),
        "subscribers": subscribers,
        "months": [m.isoformat() for m in months],
        "cube_rows": results["ibis"].num_rows,
        "cube_columns": list(CUBE_COLUMNS),
        "seconds": {name: [round(v, 3) for v in values] for name, values in seconds.items()},
        "median_seconds": {name: round(v, 3) for name, v in medians.items()},
        "ratio_vs_best_sql": round(ratio, 3),
        "ratio_vs_sql_direct": round(medians["ibis"] / medians["sql_direct"], 3),
        "ratio_vs_sql_flows": round(medians["ibis"] / medians["sql_flows"], 3),
        "target_ratio": TARGET_RATIO,
        "identical_results": all(identical.values()),
        "identical": identical,
        "meets_target": all(identical.values()) and ratio <= TARGET_RATIO,
    }


def render_markdown(p: dict[str, Any]) -> str:
    verdict = "meets" if p["meets_target"] else "MISSES"
    med, sec = p["median_seconds"], p["seconds"]

    def row(label: str, name: str) -> str:
        return f"| {label} | {med[name]} | {', '.join(map(str, sec[name]))} |"

    return f"""
Measured {p["measured_at"]} on {machine_markdown(p["machine"])}.

`benchmarks/bench_kpi.py --subscribers {p["subscribers"]}`: the KPI cube at its finest
grain (`telmark.analysis.kpi.cube.cube`, Ibis on DuckDB) over {p["subscribers"]:,}
generated subscribers × {len(p["months"])} months ({p["months"][0]} … {p["months"][-1]}),
against two hand-written DuckDB SQL queries computing the same numbers in the same
run: *direct* (lines × months with `FILTER` counts, usage and complaints per grain,
full outer joins: the definitions as an analyst writes them) and *flows* (the
cube's own reduction, hand-written). All three read the same read-only warehouse and
are materialised to Arrow; medians of {len(sec["ibis"])} alternating runs after one
warm-up each. Writing the result into `kpi_cube` (one `CREATE TABLE` of
{p["cube_rows"]:,} rows) is left out of all three.

| | median (s) | runs (s) |
|---|---:|---|
{row("Ibis cube", "ibis")}
{row("hand-written SQL, direct", "sql_direct")}
{row("hand-written SQL, flows", "sql_flows")}

Ratio Ibis / best hand-written SQL: **{p["ratio_vs_best_sql"]}×** (target ≤
{p["target_ratio"]}×: {verdict}); vs direct {p["ratio_vs_sql_direct"]}×, vs flows
{p["ratio_vs_sql_flows"]}×. All three results identical row for row:
**{p["identical_results"]}**.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-results", action="store_true", help="do not write results")
    args = parser.parse_args()
    payload = run(subscribers=args.subscribers, runs=args.runs)
    print({k: v for k, v in payload.items() if k != "machine"})
    if not args.no_results:
        write_json("kpi", payload)
        update_section("KPI cube", render_markdown(payload))
    if not payload["identical_results"]:
        raise SystemExit("the Ibis cube and the hand-written SQL disagree")


if __name__ == "__main__":
    main()
