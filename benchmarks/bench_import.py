"""Benchmark: import + validate a 1M-row ``usage_monthly`` CSV, against DuckDB's ``read_csv``.

    python benchmarks/bench_import.py --rows 1000000 --repeat 3

Writes a valid CSV of ``--rows`` rows (subscribers × 5 months), creates the
``subscribers`` table it references, then ``--repeat`` times: ``import_table``
(stage, check, load; the table is replaced each time) and, in the same run,
DuckDB's own ``read_csv`` of the same file into a table of another DuckDB
file (types sniffed, nothing checked). Reports the median rows/s of both,
their ratio, where the import's time goes (from its progress callbacks) and
the peak RSS, in ``benchmarks/RESULTS.md`` and ``benchmarks/results/import.json``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402 - the helper module sits beside this script
    Measurement,
    gib,
    machine,
    machine_markdown,
    median,
    now_utc,
    stopwatch,
    update_section,
    write_json,
)
from telmark.warehouse.connection import connect  # noqa: E402
from telmark.warehouse.importer import import_table  # noqa: E402

MONTHS = 5


def write_usage_csv(path: Path, *, subscribers: int, months: int, seed: int = 7) -> int:
    """A valid usage_monthly CSV: every subscriber for ``months`` months. Returns the row count."""
    rng = np.random.default_rng(seed)
    n = subscribers * months
    month_of_row = np.tile(np.arange(months), subscribers)
    firsts = np.array([f"2024-{m + 1:02d}-01" for m in range(months)])
    table = pa.table(
        {
            "subscriber_id": np.repeat(np.arange(1, subscribers + 1, dtype=np.int64), months),
            "month": firsts[month_of_row],
            "arpu_fen": rng.gamma(2.0, 2500.0, n).astype(np.int64),
            "data_mb": rng.gamma(1.5, 8000.0, n).astype(np.int64),
            "voice_min": rng.gamma(1.2, 250.0, n).astype(np.int64),
            "sms_count": rng.poisson(8, n),
            "roaming_fen": np.where(rng.random(n) < 0.05, rng.integers(100, 20_000, n), 0),
            "overage_fen": np.where(rng.random(n) < 0.2, rng.integers(100, 5_000, n), 0),
            "dropped_calls": rng.poisson(1.5, n),
        }
    )
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none"))
    return n


def create_subscribers(database: Path, work: Path, subscribers: int) -> None:
    """The subscribers table usage_monthly refers to (only its key matters to the check)."""
    parquet = work / "subscribers.parquet"
    pq.write_table(pa.table({"subscriber_id": np.arange(1, subscribers + 1)}), parquet)
    con = connect("duckdb://" + str(database))
    con.create_table("subscribers", obj=con.read_parquet(str(parquet)))
    con.disconnect()


@dataclass
class Phases:
    """When the import last reported each phase, to split its time."""

    started: float = field(default_factory=time.perf_counter)
    last: dict[str, float] = field(default_factory=dict)

    def __call__(self, label: str, _done: int, _total: int) -> None:
        self.last[label.split()[0]] = time.perf_counter()

    def split(self, ended: float) -> dict[str, float]:
        read = self.last["reading"] - self.started
        check = self.last["checking"] - self.last["reading"]
        return {"read + parse": read, "check": check, "load": ended - self.last["checking"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; medians reported")
    parser.add_argument("--scratch", type=Path, help="where to write (default: a temp dir)")
    parser.add_argument("--no-results", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args(argv)
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="telmark-bench-import-"))
    scratch.mkdir(parents=True, exist_ok=True)
    info = machine()
    print(f"machine: {machine_markdown(info)}", flush=True)
    try:
        subscribers = max(1, args.rows // MONTHS)
        csv = scratch / "usage_monthly.csv"
        rows = write_usage_csv(csv, subscribers=subscribers, months=MONTHS)
        csv_bytes = csv.stat().st_size
        warehouse = scratch / "warehouse.duckdb"
        create_subscribers(warehouse, scratch, subscribers)
        baseline_db = scratch / "baseline.duckdb"

        imports, baselines = Measurement(), Measurement()
        phases: list[dict[str, float]] = []
        for attempt in range(args.repeat):
            con = connect("duckdb://" + str(warehouse))
            progress = Phases()
            with stopwatch(imports):
                report = import_table(con=con, table="usage_monthly", path=csv, progress=progress)
            phases.append(progress.split(time.perf_counter()))
            con.disconnect()
            assert report.rows == rows, report

            raw = duckdb.connect(str(baseline_db))
            with stopwatch(baselines):
                raw.read_csv(str(csv)).create("usage_raw")
            raw.close()
            baseline_db.unlink()  # a new file each time, as the import writes a new table
            print(
                f"#{attempt + 1}: import {imports.seconds[-1]:.2f} s, "
                f"read_csv {baselines.seconds[-1]:.2f} s",
                flush=True,
            )
    finally:
        if args.scratch is None:
            shutil.rmtree(scratch, ignore_errors=True)

    ratio = imports.median_seconds / baselines.median_seconds
    split = {name: median([p[name] for p in phases]) for name in phases[0]}
    payload = {
        "date": now_utc(),
        "machine": info,
        "params": {"rows": rows, "repeat": args.repeat, "csv_bytes": csv_bytes},
        "import": {
            "seconds": imports.seconds,
            "median_seconds": imports.median_seconds,
            "rows_per_second": rows / imports.median_seconds,
            "peak_rss_bytes": imports.peak_rss_bytes,
            "median_phase_seconds": split,
        },
        "duckdb_read_csv": {
            "seconds": baselines.seconds,
            "median_seconds": baselines.median_seconds,
            "rows_per_second": rows / baselines.median_seconds,
        },
        "ratio_import_to_read_csv": round(ratio, 3),
    }
    print(
        f"import {imports.median_seconds:.2f} s vs read_csv {baselines.median_seconds:.2f} s "
        f"→ ratio {ratio:.2f}; phases " + ", ".join(f"{k} {v:.2f} s" for k, v in split.items()),
        flush=True,
    )
    if args.no_results:
        return 0
    write_json("import", payload)
    total = sum(split.values())
    phase_text = ", ".join(f"{k} {v:.2f} s ({v / total:.0%})" for k, v in split.items())
    imported = (
        "| `import_table` (stream + parse to staged Parquet, every check, atomic load) "
        f"| {imports.median_seconds:.2f} s | {rows / imports.median_seconds:,.0f} "
        f"| {gib(imports.max_peak_rss_bytes)} |"
    )
    anchor = (
        "| anchor: DuckDB `read_csv` into a table (types sniffed, no checks) "
        f"| {baselines.median_seconds:.2f} s | {rows / baselines.median_seconds:,.0f} | — |"
    )
    body = f"""
Command: `python benchmarks/bench_import.py --rows {args.rows} --repeat {args.repeat}`

Machine: {machine_markdown(info)}
Date: {payload["date"]}

A valid {rows:,}-row `usage_monthly` CSV ({csv_bytes / 1e6:.0f} MB), its
`subscribers` already in the warehouse; median of {args.repeat} runs of each side.

| run | wall | rows/s | peak RSS |
|---|---|---|---|
{imported}
{anchor}

Ratio import / read_csv: **{ratio:.2f}×**. Import time: {phase_text}.
Checks: types, required values, ranges, duplicate keys (subscriber_id, month),
references to subscribers.
"""
    update_section("Import", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
