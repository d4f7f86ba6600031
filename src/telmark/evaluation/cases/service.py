"""Case evaluation use cases: evaluate a case, record it, the league, the overdue alert.

**One code path, set-wise.** A case's exposures and attributions (``execution.responses``)
within the actor's organisation are read once from the operational database into an
in-process DuckDB, and ``measure`` aggregates them with Ibis: per group (treatment,
control) and key (the whole case, each city, channel and offer) the distinct exposed
subscribers, responders and subscribers with each guardrail event, the sum and sum of
squares of the monthly revenue per subscriber, and per offer and channel the contacts
and takers that price the case; per day since exposure the first take-ups (the curves).
Only these counts reach Python; ``domain`` turns them into the evaluation. The same
expressions run on 10M contacts (``benchmarks/bench_case_evaluation.py``).

**Scope.** The case must be visible (``cases.access``); within it only exposures and
attributions of the actor's units are counted, so a city sees its part of a province
case (``partial``). Recording needs evaluation:run and the case's own unit within the
actor's scope (a recorded evaluation is the whole case's), and the case completed (or
already evaluated, to record a newer cut-off).

**Closing the loop.** ``cases.service.evaluate`` refuses a case without a recorded
evaluation; ``overdue_evaluations`` (called by ``telmark monitor scan``) raises an
``evaluation_overdue`` alert on every case completed more than
``case_evaluation_overdue_days`` days ago and not evaluated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import ibis
import pyarrow as pa
from ibis.expr.types import Table
from sqlalchemy import ColumnElement, select, true

from telmark.audit.domain import AuditAction
from telmark.audit.service import record_event
from telmark.cases.access import get_case_row, managed, unit_of, visible_cases
from telmark.cases.domain import AlertKind, AlertStatus, CaseAction, CaseStatus, Metric
from telmark.cases.models import Case, CaseAlert, CaseTransition
from telmark.config import get_settings
from telmark.db import utcnow
from telmark.errors import InvalidInput, NotFound
from telmark.evaluation.cases import domain, exports
from telmark.evaluation.cases.domain import (
    CONTROL,
    GUARDRAILS,
    TREATMENT,
    CellCounts,
    CostPart,
    Dimension,
    GroupCounts,
)
from telmark.evaluation.cases.exports import ExportFormat
from telmark.evaluation.cases.models import CaseEvaluation
from telmark.evaluation.cases.schemas import (
    BreakdownRead,
    CaseEvaluationRead,
    CellRead,
    CurvePointRead,
    DetectableRead,
    KpiActualRead,
    LeagueRow,
    ProjectionComparisonRead,
    RecordRead,
)
from telmark.execution.responses.domain import TAKE_UP_TYPES, ExposureKind
from telmark.execution.responses.models import ResponseAttribution, ResponseExposure
from telmark.org.domain import is_root_path
from telmark.org.models import OrgUnit
from telmark.uow import UnitOfWork

KEY_COLUMNS: dict[Dimension, str] = {
    Dimension.CITY: "city_id",
    Dimension.CHANNEL: "channel",
    Dimension.OFFER: "offer_code",
}
TAKE_UP = sorted(t.value for t in TAKE_UP_TYPES)
READ_BATCH = 50_000
SECONDS_PER_DAY = 86_400
# The curves stop here: a case's attribution window is at most a year.
MAX_CURVE_DAYS = 365
EVALUABLE = (CaseStatus.COMPLETED, CaseStatus.EVALUATED, CaseStatus.CLOSED)
# The league shows cases that have run: their contacts and control rows exist.
LEAGUE_STATUSES = (CaseStatus.RUNNING, CaseStatus.PAUSED, *EVALUABLE)
OVERDUE_KEY = "evaluation"

EXPOSURE_SCHEMA = pa.schema(
    [
        ("subscriber_id", pa.int64()),
        ("group", pa.string()),
        ("kind", pa.string()),
        ("channel", pa.string()),
        ("offer_code", pa.string()),
        ("city_id", pa.string()),
    ]
)
ATTRIBUTION_SCHEMA = pa.schema(
    [
        ("subscriber_id", pa.int64()),
        ("group", pa.string()),
        ("type", pa.string()),
        ("revenue_fen", pa.int64()),
        ("channel", pa.string()),
        ("offer_code", pa.string()),
        ("city_id", pa.string()),
        ("day", pa.int64()),  # whole days from the exposure to the event
    ]
)


# -- reading the case's rows -------------------------------------------------------------------


def _in_scope(uow: UnitOfWork, column: Any) -> ColumnElement[bool]:
    """Rows of the actor's units; the province also sees rows of units not in the org tree."""
    scope = uow.actor.scope_path
    if scope is None or is_root_path(scope):
        return true()
    condition: ColumnElement[bool] = column.startswith(scope, autoescape=True)
    return condition


def _table(rows: Iterable[Sequence[Any]], schema: pa.Schema) -> pa.Table:
    """Rows as an Arrow table, built batch by batch so 10M rows never sit in Python lists."""
    batches = []
    chunk: list[Sequence[Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == READ_BATCH:
            batches.append(_batch(chunk, schema))
            chunk = []
    if chunk or not batches:
        batches.append(_batch(chunk, schema))
    return pa.Table.from_batches(batches, schema=schema)


def _batch(rows: Sequence[Sequence[Any]], schema: pa.Schema) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema.names]
    return pa.record_batch(
        [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)], schema=schema
    )


def _days(exposed_at: datetime, occurred_at: datetime) -> int:
    return int((occurred_at - exposed_at).total_seconds() // SECONDS_PER_DAY)


def read_rows(
    uow: UnitOfWork, case_id: int, *, cutoff: datetime
) -> tuple[pa.Table, pa.Table, datetime | None]:
    """The case's exposures and attributions in the actor's scope up to ``cutoff``, and the
    time of the latest attributed event."""
    x, a = ResponseExposure, ResponseAttribution
    exposures = uow.session.execute(
        select(x.subscriber_id, x.group, x.kind, x.channel, x.offer_code, x.city_id)
        .where(x.case_id == case_id, x.exposed_at <= cutoff, _in_scope(uow, x.org_path))
        .execution_options(yield_per=READ_BATCH)
    )
    exposure_table = _table(exposures, EXPOSURE_SCHEMA)
    latest: datetime | None = None
    rows: list[tuple[Any, ...]] = []
    for r in uow.session.execute(
        select(
            a.subscriber_id, a.group, a.type, a.revenue_fen, a.channel, a.offer_code, a.city_id,
            a.exposed_at, a.occurred_at,
        )
        .where(a.case_id == case_id, a.occurred_at <= cutoff, _in_scope(uow, a.org_path))
        .execution_options(yield_per=READ_BATCH)
    ):  # fmt: skip
        latest = r.occurred_at if latest is None else max(latest, r.occurred_at)
        rows.append((*r[:7], _days(r.exposed_at, r.occurred_at)))
    return exposure_table, _table(rows, ATTRIBUTION_SCHEMA), latest


# -- the aggregation ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Measured:
    """What ``measure`` found: the whole case, each breakdown's cells, the first take-ups."""

    overall: CellCounts
    breakdowns: dict[Dimension, list[CellCounts]]
    daily: dict[str, dict[int, int]]


def _keyed(t: Table, column: str | None) -> Table:
    key = ibis.literal(None, type="string") if column is None else t[column]
    return t.mutate(key=key)


def _rows(expr: Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return rows


@dataclass(frozen=True, slots=True)
class _Exposed:
    """Exposure rows counted once at the finest grain every breakdown needs.

    ``unique``: no subscriber has two exposure rows in one group (one contact each, the usual
    case), so a key's distinct exposed subscribers are its rows and every breakdown is summed
    from ``rows`` without another pass over the exposures.
    """

    rows: list[dict[str, Any]]  # group, kind, city_id, channel, offer_code, n
    unique: bool


def _exposed_summary(exposures: Table) -> _Exposed:
    fine = exposures.group_by(["group", "kind", *KEY_COLUMNS.values()]).aggregate(
        n=exposures.count()
    )
    rows = _rows(fine)
    pairs = exposures.select("group", "subscriber_id").distinct().count().execute()
    return _Exposed(rows=rows, unique=int(pairs) == sum(int(r["n"]) for r in rows))


def _cells(
    exposures: Table, attributions: Table, column: str | None, summary: _Exposed
) -> list[CellCounts]:
    """Per key of ``column`` (None: one cell for the whole case) both groups' counts."""
    e, a = _keyed(exposures, column), _keyed(attributions, column)
    by = ["group", "key"]
    took = a.filter(a.type.isin(TAKE_UP))
    responders = took.group_by(by).aggregate(n=took.subscriber_id.nunique())
    guarded = a.filter(a.type.isin(GUARDRAILS))
    guardrails = guarded.group_by([*by, "type"]).aggregate(n=guarded.subscriber_id.nunique())
    per_subscriber = a.group_by([*by, "subscriber_id"]).aggregate(s=a.revenue_fen.sum())
    money = per_subscriber.group_by(by).aggregate(
        total=per_subscriber.s.sum(), squares=(per_subscriber.s.cast("float64") ** 2).sum()
    )
    paid = took.filter(took.group == TREATMENT)
    takers = paid.group_by(["key", "offer_code", "channel"]).aggregate(
        n=paid.subscriber_id.nunique()
    )
    exposed: dict[tuple[str, str | None], int] = {}
    if summary.unique:
        for row in summary.rows:
            cell = (row["group"], None if column is None else row[column])
            exposed[cell] = exposed.get(cell, 0) + int(row["n"])
    else:
        distinct = e.group_by(by).aggregate(n=e.subscriber_id.nunique())
        exposed = {(r["group"], r["key"]): int(r["n"]) for r in _rows(distinct)}
    # Contacts are rows, not subscribers: always summed from the summary.
    sends: list[dict[str, Any]] = []
    for row in summary.rows:
        if row["group"] == TREATMENT and row["kind"] != ExposureKind.CONTROL.value:
            key = None if column is None else row[column]
            sends.append({**row, "key": key})

    counts: dict[tuple[str, str | None], dict[str, Any]] = {}

    def slot(row: dict[str, Any]) -> dict[str, Any]:
        return counts.setdefault((row["group"], row["key"]), {"guardrails": {}})

    for (group_name, key), n in exposed.items():
        slot({"group": group_name, "key": key})["exposed"] = n
    for row in _rows(responders):
        slot(row)["responders"] = int(row["n"])
    for row in _rows(guardrails):
        slot(row)["guardrails"][row["type"]] = int(row["n"])
    for row in _rows(money):
        slot(row)["sum"] = int(row["total"] or 0)
        slot(row)["squares"] = int(round(row["squares"] or 0))
    parts: dict[str | None, dict[tuple[str | None, str | None], list[int]]] = {}
    for row in sends:
        pair = parts.setdefault(row["key"], {}).setdefault(
            (row["offer_code"], row["channel"]), [0, 0]
        )
        pair[0] += int(row["n"])
    for row in _rows(takers):
        pair = parts.setdefault(row["key"], {}).setdefault(
            (row["offer_code"], row["channel"]), [0, 0]
        )
        pair[1] = int(row["n"])

    def group(group: str, key: str | None) -> GroupCounts:
        found = counts.get((group, key))
        if found is None:
            return GroupCounts.empty()
        return GroupCounts(
            exposed=found.get("exposed", 0),
            responders=found.get("responders", 0),
            guardrails=dict(found["guardrails"]),
            revenue_sum_fen=found.get("sum", 0),
            revenue_sumsq=found.get("squares", 0),
        )

    keys = sorted({k for _, k in counts} | set(parts), key=lambda k: (k is None, k or ""))
    if column is None:
        keys = [None]
    return [
        CellCounts(
            key=key,
            treatment=group(TREATMENT, key),
            control=group(CONTROL, key),
            costs=tuple(
                CostPart(offer, channel, n[0], n[1])
                for (offer, channel), n in sorted(
                    parts.get(key, {}).items(), key=lambda kv: (kv[0][0] or "", kv[0][1] or "")
                )
            ),
        )
        for key in keys
    ]


def measure(
    exposures: Table, attributions: Table, *, dimensions: Sequence[Dimension] = tuple(Dimension)
) -> Measured:
    """The counts an evaluation needs (module doc), as Ibis aggregations on their backend."""
    took = attributions.filter(attributions.type.isin(TAKE_UP))
    first = took.group_by(["group", "subscriber_id"]).aggregate(day=took.day.min())
    daily: dict[str, dict[int, int]] = {}
    for row in _rows(first.group_by(["group", "day"]).aggregate(n=first.count())):
        daily.setdefault(row["group"], {})[int(row["day"])] = int(row["n"])
    summary = _exposed_summary(exposures)
    return Measured(
        overall=_cells(exposures, attributions, None, summary)[0],
        breakdowns={
            d: _cells(exposures, attributions, KEY_COLUMNS[d], summary) for d in dimensions
        },
        daily=daily,
    )


def measure_tables(
    exposures: pa.Table, attributions: pa.Table, *, dimensions: Sequence[Dimension]
) -> Measured:
    """``measure`` on Arrow tables, in a DuckDB of its own that is closed afterwards."""
    con = ibis.duckdb.connect()
    try:
        e = con.create_table("exposure", exposures, temp=True)
        a = con.create_table("attribution", attributions, temp=True)
        return measure(e, a, dimensions=dimensions)
    finally:
        con.disconnect()


# -- the evaluation ----------------------------------------------------------------------------


def _dimensions(by: Sequence[str] | None) -> list[Dimension]:
    if by is None:
        return list(Dimension)
    chosen: list[Dimension] = []
    for value in by:
        try:
            chosen.append(Dimension(value))
        except ValueError:
            choices = ", ".join(d.value for d in Dimension)
            raise InvalidInput(f"by: one of {choices}", details=[{"field": "by"}]) from None
    return list(dict.fromkeys(chosen))


def _partial(uow: UnitOfWork, case: Case) -> bool:
    """Does the actor see only a part of the case (a case of a unit above them)?"""
    scope = uow.actor.scope_path
    return scope is not None and not unit_of(uow, case.org_code).path.startswith(scope)


def _kpis(case: Case, result: domain.CaseResult) -> list[KpiActualRead]:
    cell = result.overall
    actual: dict[str, int | None] = {
        Metric.CONTACTS.value: None if cell.cost is None else cell.cost.contacts,
        Metric.TAKERS.value: cell.treatment.successes,
        Metric.TAKE_UP_BP.value: (
            None if cell.treatment.rate is None else round(cell.treatment.rate * domain.BP)
        ),
        Metric.INCREMENTAL_REVENUE_FEN.value: cell.revenue.total_fen,
        Metric.ROI_BP.value: None if cell.roi is None else cell.roi.roi_bp,
    }
    ports = next(g for g in cell.guardrails if g.kind == "port_out")
    if ports.comparison.uplift is not None:
        # Subscribers kept: the port-out rate the treatment avoided, on the treated.
        actual[Metric.RETAINED_SUBSCRIBERS.value] = round(
            -ports.comparison.uplift * cell.treatment.customers
        )
    rows = []
    for kpi in case.kpis or ():
        value = actual.get(str(kpi["metric"]))
        target = int(kpi["target"])
        rows.append(
            KpiActualRead(
                metric=str(kpi["metric"]),
                target=target,
                actual=value,
                met=None if value is None else value >= target,
            )
        )
    return rows


def _labels(uow: UnitOfWork, keys: Iterable[str | None]) -> dict[str, str]:
    codes = sorted({k for k in keys if k})
    if not codes:
        return {}
    return dict(
        uow.session.execute(select(OrgUnit.code, OrgUnit.name).where(OrgUnit.code.in_(codes))).all()
    )


def evaluate_measured(
    measured: Measured,
    *,
    projection: dict[str, Any] | None,
    lines: Sequence[dict[str, Any]],
    horizon_months: int,
) -> domain.CaseResult:
    """The evaluation of counts (``measure``) against the case's frozen projection."""
    priced = None if projection is None else domain.plan_from_projection(projection)
    plan, pricing = (None, None) if priced is None else priced
    if pricing is not None:
        pricing = domain.with_line_costs(pricing, lines)
    horizon = plan.horizon_months if plan is not None and plan.horizon_months else horizon_months
    overall = domain.evaluate_cell(measured.overall, pricing=pricing, horizon_months=horizon)
    breakdowns = [
        domain.evaluate_breakdown(d, cells, pricing=pricing, horizon_months=horizon)
        for d, cells in measured.breakdowns.items()
    ]
    last_day = max((d for days in measured.daily.values() for d in days), default=0)
    curve = domain.cumulative_curve(
        measured.daily,
        {TREATMENT: measured.overall.treatment.exposed, CONTROL: measured.overall.control.exposed},
        days=min(max(last_day, 0), MAX_CURVE_DAYS),
    )
    notes = [domain.SEGMENT_NOTE]
    if plan is None:
        notes.append(domain.NO_PROJECTION_NOTE)
    return domain.CaseResult(
        overall=overall,
        breakdowns=breakdowns,
        curve=curve,
        detectable=domain.detectable(overall, plan),
        projection=(
            None if plan is None or overall.cost is None
            else domain.compare_projection(plan, overall)
        ),
        horizon_months=horizon,
        notes=notes,
    )  # fmt: skip


def evaluate_case(
    *,
    uow: UnitOfWork,
    case_id: int,
    by: Sequence[str] | None = None,
    now: datetime | None = None,
) -> CaseEvaluationRead:
    """A case's evaluation from its responses up to ``now`` (module doc), in the actor's scope."""
    case = get_case_row(uow, case_id)
    dimensions = _dimensions(by)
    cutoff = now or utcnow()
    exposures, attributions, latest = read_rows(uow, case.id, cutoff=cutoff)
    measured = measure_tables(exposures, attributions, dimensions=dimensions)
    result = evaluate_measured(
        measured, projection=case.frozen_projection, lines=case.lines,
        horizon_months=case.horizon_months,
    )  # fmt: skip
    return to_read(uow, case, result, cutoff=cutoff, latest=latest)


def to_read(
    uow: UnitOfWork,
    case: Case,
    result: domain.CaseResult,
    *,
    cutoff: datetime,
    latest: datetime | None,
) -> CaseEvaluationRead:
    city = next((b for b in result.breakdowns if b.dimension is Dimension.CITY), None)
    names = _labels(uow, [] if city is None else [c.key for c in city.cells])
    breakdowns = []
    for breakdown in result.breakdowns:
        cells = [CellRead.model_validate(c) for c in breakdown.cells]
        if breakdown.dimension is Dimension.CITY:
            cells = [c.model_copy(update={"label": names.get(c.key or "")}) for c in cells]
        breakdowns.append(BreakdownRead(dimension=breakdown.dimension, cells=cells))
    return CaseEvaluationRead(
        case_id=case.id,
        case_code=case.code,
        case_name=case.name,
        status=case.status,
        org_code=case.org_code,
        partial=_partial(uow, case),
        cutoff_at=cutoff,
        latest_event_at=latest,
        horizon_months=result.horizon_months,
        overall=CellRead.model_validate(result.overall),
        breakdowns=breakdowns,
        curve=[CurvePointRead.model_validate(p) for p in result.curve],
        detectable=DetectableRead.model_validate(result.detectable),
        projection=(
            None
            if result.projection is None
            else ProjectionComparisonRead.model_validate(result.projection)
        ),
        kpis=_kpis(case, result),
        notes=result.notes,
        methods=dict(domain.METHODS),
    )


# -- recording ---------------------------------------------------------------------------------


def latest_record(uow: UnitOfWork, case_id: int) -> CaseEvaluation | None:
    return uow.session.scalar(
        select(CaseEvaluation)
        .where(CaseEvaluation.case_id == case_id)
        .order_by(CaseEvaluation.recorded_at.desc(), CaseEvaluation.id.desc())
        .limit(1)
    )


def record_evaluation(
    *, uow: UnitOfWork, case_id: int, comment: str = "", now: datetime | None = None
) -> RecordRead:
    """Evaluate the whole case now and store the result (who, when, the data cut-off)."""
    case, _unit = managed(uow, case_id)
    if case.status not in EVALUABLE:
        raise InvalidInput(
            f"case {case.code} is {case.status.value}: an evaluation is recorded once the case "
            "is completed",
            details=[{"field": "status", "current": case.status.value}],
        )
    moment = now or utcnow()
    read = evaluate_case(uow=uow, case_id=case.id, now=moment)
    overall = read.overall
    row = CaseEvaluation(
        case_id=case.id,
        case_code=case.code,
        cutoff_at=moment,
        exposed_treatment=overall.treatment.customers,
        exposed_control=overall.control.customers,
        uplift=overall.comparison.uplift,
        significant=overall.comparison.significant,
        incremental_revenue_fen=overall.revenue.total_fen,
        cost_fen=0 if overall.cost is None else overall.cost.total_fen,
        roi_bp=None if overall.roi is None else overall.roi.roi_bp,
        results=read.model_dump(mode="json"),
        comment=comment.strip(),
        recorded_by=uow.actor.username,
        recorded_at=moment,
    )
    uow.session.add(row)
    uow.session.flush()
    # Recording settles the overdue alert: the loop is closed.
    for alert in uow.session.scalars(
        select(CaseAlert).where(
            CaseAlert.case_id == case.id,
            CaseAlert.kind == AlertKind.EVALUATION_OVERDUE,
            CaseAlert.status != AlertStatus.RESOLVED,
        )
    ):
        alert.status = AlertStatus.RESOLVED
        alert.resolved_at = moment
        alert.resolved_by = uow.actor.username
        alert.resolve_note = "evaluation recorded"
    result = RecordRead.model_validate(row)
    uow.commit()
    return result


def recorded(*, uow: UnitOfWork, case_id: int) -> CaseEvaluationRead:
    """The latest recorded evaluation of a case, as it was recorded; NotFound without one."""
    case = get_case_row(uow, case_id)
    if _partial(uow, case):
        # A recording is the whole case's; a city reading a province case sees its own part.
        raise NotFound(
            f"case {case.code}: a recorded evaluation covers the whole case; "
            "evaluate your part instead",
            details=[{"field": "case_id"}],
        )
    row = latest_record(uow, case.id)
    if row is None:
        raise NotFound(
            f"case {case.code} has no recorded evaluation", details=[{"field": "case_id"}]
        )
    read = CaseEvaluationRead.model_validate(row.results)
    return read.model_copy(update={"recorded": RecordRead.model_validate(row)})


def has_recorded(uow: UnitOfWork, case_id: int) -> bool:
    return latest_record(uow, case_id) is not None


def export_evaluation(
    *, uow: UnitOfWork, case_id: int, fmt: ExportFormat, locale: str, now: datetime | None = None
) -> tuple[CaseEvaluationRead, bytes]:
    """The case's evaluation as an Excel or PDF file; the download is audited."""
    read = evaluate_case(uow=uow, case_id=case_id, now=now)
    data = exports.export(read, fmt, locale=locale)
    record_event(
        uow=uow,
        action=AuditAction.EXPORT,
        entity_type="case_evaluation",
        entity_id=str(read.case_id),
        summary=f"evaluation of case {read.case_code} exported as {fmt.value}",
        details={
            "format": fmt.value,
            "partial": read.partial,
            "cutoff_at": read.cutoff_at.isoformat(),
        },
    )
    uow.commit()
    return read, data


# -- the league --------------------------------------------------------------------------------


def _league_row(case: Case, read: CaseEvaluationRead, at: datetime | None) -> LeagueRow:
    o = read.overall
    return LeagueRow(
        case_id=case.id, case_code=case.code, case_name=case.name, org_code=case.org_code,
        status=case.status, partial=read.partial, recorded_at=at,
        exposed_treatment=o.treatment.customers, exposed_control=o.control.customers,
        uplift=o.comparison.uplift, uplift_low=o.comparison.uplift_low,
        uplift_high=o.comparison.uplift_high, significant=o.comparison.significant,
        incremental_revenue_fen=o.revenue.total_fen,
        cost_fen=None if o.cost is None else o.cost.total_fen,
        roi_bp=None if o.roi is None else o.roi.roi_bp,
        roi_low_bp=None if o.roi is None else o.roi.low_bp,
        roi_high_bp=None if o.roi is None else o.roi.high_bp,
    )  # fmt: skip


def league(*, uow: UnitOfWork, now: datetime | None = None) -> list[LeagueRow]:
    """Cases that have run, by incremental ROI (best first; without a ROI last).

    A case whose unit is within the actor's scope shows its latest recorded evaluation
    (evaluated live when none is recorded); a case of a unit above the actor (a province
    case issued to a city) shows the actor's own part, evaluated live.
    """
    rows: list[LeagueRow] = []
    stmt = visible_cases(uow).where(Case.status.in_(LEAGUE_STATUSES)).order_by(Case.id)
    for case in uow.session.scalars(stmt):
        row = None if _partial(uow, case) else latest_record(uow, case.id)
        if row is not None:
            read = CaseEvaluationRead.model_validate(row.results)
            rows.append(_league_row(case, read, row.recorded_at))
            continue
        read = evaluate_case(uow=uow, case_id=case.id, by=[], now=now)
        if read.overall.treatment.customers == 0 and read.overall.control.customers == 0:
            continue  # nothing of this case reached the actor's units
        rows.append(_league_row(case, read, None))
    return sorted(rows, key=lambda r: (r.roi_bp is None, -(r.roi_bp or 0), r.case_code))


# -- overdue -----------------------------------------------------------------------------------


def completed_at(uow: UnitOfWork, case_id: int) -> datetime | None:
    """When the case was last completed (its timeline's latest ``complete``)."""
    return uow.session.scalar(
        select(CaseTransition.created_at)
        .where(
            CaseTransition.case_id == case_id,
            CaseTransition.action == CaseAction.COMPLETE.value,
        )
        .order_by(CaseTransition.seq.desc())
        .limit(1)
    )


def overdue_evaluations(*, uow: UnitOfWork, now: datetime | None = None) -> list[CaseAlert]:
    """Raise ``evaluation_overdue`` on every completed case left unevaluated too long.

    Idempotent (one alert per case: its ``dedupe_key`` is fixed); flushes, the caller
    commits (the monitor scan).
    """
    moment = now or utcnow()
    days = get_settings().case_evaluation_overdue_days
    raised: list[CaseAlert] = []
    cases = uow.session.scalars(
        select(Case).where(Case.status == CaseStatus.COMPLETED).order_by(Case.id)
    )
    for case in cases:
        done = completed_at(uow, case.id) or case.updated_at
        done = done if done.tzinfo else done.replace(tzinfo=UTC)
        if not domain.overdue(done, moment, days=days) or has_recorded(uow, case.id):
            continue
        exists = uow.session.scalar(
            select(CaseAlert.id).where(
                CaseAlert.case_id == case.id,
                CaseAlert.kind == AlertKind.EVALUATION_OVERDUE,
                CaseAlert.dedupe_key == OVERDUE_KEY,
            )
        )
        if exists is not None:
            continue
        waited = (moment - done).days
        alert = CaseAlert(
            case_id=case.id, issue_id=None, kind=AlertKind.EVALUATION_OVERDUE,
            status=AlertStatus.OPEN, dedupe_key=OVERDUE_KEY, org_code=case.org_code,
            message=(f"case {case.code} was completed {waited} days ago and has no recorded "
                     f"evaluation (due within {days} days)"),
            details={"completed_at": done.isoformat(), "days": days, "waited": waited},
            raised_at=moment, email_state="pending", email_attempts=0,
        )  # fmt: skip
        uow.session.add(alert)
        raised.append(alert)
    uow.session.flush()
    return raised
