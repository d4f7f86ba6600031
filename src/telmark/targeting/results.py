"""From the pipeline's rows to a run's lists and summary (Arrow and numpy, no I/O).

The holdout is drawn here, on the winners the warehouse returned, with
``domain.in_holdout`` — numpy over the ids, so the draw does not depend on the
warehouse backend. The list table is sorted by (case, subscriber, group) and
has a fixed schema, so the same decisions always give byte-identical Parquet.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from telmark.targeting.domain import (
    COVARIATES,
    CaseSpec,
    ContactPolicy,
    Group,
    Moments,
    Reason,
    balance_of,
    funnel,
    in_holdout,
    send_window,
)
from telmark.targeting.schemas import (
    BalanceRead,
    CaseFunnel,
    ListCount,
    LossRead,
    RunSummary,
    SendWindow,
    StepCount,
)

LIST_SCHEMA = pa.schema(
    [
        ("planned_on", pa.date32()),
        ("case_id", pa.int32()),
        ("case_code", pa.string()),
        ("subscriber_id", pa.int64()),
        ("group", pa.string()),
        ("channel", pa.string()),
        ("offer_code", pa.string()),
        ("city_id", pa.string()),
        ("outlet_id", pa.string()),
        ("account_manager_id", pa.string()),
        ("priority", pa.int8()),
        ("business_weight_bp", pa.int16()),
        ("propensity", pa.int16()),
        ("value", pa.int32()),
        ("score", pa.int64()),
        ("rank", pa.int16()),
        ("beaten_by", pa.int32()),
        ("send_from", pa.string()),
        ("send_until", pa.string()),
    ]
)


def assign_groups(winners: pa.Table, cases: Sequence[CaseSpec], key: str) -> np.ndarray[Any, Any]:
    """Per winner row: True when drawn into its case's control group."""
    case_ids = winners.column("case_id").to_numpy()
    ids = winners.column("subscriber_id").to_numpy()
    control = np.zeros(len(ids), dtype=bool)
    for case in cases:
        rows = case_ids == case.case_id
        if case.holdout_bp and rows.any():
            control[rows] = in_holdout(key, case.case_id, ids[rows], case.holdout_bp)
    return control


def decode(table: pa.Table, name: str, values: Sequence[str | None]) -> pa.Array:
    """A small-integer code column as the strings it stands for (NULL stays NULL)."""
    codes = table.column(name).combine_chunks()
    return pa.array(list(values), pa.string()).take(codes)


def _by_case(table: pa.Table, cases: Sequence[CaseSpec], attribute: str) -> pa.Array:
    """A per-case attribute (code, priority, weight) for every row, by its case id."""
    ids = table.column("case_id")
    positions = pc.index_in(ids, value_set=pa.array([c.case_id for c in cases]).cast(ids.type))
    return pa.array([getattr(c, attribute) for c in cases]).take(positions)


def _part(
    table: pa.Table,
    *,
    group: pa.Array,
    cases: Sequence[CaseSpec],
    policy: ContactPolicy,
    on: date,
    sending: bool,
) -> pa.Table:
    """One part of the list file (winners or losers) in ``LIST_SCHEMA``, sorted."""
    rows = table.num_rows
    table = table.sort_by([("case_id", "ascending"), ("subscriber_id", "ascending")])
    channel = table.column("channel")
    columns: dict[str, Any] = {
        "planned_on": pa.array(np.full(rows, on), pa.date32()),
        "case_code": _by_case(table, cases, "code"),
        "priority": _by_case(table, cases, "priority"),
        "business_weight_bp": _by_case(table, cases, "business_weight_bp"),
        "group": group,
    }
    for index, name in ((0, "send_from"), (1, "send_until")):
        values = pa.nulls(rows, pa.string())
        if sending:
            for used in sorted(pc.unique(channel).drop_null().to_pylist()):
                window = send_window(policy, used)
                if window is not None:
                    here = pc.equal(channel, used)
                    values = pc.if_else(here, window[index].strftime("%H:%M"), values)
        columns[name] = values
    arrays = []
    for field in LIST_SCHEMA:
        if field.name in columns:
            arrays.append(pc.cast(columns[field.name], field.type))
        elif field.name in table.column_names:
            arrays.append(table.column(field.name).cast(field.type))
        else:
            arrays.append(pa.nulls(rows, field.type))
    return pa.table(arrays, schema=LIST_SCHEMA)


def list_parts(
    *,
    winners: pa.Table,
    control: np.ndarray[Any, Any],
    losers: pa.Table,
    cases: Sequence[CaseSpec],
    policy: ContactPolicy,
    on: date,
) -> Iterator[pa.Table]:
    """The list file's parts: winners (treatment and control), then losers, each sorted.

    Winners and losers are disjoint (case, subscriber) pairs; each part is sorted by
    case and subscriber, so the same decisions always give the same bytes. A generator,
    so a writer holds one part in memory at a time.
    """
    yield _part(winners, group=_groups(winners, control), cases=cases, policy=policy, on=on,
                sending=True)  # fmt: skip
    lost = pa.array(np.full(losers.num_rows, Group.LOST.value), pa.string())
    yield _part(losers, group=lost, cases=cases, policy=policy, on=on, sending=False)


def _groups(winners: pa.Table, control: np.ndarray[Any, Any]) -> pa.Array:
    """Group labels in the winners' sorted order (the order ``_part`` sorts them into)."""
    order = pc.sort_indices(
        winners, sort_keys=[("case_id", "ascending"), ("subscriber_id", "ascending")]
    )
    labels = np.where(control, Group.CONTROL.value, Group.TREATMENT.value)
    return pa.array(labels, pa.string()).take(order)


class Tally:
    """A run's summary, added up bucket by bucket (see ``targeting.run``)."""

    def __init__(self, cases: Sequence[CaseSpec]) -> None:
        self.cases = list(cases)
        self.counts: Counter[tuple[int, str | None]] = Counter()
        self.controls: Counter[int] = Counter()
        self.moments: dict[tuple[int, str, bool], Moments] = {}
        self.losses: Counter[tuple[int, int]] = Counter()
        self.lists: Counter[tuple[int, str, str | None, str]] = Counter()

    def add(
        self,
        *,
        counts: pa.Table,
        winners: pa.Table,
        control: np.ndarray[Any, Any],
        losers: pa.Table,
    ) -> None:
        """One bucket's counts by reason, winners (with covariates) and losers."""
        for case_id, reason, n in zip(
            counts.column("case_id").to_pylist(),
            counts.column("reason").to_pylist(),
            counts.column("n").to_pylist(),
            strict=True,
        ):
            self.counts[(int(case_id), reason)] += int(n)
        case_ids = winners.column("case_id").to_numpy()
        for case in self.cases:
            rows = case_ids == case.case_id
            self.controls[case.case_id] += int(control[rows].sum())
            if not case.holdout_bp or not rows.any():
                continue
            for covariate in COVARIATES:
                values = winners.column(covariate).to_numpy(zero_copy_only=False)
                values = values.astype(np.float64)
                for arm, chosen in ((False, rows & ~control), (True, rows & control)):
                    key = (case.case_id, covariate, arm)
                    self.moments.setdefault(key, Moments()).add(values[chosen])
        if losers.num_rows:
            grouped = losers.group_by(["case_id", "beaten_by"]).aggregate(
                [("subscriber_id", "count")]
            )
            for c, b, n in zip(
                *(grouped.column(x).to_pylist() for x in
                  ("case_id", "beaten_by", "subscriber_id_count")),
                strict=True,
            ):  # fmt: skip
                self.losses[(int(c), int(b))] += int(n)
        if winners.num_rows:
            keyed = pa.table(
                {
                    "case_id": winners.column("case_id"),
                    "channel": winners.column("channel"),
                    "city_id": winners.column("city_id"),
                    "group": pa.array(
                        np.where(control, Group.CONTROL.value, Group.TREATMENT.value)
                    ),
                }
            )
            grouped = keyed.group_by(["case_id", "channel", "city_id", "group"]).aggregate(
                [("case_id", "count")]
            )
            for c, ch, city, g, n in zip(
                *(grouped.column(x).to_pylist() for x in
                  ("case_id", "channel", "city_id", "group", "case_id_count")),
                strict=True,
            ):  # fmt: skip
                self.lists[(int(c), str(ch), city, str(g))] += int(n)

    def summary(self, policy: ContactPolicy) -> RunSummary:
        """Funnel per case (and all together), balance, arbitration losses and list counts."""
        funnels = []
        total_snapshot = 0
        total_excluded: Counter[Reason] = Counter()
        for case in self.cases:
            counted = {r: n for (c, r), n in self.counts.items() if c == case.case_id}
            snapshot = sum(counted.values())
            excluded = {Reason(r): n for r, n in counted.items() if r is not None}
            excluded[Reason.CONTROL] = self.controls[case.case_id]
            total_snapshot += snapshot
            total_excluded.update(excluded)
            funnels.append(_case_funnel(case.case_id, case.code, snapshot, excluded))
        funnels.append(_case_funnel(None, "*", total_snapshot, dict(total_excluded)))
        return RunSummary(
            funnel=funnels,
            balance=self._balance(),
            losses=[
                LossRead(case_id=c, beaten_by=b, count=n)
                for (c, b), n in sorted(self.losses.items())
            ],
            lists=[
                ListCount(case_id=c, channel=ch, city_id=city, group=Group(g), count=n)
                for (c, ch, city, g), n in sorted(
                    self.lists.items(), key=lambda i: (i[0][0], i[0][1], i[0][2] or "", i[0][3])
                )
            ],
            send_windows=[
                SendWindow(
                    channel=channel,
                    send_from=None if (w := send_window(policy, channel)) is None else w[0],
                    send_until=None if w is None else w[1],
                )
                for channel in sorted({c for case in self.cases for c in case.channels})
            ],
        )

    def _balance(self) -> list[BalanceRead]:
        found = []
        for case in self.cases:
            for covariate in COVARIATES:
                treated = self.moments.get((case.case_id, covariate, False))
                held = self.moments.get((case.case_id, covariate, True))
                if treated is None or held is None:
                    continue
                result = balance_of(covariate, treated, held)
                found.append(
                    BalanceRead(
                        case_id=case.case_id,
                        covariate=covariate,
                        treatment_n=result.treatment_n,
                        control_n=result.control_n,
                        treatment_mean=result.treatment_mean,
                        control_mean=result.control_mean,
                        smd=result.smd,
                        flagged=result.flagged,
                    )
                )
        return found


def _case_funnel(
    case_id: int | None, code: str, snapshot: int, excluded: Mapping[Reason, int]
) -> CaseFunnel:
    return CaseFunnel(
        case_id=case_id,
        case_code=code,
        steps=[StepCount(step=s, count=n) for s, n in funnel(snapshot, excluded)],
        exclusions={r: excluded.get(r, 0) for r in Reason},
    )
