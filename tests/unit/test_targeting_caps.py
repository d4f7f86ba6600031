"""Property: contact caps, channel caps and the minimum gap hold across any sequence of runs.

Each example draws a policy, up to four overlapping cases, a contact history
and a sequence of run days (in any order, repeats allowed), then runs the
set-wise pipeline (in-memory DuckDB) day after day, each run seeing the
treatment rows of the earlier ones as planned contacts, exactly as the
service hands them in. Every winner is treated as contacted (no holdout: the
strictest case). At the end, every subscriber's contacts — history plus all
planned — are checked against the policy for every day that received one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import ibis
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ibis.backends import BaseBackend

from telmark.targeting import pipeline
from telmark.targeting.domain import CaseSpec, ContactPolicy, Period, period_bounds
from telmark.warehouse.contract import PROVINCE_TZ

SUBSCRIBERS = 24
CHANNELS = ("sms", "app_push", "outbound_call")
FIRST_DAY = date(2026, 10, 1)


@pytest.fixture(scope="module")
def con() -> Iterator[BaseBackend]:
    backend = ibis.duckdb.connect()
    ids = list(range(1, SUBSCRIBERS + 1))
    backend.create_table(
        "subscribers",
        pa.table(
            {
                "subscriber_id": pa.array(ids, pa.int64()),
                "msisdn": [f"1380000{i:04d}" for i in ids],
                "status": ["active"] * SUBSCRIBERS,
            }
        ),
    )
    yield backend
    backend.disconnect()


policies = st.builds(
    ContactPolicy,
    version=st.just(1),
    period=st.sampled_from(list(Period)),
    global_cap=st.integers(1, 3),
    channel_caps=st.dictionaries(st.sampled_from(CHANNELS), st.integers(0, 2), max_size=3),
    min_gap_days=st.integers(0, 3),
)


@st.composite
def case_lists(draw: st.DrawFn) -> list[tuple[CaseSpec, list[int]]]:
    count = draw(st.integers(1, 4))
    found = []
    for case_id in range(1, count + 1):
        channels = draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=3, unique=True))
        members = draw(st.sets(st.integers(1, SUBSCRIBERS), min_size=1))
        spec = CaseSpec(
            case_id=case_id,
            code=f"C{case_id}",
            org_path="/P/",
            priority=draw(st.integers(1, 9)),
            business_weight_bp=draw(st.integers(0, 10_000)),
            snapshot_id=case_id,
            offer_codes=(),
            channels=tuple(channels),
            holdout_bp=0,
            starts_on=FIRST_DAY,
            ends_on=FIRST_DAY + timedelta(days=60),
        )
        found.append((spec, sorted(members)))
    return found


history_rows = st.lists(
    st.tuples(
        st.integers(1, SUBSCRIBERS),
        st.integers(0, 40),
        st.sampled_from((*CHANNELS, "wechat", "frontline_task")),
    ),
    max_size=20,
)
run_days = st.lists(st.integers(0, 40), min_size=1, max_size=6)
blocked_pairs = st.lists(
    st.tuples(st.integers(1, SUBSCRIBERS), st.sampled_from(CHANNELS)), max_size=8
)


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=PROVINCE_TZ).astimezone(UTC)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    policy=policies,
    cases=case_lists(),
    history=history_rows,
    days=run_days,
    blocked=blocked_pairs,
)
def test_caps_and_gap_hold_across_any_sequence_of_runs(
    con: BaseBackend,
    policy: ContactPolicy,
    cases: list[tuple[CaseSpec, list[int]]],
    history: list[tuple[int, int, str]],
    days: list[int],
    blocked: list[tuple[int, str]],
) -> None:
    con.create_table(
        "contact_history",
        pa.table(
            {
                "contact_id": pa.array([f"h{i}" for i in range(len(history))], pa.string()),
                "subscriber_id": pa.array([h[0] for h in history], pa.int64()),
                "contacted_at": pa.array(
                    [_noon(FIRST_DAY + timedelta(days=h[1])) for h in history],
                    pa.timestamp("us", tz="UTC"),
                ),
                "channel": pa.array([h[2] for h in history], pa.string()),
                # Legacy campaigns: never one of the cases, so no planned contact is "sent".
                "case_code": pa.array(["LEGACY"] * len(history), pa.string()),
                "outcome": pa.array(["sent"] * len(history), pa.string()),
            }
        ),
        overwrite=True,
    )
    specs = [c for c, _ in cases]
    members = ibis.memtable(
        {
            "case_id": [c.case_id for c, ids in cases for _ in ids],
            "subscriber_id": [i for _, ids in cases for i in ids],
            "outside": [False for _, ids in cases for _ in ids],
            "pref": [None for _, ids in cases for _ in ids],
        },
        schema={
            "case_id": "int64",
            "subscriber_id": "int64",
            "outside": "boolean",
            "pref": "string",
        },
    )
    masks = pipeline.blocked_masks(
        {ch: [f"1380000{s:04d}" for s, c in blocked if c == ch] for ch in CHANNELS}
    )
    planned: list[tuple[ibis.Table, date]] = []
    contacts: list[tuple[int, date, str]] = [
        (s, FIRST_DAY + timedelta(days=d), {"frontline_task": "frontline"}.get(ch, ch))
        for s, d, ch in history
    ]
    for offset in days:
        on = FIRST_DAY + timedelta(days=offset)
        found = pipeline.contacts(
            pipeline.history_contacts(con, on, policy),
            pipeline.planned_contacts(con, planned, on, policy),
        )
        decided = pipeline.decisions(
            con=con, members=members, cases=specs, offers={}, blocked=masks,
            global_holdout=None, found_contacts=found, policy=policy,
        )  # fmt: skip
        winners = decided.filter(decided.reason.isnull()).to_pyarrow()
        rows = winners.select(["subscriber_id", "case_code", "channel"]).to_pylist()
        # A subscriber wins at most its allowance, never twice for one case.
        assert len({(r["subscriber_id"], r["case_code"]) for r in rows}) == len(rows)
        contacts += [(r["subscriber_id"], on, r["channel"]) for r in rows]
        planned.append(
            (
                ibis.memtable(
                    {
                        "subscriber_id": [r["subscriber_id"] for r in rows],
                        "case_code": [r["case_code"] for r in rows],
                        "channel": [r["channel"] for r in rows],
                        "group": ["treatment"] * len(rows),
                    },
                    schema={
                        "subscriber_id": "int64", "case_code": "string",
                        "channel": "string", "group": "string",
                    },
                ),
                on,
            )
        )  # fmt: skip
        for r in rows:  # consent: never a blocked channel
            assert (r["subscriber_id"], r["channel"]) not in set(blocked)

    planned_days = {(s, d) for s, d, _ in contacts[len(history) :]}
    for subscriber, day in planned_days:
        start, end = period_bounds(day, policy.period)
        mine = [(d, ch) for s, d, ch in contacts if s == subscriber]
        in_period = [(d, ch) for d, ch in mine if start <= d <= end]
        assert len(in_period) <= policy.global_cap, (subscriber, day, in_period)
        per_channel = Counter(ch for _, ch in in_period)
        for channel, cap in policy.channel_caps.items():
            assert per_channel[channel] <= cap or not any(
                ch == channel and (subscriber, d) in planned_days for d, ch in in_period
            )
        if policy.min_gap_days:
            others = [d for d, _ in mine if d != day]
            same_day = [d for d, _ in mine if d == day]
            assert len(same_day) == 1, (subscriber, day, mine)
            assert all(abs((d - day).days) >= policy.min_gap_days for d in others)
