"""Evaluating a 10M-customer A/B/n experiment file vs a hand-written DuckDB query.

    flock /tmp/bench.lock .venv/bin/python benchmarks/bench_evaluation.py --rows 10000000

A seeded Parquet file of ``--rows`` customers in three arms (control 40 %, A and B 30 %
each) with a 0/1 outcome (``took``), a word outcome (``bought``: 是/否/yes/no…, 2 % blank)
and a revenue column (5 % blank) is written once. Both sides then read that file in the
same process, median of ``--runs`` each:

* **evaluation**: ``telmark.evaluation.service.evaluate_file`` end to end (schema check,
  the Ibis normalise-and-group-by over DuckDB, the check for bad cells, and the statistics
  for both treatment arms);
* **anchor**: one hand-written DuckDB query of the headline numbers an analyst would
  compute — customers, successes and rates per arm for both outcomes (the same word
  mapping, blanks left out) and mean revenue.

The two must agree on every count; the ratio evaluation / anchor is reported.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

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
from telmark.evaluation import service  # noqa: E402

CHUNK = 1_000_000
ARMS = np.array(["control", "A", "B"])
RATES = {"control": 0.020, "A": 0.026, "B": 0.022}
ONE = ["是", "yes", "1", "true"]
ZERO = ["否", "no", "0", "false"]

ANCHOR_SQL = """
SELECT arm,
       count(*) AS customers,
       sum(took) AS took,
       avg(took) AS took_rate,
       count(*) FILTER (WHERE lower(trim(bought)) IN ('是', 'yes', '1', 'true')) AS bought,
       count(*) FILTER (WHERE lower(trim(bought)) IN ('是', 'yes', '1', 'true',
                                                      '否', 'no', '0', 'false')) AS bought_known,
       avg(revenue) AS revenue_mean
FROM read_parquet(?)
GROUP BY arm
ORDER BY arm
"""


def write_experiment(path: Path, rows: int, seed: int) -> None:
    """The experiment file, written in row groups of ``CHUNK`` customers."""
    rng = np.random.default_rng(seed)
    schema = pa.schema(
        [("customer_id", pa.int64()), ("arm", pa.string()), ("took", pa.int8()),
         ("bought", pa.string()), ("revenue", pa.float64())]
    )  # fmt: skip
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            arm = ARMS[rng.choice(3, size=n, p=[0.4, 0.3, 0.3])]
            rate = np.select([arm == "A", arm == "B"], [RATES["A"], RATES["B"]], RATES["control"])
            took = rng.random(n) < rate
            bought = took & (rng.random(n) < 0.6)
            words = np.where(bought, rng.choice(ONE, size=n), rng.choice(ZERO, size=n))
            words = np.where(rng.random(n) < 0.02, "", words)
            revenue = np.round(rng.gamma(1.2, 25.0, size=n) + 30.0 * took, 2)
            revenue_mask = rng.random(n) < 0.05
            batch = pa.record_batch(
                [
                    pa.array(np.arange(start, start + n, dtype=np.int64)),
                    pa.array(arm),
                    pa.array(took.astype(np.int8)),
                    pa.array(words),
                    pa.array(revenue, mask=revenue_mask),
                ],
                schema=schema,
            )
            writer.write_batch(batch, row_group_size=CHUNK)


def evaluate(path: Path) -> Any:
    return service.evaluate_file(
        path=path, arm="arm", control="control", outcomes=["took", "bought"], value="revenue"
    )


def anchor(path: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect() as con:
        return con.execute(ANCHOR_SQL, [str(path)]).fetchall()


def agree(result: Any, rows: list[tuple[Any, ...]]) -> bool:
    """Customers, successes and known outcomes per arm, and mean revenue, match."""
    took, bought = result.outcomes
    by_arm = {r[0]: r for r in rows}
    for rate, word in zip(took.arms, bought.arms, strict=True):
        _, customers, successes, _, ones, known, mean = by_arm[rate.label]
        value = next(v for v in result.value.arms if v.label == rate.label)
        if (rate.customers, rate.successes, word.successes, word.known) != (
            customers, successes, ones, known,
        ):  # fmt: skip
            return False
        if abs(value.mean - mean) > 1e-9 * max(1.0, abs(mean)):
            return False
    return True


def render_markdown(payload: dict[str, Any]) -> str:
    rows = payload["rows"]
    ev, an = payload["evaluation"], payload["anchor"]
    lines = [
        f"Command: `python benchmarks/bench_evaluation.py --rows {rows} --runs {payload['runs']}`",
        "",
        f"Machine: {machine_markdown(payload['machine'])}  ",
        f"Date: {payload['date']}",
        "",
        f"A {rows:,}-customer Parquet file ({payload['file_mib']:.0f} MiB), three arms, a 0/1 "
        "and a word outcome (2 % blank) and a revenue column (5 % blank); median of "
        f"{payload['runs']} runs of each side.",
        "",
        "| run | wall | rows/s | peak RSS |",
        "|---|---|---|---|",
        f"| `evaluate_file` (schema check, Ibis normalise + group by arm on DuckDB, bad-cell "
        f"check, statistics) | {ev['median_seconds']:.2f} s | {rows / ev['median_seconds']:,.0f} "
        f"| {gib(ev['peak_rss_bytes'])} |",
        f"| anchor: hand-written DuckDB query of counts, rates and mean revenue per arm "
        f"| {an['median_seconds']:.2f} s | {rows / an['median_seconds']:,.0f} | — |",
        "",
        f"Ratio evaluation / anchor: **{payload['ratio']:.2f}×**; the counts agree: "
        f"**{'yes' if payload['agree'] else 'NO'}**.  ",
        f"Runs: evaluation {', '.join(f'{s:.2f}' for s in ev['seconds'])} s; "
        f"anchor {', '.join(f'{s:.2f}' for s in an['seconds'])} s.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--no-write", action="store_true", help="Print only; keep RESULTS.md.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-evaluation-") as work:
        path = Path(work) / "experiment.parquet"
        write_experiment(path, args.rows, args.seed)
        evaluation, result = repeat(lambda: evaluate(path), times=args.runs)
        anchored, rows = repeat(lambda: anchor(path), times=args.runs, memory=False)
        payload = {
            "date": now_utc(),
            "machine": machine(),
            "rows": args.rows,
            "runs": args.runs,
            "file_mib": path.stat().st_size / 2**20,
            "evaluation": {
                "seconds": evaluation.seconds,
                "median_seconds": evaluation.median_seconds,
                "peak_rss_bytes": evaluation.max_peak_rss_bytes,
            },
            "anchor": {"seconds": anchored.seconds, "median_seconds": anchored.median_seconds},
            "ratio": evaluation.median_seconds / anchored.median_seconds,
            "agree": agree(result, rows),
            "uplift_A_points": result.outcomes[0].comparisons[0].uplift * 100,
        }
    print(render_markdown(payload))  # noqa: T201 - the benchmark's report
    if not args.no_write:
        write_json("evaluation", payload)
        update_section("Evaluation", render_markdown(payload))
    if not payload["agree"]:
        raise SystemExit("the evaluation and the hand-written query disagree")


if __name__ == "__main__":
    main()
