"""Evaluating a 10M-contact marketing case vs a hand-written DuckDB query of its headline numbers.

    flock /tmp/bench.lock .venv/bin/python benchmarks/bench_case_evaluation.py --contacts 10000000

A seeded case of ``--contacts`` subscribers is generated as the two tables the evaluation
reads (``response_exposure`` and ``response_attribution`` rows of one case, as Arrow):
control by targeting's keyed holdout hash (10 %), 13 cities, three channels, four offers;
take-up 3 % in control and 4.5 % in treatment with a monthly revenue change, and
complaints, opt-outs and port-outs. Both sides read the same Arrow tables in the same
process, median of ``--runs`` each:

* **evaluation**: ``service.measure_tables`` (the Ibis aggregation on an in-process DuckDB:
  the whole case and the city, channel and offer breakdowns, guardrails, revenue moments,
  contacts and takers per offer and channel, the daily take-up) and
  ``service.evaluate_measured`` (every interval, test, Holm adjustment, cost, ROI, the
  curves and the projection comparison);
* **anchor**: one hand-written DuckDB query of the headline numbers per group — exposed,
  responders and the revenue sum of the whole case.

Not timed: reading the rows out of the operational database (``service.read_rows``), which
at this size is the database's bulk-read speed, not the evaluation's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402 - the helper module sits beside this script
    gib,
    machine,
    machine_markdown,
    now_utc,
    repeat,
    update_section,
    write_json,
)
from telmark.evaluation.cases import service  # noqa: E402
from telmark.evaluation.cases.domain import Dimension  # noqa: E402
from telmark.targeting.domain import holdout_buckets  # noqa: E402

CITIES = np.array([f"C{i:02d}" for i in range(1, 14)])
CHANNELS = np.array(["sms", "outbound", "app_push"])
OFFERS = np.array(["RENEW-50", "UPG-5G", "FTTH-300", "FAMILY"])
HOLDOUT_BP = 1_000
RATES = {"control": 0.030, "treatment": 0.045}
PROJECTION: dict[str, Any] = {
    "available": True, "horizon_months": 12, "control": 1_000_000,
    "totals": {"contacts": 9_000_000, "takers": 540_000,
               "incremental_revenue_fen": 540_000 * 3_000 * 12,
               "retained_revenue_fen": 0, "cost_fen": 540_000 * 2_000 + 9_000_000 * 5,
               "net_fen": 540_000 * 3_000 * 12 - 540_000 * 2_000 - 9_000_000 * 5, "roi_bp": None},
    "lines": [{"offer_code": o, "channel": c, "contacts": 750_000, "contact_cost_fen": 750_000 * 5}
              for o in OFFERS for c in CHANNELS],
    "offers": [{"offer_code": o, "net_incentive_cost_fen": 2_000,
                "incremental_monthly_revenue_fen": 3_000, "channel_cost_fen_per_month": 0}
               for o in OFFERS],
}  # fmt: skip

ANCHOR_SQL = """
WITH exposed AS (
    SELECT "group", count(DISTINCT subscriber_id) AS exposed FROM exposure GROUP BY "group"
), took AS (
    SELECT "group", count(DISTINCT subscriber_id) AS responders
    FROM attribution
    WHERE type IN ('offer_accepted', 'plan_change', 'addon_bought')
    GROUP BY "group"
), revenue AS (
    SELECT "group", sum(revenue_fen) AS revenue FROM attribution GROUP BY "group"
)
SELECT exposed."group", exposed, responders, revenue
FROM exposed JOIN took USING ("group") JOIN revenue USING ("group")
ORDER BY 1
"""


def generate(contacts: int, seed: int) -> tuple[pa.Table, pa.Table]:
    """One case's exposures and attributions (module doc)."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, contacts + 1, dtype=np.int64)
    control = holdout_buckets("bench", 1, ids) < HOLDOUT_BP
    group = np.where(control, "control", "treatment")
    city = CITIES[ids % len(CITIES)]
    channel = CHANNELS[rng.integers(0, len(CHANNELS), contacts)]
    offer = OFFERS[rng.integers(0, len(OFFERS), contacts)]
    exposures = pa.table(
        {"subscriber_id": ids, "group": group,
         "kind": np.where(control, "control", "outbox"), "channel": channel,
         "offer_code": offer, "city_id": city},
        schema=service.EXPOSURE_SCHEMA,
    )  # fmt: skip
    took = rng.random(contacts) < np.where(control, RATES["control"], RATES["treatment"])
    guard = rng.random(contacts) < 0.006
    kinds = np.array(["complaint", "opt_out", "port_out"])[rng.integers(0, 3, contacts)]
    rows = np.concatenate([np.flatnonzero(took), np.flatnonzero(guard)])
    types = np.concatenate([np.full(int(took.sum()), "offer_accepted"), kinds[guard]])
    revenue = np.where(types == "offer_accepted", 3_000, np.where(types == "port_out", -5_800, 0))
    attributions = pa.table(
        {"subscriber_id": ids[rows], "group": group[rows], "type": types,
         "revenue_fen": revenue.astype(np.int64), "channel": channel[rows],
         "offer_code": offer[rows], "city_id": city[rows],
         "day": rng.integers(0, 30, len(rows))},
        schema=service.ATTRIBUTION_SCHEMA,
    )  # fmt: skip
    return exposures, attributions


def evaluate(exposures: pa.Table, attributions: pa.Table) -> Any:
    measured = service.measure_tables(exposures, attributions, dimensions=list(Dimension))
    return service.evaluate_measured(measured, projection=PROJECTION, lines=[], horizon_months=12)


def anchor(exposures: pa.Table, attributions: pa.Table) -> list[tuple[Any, ...]]:
    with duckdb.connect() as con:
        con.register("exposure", exposures)
        con.register("attribution", attributions)
        return con.execute(ANCHOR_SQL).fetchall()


def agree(result: Any, rows: list[tuple[Any, ...]]) -> bool:
    """Exposed, responders and revenue sums of both groups match the hand-written query."""
    by_group = {r[0]: r for r in rows}
    o = result.overall
    for arm in (o.treatment, o.control):
        _, exposed, responders, _ = by_group[arm.label]
        if (arm.customers, arm.successes) != (exposed, responders):
            return False
    t, c = by_group["treatment"], by_group["control"]
    expected = (t[3] / t[1] - c[3] / c[1]) * t[1] * result.horizon_months
    return bool(abs(o.revenue.total_fen - expected) <= 1)


def render_markdown(payload: dict[str, Any]) -> str:
    n = payload["contacts"]
    ev, an = payload["evaluation"], payload["anchor"]
    return "\n".join(
        [
            f"Command: `python benchmarks/bench_case_evaluation.py --contacts {n} "
            f"--runs {payload['runs']}`",
            "",
            f"Machine: {machine_markdown(payload['machine'])}  ",
            f"Date: {payload['date']}",
            "",
            f"One case of {n:,} contacts (treatment and a 10 % control by the keyed holdout "
            f"hash; {payload['attributions']:,} attributed events), 13 cities, 3 channels, 4 "
            f"offers; median of {payload['runs']} runs of each side on the same Arrow tables.",
            "",
            "| run | wall | contacts/s | peak RSS |",
            "|---|---|---|---|",
            f"| `measure_tables` + `evaluate_measured` (Ibis on DuckDB: whole case, city, "
            f"channel and offer breakdowns, guardrails, revenue, costs, curves; statistics) "
            f"| {ev['median_seconds']:.2f} s | {n / ev['median_seconds']:,.0f} "
            f"| {gib(ev['peak_rss_bytes'])} |",
            f"| anchor: hand-written DuckDB query of exposed, responders and revenue per group "
            f"| {an['median_seconds']:.2f} s | {n / an['median_seconds']:,.0f} | — |",
            "",
            f"Ratio evaluation / anchor: **{payload['ratio']:.2f}×**; the headline numbers "
            f"agree: **{'yes' if payload['agree'] else 'NO'}**; target ≤ 20 s: "
            f"**{'met' if ev['median_seconds'] <= 20 else 'MISSED'}**.  ",
            f"Runs: evaluation {', '.join(f'{s:.2f}' for s in ev['seconds'])} s; "
            f"anchor {', '.join(f'{s:.2f}' for s in an['seconds'])} s. Not timed: reading the "
            "rows from the operational database.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-write", action="store_true", help="Print only; keep RESULTS.md.")
    args = parser.parse_args()
    exposures, attributions = generate(args.contacts, args.seed)
    evaluation, result = repeat(lambda: evaluate(exposures, attributions), times=args.runs)
    anchored, rows = repeat(lambda: anchor(exposures, attributions), times=args.runs, memory=False)
    payload = {
        "date": now_utc(),
        "machine": machine(),
        "contacts": args.contacts,
        "attributions": attributions.num_rows,
        "runs": args.runs,
        "evaluation": {
            "seconds": evaluation.seconds,
            "median_seconds": evaluation.median_seconds,
            "peak_rss_bytes": evaluation.max_peak_rss_bytes,
        },
        "anchor": {"seconds": anchored.seconds, "median_seconds": anchored.median_seconds},
        "ratio": evaluation.median_seconds / anchored.median_seconds,
        "agree": agree(result, rows),
        "uplift_points": result.overall.comparison.uplift * 100,
    }
    print(render_markdown(payload))  # noqa: T201 - the benchmark's report
    if not args.no_write:
        write_json("case-evaluation", payload)
        update_section("Case evaluation", render_markdown(payload))
    if not payload["agree"]:
        raise SystemExit("the evaluation and the hand-written query disagree")


if __name__ == "__main__":
    main()
