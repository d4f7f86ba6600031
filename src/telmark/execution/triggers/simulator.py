"""Generated trigger events for demos and benchmarks, and their replay at a given rate.

``generate`` draws lines of the warehouse at random (seeded) and gives each
event a type by ``WEIGHTS`` and a payload consistent with the line: balance
alerts go to prepaid lines, contract-end alerts to lines under contract (with
the days actually left when the contract ends within 60 days), quota alerts
between 80 % and 100 %, roaming to a handful of common destinations. Event ids
are ``sim-<seed>-<n>``, so a replayed run is recognised as duplicates.

``replay`` hands events to a sink in batches, paced to ``rate`` events per
second (the batch is sent when its last event is due), and stamps each with
the moment it was handed over: the start of its latency.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from ibis.backends import BaseBackend

from telmark.execution.triggers.domain import EventType
from telmark.execution.triggers.engine import Event

WEIGHTS: dict[EventType, float] = {
    EventType.QUOTA_80: 0.35,
    EventType.BALANCE_LOW: 0.25,
    EventType.CONTRACT_ENDS: 0.15,
    EventType.ROAMING_START: 0.10,
    EventType.COMPLAINT_CLOSED: 0.15,
}
COUNTRIES = ("JP", "KR", "TH", "SG", "US", "GB", "FR", "AU", "MY", "HK")
Sink = Callable[[Sequence[Event]], None]


def _lines(con: BaseBackend) -> dict[str, np.ndarray[Any, Any]]:
    subscribers = con.table("subscribers")
    table = subscribers.select(
        "subscriber_id", "msisdn", "payment_type", "contract_end", "status"
    ).to_pyarrow()
    ends = table["contract_end"].to_pylist()
    return {
        "ids": table["subscriber_id"].to_numpy().astype(np.int64),
        "msisdn": np.asarray(table["msisdn"].to_pylist(), dtype=object),
        "prepaid": np.asarray(table["payment_type"].to_pylist(), dtype=object) == "prepaid",
        "active": np.asarray(table["status"].to_pylist(), dtype=object) == "active",
        "end": np.asarray([e.toordinal() if e else 0 for e in ends], dtype=np.int64),
    }


def generate(
    con: BaseBackend,
    n: int,
    *,
    seed: int = 1,
    today: date | None = None,
    by_msisdn_share: float = 0.2,
) -> list[Event]:
    """``n`` plausible events over the warehouse's active lines (module docstring)."""
    rng = np.random.default_rng(seed)
    lines = _lines(con)
    active = np.flatnonzero(lines["active"])
    pools = {
        EventType.BALANCE_LOW: np.flatnonzero(lines["active"] & lines["prepaid"]),
        EventType.CONTRACT_ENDS: np.flatnonzero(lines["active"] & (lines["end"] > 0)),
    }
    day = today or datetime.now(UTC).date()
    kinds = list(WEIGHTS)
    chosen = rng.choice(len(kinds), size=n, p=np.array(list(WEIGHTS.values())))
    moment = datetime.now(UTC)
    events = []
    for i, k in enumerate(chosen.tolist()):
        kind = kinds[k]
        pool = pools.get(kind, active)
        if not pool.size:
            pool = active
        at = int(pool[rng.integers(pool.size)])
        payload: dict[str, Any]
        if kind is EventType.QUOTA_80:
            payload = {"used_pct": int(rng.integers(80, 101))}
        elif kind is EventType.BALANCE_LOW:
            payload = {"balance_fen": int(rng.integers(-500, 1_000))}
        elif kind is EventType.CONTRACT_ENDS:
            left = int(lines["end"][at]) - day.toordinal()
            payload = {"days_left": left if 0 <= left <= 60 else int(rng.integers(0, 61))}
        elif kind is EventType.ROAMING_START:
            payload = {"country": COUNTRIES[int(rng.integers(len(COUNTRIES)))]}
        else:
            payload = {"complaint_id": f"CP{seed}{i:08d}"}
        by_number = rng.random() < by_msisdn_share
        events.append(
            Event(
                event_id=f"sim-{seed}-{i}",
                event_type=kind,
                occurred_at=moment - timedelta(seconds=int(rng.integers(0, 60))),
                payload=payload,
                subscriber_id=None if by_number else int(lines["ids"][at]),
                msisdn=str(lines["msisdn"][at]) if by_number else None,
                source="simulator",
            )
        )
    return events


def as_json(event: Event) -> dict[str, Any]:
    """The event in the API's shape (``schemas.EventIn``)."""
    data: dict[str, Any] = {
        "event_id": event.event_id,
        "type": event.event_type.value,
        "occurred_at": event.occurred_at.isoformat(),
        "payload": dict(event.payload),
    }
    if event.subscriber_id is not None:
        data["subscriber_id"] = event.subscriber_id
    else:
        data["msisdn"] = event.msisdn
    return data


def batches(events: Sequence[Event], size: int) -> Iterator[Sequence[Event]]:
    for start in range(0, len(events), size):
        yield events[start : start + size]


def replay(events: Sequence[Event], *, rate: float, sink: Sink, batch: int = 100) -> float:
    """Hand ``events`` to ``sink`` at ``rate`` per second; the seconds it took."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    started = time.perf_counter()
    for number, part in enumerate(batches(events, batch)):
        due = started + (number * batch + len(part)) / rate
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        handed = time.perf_counter()
        sink([replace(e, received=handed, received_at=datetime.now(UTC)) for e in part])
    return time.perf_counter() - started


def redis_sink(client: Any, stream: str) -> Sink:
    """XADD each event (field ``event``: its JSON) in one pipeline per batch."""

    def send(part: Sequence[Event]) -> None:
        pipe = client.pipeline(transaction=False)
        for event in part:
            pipe.xadd(stream, {"event": json.dumps(as_json(event), ensure_ascii=False)})
        pipe.execute()

    return send


def http_sink(client: Any, url: str, token: str) -> Sink:
    """POST each batch to ``/api/triggers/events`` with a bearer token."""
    headers = {"Authorization": f"Bearer {token}"}

    def send(part: Sequence[Event]) -> None:
        response = client.post(
            url.rstrip("/") + "/api/triggers/events",
            json={"events": [as_json(e) for e in part]},
            headers=headers,
        )
        response.raise_for_status()

    return send
