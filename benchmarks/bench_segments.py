"""Segment count vs hand-written DuckDB SQL and vs pandas; member snapshot; peak RSS.

    flock /tmp/bench.lock .venv/bin/python benchmarks/bench_segments.py

The rule (``RULE``) is a realistic campaign target — postpaid 4G lines with a
year of tenure whose contract ends within 180 days, high ARPU over the last 3
months, heavy data over 6 months and a falling ARPU trend — eight conditions,
two usage windows (3 and 6 months) and a least-squares slope.

Four measurements, all on generated provinces (``province_warehouse``, 6
months of usage ending 2025-06):

* **count vs SQL**: ``telmark.segments.compile.count`` against ``HAND_SQL``,
  the same count written by hand for DuckDB (one ``GROUP BY`` per window, the
  slope from integer sums exactly as the compiler defines it, joins), on the
  10M province. ``HAND_SQL_NARROWED``, the compiler's own plan written by
  hand, runs beside them for reference. All run on the same read-only
  connection, alternating, after one warm-up each; medians of ``--runs``.
  Target: ratio ≤ 1.3. The counts must be equal.
* **count vs pandas**: the same rule in plain pandas (boolean masks, one
  ``groupby`` per window, ``isin``/merges) against the compiled count on the
  same warehouse: the 10M province when ``PANDAS_FULL_MIN_FREE_BYTES`` are
  free, and the 2M one (``--sample``) always. The pandas time excludes reading
  the tables into memory (reported separately), which favours pandas. Target:
  compiled ≥ 8× faster; counts equal.
* **snapshot**: ``take_snapshot`` of a saved segment of about 1M members
  (``SNAPSHOT_RULE``), end to end on a throw-away SQLite operational database.
  Without the snapshot service (``telmark.segments.snapshots``) the measured
  operation is writing the compiled member list to Parquet, labelled as such
  in the results. Target ≤ 10 s.
* **peak RSS** of the 10M count, in a fresh subprocess (nothing else loaded or
  cached), from the kernel's high-water mark. Target ≤ 4 GB.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import ibis
import pandas as pd
import psutil
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402 - the helper module sits beside this script
    PeakRss,
    gib,
    machine,
    machine_markdown,
    median,
    now_utc,
    province_warehouse,
    update_section,
    write_json,
)
from telmark.segments.compile import compile_rule, count, data_date, resolve_as_of  # noqa: E402
from telmark.segments.rules import parse_rule  # noqa: E402

T = TypeVar("T")

TARGET_SQL_RATIO = 1.3
TARGET_PANDAS_SPEEDUP = 8.0
TARGET_SNAPSHOT_SECONDS = 10.0
TARGET_RSS_BYTES = 4 * 10**9
# pandas runs on the full province only with this much memory free (the comparison
# peaked at 11.4 GiB for the process, DuckDB's side included).
PANDAS_FULL_MIN_FREE_BYTES = 14 * 2**30

# Thresholds of the rule (the hand-written SQL and the pandas version use the same ones).
MIN_TENURE_MONTHS = 12
CONTRACT_DAYS = 180
MIN_AVG_ARPU_FEN = 5_000  # ¥50 a month over the last 3 months
MIN_DATA_MB_6M = 30_000  # 30 GB over the last 6 months
AVG_WINDOW, SUM_WINDOW, TREND_WINDOW = 3, 6, 6

RULE: dict[str, Any] = {
    "version": 1,
    "root": {
        "all": [
            {"kind": "field", "field": "status", "op": "in", "value": ["active", "suspended"]},
            {"kind": "field", "field": "payment_type", "op": "=", "value": "postpaid"},
            {"kind": "has_product", "family": "4g_plan"},
            {"kind": "tenure_months", "op": ">=", "value": MIN_TENURE_MONTHS},
            {"kind": "contract_ends_within_days", "days": CONTRACT_DAYS},
            {
                "kind": "usage",
                "measure": "arpu_fen",
                "agg": "avg",
                "months": AVG_WINDOW,
                "op": ">=",
                "value": MIN_AVG_ARPU_FEN,
            },
            {
                "kind": "usage",
                "measure": "data_mb",
                "agg": "sum",
                "months": SUM_WINDOW,
                "op": ">=",
                "value": MIN_DATA_MB_6M,
            },
            {"kind": "trend", "measure": "arpu_fen", "months": TREND_WINDOW, "op": "<", "value": 0},
        ]
    },
}

# A broad segment for the snapshot figure: about 1M of the 10M lines.
SNAPSHOT_RULE: dict[str, Any] = {
    "version": 1,
    "root": {
        "all": [
            {"kind": "field", "field": "status", "op": "=", "value": "active"},
            {"kind": "field", "field": "payment_type", "op": "=", "value": "postpaid"},
            {
                "kind": "usage",
                "measure": "arpu_fen",
                "agg": "avg",
                "months": 3,
                "op": ">=",
                "value": 7_500,
            },
            {"kind": "trend", "measure": "data_mb", "months": 6, "op": ">", "value": 0},
        ]
    },
}

# The benchmark's anchor: what a competent analyst writes for DuckDB. The slope is
# the compiler's integer least-squares formula with x = month index in the window.
HAND_SQL = """
WITH w3 AS (
  SELECT subscriber_id, avg(arpu_fen) AS avg_arpu
  FROM usage_monthly
  WHERE month BETWEEN DATE '{first3}' AND DATE '{as_of}'
  GROUP BY subscriber_id
),
w6 AS (
  SELECT subscriber_id,
         sum(data_mb) AS dou,
         count(*) AS n,
         sum(x) AS sx, sum(arpu_fen) AS sy, sum(x * x) AS sxx, sum(x * arpu_fen) AS sxy
  FROM (
    SELECT subscriber_id, data_mb, arpu_fen, date_diff('month', DATE '{first6}', month) AS x
    FROM usage_monthly
    WHERE month BETWEEN DATE '{first6}' AND DATE '{as_of}'
  )
  GROUP BY subscriber_id
),
on_4g AS (
  SELECT DISTINCT sp.subscriber_id
  FROM subscriptions sp
  JOIN products p ON p.product_id = sp.product_id
  WHERE p.family = '4g_plan'
    AND sp.start_date <= DATE '{day}'
    AND (sp.end_date IS NULL OR sp.end_date >= DATE '{day}')
)
SELECT count(*)
FROM subscribers s
JOIN w3 USING (subscriber_id)
JOIN w6 USING (subscriber_id)
JOIN on_4g USING (subscriber_id)
WHERE s.status IN ('active', 'suspended')
  AND s.payment_type = 'postpaid'
  AND date_diff('month', s.join_date, DATE '{as_of}') >= {min_tenure}
  AND s.contract_end BETWEEN DATE '{day}' AND DATE '{contract_until}'
  AND w3.avg_arpu >= {min_arpu}
  AND w6.dou >= {min_data}
  AND w6.n >= 2
  AND (w6.n * w6.sxy - w6.sx * w6.sy) / (w6.n * w6.sxx - w6.sx * w6.sx) < 0
"""


# The compiler's plan written by hand, for comparison: the subscriber conditions pick
# the candidate lines first, and one scan of the 6-month window (3-month figures with a
# FILTER) aggregates only their usage rows.
HAND_SQL_NARROWED = """
WITH candidates AS (
  SELECT subscriber_id
  FROM subscribers
  WHERE status IN ('active', 'suspended')
    AND payment_type = 'postpaid'
    AND date_diff('month', join_date, DATE '{as_of}') >= {min_tenure}
    AND contract_end BETWEEN DATE '{day}' AND DATE '{contract_until}'
),
w AS (
  SELECT subscriber_id,
         avg(arpu_fen) FILTER (WHERE month >= DATE '{first3}') AS avg_arpu,
         sum(data_mb) AS dou,
         count(*) AS n,
         sum(x) AS sx, sum(arpu_fen) AS sy, sum(x * x) AS sxx, sum(x * arpu_fen) AS sxy
  FROM (
    SELECT subscriber_id, month, data_mb, arpu_fen,
           date_diff('month', DATE '{first6}', month) AS x
    FROM usage_monthly
    WHERE month BETWEEN DATE '{first6}' AND DATE '{as_of}'
      AND subscriber_id IN (SELECT subscriber_id FROM candidates)
  )
  GROUP BY subscriber_id
),
on_4g AS (
  SELECT DISTINCT sp.subscriber_id
  FROM subscriptions sp
  JOIN products p ON p.product_id = sp.product_id
  WHERE p.family = '4g_plan'
    AND sp.start_date <= DATE '{day}'
    AND (sp.end_date IS NULL OR sp.end_date >= DATE '{day}')
    AND sp.subscriber_id IN (SELECT subscriber_id FROM candidates)
)
SELECT count(*)
FROM candidates
JOIN w USING (subscriber_id)
JOIN on_4g USING (subscriber_id)
WHERE w.avg_arpu >= {min_arpu}
  AND w.dou >= {min_data}
  AND w.n >= 2
  AND (w.n * w.sxy - w.sx * w.sy) / (w.n * w.sxx - w.sx * w.sx) < 0
"""


def month_add(month: date, delta: int) -> date:
    index = month.year * 12 + month.month - 1 + delta
    return date(index // 12, index % 12 + 1, 1)


def hand_sql(as_of: date, template: str = HAND_SQL) -> str:
    day = data_date(as_of)
    return template.format(
        as_of=as_of.isoformat(),
        first3=month_add(as_of, -(AVG_WINDOW - 1)).isoformat(),
        first6=month_add(as_of, -(SUM_WINDOW - 1)).isoformat(),
        day=day.isoformat(),
        contract_until=(day + timedelta(days=CONTRACT_DAYS)).isoformat(),
        min_tenure=MIN_TENURE_MONTHS,
        min_arpu=MIN_AVG_ARPU_FEN,
        min_data=MIN_DATA_MB_6M,
    )


# -- pandas -------------------------------------------------------------------------------

PANDAS_COLUMNS: dict[str, list[str]] = {
    "subscribers": ["subscriber_id", "status", "payment_type", "join_date", "contract_end"],
    "usage_monthly": ["subscriber_id", "month", "arpu_fen", "data_mb"],
    "subscriptions": ["subscriber_id", "product_id", "start_date", "end_date"],
    "products": ["product_id", "family"],
}


def load_frames(path: str) -> dict[str, pd.DataFrame]:
    """The columns the rule reads, as pandas frames (dates as datetime64)."""
    con = ibis.duckdb.connect(path, read_only=True)
    try:
        return {
            name: con.table(name).select(columns).to_pyarrow().to_pandas(date_as_object=False)
            for name, columns in PANDAS_COLUMNS.items()
        }
    finally:
        con.disconnect()


def _month_index(values: pd.Series) -> pd.Series:
    index: pd.Series = values.dt.year.astype("int64") * 12 + values.dt.month.astype("int64") - 1
    return index


def pandas_count(frames: dict[str, pd.DataFrame], as_of: date) -> int:
    """``RULE`` as a pandas user writes it: masks, a groupby per window, isin."""
    subs, usage = frames["subscribers"], frames["usage_monthly"]
    subscriptions, products = frames["subscriptions"], frames["products"]
    as_of_ts = pd.Timestamp(as_of)
    day = pd.Timestamp(data_date(as_of))

    in3 = usage["month"].between(pd.Timestamp(month_add(as_of, -(AVG_WINDOW - 1))), as_of_ts)
    avg_arpu = usage.loc[in3].groupby("subscriber_id")["arpu_fen"].mean()

    first6 = month_add(as_of, -(SUM_WINDOW - 1))
    w6 = usage.loc[usage["month"].between(pd.Timestamp(first6), as_of_ts)]
    x = _month_index(w6["month"]) - (first6.year * 12 + first6.month - 1)
    y = w6["arpu_fen"].astype("int64")
    parts = pd.DataFrame(
        {
            "subscriber_id": w6["subscriber_id"],
            "dou": w6["data_mb"],
            "x": x,
            "y": y,
            "xx": x * x,
            "xy": x * y,
        }
    )
    g6 = parts.groupby("subscriber_id").agg(
        n=("x", "size"),
        dou=("dou", "sum"),
        sx=("x", "sum"),
        sy=("y", "sum"),
        sxx=("xx", "sum"),
        sxy=("xy", "sum"),
    )
    g6 = g6[g6["n"] >= 2]
    slope = (g6["n"] * g6["sxy"] - g6["sx"] * g6["sy"]) / (g6["n"] * g6["sxx"] - g6["sx"] ** 2)

    plans_4g = products.loc[products["family"] == "4g_plan", "product_id"]
    active = (subscriptions["start_date"] <= day) & (
        subscriptions["end_date"].isna() | (subscriptions["end_date"] >= day)
    )
    on_4g = subscriptions.loc[active & subscriptions["product_id"].isin(plans_4g), "subscriber_id"]

    tenure = (as_of.year * 12 + as_of.month - 1) - _month_index(subs["join_date"])
    keep = (
        subs["status"].isin(["active", "suspended"])
        & (subs["payment_type"] == "postpaid")
        & (tenure >= MIN_TENURE_MONTHS)
        & subs["contract_end"].between(day, day + pd.Timedelta(days=CONTRACT_DAYS))
        & subs["subscriber_id"].isin(on_4g.unique())
    )
    candidates = subs.loc[keep, ["subscriber_id"]]
    wide = candidates.merge(avg_arpu.rename("avg_arpu"), left_on="subscriber_id", right_index=True)
    wide = wide.merge(
        pd.DataFrame({"dou": g6["dou"], "slope": slope}),
        left_on="subscriber_id",
        right_index=True,
    )
    hits = (
        (wide["avg_arpu"] >= MIN_AVG_ARPU_FEN)
        & (wide["dou"] >= MIN_DATA_MB_6M)
        & (wide["slope"] < 0)
    )
    return int(hits.sum())


# -- measurements -------------------------------------------------------------------------


def timed(fn: Callable[[], T]) -> tuple[float, float, T]:
    """Wall seconds, CPU seconds of this process (all its threads) and ``fn``'s result.

    CPU time is reported beside wall time because the machine is shared: another
    user's job slows the wall clock of a run but hardly its CPU time.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def alternate(contenders: dict[str, Callable[[], int]], runs: int) -> dict[str, Any]:
    """One warm-up each, then ``runs`` rounds alternating the contenders.

    Alternating spreads a change in machine load over every contender alike.
    """
    results: dict[str, int] = {}
    wall: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    warmup: dict[str, float] = {}
    for name, fn in contenders.items():
        warmup[name], _, results[name] = timed(fn)
    for _ in range(runs):
        for name, fn in contenders.items():
            elapsed, used, value = timed(fn)
            if value != results[name]:
                raise SystemExit(f"{name} counted {value}, then {results[name]}")
            wall[name].append(elapsed)
            cpu[name].append(used)
    return {
        "counts": results,
        "seconds": _rounded(wall),
        "cpu_seconds": _rounded(cpu),
        "warmup_seconds": {k: round(v, 3) for k, v in warmup.items()},
        "median_seconds": {k: round(median(v), 3) for k, v in wall.items()},
        "median_cpu_seconds": {k: round(median(v), 3) for k, v in cpu.items()},
    }


def _rounded(seconds: dict[str, list[float]]) -> dict[str, list[float]]:
    return {name: [round(v, 3) for v in values] for name, values in seconds.items()}


def _agree(counts: dict[str, int]) -> int:
    if len(set(counts.values())) != 1:
        raise SystemExit(f"the contenders disagree on the count: {counts}")
    return next(iter(counts.values()))


def count_vs_sql(path: str, runs: int) -> dict[str, Any]:
    rule = parse_rule(RULE)
    con = ibis.duckdb.connect(path, read_only=True)
    try:
        as_of = resolve_as_of(con)
        sql, narrowed = hand_sql(as_of), hand_sql(as_of, HAND_SQL_NARROWED)
        raw = con.con  # the DuckDB connection Ibis wraps
        measured = alternate(
            {
                "compiled": lambda: count(con, rule),
                "hand_sql": lambda: int(raw.sql(sql).fetchone()[0]),
                "hand_sql_narrowed": lambda: int(raw.sql(narrowed).fetchone()[0]),
            },
            runs,
        )
        usage_rows = int(con.table("usage_monthly").count().to_pyarrow().as_py())
    finally:
        con.disconnect()
    wall, cpu = measured["median_seconds"], measured["median_cpu_seconds"]
    return {
        **measured,
        "as_of": as_of.isoformat(),
        "count": _agree(measured["counts"]),
        "usage_rows": usage_rows,
        "ratio": round(wall["compiled"] / wall["hand_sql"], 3),
        "cpu_ratio": round(cpu["compiled"] / cpu["hand_sql"], 3),
        "ratio_vs_narrowed": round(wall["compiled"] / wall["hand_sql_narrowed"], 3),
        "cpu_ratio_vs_narrowed": round(cpu["compiled"] / cpu["hand_sql_narrowed"], 3),
        "hand_sql": sql.strip(),
        "hand_sql_narrowed": narrowed.strip(),
    }


def count_vs_pandas(path: str, runs: int, subscribers: int) -> dict[str, Any]:
    rule = parse_rule(RULE)
    with PeakRss() as memory:
        load_seconds, _, frames = timed(lambda: load_frames(path))
        con = ibis.duckdb.connect(path, read_only=True)
        try:
            as_of = resolve_as_of(con)
            measured = alternate(
                {
                    "compiled": lambda: count(con, rule),
                    "pandas": lambda: pandas_count(frames, as_of),
                },
                runs,
            )
        finally:
            con.disconnect()
    wall = measured["median_seconds"]
    return {
        **measured,
        "subscribers": subscribers,
        "peak_rss_bytes": memory.peak_bytes,
        "count": _agree(measured["counts"]),
        "pandas_rows": {name: len(frame) for name, frame in frames.items()},
        "pandas_load_seconds": round(load_seconds, 3),
        "speedup": round(wall["pandas"] / wall["compiled"], 2),
        "speedup_with_load": round((wall["pandas"] + load_seconds) / wall["compiled"], 2),
    }


# -- snapshot ---------------------------------------------------------------------------


def snapshot_service() -> Any:
    """The snapshot use case once it exists (``take_snapshot``), else None."""
    if importlib.util.find_spec("telmark.segments.snapshots") is None:
        return None
    module = importlib.import_module("telmark.segments.snapshots")
    return getattr(module, "take_snapshot", None)


def snapshot_taken(path: str, runs: int, take: Callable[..., Any]) -> dict[str, Any]:
    """``take_snapshot`` of a saved ``SNAPSHOT_RULE`` segment, ``runs`` times.

    The operational database is a throw-away SQLite file holding the org tree
    (synced from the warehouse) and the segment; each run takes a new snapshot
    as the system actor (whole province), end to end: claim row, members, sorted
    Parquet file, SHA-256, ready row.
    """
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from telmark.db import configure_sqlite
    from telmark.dbcli import upgrade_database
    from telmark.org import service as org_service
    from telmark.segments import service
    from telmark.segments.schemas import SegmentCreate
    from telmark.uow import UnitOfWork

    con = ibis.duckdb.connect(path, read_only=True)
    seconds: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="segment-snapshot-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'operational.db'}"
            upgrade_database(url)
            factory = sessionmaker(
                bind=configure_sqlite(create_engine(url)), expire_on_commit=False
            )
            with UnitOfWork(factory) as uow:
                org_service.sync_from_warehouse(uow=uow, con=con)
            with UnitOfWork(factory) as uow:
                spec = SegmentCreate(name="bench", rule=SNAPSHOT_RULE)
                segment_id = service.create_segment(uow=uow, spec=spec).id
            directory = Path(tmp) / "snaps"
            for _ in range(runs):
                with UnitOfWork(factory) as uow:
                    run = partial(
                        take, uow=uow, con=con, directory=directory, segment_id=segment_id
                    )
                    elapsed, _, snap = timed(run)
                seconds.append(elapsed)
                members, size = snap.member_count, snap.byte_size
    finally:
        con.disconnect()
    return {
        "operation": "`telmark.segments.snapshots.take_snapshot`",
        "label": "`take_snapshot`",
        "members": members,
        "file_bytes": size,
        "seconds": [round(s, 3) for s in seconds],
        "median_seconds": round(median(seconds), 3),
    }


def snapshot_parquet(path: str, runs: int) -> dict[str, Any]:
    """Stand-in while the snapshot service is missing: the member list to Parquet."""
    rule = parse_rule(SNAPSHOT_RULE)
    con = ibis.duckdb.connect(path, read_only=True)
    seconds: list[float] = []
    members = 0

    def write(target: Path) -> None:
        compile_rule(con, rule).to_parquet(target)

    try:
        with tempfile.TemporaryDirectory(prefix="segment-snapshot-") as tmp:
            for i in range(runs):
                target = Path(tmp) / f"members-{i}.parquet"
                elapsed, _, _ = timed(partial(write, target))
                seconds.append(elapsed)
                members = pq.ParquetFile(target).metadata.num_rows
                target.unlink()
    finally:
        con.disconnect()
    return {
        "operation": "`compile_rule(...).to_parquet` (the snapshot service did not exist)",
        "label": "member list to Parquet, no snapshot service",
        "members": members,
        "seconds": [round(s, 3) for s in seconds],
        "median_seconds": round(median(seconds), 3),
    }


# -- peak RSS in a fresh process ----------------------------------------------------------


def child(mode: str, path: str) -> None:
    """Run one count in this fresh process and print its figures as JSON."""
    con = ibis.duckdb.connect(path, read_only=True)
    if mode == "compiled":
        elapsed, _, value = timed(lambda: count(con, parse_rule(RULE)))
    else:
        sql = hand_sql(resolve_as_of(con))
        elapsed, _, value = timed(lambda: int(con.con.sql(sql).fetchone()[0]))
    con.disconnect()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    print(json.dumps({"count": value, "seconds": elapsed, "maxrss_bytes": peak}))


def peak_rss(path: str, mode: str) -> dict[str, Any]:
    """Peak RSS of one count in a fresh Python process (nothing loaded or cached before)."""
    command = [sys.executable, __file__, "--child", mode, "--path", path]
    with PeakRss() as sampled:
        done = subprocess.run(command, check=True, capture_output=True, text=True)
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["sampled_tree_bytes"] = sampled.peak_bytes
    return figures


# -- report -------------------------------------------------------------------------------


def _lines(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n:,}"


def _runs(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def _spread(values: list[float]) -> str:
    return f"{(max(values) - min(values)) / median(values) * 100:.0f}%"


def render_markdown(p: dict[str, Any]) -> str:
    sql, pan, snap = p["count_vs_sql"], p["count_vs_pandas"], p["snapshot"]
    rss, rss_sql = p["peak_rss"]["compiled"], p["peak_rss"]["hand_sql"]
    w, c = sql["median_seconds"], sql["median_cpu_seconds"]
    small = p["count_vs_pandas_sample"]
    if pan is small:
        pandas_where = (
            f"the {_lines(small['subscribers'])}-subscriber province of the same generator "
            "only: too little memory was free for pandas on the full one"
        )
        sample_note = ""
    else:
        pandas_where = (
            f"the same {_lines(pan['subscribers'])}-subscriber province, as the issue asks "
            "(pandas holds every usage row of the window; it is run there only with "
            f"{gib(PANDAS_FULL_MIN_FREE_BYTES)} free)"
        )
        sw = small["median_seconds"]
        sample_note = (
            f"On the {_lines(small['subscribers'])}-subscriber province (both count "
            f"{small['count']:,}) `count` is **{small['speedup']}×** faster "
            f"({sw['pandas']:.2f} s / {sw['compiled']:.2f} s; CPU "
            f"{small['median_cpu_seconds']['pandas']:.2f} s / "
            f"{small['median_cpu_seconds']['compiled']:.2f} s): there 0.1–0.2 s of "
            "`count` is fixed Python work (building and compiling the Ibis expression, "
            "resolving the as-of month, deciding whether to narrow) and DuckDB's second "
            "thread helps less."
        )
    pw, pc = pan["median_seconds"], pan["median_cpu_seconds"]

    def ok(good: bool) -> str:
        return "✅" if good else "❌"

    targets = "\n".join(
        f"| {what} | {figure} | {target} | {ok(good)} |"
        for what, figure, target, good in (
            (
                "count, 10M lines: `segments.compile.count` / hand-written DuckDB SQL "
                "(median wall)",
                f"**{sql['ratio']}×** ({w['compiled']:.2f} s / {w['hand_sql']:.2f} s)",
                f"≤ {TARGET_SQL_RATIO}×",
                sql["ratio"] <= TARGET_SQL_RATIO,
            ),
            (
                f"count, {_lines(pan['subscribers'])} lines: pandas / `count` (median wall, "
                "frames already in memory)",
                f"**{pan['speedup']}×** ({pw['pandas']:.2f} s / {pw['compiled']:.2f} s)",
                f"≥ {TARGET_PANDAS_SPEEDUP:.0f}×",
                pan["speedup"] >= TARGET_PANDAS_SPEEDUP,
            ),
            (
                f"snapshot of {snap['members']:,} members of the 10M province ({snap['label']})",
                f"**{snap['median_seconds']:.2f} s**",
                f"≤ {TARGET_SNAPSHOT_SECONDS:.0f} s",
                snap["median_seconds"] <= TARGET_SNAPSHOT_SECONDS,
            ),
            (
                "peak RSS, 10M count in a fresh process",
                f"**{gib(rss['maxrss_bytes'])}**",
                "≤ 4 GB",
                rss["maxrss_bytes"] <= TARGET_RSS_BYTES,
            ),
        )
    )
    timings = "\n".join(
        f"| {label} | {w[name]:.2f} | {c[name]:.2f} | {_runs(sql['seconds'][name])} "
        f"| {_spread(sql['seconds'][name])} |"
        for label, name in (
            ("`count` (compiled rule)", "compiled"),
            ("hand SQL", "hand_sql"),
            ("hand SQL, narrowed", "hand_sql_narrowed"),
        )
    )

    return f"""
Measured {p["measured_at"]} on {machine_markdown(p["machine"])}. The machine is
shared: heavy runs hold `flock /tmp/bench.lock`, but other users' tests ran
unlocked during the session, so wall times are noisy; CPU seconds (all threads of
the benchmark process) are given beside them and move much less.

`flock /tmp/bench.lock .venv/bin/python benchmarks/bench_segments.py` — rule `RULE`
in the script, as of {sql["as_of"]}: postpaid lines (active or suspended) holding a
4G plan, tenure ≥ {MIN_TENURE_MONTHS} months, contract ending within {CONTRACT_DAYS}
days, avg ARPU over {AVG_WINDOW} months ≥ {MIN_AVG_ARPU_FEN} fen, DOU summed over
{SUM_WINDOW} months ≥ {MIN_DATA_MB_6M} MB, ARPU trend (least-squares slope over
{TREND_WINDOW} months) < 0: eight conditions, two usage windows and a trend.

| measurement | figure | target | |
|---|---:|---|---|
{targets}

**Count vs hand-written SQL** — 10,000,000 subscribers, {sql["usage_rows"]:,} usage
rows; all three contenders count **{sql["count"]:,}** lines. They share one read-only
DuckDB connection (DuckDB's defaults: 2 threads, 80% of RAM); one warm-up each, then
{len(sql["seconds"]["compiled"])} alternating rounds. *Hand SQL* (`HAND_SQL`) is the
query an analyst writes: one `GROUP BY` per window over every line, the slope from
integer sums (n·Σxy − Σx·Σy)/(n·Σxx − (Σx)²) with x the month index in the window,
the aggregates and the active-4G-plan lines inner-joined to `subscribers`. *Hand SQL,
narrowed* (`HAND_SQL_NARROWED`) is the compiler's own plan written by hand: the
subscriber conditions pick the candidate lines first, and one scan of the 6-month
window (3-month average by `FILTER`) groups only their usage rows.

| | median wall (s) | median CPU (s) | wall runs (s) | spread |
|---|---:|---:|---|---:|
{timings}

Ratios `count` / hand SQL: {sql["ratio"]}× wall, {sql["cpu_ratio"]}× CPU; `count` /
narrowed hand SQL: {sql["ratio_vs_narrowed"]}× wall, {sql["cpu_ratio_vs_narrowed"]}× CPU
(`count` also resolves the as-of month and decides whether to narrow: two small
queries the hand SQL does not run). Spread = (max − min) / median of the wall runs.

**Count vs pandas** — {pandas_where}; both count **{pan["count"]:,}** lines.
The pandas version (`pandas_count`) is what a competent pandas user writes: boolean
masks, one `groupby` per window (the slope from the same integer sums), `isin` for
the 4G plans, two merges. It runs on frames already in memory: reading them took
{pan["pandas_load_seconds"]:.1f} s more (with that, `count` is {pan["speedup_with_load"]}×
faster). Median CPU: pandas {pc["pandas"]:.2f} s, `count` {pc["compiled"]:.2f} s. Wall runs
(s): pandas {_runs(pan["seconds"]["pandas"])}; `count` {_runs(pan["seconds"]["compiled"])}.
Peak RSS of the benchmark process during this comparison: {gib(pan["peak_rss_bytes"])}.
{sample_note}

**Snapshot** — {snap["operation"]} of a saved segment (`SNAPSHOT_RULE`: active
postpaid lines with avg ARPU over 3 months ≥ 7,500 fen and a rising 6-month DOU
trend), {len(snap["seconds"])} runs (s): {_runs(snap["seconds"])}.

**Peak RSS** — the kernel's high-water mark of a fresh Python process that opens
the 10M warehouse and counts once (cold): `count` {gib(rss["maxrss_bytes"])} in
{rss["seconds"]:.1f} s; the hand SQL {gib(rss_sql["maxrss_bytes"])} in
{rss_sql["seconds"]:.1f} s.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000_000)
    parser.add_argument("--sample", type=int, default=2_000_000, help="province for pandas")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-results", action="store_true", help="do not write results")
    parser.add_argument("--child", choices=["compiled", "hand_sql"], help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.path)
        return

    big = province_warehouse(subscribers=args.subscribers, months=6).removeprefix("duckdb://")
    small = province_warehouse(subscribers=args.sample, months=6).removeprefix("duckdb://")
    info = machine()
    rss = {mode: peak_rss(big, mode) for mode in ("compiled", "hand_sql")}
    print("peak RSS", rss, flush=True)
    vs_sql = count_vs_sql(big, args.runs)
    print("count vs SQL", {k: v for k, v in vs_sql.items() if "sql" not in k}, flush=True)
    # pandas on the whole 10M province when the memory is there (see above),
    # as the issue asks; the 2M province is measured as well, and alone otherwise.
    vs_pandas_small = count_vs_pandas(small, args.runs, args.sample)
    print("count vs pandas (sample)", vs_pandas_small, flush=True)
    vs_pandas = vs_pandas_small
    available = psutil.virtual_memory().available
    if available >= PANDAS_FULL_MIN_FREE_BYTES:
        vs_pandas = count_vs_pandas(big, args.runs, args.subscribers)
        print("count vs pandas (full)", vs_pandas, flush=True)
    else:
        print(f"pandas on the full province skipped: {gib(available)} available", flush=True)
    take = snapshot_service()
    snap = snapshot_taken(big, args.runs, take) if take else snapshot_parquet(big, args.runs)
    print("snapshot", snap, flush=True)
    payload = {
        "name": "segments",
        "measured_at": now_utc(),
        "machine": info,
        "subscribers": args.subscribers,
        "sample_subscribers": args.sample,
        "rule": RULE,
        "snapshot_rule": SNAPSHOT_RULE,
        "count_vs_sql": vs_sql,
        "count_vs_pandas": vs_pandas,
        "count_vs_pandas_sample": vs_pandas_small,
        "snapshot": snap,
        "peak_rss": rss,
        "targets": {
            "sql_ratio": TARGET_SQL_RATIO,
            "pandas_speedup": TARGET_PANDAS_SPEEDUP,
            "snapshot_seconds": TARGET_SNAPSHOT_SECONDS,
            "rss_bytes": TARGET_RSS_BYTES,
        },
    }
    payload["meets_targets"] = (
        vs_sql["ratio"] <= TARGET_SQL_RATIO
        and vs_pandas["speedup"] >= TARGET_PANDAS_SPEEDUP
        and snap["median_seconds"] <= TARGET_SNAPSHOT_SECONDS
        and rss["compiled"]["maxrss_bytes"] <= TARGET_RSS_BYTES
    )
    if not args.no_results:
        write_json("segments", payload)
        update_section("Segments", render_markdown(payload))
    print("meets targets:", payload["meets_targets"])


if __name__ == "__main__":
    main()
