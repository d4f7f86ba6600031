"""Response use cases: import events (file or API), attribute them, read them back per case.

**Import files** are CSV (UTF-8, with or without a byte-order mark, or GB18030
as Excel on Chinese Windows saves it) or Parquet, one event per row, with the
columns (any order; no others):

=============== ========= ==============================================================
column          required  value
=============== ========= ==============================================================
event_id        yes       the event's id in BOSS: letters, digits, ``_ . : / -``, ≤ 100
subscriber_id   yes       the line (a positive integer)
type            yes       offer_accepted, plan_change, addon_bought, port_out,
                          complaint or opt_out (``domain`` says what each means)
occurred_at     yes       ISO 8601 date and time; without a zone it is UTC (the data
                          contract's zone); a date alone is 00:00 UTC
offer_code      no        the offer taken up (offer_accepted); ≤ 40 characters
product_code    no        the product ordered; ≤ 40 characters. The three order types
                          need an offer_code or a product_code
revenue_fen     no        change in the line's monthly revenue in fen, an integer that
                          may be negative; empty is 0
=============== ========= ==============================================================

A file is checked whole before anything is stored: any bad row rejects it,
with every problem named by file, row (as a spreadsheet numbers it: the CSV
header is row 1; Parquet's first row is row 1), column and value, and nothing
is imported. An event whose ``event_id`` is already stored is skipped when it
says the same thing and refused when it says something else; so importing the
same file again stores nothing and records no batch. The API takes the same
fields as JSON, in batches (``POST /api/responses/events``), with the same
rules. New events are attributed straight away (``attribution``), in the same
transaction: an import lands with its attributions or not at all.

Events come from the whole province (BOSS), so importing them and running
attribution are province work: refused below the province. Reading is
org-scoped twice: the case must be visible (``cases.access``), and within it
only exposures and attributions of the actor's units are counted.

**Read model** for monitoring and evaluation: ``response_counts(uow=, case_id=,
by=)`` returns, per group (treatment, control) and — with ``by`` one of
``city``, ``outlet``, ``channel``, ``offer`` — per key of that breakdown:
``exposed`` (distinct subscribers with an exposure under the key: a contact for
treatment, a control row for control), ``responders`` (distinct subscribers
with a take-up event attributed to an exposure under the key), ``take_up_bp``
(responders per exposed, basis points, rounded half up), ``revenue_fen`` (the
monthly revenue change of every attributed event, guardrails included), the
attributed events per type, and ``guardrails`` (distinct subscribers with a
port-out, complaint or opt-out). Treatment counts contacts actually made; a
breakdown assigns a responder to the key of its last touch.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pyarrow.parquet as pq
from ibis.backends import BaseBackend
from sqlalchemy import ColumnElement, Table, func, select, true
from sqlalchemy.dialects import postgresql, sqlite

from telmark.audit.domain import AuditAction
from telmark.audit.service import record_event
from telmark.cases.access import check_version, get_case_row, managed, save, visible_cases
from telmark.cases.models import Case
from telmark.config import get_settings
from telmark.db import utcnow
from telmark.errors import Forbidden, InvalidInput
from telmark.execution.responses import attribution, domain
from telmark.execution.responses.domain import (
    GUARDRAIL_TYPES,
    TAKE_UP_TYPES,
    Breakdown,
    ResponseType,
)
from telmark.execution.responses.models import (
    ResponseAttribution,
    ResponseEvent,
    ResponseExposure,
    ResponseImport,
)
from telmark.execution.responses.schemas import (
    AttributionRead,
    CaseChoice,
    CaseResponsesRead,
    EventIn,
    ImportRead,
    RecentResponse,
    ResponseCount,
    WindowRead,
)
from telmark.execution.tasks.service import masked_numbers
from telmark.org.domain import is_root_path
from telmark.uow import UnitOfWork
from telmark.warehouse.importer.report import HEADER, ImportRejected, Problem

ENTITY = "response_event"
API_SOURCE = "api"
MAX_PROBLEMS = 100
MAX_RECENT = 100
REQUIRED = ("event_id", "subscriber_id", "type", "occurred_at")
OPTIONAL = ("offer_code", "product_code", "revenue_fen")
COLUMNS = REQUIRED + OPTIONAL
COMPARED = ("subscriber_id", "type", "offer_code", "product_code", "occurred_at", "revenue_fen")
EVENT_TABLE = cast(Table, ResponseEvent.__table__)
UTF8_BOM = b"\xef\xbb\xbf"
EXTRA = "\0extra"  # a CSV row's cells beyond the header (a row cannot have such a column)
INT_RE = re.compile(r"^[+-]?[0-9]+$")


@dataclass(frozen=True, slots=True)
class _Event:
    """One checked event and where it came from (a row number, or an API batch index)."""

    where: int
    event_id: str
    subscriber_id: int
    type: ResponseType
    offer_code: str | None
    product_code: str | None
    occurred_at: datetime
    revenue_fen: int

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in COMPARED)


def check_province(uow: UnitOfWork, what: str) -> None:
    scope = uow.actor.scope_path
    if scope is not None and not is_root_path(scope):
        raise Forbidden(
            f"response events come from the whole province: only a province user {what}"
        )


# -- reading files -----------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = _text(value)
    if text is None or not INT_RE.match(text):
        raise ValueError("an integer")
    return int(text)


def _moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        text = _text(value)
        if text is None:
            raise ValueError("a date and time")
        try:
            moment = datetime.fromisoformat(text.replace("/", "-"))
        except ValueError:
            raise ValueError("an ISO 8601 date and time, e.g. 2026-10-05T14:30:00+08:00") from None
    # Without a zone a time is UTC, as everywhere in the data contract.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _decode(data: bytes, file: str) -> str:
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        reason = "bytes not valid in UTF-8 or GB18030; save the file as UTF-8"
        raise ImportRejected(
            source=file, problems=[Problem(file, line, None, None, reason)], total=1
        ) from error


def _header_problems(file: str, header: Sequence[str]) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    for name in header:
        if name in seen:
            problems.append(Problem(file, HEADER, name, None, "column appears twice"))
        elif name not in COLUMNS:
            problems.append(
                Problem(file, HEADER, name, None, f"unknown column (known: {', '.join(COLUMNS)})")
            )
        seen.add(name)
    problems.extend(
        Problem(file, HEADER, name, None, "required column missing")
        for name in REQUIRED
        if name not in seen
    )
    return problems


def _rows(path: Path, file: str) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """The file's header and its rows (row number as a spreadsheet shows it, values)."""
    if path.suffix.lower() == ".parquet":
        try:
            table = pq.read_table(path)
        except Exception as error:  # noqa: BLE001 - pyarrow raises many kinds for a bad file
            problem = Problem(file, None, None, None, f"not a readable Parquet file: {error}")
            raise ImportRejected(source=file, problems=[problem], total=1) from error
        header = list(table.column_names)
        return header, ((i + 1, row) for i, row in enumerate(table.to_pylist()))
    if path.suffix.lower() != ".csv":
        problem = Problem(file, None, None, None, "a .csv or .parquet file is expected")
        raise ImportRejected(source=file, problems=[problem], total=1)
    lines = list(csv.reader(io.StringIO(_decode(path.read_bytes(), file), newline="")))
    header = [h.strip() for h in lines[0]] if lines else []
    return header, (
        (n + 2, dict(zip(header, cells, strict=False)) | {EXTRA: len(cells) - len(header)})
        for n, cells in enumerate(lines[1:])
        if any(c.strip() for c in cells)
    )


def _check(where: int, raw: Mapping[str, Any]) -> tuple[_Event | None, list[tuple[str, Any, str]]]:
    """One row as an event, or its problems as (column, value, reason)."""
    problems: list[tuple[str, Any, str]] = []
    if raw.get(EXTRA, 0) > 0:
        problems.append(("", None, f"{raw[EXTRA]} more value(s) than the header has columns"))
    event_id = _text(raw.get("event_id")) or ""
    subscriber_id = 0
    try:
        subscriber_id = _integer(raw.get("subscriber_id"))
    except ValueError as error:
        problems.append(("subscriber_id", raw.get("subscriber_id"), f"must be {error}"))
    revenue = 0
    if _text(raw.get("revenue_fen")) is not None:
        try:
            revenue = _integer(raw.get("revenue_fen"))
        except ValueError as error:
            problems.append(("revenue_fen", raw.get("revenue_fen"), f"must be {error}"))
    occurred = datetime(1970, 1, 1, tzinfo=UTC)
    try:
        occurred = _moment(raw.get("occurred_at"))
    except ValueError as error:
        problems.append(("occurred_at", raw.get("occurred_at"), f"must be {error}"))
    kind = _text(raw.get("type")) or ""
    offer, product = _text(raw.get("offer_code")), _text(raw.get("product_code"))
    problems.extend(
        (p.column, p.value, p.reason)
        for p in domain.check_event(
            # A subscriber_id that did not parse is reported above, not again as "not positive".
            event_id=event_id, subscriber_id=subscriber_id or 1, event_type=kind,
            offer_code=offer, product_code=product, occurred_at=occurred, revenue_fen=revenue,
        )
    )  # fmt: skip
    if problems:
        return None, problems
    event = _Event(where, event_id, subscriber_id, ResponseType(kind), offer, product, occurred,
                   revenue)  # fmt: skip
    return event, []


def _conflicts(
    uow: UnitOfWork, events: Sequence[_Event]
) -> tuple[list[_Event], list[tuple[_Event, str]]]:
    """Events not stored yet (each id once), and those contradicting a stored or earlier one."""
    fresh: dict[str, _Event] = {}
    clashes: list[tuple[_Event, str]] = []
    for event in events:
        first = fresh.get(event.event_id)
        if first is None:
            fresh[event.event_id] = event
        elif first.values() != event.values():
            clashes.append((event, f"differs from the same event_id at {first.where}"))
    ids = sorted(fresh)
    for start in range(0, len(ids), 1000):
        stored = uow.session.execute(
            select(EVENT_TABLE).where(EVENT_TABLE.c.event_id.in_(ids[start : start + 1000]))
        )
        for row in stored:
            event = fresh.pop(row.event_id)
            if tuple(getattr(row, name) for name in COMPARED) != event.values():
                clashes.append((event, "already imported with different values"))
    return list(fresh.values()), clashes


def _store(
    uow: UnitOfWork,
    events: list[_Event],
    *,
    source: str,
    sha256: str | None,
    rows: int,
    directory: Path | None,
    now: datetime,
) -> ImportRead:
    """Insert the new events in one batch, attribute them, commit (nothing when none is new)."""
    already = rows - len(events)
    if not events:
        empty = AttributionRead(
            exposures_added=0, exposures_removed=0, runs_loaded=0, runs_unreadable=[], events=0,
            attributed=0, updated=0, removed=0, responded=0,
        )  # fmt: skip
        return ImportRead(
            source=source, import_id=None, rows=rows, new_events=0, already_known=already,
            attribution=empty,
        )  # fmt: skip
    batch = ResponseImport(
        source=source, sha256=sha256, rows=rows, new_events=len(events),
        created_by=uow.actor.username, created_at=now,
    )  # fmt: skip
    uow.session.add(batch)
    uow.session.flush()
    dialect = uow.session.get_bind().dialect.name
    insert_of = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = [
        {"event_id": e.event_id, "subscriber_id": e.subscriber_id, "type": e.type.value,
         "offer_code": e.offer_code, "product_code": e.product_code,
         "occurred_at": e.occurred_at, "revenue_fen": e.revenue_fen, "source": source,
         "import_id": batch.id, "created_at": now}
        for e in events
    ]  # fmt: skip
    for start in range(0, len(values), attribution.INSERT_BATCH):
        # A concurrent import of the same events: the first one stores them.
        stmt = insert_of(EVENT_TABLE).on_conflict_do_nothing(index_elements=["event_id"])
        uow.session.execute(stmt, values[start : start + attribution.INSERT_BATCH])
    attributed = attribution.run_pass(
        uow, event_ids=[e.event_id for e in events], directory=directory, now=now
    )
    record_event(
        uow=uow,
        action=AuditAction.CREATE,
        entity_type=ENTITY,
        entity_id=str(batch.id),
        summary=f"response events imported from {source}: {len(events)} new of {rows}",
        details={"source": source, "rows": rows, "new_events": len(events), "sha256": sha256},
    )
    uow.commit()
    return ImportRead(
        source=source, import_id=batch.id, rows=rows, new_events=len(events),
        already_known=already, attribution=attributed,
    )  # fmt: skip


def import_file(
    *,
    uow: UnitOfWork,
    path: Path,
    source: str | None = None,
    directory: Path | None = None,
    now: datetime | None = None,
) -> ImportRead:
    """Import one CSV or Parquet file of events, all or nothing (module doc), and attribute them.

    ``source`` names the file in messages and on the events (an upload's own name);
    the file's name by default.
    """
    check_province(uow, "imports them")
    file = source or path.name
    if not path.is_file():
        problem = Problem(file, None, None, None, "no such file")
        raise ImportRejected(source=file, problems=[problem], total=1)
    header, rows = _rows(path, file)
    problems = _header_problems(file, header)
    if problems:
        raise ImportRejected(source=file, problems=problems[:MAX_PROBLEMS], total=len(problems))
    events: list[_Event] = []
    total = count = 0
    for number, raw in rows:
        count += 1
        event, found = _check(number, raw)
        total += len(found)
        problems.extend(
            Problem(file, number, column or None, None if value is None else str(value), reason)
            for column, value, reason in found[: max(MAX_PROBLEMS - len(problems), 0)]
        )
        if event is not None:
            events.append(event)
    fresh, clashes = _conflicts(uow, events)
    total += len(clashes)
    problems.extend(
        Problem(file, e.where, "event_id", e.event_id, f"{reason} (row {e.where})")
        for e, reason in clashes[: max(MAX_PROBLEMS - len(problems), 0)]
    )
    if total:
        raise ImportRejected(source=file, problems=problems, total=total)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return _store(
        uow, fresh, source=file, sha256=digest, rows=count, directory=directory,
        now=now or utcnow(),
    )  # fmt: skip


def ingest(
    *,
    uow: UnitOfWork,
    events: Sequence[EventIn],
    source: str = API_SOURCE,
    directory: Path | None = None,
    now: datetime | None = None,
) -> ImportRead:
    """Store a batch of events (the API's, or the demo's) idempotently by event_id; attribute."""
    check_province(uow, "sends them")
    checked: list[_Event] = []
    details: list[dict[str, object]] = []
    for index, spec in enumerate(events):
        event, found = _check(index, spec.model_dump())
        details.extend(
            {"field": f"events[{index}].{column}", "value": value, "reason": reason}
            for column, value, reason in found
        )
        if event is not None:
            checked.append(event)
    fresh, clashes = _conflicts(uow, checked)
    details.extend(
        {"field": f"events[{e.where}].event_id", "value": e.event_id, "reason": reason}
        for e, reason in clashes
    )
    if details:
        first = details[0]
        raise InvalidInput(
            f"{first['field']}: {first['reason']} ({len(details)} problem(s)); nothing was stored",
            details=details[:MAX_PROBLEMS],
        )
    return _store(
        uow, fresh, source=source, sha256=None, rows=len(events), directory=directory,
        now=now or utcnow(),
    )  # fmt: skip


def attribute(
    *,
    uow: UnitOfWork,
    case_id: int | None = None,
    directory: Path | None = None,
    now: datetime | None = None,
) -> AttributionRead:
    """Collect exposures and attribute every event again (or one case's); changes only the new."""
    check_province(uow, "runs attribution")
    if case_id is not None:
        get_case_row(uow, case_id)
    result = attribution.run_pass(uow, case_id=case_id, directory=directory, now=now)
    record_event(
        uow=uow,
        action=AuditAction.UPDATE,
        entity_type="response_attribution",
        entity_id=None if case_id is None else str(case_id),
        summary=f"responses attributed{'' if case_id is None else f' for case {case_id}'}",
        details=result.model_dump(mode="json"),
    )
    uow.commit()
    return result


def set_window(
    *,
    uow: UnitOfWork,
    case_id: int,
    days: int | None,
    version: int | None = None,
    directory: Path | None = None,
) -> WindowRead:
    """Set a case's attribution window (None: the setting) and attribute its events again."""
    case, _unit = managed(uow, case_id)
    check_version(case, version)
    if days is not None:
        try:
            domain.check_window(days)
        except ValueError as error:
            raise InvalidInput(str(error), details=[{"field": "days"}]) from None
    case.attribution_days = days
    save(uow, case)
    result = attribution.run_pass(uow, case_id=case_id, directory=directory)
    read = WindowRead(
        case_id=case.id,
        case_code=case.code,
        attribution_days=days,
        effective_days=days or get_settings().response_attribution_days,
        attribution=result,
    )
    uow.commit()
    return read


# -- reading -----------------------------------------------------------------------------------


def _in_scope(uow: UnitOfWork, column: Any) -> ColumnElement[bool]:
    """Rows of the actor's units; the province also sees rows of units not in the org tree."""
    scope = uow.actor.scope_path
    if scope is None or is_root_path(scope):
        return true()
    condition: ColumnElement[bool] = column.startswith(scope, autoescape=True)
    return condition


def _breakdown(by: str | Breakdown | None) -> Breakdown | None:
    if by is None or by == "":
        return None
    try:
        return Breakdown(by)
    except ValueError:
        choices = ", ".join(b.value for b in Breakdown)
        raise InvalidInput(f"by: one of {choices}", details=[{"field": "by"}]) from None


KEY_COLUMN = {
    Breakdown.CITY: "city_id",
    Breakdown.OUTLET: "outlet_id",
    Breakdown.CHANNEL: "channel",
    Breakdown.OFFER: "offer_code",
}


def _grouping(
    model: type[ResponseExposure] | type[ResponseAttribution], by: Breakdown | None
) -> list[Any]:
    """The columns a count is grouped by: the group, and the breakdown's column if any."""
    return [model.group] if by is None else [model.group, getattr(model, KEY_COLUMN[by])]


def _tally(uow: UnitOfWork, stmt: Any, by: Breakdown | None) -> dict[tuple[str, str | None], Any]:
    """Rows of a grouped count as {(group, key): the rest}; the key is None without ``by``."""
    found: dict[tuple[str, str | None], Any] = {}
    for row in uow.session.execute(stmt):
        group, key, rest = (row[0], None, row[1:]) if by is None else (row[0], row[1], row[2:])
        found[(group, key)] = rest[0] if len(rest) == 1 else tuple(rest)
    return found


def _counts(uow: UnitOfWork, case_id: int, by: Breakdown | None) -> list[ResponseCount]:
    x, a = ResponseExposure, ResponseAttribution
    x_cols, a_cols = _grouping(x, by), _grouping(a, by)
    exposed = _tally(
        uow,
        select(*x_cols, func.count(func.distinct(x.subscriber_id)))
        .where(x.case_id == case_id, _in_scope(uow, x.org_path))
        .group_by(*x_cols),
        by,
    )
    where = (a.case_id == case_id, _in_scope(uow, a.org_path))
    distinct = func.count(func.distinct(a.subscriber_id))
    take_up = [t.value for t in TAKE_UP_TYPES]
    guardrail = [t.value for t in GUARDRAIL_TYPES]
    responders = _tally(
        uow, select(*a_cols, distinct).where(*where, a.type.in_(take_up)).group_by(*a_cols), by
    )
    guarded = _tally(
        uow, select(*a_cols, distinct).where(*where, a.type.in_(guardrail)).group_by(*a_cols), by
    )
    events: dict[tuple[str, str | None], dict[str, int]] = {}
    revenue: dict[tuple[str, str | None], int] = {}
    # Per type as well as per (group, key): the types are summed into one row each here.
    for row in uow.session.execute(
        select(*a_cols, a.type, func.count(), func.sum(a.revenue_fen))
        .where(*where)
        .group_by(*a_cols, a.type)
    ):
        group, key = (row[0], None) if by is None else (row[0], row[1])
        kind, n, fen = row[-3], row[-2], row[-1]
        events.setdefault((group, key), {})[kind] = int(n)
        revenue[(group, key)] = revenue.get((group, key), 0) + int(fen or 0)
    keys = sorted(
        {k for _, k in exposed} | {k for _, k in events}, key=lambda k: (k is None, k or "")
    )
    if by is None:
        keys = [None]
    result = []
    for key in keys:
        for group in domain.GROUPS:
            pair = (group, key)
            seen, took = int(exposed.get(pair, 0)), int(responders.get(pair, 0))
            result.append(
                ResponseCount(
                    group=group,
                    key=key,
                    exposed=seen,
                    responders=took,
                    take_up_bp=domain.take_up_bp(took, seen),
                    revenue_fen=revenue.get(pair, 0),
                    events=events.get(pair, {}),
                    guardrails=int(guarded.get(pair, 0)),
                )  # fmt: skip
            )
    return result


def response_counts(*, uow: UnitOfWork, case_id: int, by: str | None = None) -> list[ResponseCount]:
    """Exposed, responders, take-up and revenue per group (and breakdown key) (module doc)."""
    get_case_row(uow, case_id)
    return _counts(uow, case_id, _breakdown(by))


def _recent(
    uow: UnitOfWork, case_id: int, limit: int, con: BaseBackend | None
) -> list[RecentResponse]:
    a = ResponseAttribution
    rows = list(
        uow.session.scalars(
            select(a)
            .where(a.case_id == case_id, _in_scope(uow, a.org_path))
            .order_by(a.occurred_at.desc(), a.id.desc())
            .limit(limit)
        )
    )
    numbers = masked_numbers(con, [r.subscriber_id for r in rows])
    return [
        RecentResponse(
            event_id=r.event_id,
            subscriber_id=r.subscriber_id,
            msisdn=numbers.get(r.subscriber_id),
            type=ResponseType(r.type),
            occurred_at=r.occurred_at,
            group=r.group,
            channel=r.channel,
            offer_code=r.offer_code,
            city_id=r.city_id,
            revenue_fen=r.revenue_fen,
        )  # fmt: skip
        for r in rows
    ]


def case_responses(
    *,
    uow: UnitOfWork,
    case_id: int,
    by: str | None = None,
    recent: int = 20,
    con: BaseBackend | None = None,
) -> CaseResponsesRead:
    """A case's responses: totals and a breakdown per group, and the latest (numbers masked)."""
    case = get_case_row(uow, case_id)
    breakdown = _breakdown(by)
    if not 0 <= recent <= MAX_RECENT:
        raise InvalidInput(f"recent: 0–{MAX_RECENT}", details=[{"field": "recent"}])
    return CaseResponsesRead(
        case_id=case.id,
        case_code=case.code,
        case_name=case.name,
        attribution_days=case.attribution_days or get_settings().response_attribution_days,
        by=breakdown,
        totals=_counts(uow, case_id, None),
        rows=[] if breakdown is None else _counts(uow, case_id, breakdown),
        recent=_recent(uow, case_id, recent, con),
    )


def response_cases(*, uow: UnitOfWork) -> list[CaseChoice]:
    """Cases with exposures in the actor's scope (visible cases only), with their totals."""
    x, a = ResponseExposure, ResponseAttribution
    visible_ids = visible_cases(uow).with_only_columns(Case.id)
    exposed = uow.session.execute(
        select(x.case_id, x.case_code, func.count(func.distinct(x.subscriber_id)))
        .where(x.case_id.in_(visible_ids), _in_scope(uow, x.org_path))
        .group_by(x.case_id, x.case_code)
        .order_by(x.case_id)
    ).all()
    took = dict(
        uow.session.execute(
            select(a.case_id, func.count(func.distinct(a.subscriber_id)))
            .where(
                a.case_id.in_([c for c, _, _ in exposed]),
                _in_scope(uow, a.org_path),
                a.type.in_([t.value for t in TAKE_UP_TYPES]),
            )
            .group_by(a.case_id)
        ).all()
    )
    return [
        CaseChoice(case_id=c, case_code=code, exposed=n, responders=int(took.get(c, 0)))
        for c, code, n in exposed
    ]
