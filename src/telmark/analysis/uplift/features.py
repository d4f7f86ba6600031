"""What an uplift model learns from: labelled rows (cases or a file) and each line's features.

Rows come from finished cases (see ``labelled_from_cases``) or from a file of
``subscriber_id``, ``treated`` and ``outcome``.

Features are the churn model's features of each line, as of a month before the case.

The churn features (telmark.analysis.churn.features) already describe what
the generator's and an operator's responses depend on — tenure, plan and fee,
contract end, handset age and 5G, usage level and trend, complaints, household
and enterprise membership — from months up to T only, so they are reused as
they are. For a case the month T is the last usage month before the case
started: features must not see the case's own effect (a line that took up a
handset subsidy has a new handset afterwards).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend
from sqlalchemy import select

from telmark.analysis.churn.features import (
    CATEGORICAL,
    FEATURES,
    IdRange,
    churn_features,
    usage_months,
)
from telmark.analysis.propensity.domain import parse_label
from telmark.analysis.propensity.files import read_table
from telmark.analysis.uplift import domain
from telmark.cases.domain import CaseStatus
from telmark.cases.models import Case
from telmark.errors import InvalidInput, NotFound, WarehouseEmpty
from telmark.execution.responses.domain import TAKE_UP_TYPES
from telmark.execution.responses.models import ResponseAttribution, ResponseExposure
from telmark.targeting.domain import Group
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import has_table

FINISHED = frozenset({CaseStatus.COMPLETED, CaseStatus.EVALUATED, CaseStatus.CLOSED})
FILE_COLUMNS = ("subscriber_id", "treated", "outcome")
MAX_CASES = 20

__all__ = ["CATEGORICAL", "FEATURES", "categorical_mask", "feature_month_before", "line_features"]


def categorical_mask() -> list[bool]:
    """Which model columns are categorical, in ``FEATURES`` order."""
    return [name in CATEGORICAL for name in FEATURES]


def feature_month_before(months: list[date], starts_on: date) -> date:
    """The latest usage month that ended before ``starts_on``'s month began."""
    first = starts_on.replace(day=1)
    before = [m for m in months if m < first]
    if not before:
        shown = months[0].strftime("%Y-%m") if months else "none"
        raise InvalidInput(
            f"the warehouse has no usage month before {first:%Y-%m}, when the case started "
            f"(earliest: {shown}); features must come from before the case",
            details=[{"field": "case_ids", "starts_on": starts_on.isoformat()}],
        )
    return before[-1]


def line_features(
    con: BaseBackend, *, month: date, latest: date, ids: IdRange | None = None
) -> ir.Table:
    """``subscriber_id`` and ``FEATURES`` of the lines active at the end of ``month``."""
    return churn_features(
        con, month=month, rebuild_state=month != latest, with_label=False, ids=ids
    )


def labelled_features(
    con: BaseBackend, labelled: pa.Table, *, month: date, latest: date
) -> ir.Table:
    """The features joined to labelled rows (``row``, ``subscriber_id``, ``treated``, ``outcome``).

    Lines not active at the end of ``month`` have no features and drop out.
    """
    rows = ibis.memtable(labelled)
    features = line_features(con, month=month, latest=latest)
    return rows.inner_join(features, "subscriber_id").order_by("row")


def warehouse_months(con: BaseBackend) -> list[date]:
    missing = [
        t for t in ("subscribers", "usage_monthly", "subscriptions") if not has_table(con, t)
    ]
    if missing:
        raise WarehouseEmpty(
            "the warehouse has no subscriber data for uplift features; load a province first",
            details=[{"table": t, "reason": "missing"} for t in missing],
        )
    months = usage_months(con)
    if not months:
        raise WarehouseEmpty(
            "usage_monthly has no rows; load a province first",
            details=[{"table": "usage_monthly", "months": 0}],
        )
    return months


@dataclass(frozen=True, slots=True)
class Labelled:
    """Training rows (``row``, ``subscriber_id``, ``treated``, ``outcome``) and their origin."""

    table: pa.Table
    feature_month: date | None  # None: the latest usage month
    source: domain.Source
    case_ids: tuple[int, ...] = ()
    source_file: str | None = None


def _labelled_table(
    ids: np.ndarray[Any, Any], treated: domain.Floats, outcome: domain.Floats
) -> pa.Table:
    return pa.table(
        {
            "row": pa.array(np.arange(len(ids)), pa.int64()),
            "subscriber_id": pa.array(ids, pa.int64()),
            "treated": pa.array(treated.astype(np.int64), pa.int64()),
            "outcome": pa.array(outcome.astype(np.int64), pa.int64()),
        }
    )


def labelled_from_file(raw: bytes, *, filename: str, feature_month: date | None = None) -> Labelled:
    """Rows of a CSV/Parquet table with ``subscriber_id``, ``treated`` and ``outcome`` (0/1)."""
    frame = read_table(raw, filename=filename)
    missing = [c for c in FILE_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"{filename}: missing column(s) {', '.join(missing)}; an uplift table has "
            f"{', '.join(FILE_COLUMNS)}",
            details=[{"field": c, "reason": "missing"} for c in missing],
        )
    ids = pd.to_numeric(frame["subscriber_id"], errors="coerce")
    bad = int((ids.isna() | ((ids % 1) != 0)).sum())
    if bad:
        raise InvalidInput(
            f"{filename}: column subscriber_id has {bad} blank or non-integer values",
            details=[{"field": "subscriber_id", "bad": bad}],
        )
    treated = parse_label(frame["treated"], "treated")
    outcome = parse_label(frame["outcome"], "outcome")
    for name, values in (("treated", treated), ("outcome", outcome)):
        blanks = int(np.isnan(values).sum())
        if blanks:
            raise InvalidInput(
                f"{filename}: column {name} has {blanks} blank values",
                details=[{"field": name, "blank": blanks}],
            )
    return Labelled(
        table=_labelled_table(ids.to_numpy(dtype=np.int64), treated, outcome),
        feature_month=feature_month,
        source=domain.Source.FILE,
        source_file=filename,
    )


def labelled_from_cases(*, uow: UnitOfWork, case_ids: list[int], con: BaseBackend) -> Labelled:
    """The treatment and control lines of finished cases, with their attributed take-up."""
    wanted = sorted(set(case_ids))
    if not wanted:
        raise InvalidInput("name at least one case", details=[{"field": "case_ids"}])
    if len(wanted) > MAX_CASES:
        raise InvalidInput(
            f"at most {MAX_CASES} cases train one model", details=[{"field": "case_ids"}]
        )
    cases = {c.id: c for c in uow.session.scalars(select(Case).where(Case.id.in_(wanted)))}
    for case_id in wanted:
        case = cases.get(case_id)
        if case is None:
            raise NotFound(f"case {case_id} not found", details=[{"field": "case_ids"}])
        if case.status not in FINISHED:
            raise InvalidInput(
                f"case {case_id} ({case.code}) is {case.status}: an uplift model learns from "
                "finished cases (completed, evaluated or closed)",
                details=[{"field": "case_ids", "case_id": case_id, "status": str(case.status)}],
            )
    exposure = ResponseExposure
    groups = uow.session.execute(
        select(exposure.case_id, exposure.subscriber_id, exposure.group)
        .where(exposure.case_id.in_(wanted))
        .distinct()
    ).all()
    attribution = ResponseAttribution
    responded = {
        (int(c), int(s))
        for c, s in uow.session.execute(
            select(attribution.case_id, attribution.subscriber_id)
            .where(
                attribution.case_id.in_(wanted),
                attribution.type.in_([t.value for t in TAKE_UP_TYPES]),
            )
            .distinct()
        )
    }
    seen: dict[tuple[int, int], set[str]] = {}
    for case_id, subscriber_id, group in groups:
        seen.setdefault((int(case_id), int(subscriber_id)), set()).add(str(group))
    empty = [c for c in wanted if not any(k[0] == c for k in seen)]
    if empty:
        raise InvalidInput(
            f"case {empty[0]} has no treatment or control lines recorded; collect its "
            "exposures and attribute its responses first (`telmark responses attribute`)",
            details=[{"field": "case_ids", "case_id": c} for c in empty],
        )
    # A line in both groups of one case (it should not happen) tells nothing: left out.
    keys = sorted(k for k, g in seen.items() if len(g) == 1)
    ids = np.array([s for _, s in keys], dtype=np.int64)
    treated = np.array([Group.TREATMENT.value in seen[k] for k in keys], dtype=np.float64)
    outcome = np.array([k in responded for k in keys], dtype=np.float64)
    first_start = min(cases[c].starts_on for c in wanted)
    return Labelled(
        table=_labelled_table(ids, treated, outcome),
        feature_month=feature_month_before(warehouse_months(con), first_start),
        source=domain.Source.CASES,
        case_ids=tuple(wanted),
    )
