"""SMS dispatch from the outbox: the dispatch worker's whole path to the SMSC simulator.

    flock /tmp/bench.lock .venv/bin/python benchmarks/bench_dispatch.py [--postgres URL]

``bench_smpp.py`` measures the ESME alone (``SmppChannel.send_batch`` on
messages in memory). This measures what an operator runs: planned outbox rows
in the operational database (a migrated SQLite file, and PostgreSQL when
``--postgres`` is given), one ``Dispatcher`` (``telmark execution dispatch``)
claiming batches under a lease, re-checking consent and the send window,
submitting over SMPP to the ``smpp34`` simulator in a second process, committing
``sent`` with the provider ids and appending attempts, and settling the
simulator's delivery receipts. Rate = rows settled ``sent``/``delivered`` per
second of the worker's run; the throttled runs read the rate at the SMSC from
its records (first to last ``submit_sm``), as ``bench_smpp.py`` does.

Targets (issue 8): sustained ≥ 500 messages/s unthrottled; a configured TPS
honoured within ±5 %.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # tests._support: the SMSC simulator and outbox rows

from sqlalchemy import Engine, create_engine, func, select, text  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402
from tests._support.outbox import add_case, add_outbox, add_run, list_row  # noqa: E402
from tests._support.smsc import SmscSimulator  # noqa: E402
from tests.conftest import _migrate as upgrade_connection  # noqa: E402 - the tests' migration

import telmark.models  # noqa: E402,F401 - every mapper known before the first query
from _common import (  # noqa: E402 - the helper module sits beside this script
    machine,
    machine_markdown,
    median,
    now_utc,
    update_section,
    write_json,
)
from telmark.db import configure_sqlite  # noqa: E402
from telmark.execution.dispatch import Dispatcher  # noqa: E402
from telmark.execution.dispatch_sms import SmsDispatchChannel  # noqa: E402
from telmark.execution.dispatch_steps import DispatchConfig  # noqa: E402
from telmark.execution.domain import OutboxState  # noqa: E402
from telmark.execution.models import OutboxMessage  # noqa: E402
from telmark.uow import UnitOfWork  # noqa: E402

TARGET_RATE = 500.0
TARGET_TPS_ERROR = 0.05
BATCH = 200
# 10:00 in the province on the rows' planned day: inside the send window.
CLOCK = datetime(2026, 10, 5, 2, 0, tzinfo=UTC)


@contextmanager
def database(kind: str, directory: Path, postgres: str | None) -> Iterator[Engine]:
    """A freshly migrated operational database: a SQLite file, or a schema of ``postgres``."""
    if kind == "sqlite":
        engine = configure_sqlite(create_engine(f"sqlite:///{directory / 'outbox.db'}"))
        with engine.begin() as connection:
            upgrade_connection(connection)
        yield engine
        engine.dispose()
        return
    assert postgres is not None
    schema = f"telmark_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(postgres, connect_args={"options": f"-csearch_path={schema}"})
    try:
        with engine.begin() as connection:
            upgrade_connection(connection)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def one_run(kind: str, count: int, *, tps: float | None, postgres: str | None) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        database(kind, Path(tmp), postgres) as engine,
        SmscSimulator(Path(tmp)) as smsc,
    ):
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        with factory() as session:
            case_id = add_case(session)
            run_id = add_run(session, Path(tmp) / "lists", [list_row(case_id, "RENEW", 1)])
            add_outbox(session, run_id=run_id, case_id=case_id, count=count)
            session.commit()
        channel = SmsDispatchChannel(
            smsc.settings(window=50, reconnect_initial=0.05, response_timeout=10)
        )
        # Paced by the worker (``--tps``), as `telmark execution dispatch` does.
        config = DispatchConfig(
            channel="sms", worker="bench", batch=BATCH, tps=tps, until_empty=True
        )
        dispatcher = Dispatcher(
            config, channel, uow_factory=lambda: UnitOfWork(factory), now=lambda: CLOCK
        )

        async def run() -> float:
            started = time.perf_counter()
            try:
                await dispatcher.run()
            finally:
                await channel.close()
            return time.perf_counter() - started

        elapsed = asyncio.run(run())
        with factory() as session:
            states = dict(
                session.execute(
                    select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
                ).all()
            )
        records = smsc.records()
    settled = sum(states.get(s, 0) for s in (OutboxState.SENT, OutboxState.DELIVERED))
    failed = states.get(OutboxState.FAILED, 0)
    times = sorted(r["t"] for r in records)
    return {
        "database": kind,
        "rows": count,
        "seconds": round(elapsed, 3),
        "rate": round((settled + failed) / elapsed, 1),
        "smsc_rate": round((len(times) - 1) / (times[-1] - times[0]), 2),
        "submit_sm_received": len(records),
        "settled": settled,
        "failed": failed,  # the simulator's refusal numbers
        # Rows the SMSC refused for now (a transient status): due again after the backoff,
        # which the run's fixed clock never reaches.
        "retry_later": states.get(OutboxState.PLANNED, 0),
        "unaccounted": count - settled - failed - states.get(OutboxState.PLANNED, 0),
    }


def render_markdown(payload: dict[str, Any]) -> str:
    lines = [
        f"Measured {payload['measured_at']} on {machine_markdown(payload['machine'])}.",
        "",
        "`benchmarks/bench_dispatch.py`: one dispatch worker (`Dispatcher`, batches of "
        f"{BATCH}) over planned outbox rows in a migrated database: claim under a lease, "
        "re-check consent and the send window, SMPP `submit_sm` (window 50) to the `smpp34` "
        "simulator in a second process, commit `sent` with the provider ids and an attempt row "
        "per message, settle the delivery receipts. Rate = rows settled per second of the "
        "worker's run; the TPS rows read the rate at the SMSC. Worker, database and SMSC share "
        "the machine's 2 cores.",
        "",
        "| database | run | rows | median | runs | target |",
        "|---|---|---:|---:|---|---|",
    ]
    for entry in payload["runs"]:
        if entry["tps"] is None:
            figure = f"**{entry['median']:,.0f} msg/s**"
            target = f"≥ {TARGET_RATE:.0f} msg/s"
            each = ", ".join(f"{r['rate']:,.0f}" for r in entry["runs"])
        else:
            figure = f"**{entry['median']:.2f} /s** ({entry['error'] * 100:+.2f} %)"
            target = f"±{TARGET_TPS_ERROR * 100:.0f} %"
            each = ", ".join(f"{r['smsc_rate']:.2f}" for r in entry["runs"])
        run = "unthrottled" if entry["tps"] is None else f"tps = {entry['tps']:g}"
        lines.append(
            f"| {entry['database']} | {run} | {entry['rows']:,} | {figure} | {each} | {target} |"
        )
    waiting = sorted({r["retry_later"] for e in payload["runs"] for r in e["runs"]})
    lines += [
        "",
        f"Rows the simulator refused with a transient status and that wait for their retry: "
        f"{', '.join(map(str, waiting))} per run; every other row settled sent, delivered or "
        "failed.",
        "",
        f"Targets met: **{payload['meets_targets']}**.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tps", type=float, default=200.0)
    parser.add_argument("--throttled-seconds", type=float, default=5.0)
    parser.add_argument("--postgres", help="PostgreSQL URL (a schema is made and dropped)")
    parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args()

    info = machine()
    kinds = ["sqlite", *(["postgresql"] if args.postgres else [])]
    one_run("sqlite", 300, tps=None, postgres=None)  # warm-up: imports, the first SMSC start
    entries: list[dict[str, Any]] = []
    for kind in kinds:
        runs = [
            one_run(kind, args.rows, tps=None, postgres=args.postgres) for _ in range(args.runs)
        ]
        print(kind, "unthrottled", [r["rate"] for r in runs], flush=True)
        entries.append(
            {"database": kind, "tps": None, "rows": args.rows, "runs": runs,
             "median": median([r["rate"] for r in runs])}
        )  # fmt: skip
        count = int(args.tps * args.throttled_seconds) + 1
        runs = [one_run(kind, count, tps=args.tps, postgres=args.postgres) for _ in range(3)]
        rate = median([r["smsc_rate"] for r in runs])
        print(kind, "tps", args.tps, [r["smsc_rate"] for r in runs], flush=True)
        entries.append(
            {"database": kind, "tps": args.tps, "rows": count, "runs": runs, "median": rate,
             "error": round(rate / args.tps - 1, 5)}
        )  # fmt: skip
    payload: dict[str, Any] = {
        "name": "dispatch",
        "measured_at": now_utc(),
        "machine": info,
        "runs": entries,
        "targets": {"rate": TARGET_RATE, "tps_error": TARGET_TPS_ERROR},
    }
    payload["meets_targets"] = all(
        (e["median"] >= TARGET_RATE if e["tps"] is None else abs(e["error"]) <= TARGET_TPS_ERROR)
        and all(r["unaccounted"] == 0 for r in e["runs"])
        for e in entries
    )
    if not args.no_results:
        write_json("dispatch", payload)
        update_section("SMS dispatch from the outbox", render_markdown(payload))
    print("meets targets:", payload["meets_targets"])


if __name__ == "__main__":
    main()
