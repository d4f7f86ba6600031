"""Time ``telmark analysis value refresh`` (RFM tiers, decay, sBG and BG/NBD CLV) at scale.

    flock /tmp/bench.lock .venv/bin/python benchmarks/bench_value.py --subscribers 1000000

The cached generated province (``province_warehouse``) is copied to a scratch
directory first, because the refresh writes the ``customer_value`` table and
the cached warehouse is shared read-only by the other benchmarks. One refresh
is timed end to end (cohort fits, BG/NBD fit on its sample, the table write)
with the peak memory of the process.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

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
from telmark.analysis.value import service  # noqa: E402
from telmark.warehouse.connection import connect  # noqa: E402


def run(*, subscribers: int) -> dict[str, Any]:
    source = Path(province_warehouse(subscribers=subscribers).removeprefix("duckdb://"))
    with tempfile.TemporaryDirectory(dir=source.parent.parent) as scratch:
        copy = Path(scratch) / "warehouse.duckdb"
        shutil.copy(source, copy)
        con = connect(f"duckdb://{copy}")
        try:
            measurement, read = repeat(lambda: service.refresh_customer_value(con=con), times=1)
        finally:
            con.disconnect()
    recharge = read.recharge_model
    return {
        "measured_at": now_utc(),
        "machine": machine(),
        "subscribers": subscribers,
        "seconds": round(measurement.median_seconds, 2),
        "peak_rss_bytes": measurement.max_peak_rss_bytes,
        "as_of_month": read.as_of_month.isoformat(),
        "tiers": {t.tier: t.subscribers for t in read.tiers},
        "sbg_cohorts": None if read.sbg is None else read.sbg.cohorts,
        "sbg_cohorts_fitted": read.sbg_cohorts_fitted,
        "prepaid_lines": None if recharge is None else recharge.lines,
        "bgnbd_fitted_on": None if recharge is None else recharge.fitted_on,
        "bgnbd_dropout_free": None if recharge is None else recharge.dropout_free,
        "problems": read.problems,
    }


def render_markdown(p: dict[str, Any]) -> str:
    tiers = ", ".join(f"{k} {v:,}" for k, v in p["tiers"].items())
    return f"""
Measured {p["measured_at"]} on {machine_markdown(p["machine"])}.

`benchmarks/bench_value.py --subscribers {p["subscribers"]}`: one
`refresh_customer_value` over {p["subscribers"]:,} generated subscribers (as of
{p["as_of_month"]}): RFM scores and tiers, decay, {p["sbg_cohorts"]} contract join-month
cohorts for the pooled sBG fit ({p["sbg_cohorts_fitted"]} recent ones fitted alone),
BG/NBD + Gamma-Gamma on {p["prepaid_lines"]:,} prepaid lines (fitted on
{p["bgnbd_fitted_on"]:,}; no dropout found: {p["bgnbd_dropout_free"]}), and the
`customer_value` write.

| subscribers | seconds | peak RSS (GiB) |
|---:|---:|---:|
| {p["subscribers"]:,} | {p["seconds"]} | {p["peak_rss_bytes"] / 2**30:.2f} |

Tiers: {tiers}.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--no-results", action="store_true", help="do not write results")
    args = parser.parse_args()
    payload = run(subscribers=args.subscribers)
    print({k: v for k, v in payload.items() if k != "machine"})
    if not args.no_results:
        write_json(f"value_{args.subscribers}", payload)
        update_section(
            f"Customer value refresh ({args.subscribers:,} subscribers)", render_markdown(payload)
        )


if __name__ == "__main__":
    main()
