"""Real-time triggers: events ingested and decided on a 1M-line province; rate and latency.

    flock /tmp/bench.lock .venv/bin/python benchmarks/bench_triggers.py --subscribers 1000000

On a generated province (``province_warehouse``), a throw-away SQLite
operational database holds the org tree, the demo catalog and offers, one
snapshot of every line and three running province cases made event-driven
(``CASES``: contract end within 60 days, data quota 80 %, low balance), each
with SMS/app-push templates and a 10 % holdout. Measured:

* **engine load**: ``load_runtime`` — the base, every case's area and offer
  eligibility over all lines (set-wise, the targeting code), consent, holdouts
  and the policy counters from ``contact_history`` and the outbox;
* **paced run**: ``--events`` simulated events (``simulator.generate``) offered
  at ``--rate`` events/s by a producer thread; the ingesting loop takes what has
  arrived (at most ``--batch`` events, waiting at most 20 ms for the first),
  decides it and commits decisions and outbox rows (``service.ingest``). An
  event's latency runs from the moment the producer handed it over to the
  commit of its batch, so queueing is included;
* **burst**: the same path unpaced (all events waiting), for the ceiling.

Target: ≥ 5,000 events/s with p99 event-to-decision ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402 - the helper module sits beside this script
    machine,
    machine_markdown,
    now_utc,
    province_warehouse,
    update_section,
    write_json,
)

TARGET_RATE = 5_000.0
TARGET_P99_MS = 50.0
WAIT_S = 0.02
# (code, event, condition, offers, channels, priority)
CASES: tuple[tuple[str, str, str | None, tuple[str, ...], tuple[str, ...], int], ...] = (
    ("RENEW", "contract_ends", "days_left <= 60", ("OF-SUBSIDY-HC24", "OF-REDPACKET-BB"),
     ("sms",), 7),
    ("DATA", "quota_80", None, ("OF-GIFT-5G079", "OF-LOTTERY-5G"), ("app_push", "sms"), 6),
    ("TOPUP", "balance_low", "balance_fen < 500", ("OF-REDPACKET-BB",), ("sms",), 5),
)  # fmt: skip
BODY = "尊敬的{{ city_name }}客户：{{ offer_name }}已为您预留，回复1办理。"


def prepare(warehouse: str, work: Path) -> tuple[Any, Any]:
    """Operational DB with three running trigger cases; (session factory, warehouse)."""
    import ibis
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from telmark.actor import Actor
    from telmark.cases import planning
    from telmark.cases import service as cases_service
    from telmark.cases.schemas import CaseCreate
    from telmark.catalog.seed import seed_demo_catalog
    from telmark.db import configure_sqlite
    from telmark.dbcli import upgrade_database
    from telmark.execution import service as outbox_service
    from telmark.execution.schemas import TemplateIn
    from telmark.execution.triggers import service
    from telmark.execution.triggers.domain import EventType, parse_condition
    from telmark.execution.triggers.schemas import ConditionIn, TriggerRuleIn
    from telmark.offers import service as offer_service
    from telmark.offers.service import province_today
    from telmark.org import service as org_service
    from telmark.org.models import OrgUnit
    from telmark.segments import service as segments_service
    from telmark.segments import snapshots
    from telmark.segments.schemas import SegmentCreate
    from telmark.uow import UnitOfWork

    url = f"sqlite:///{work / 'operational.db'}"
    upgrade_database(url)
    factory = sessionmaker(bind=configure_sqlite(create_engine(url)), expire_on_commit=False)
    con = ibis.duckdb.connect(warehouse, read_only=True)
    with UnitOfWork(factory) as uow:
        org_service.sync_from_warehouse(uow=uow, con=con)
        seed_demo_catalog(uow=uow, con=con)
        offer_service.seed_examples(uow=uow)
        province = uow.session.query(OrgUnit).filter(OrgUnit.depth == 0).one()
        segment = segments_service.create_segment(
            uow=uow,
            spec=SegmentCreate(
                name="all", rule={"version": 1, "root": {"kind": "tenure_months", "op": ">=",
                                                         "value": 0}},
            ),
        )  # fmt: skip
        snapshot = snapshots.take_snapshot(
            uow=uow, con=con, directory=work / "snapshots", segment_id=segment.id
        )
    planner = Actor(username="planner", scope_path=province.path)
    approver = Actor(username="approver", scope_path=province.path)
    today = province_today()
    for code, event, condition, offers, channels, priority in CASES:
        spec = CaseCreate.model_validate(
            {"name": code, "org_code": province.code, "objective": "retain",
             "snapshot_id": snapshot.id, "priority": priority, "holdout_bp": 1000,
             "lines": [{"offer_code": o, "channel": c, "reach_bp": 10_000 // len(channels),
                        "take_up_bp": 500}
                       for o in offers for c in channels],
             "starts_on": (today - timedelta(days=1)).isoformat(),
             "ends_on": (today + timedelta(days=60)).isoformat(), "budget_fen": 1_000_000}
        )  # fmt: skip
        with UnitOfWork(factory, actor=planner) as uow:
            case_id = planning.create_case(
                uow=uow, spec=spec, con=con, directory=work / "snapshots"
            ).case.id
            cases_service.submit(uow=uow, case_id=case_id)
        with UnitOfWork(factory, actor=approver) as uow:
            cases_service.approve(uow=uow, case_id=case_id, con=con, directory=work / "snapshots")
        with UnitOfWork(factory, actor=planner) as uow:
            cases_service.schedule(uow=uow, case_id=case_id)
            cases_service.start(uow=uow, case_id=case_id)
            for channel in channels:
                outbox_service.set_template(
                    uow=uow, case_id=case_id, channel=channel, spec=TemplateIn(body=BODY)
                )
            kind = EventType(event)
            parsed = None if condition is None else parse_condition(kind, condition)
            service.set_rule(
                uow=uow,
                case_id=case_id,
                spec=TriggerRuleIn(
                    event_type=kind,
                    condition=None
                    if parsed is None
                    else ConditionIn(field=parsed.field, op=parsed.op, value=parsed.value),
                    cooldown_days=7,
                ),
            )
    return factory, con


def run(
    factory: Any, con: Any, runtime: Any, events: Sequence[Any], *, rate: float | None, batch: int
) -> dict[str, Any]:
    """Offer ``events`` at ``rate`` (None: all at once) and ingest them; the figures."""
    from telmark.execution.triggers import service, simulator
    from telmark.uow import UnitOfWork

    arrived: queue.Queue[Any] = queue.Queue()
    latencies: list[np.ndarray[Any, Any]] = []

    def produce() -> None:
        if rate is None:
            now = time.perf_counter()
            moment = datetime.now(UTC)
            for e in events:
                arrived.put(e.__class__(**{**_fields(e), "received": now, "received_at": moment}))
        else:

            def sink(part: Sequence[Any]) -> None:
                for event in part:
                    arrived.put(event)

            simulator.replay(events, rate=rate, sink=sink, batch=max(1, int(rate // 1000)))
        arrived.put(None)

    producer = threading.Thread(target=produce, daemon=True)
    started = time.perf_counter()
    producer.start()
    done = False
    decided = 0
    while not done:
        part = []
        try:
            first = arrived.get(timeout=WAIT_S)
        except queue.Empty:
            continue
        if first is None:
            break
        part.append(first)
        while len(part) < batch:
            try:
                item = arrived.get_nowait()
            except queue.Empty:
                break
            if item is None:
                done = True
                break
            part.append(item)
        with UnitOfWork(factory) as uow:
            result = service.ingest(uow=uow, con=con, runtime=runtime, events=part, answer=False)
        committed = time.perf_counter()
        latencies.append(committed - np.fromiter((e.received for e in part), dtype=np.float64))
        decided += result.decided
    elapsed = time.perf_counter() - started
    stats = runtime.engine.stats
    outcomes = {**stats.outcomes, **stats.reasons}
    outcomes.pop("excluded", None)
    stats.outcomes.clear()
    stats.reasons.clear()
    found = np.concatenate(latencies) * 1000
    p50, p90, p99 = np.percentile(found, [50, 90, 99])
    return {
        "offered_rate": rate,
        "events": len(events),
        "decided": decided,
        "seconds": round(elapsed, 3),
        "events_per_second": round(decided / elapsed, 1),
        "latency_ms": {"p50": round(float(p50), 2), "p90": round(float(p90), 2),
                       "p99": round(float(p99), 2), "max": round(float(found.max()), 2)},
        "outcomes": dict(sorted(outcomes.items(), key=lambda kv: -kv[1])),
    }  # fmt: skip


def _fields(event: Any) -> dict[str, Any]:
    return {name: getattr(event, name) for name in event.__dataclass_fields__}


def render_markdown(p: dict[str, Any]) -> str:
    paced, burst = p["paced"], p["burst"]
    n = p["subscribers"]
    lines = f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n:,}"
    rows = []
    for name, r in (("paced", paced), ("burst (unpaced)", burst)):
        lat = r["latency_ms"]
        rate = f"{r['offered_rate']:,.0f}/s" if r["offered_rate"] else "all at once"
        rows.append(
            f"| {name} | {rate} | {r['events']:,} | **{r['events_per_second']:,.0f}** | "
            f"{lat['p50']} | {lat['p90']} | **{lat['p99']}** | {lat['max']} |"
        )
    outcomes = ", ".join(f"{k} {v:,}" for k, v in paced["outcomes"].items())
    verdict = "meets" if p["meets_targets"] else "misses"
    return f"""
Measured {p["measured_at"]} on {machine_markdown(p["machine"])}. The machine is shared with
other work (2 cores): figures are wall-clock and include that contention.

{lines}-subscriber province (generated, 6 months, with its contact history), three running
event-driven cases (contract end ≤ 60 days, data quota 80 %, balance < 5 yuan) with 10 %
holdouts, SMS/app-push templates and the default contact policy. The engine loaded in
{p["load_seconds"]:.1f} s. Each event is decided in memory and committed with its decision row
(and, for a contact, its outbox row) to the operational database (SQLite) in batches of at most
{p["batch"]}; latency runs from the producer handing the event over to that commit.

| run | offered | events | decided/s | p50 ms | p90 ms | p99 ms | max ms |
|---|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

Paced run outcomes: {outcomes}.

This run {verdict} the target (≥ {TARGET_RATE:,.0f} events/s, p99 ≤ {TARGET_P99_MS:.0f} ms).
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=120_000)
    parser.add_argument("--rate", type=float, default=6_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--no-results", action="store_true", help="do not write results")
    args = parser.parse_args()

    from telmark.execution.triggers import service, simulator
    from telmark.uow import UnitOfWork

    warehouse = province_warehouse(subscribers=args.subscribers, months=6).removeprefix("duckdb://")
    info = machine()
    with tempfile.TemporaryDirectory(prefix="triggers-bench-") as tmp:
        factory, con = prepare(warehouse, Path(tmp))
        started = time.perf_counter()
        with UnitOfWork(factory) as uow:
            runtime = service.load_runtime(uow=uow, con=con, holdout_key="bench")
        load_seconds = time.perf_counter() - started
        print(f"engine loaded in {load_seconds:.1f} s", flush=True)
        paced_events = simulator.generate(con, args.events, seed=1)
        burst_events = simulator.generate(con, args.events // 2, seed=2)
        paced = run(factory, con, runtime, paced_events, rate=args.rate, batch=args.batch)
        print("paced", paced, flush=True)
        burst = run(factory, con, runtime, burst_events, rate=None, batch=args.batch)
        print("burst", burst, flush=True)
        con.disconnect()
    payload = {
        "name": "triggers",
        "measured_at": now_utc(),
        "machine": info,
        "subscribers": args.subscribers,
        "batch": args.batch,
        "load_seconds": round(load_seconds, 2),
        "paced": paced,
        "burst": burst,
        "targets": {"events_per_second": TARGET_RATE, "p99_ms": TARGET_P99_MS},
    }
    payload["meets_targets"] = (
        paced["events_per_second"] >= TARGET_RATE and paced["latency_ms"]["p99"] <= TARGET_P99_MS
    )
    if not args.no_results:
        write_json(f"triggers-{args.subscribers}", payload)
        update_section(f"Triggers ({args.subscribers:,} subscribers)", render_markdown(payload))
    print("meets targets:", payload["meets_targets"])


if __name__ == "__main__":
    main()
