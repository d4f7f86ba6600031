"""Attribution: collect every case's exposures, then give each event its last touch per case.

The rule itself is pure and lives in ``domain`` (last touch within the case's
window, offer matching, control exposure); this module feeds it from the
database and stores what it decides.

**Exposures** (``response_exposure``) are collected at the start of every pass,
each source exactly once (a unique key per source row):

* outbox rows that were sent (states ``sent``, ``delivered``, ``responded``):
  treatment, at ``sent_at``; real-time trigger contacts are outbox rows too;
* front-line tasks done with an outcome that reached the customer —
  ``reached``, ``accepted`` and also ``declined`` (the customer heard the offer
  and said no: leaving them out would keep only the contacts that went well and
  inflate take-up): treatment, at the time the outcome was recorded. A task
  whose outcome is later corrected to ``unreachable`` (or re-recorded at
  another time) loses its exposure, and the events attributed to it are
  attributed again;
* the control rows of every complete targeting run, read once per run from its
  verified list file (``response_control_load`` remembers which): control, at
  00:00 province time of the row's planned day — the day the subscriber would
  have been contacted.

**The window** of a case is its ``attribution_days`` (``marketing_case``), or
the ``response_attribution_days`` setting (30 days by default) when it has
none or is not a marketing-case row. **A case's offers**, for offer matching,
are the offers of its plan lines and every offer its exposures carried.

**A pass** works through the subscribers concerned in batches: it reads their
events and exposures, asks ``domain.attribute`` for the last touch of every
(event, case), and brings ``response_attribution`` to exactly that: new pairs
are inserted, pairs whose touch changed are updated, pairs no longer valid
(a shorter window, a removed exposure) are deleted. Running it again over the
same data therefore changes nothing: recomputation is idempotent and never
attributes an event twice to one case (``(event_id, case_id)`` is unique in
the database too). Take-up events attributed to an outbox contact move it to
``responded`` (``responded_at``: the first such event), as the outbox's state
table allows from ``sent`` and ``delivered``.

A pass runs after every import or API batch (over the new events only), and on
demand (``telmark responses attribute``, all events or one case's).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any, cast

import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import (
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from telmark.cases.models import Case
from telmark.config import get_settings
from telmark.db import UTCDateTime, utcnow
from telmark.errors import DomainError
from telmark.execution.domain import ALLOWED, PROVINCE_TZ, OutboxState
from telmark.execution.models import OutboxMessage
from telmark.execution.responses import domain
from telmark.execution.responses.domain import (
    TAKE_UP_TYPES,
    CaseRule,
    Event,
    Exposure,
    ExposureKind,
    ResponseType,
)
from telmark.execution.responses.models import (
    ResponseAttribution,
    ResponseControlLoad,
    ResponseEvent,
    ResponseExposure,
)
from telmark.execution.responses.schemas import AttributionRead
from telmark.execution.tasks.domain import TASK_CHANNEL, Outcome, TaskState
from telmark.execution.tasks.models import Task
from telmark.org.models import OrgUnit
from telmark.targeting.domain import Group, RunStatus
from telmark.targeting.models import TargetingRun
from telmark.targeting.service import list_file
from telmark.uow import UnitOfWork

SUBSCRIBER_BATCH = 2_000
INSERT_BATCH = 5_000
CONTACT_STATES = (OutboxState.SENT, OutboxState.DELIVERED, OutboxState.RESPONDED)
CONTACT_OUTCOMES = (Outcome.REACHED, Outcome.ACCEPTED, Outcome.DECLINED)
# The outbox states the outbox's own state table lets go to ``responded``.
RESPONDABLE = tuple(s for s, to in ALLOWED.items() if OutboxState.RESPONDED in to)
EXPOSURE_TABLE = cast(Table, ResponseExposure.__table__)
ATTRIBUTION_TABLE = cast(Table, ResponseAttribution.__table__)
OUTBOX_TABLE = cast(Table, OutboxMessage.__table__)
EVENT_TABLE = cast(Table, ResponseEvent.__table__)
EXPOSURE_COLUMNS = (
    "case_id", "case_code", "subscriber_id", "group", "kind", "ref", "channel", "offer_code",
    "city_id", "outlet_id", "account_manager_id", "org_path", "exposed_at", "created_at",
)  # fmt: skip
CONTROL_READ = ("planned_on", "case_id", "case_code", "subscriber_id", "group", "channel",
                "offer_code", "city_id", "outlet_id", "account_manager_id")  # fmt: skip


@dataclass(slots=True)
class _Tally:
    exposures_added: int = 0
    exposures_removed: int = 0
    runs_loaded: int = 0
    runs_unreadable: list[int] = field(default_factory=list)
    events: int = 0
    attributed: int = 0
    updated: int = 0
    removed: int = 0
    responded: int = 0

    def read(self) -> AttributionRead:
        return AttributionRead(
            exposures_added=self.exposures_added,
            exposures_removed=self.exposures_removed,
            runs_loaded=self.runs_loaded,
            runs_unreadable=self.runs_unreadable,
            events=self.events,
            attributed=self.attributed,
            updated=self.updated,
            removed=self.removed,
            responded=self.responded,
        )


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _insert_new(uow: UnitOfWork, table: Table, rows: list[dict[str, Any]], keys: list[str]) -> None:
    """Insert ``rows``, skipping those whose unique ``keys`` exist already."""
    dialect = uow.session.get_bind().dialect.name
    insert_of = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for part in _chunks(rows, INSERT_BATCH):
        stmt = insert_of(table).on_conflict_do_nothing(index_elements=keys)
        uow.session.execute(stmt, list(part))


def _exposure_count(uow: UnitOfWork) -> int:
    # Counted rather than taken from rowcount: drivers do not report it for every statement
    # (psycopg's batched executemany, INSERT .. SELECT through some paths).
    return int(uow.session.scalar(select(func.count()).select_from(EXPOSURE_TABLE)) or 0)


# -- exposures ---------------------------------------------------------------------------------


def _collect_outbox(uow: UnitOfWork, now: datetime) -> None:
    """Sent outbox rows not yet collected, in one INSERT .. SELECT."""
    o, e = OutboxMessage, ResponseExposure
    unit = aliased(OrgUnit)
    seen = exists().where(
        e.kind == ExposureKind.OUTBOX.value,
        e.ref == o.id,
        e.case_id == o.case_id,
        e.subscriber_id == o.subscriber_id,
    )
    source = (
        select(
            o.case_id,
            o.case_code,
            o.subscriber_id,
            literal(Group.TREATMENT.value),
            literal(ExposureKind.OUTBOX.value),
            o.id,
            o.channel,
            o.offer_code,
            o.city_id,
            o.outlet_id,
            o.account_manager_id,
            unit.path,
            o.sent_at,
            literal(now, UTCDateTime()),
        )  # fmt: skip
        .outerjoin(unit, unit.code == func.coalesce(o.outlet_id, o.city_id))
        .where(o.state.in_(CONTACT_STATES), o.sent_at.is_not(None), ~seen)
    )
    uow.session.execute(insert(EXPOSURE_TABLE).from_select(EXPOSURE_COLUMNS, source))


def _task_is_contact() -> Any:
    return and_(
        Task.state == TaskState.DONE,
        Task.outcome.in_(CONTACT_OUTCOMES),
        Task.done_at.is_not(None),
    )


def _drop_stale_tasks(uow: UnitOfWork) -> tuple[int, set[str]]:
    """Remove task exposures whose task no longer reached the customer at that time.

    Returns how many, and the events that were attributed to them (to attribute again).
    """
    e = ResponseExposure
    still = exists().where(Task.id == e.ref, _task_is_contact(), Task.done_at == e.exposed_at)
    stale = list(uow.session.scalars(select(e.id).where(e.kind == ExposureKind.TASK.value, ~still)))
    if not stale:
        return 0, set()
    events: set[str] = set()
    for part in _chunks(stale, INSERT_BATCH):
        events.update(
            uow.session.scalars(
                select(ResponseAttribution.event_id).where(
                    ResponseAttribution.exposure_id.in_(part)
                )
            )
        )
        uow.session.execute(
            delete(ATTRIBUTION_TABLE).where(ATTRIBUTION_TABLE.c.exposure_id.in_(part))
        )
        uow.session.execute(delete(EXPOSURE_TABLE).where(EXPOSURE_TABLE.c.id.in_(part)))
    return len(stale), events


def _collect_tasks(uow: UnitOfWork, now: datetime) -> None:
    """Done tasks that reached the customer and are not yet collected (INSERT .. SELECT)."""
    e = ResponseExposure
    seen = exists().where(
        e.kind == ExposureKind.TASK.value,
        e.ref == Task.id,
        e.case_id == Task.case_id,
        e.subscriber_id == Task.subscriber_id,
    )
    source = select(
        Task.case_id, Task.case_code, Task.subscriber_id, literal(Group.TREATMENT.value),
        literal(ExposureKind.TASK.value), Task.id, literal(TASK_CHANNEL), Task.offer_code,
        Task.city_code, Task.org_code, Task.staff_code, Task.org_path, Task.done_at,
        literal(now, UTCDateTime()),
    ).where(_task_is_contact(), ~seen)  # fmt: skip
    uow.session.execute(insert(EXPOSURE_TABLE).from_select(EXPOSURE_COLUMNS, source))


def _unit_paths(uow: UnitOfWork) -> dict[str, str]:
    return dict(uow.session.execute(select(OrgUnit.code, OrgUnit.path)).all())


def planned_moment(day: Any) -> datetime:
    """00:00 province time of a list's planned day, in UTC: a control row's exposure time."""
    return datetime.combine(day, time(0), tzinfo=PROVINCE_TZ).astimezone(UTC)


def _collect_controls(
    uow: UnitOfWork, directory: Path | None, now: datetime, tally: _Tally
) -> None:
    """Control rows of complete runs not read before, once per run."""
    loaded = select(ResponseControlLoad.run_id)
    runs = list(
        uow.session.scalars(
            select(TargetingRun.id)
            .where(TargetingRun.status == RunStatus.COMPLETE, TargetingRun.id.not_in(loaded))
            .order_by(TargetingRun.id)
        )
    )
    paths: dict[str, str] | None = None
    for run_id in runs:
        try:
            path = list_file(uow=uow, run_id=run_id, directory=directory)
        except DomainError:
            # A missing or altered list is the targeting module's to report; its controls
            # are collected by the first pass that can read it.
            tally.runs_unreadable.append(run_id)
            continue
        if paths is None:
            paths = _unit_paths(uow)
        controls = 0
        for batch in pq.ParquetFile(path).iter_batches(
            batch_size=INSERT_BATCH, columns=list(CONTROL_READ)
        ):
            rows = batch.filter(pc.equal(batch.column("group"), Group.CONTROL.value)).to_pylist()
            values = [
                {
                    "case_id": r["case_id"],
                    "case_code": r["case_code"],
                    "subscriber_id": r["subscriber_id"],
                    "group": Group.CONTROL.value,
                    "kind": ExposureKind.CONTROL.value,
                    "ref": run_id,
                    "channel": r["channel"],
                    "offer_code": r["offer_code"],
                    "city_id": r["city_id"],
                    "outlet_id": r["outlet_id"],
                    "account_manager_id": r["account_manager_id"],
                    "org_path": paths.get(r["outlet_id"] or r["city_id"] or ""),
                    "exposed_at": planned_moment(r["planned_on"]),
                    "created_at": now,
                }  # fmt: skip
                for r in rows
            ]
            controls += len(values)
            _insert_new(uow, EXPOSURE_TABLE, values, ["kind", "ref", "case_id", "subscriber_id"])
        uow.session.add(ResponseControlLoad(run_id=run_id, controls=controls, loaded_at=now))
        uow.session.flush()
        tally.runs_loaded += 1


def collect_exposures(
    uow: UnitOfWork, *, directory: Path | None = None, now: datetime | None = None
) -> tuple[_Tally, set[str]]:
    """Bring ``response_exposure`` up to date (module doc); events needing a new attribution."""
    moment = now or utcnow()
    tally = _Tally()
    tally.exposures_removed, again = _drop_stale_tasks(uow)
    before = _exposure_count(uow)
    _collect_outbox(uow, moment)
    _collect_tasks(uow, moment)
    _collect_controls(uow, directory, moment, tally)
    uow.session.flush()
    tally.exposures_added = _exposure_count(uow) - before
    return tally, again


# -- attribution -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Rules:
    """Each case's window and offers, looked up once per pass."""

    default_days: int
    known: dict[int, CaseRule] = field(default_factory=dict)

    def of(self, uow: UnitOfWork, case_ids: Iterable[int]) -> dict[int, CaseRule]:
        wanted = set(case_ids)
        missing = sorted(wanted - self.known.keys())
        if missing:
            windows: dict[int, int] = {}
            offers: dict[int, set[str]] = {c: set() for c in missing}
            for case_id, days, lines in uow.session.execute(
                select(Case.id, Case.attribution_days, Case.lines).where(Case.id.in_(missing))
            ):
                windows[case_id] = days or self.default_days
                offers[case_id].update(str(line["offer_code"]) for line in lines or ())
            e = ResponseExposure
            for case_id, code in uow.session.execute(
                select(e.case_id, e.offer_code)
                .where(e.case_id.in_(missing), e.offer_code.is_not(None))
                .group_by(e.case_id, e.offer_code)
            ):
                offers[case_id].add(str(code))
            for case_id in missing:
                self.known[case_id] = CaseRule(
                    window_days=windows.get(case_id, self.default_days),
                    offers=frozenset(offers[case_id]),
                )
        return {c: self.known[c] for c in wanted}


def _subscribers(
    uow: UnitOfWork, case_id: int | None, event_ids: Sequence[str] | None
) -> list[int]:
    """The subscribers whose events a pass looks at, in id order."""
    if event_ids is not None:
        found: set[int] = set()
        for part in _chunks(sorted(set(event_ids)), INSERT_BATCH):
            found.update(
                uow.session.scalars(
                    select(ResponseEvent.subscriber_id).where(ResponseEvent.event_id.in_(part))
                )
            )
        return sorted(found)
    x, ev, a = ResponseExposure, ResponseEvent, ResponseAttribution
    exposed = exists().where(x.subscriber_id == ev.subscriber_id)
    attributed = select(a.subscriber_id)
    if case_id is not None:
        exposed = exposed.where(x.case_id == case_id)
        attributed = attributed.where(a.case_id == case_id)
    with_events = set(uow.session.scalars(select(ev.subscriber_id).where(exposed).distinct()))
    return sorted(with_events | set(uow.session.scalars(attributed.distinct())))


def _events(uow: UnitOfWork, subscribers: Sequence[int], only: set[str] | None) -> list[Any]:
    """The subscribers' events as plain rows (no ORM objects piling up over a long pass)."""
    rows = uow.session.execute(
        select(EVENT_TABLE).where(EVENT_TABLE.c.subscriber_id.in_(subscribers))
    )
    return [r for r in rows if only is None or r.event_id in only]


def _exposures(
    uow: UnitOfWork, subscribers: Sequence[int], case_id: int | None, latest: datetime
) -> dict[int, Any]:
    x = EXPOSURE_TABLE.c
    stmt = select(EXPOSURE_TABLE).where(x.subscriber_id.in_(subscribers), x.exposed_at <= latest)
    if case_id is not None:
        stmt = stmt.where(x.case_id == case_id)
    return {row.id: row for row in uow.session.execute(stmt)}


def _values(event: Any, exposure: Any, now: datetime) -> dict[str, Any]:
    return {
        "event_id": event.event_id, "case_id": exposure.case_id, "case_code": exposure.case_code,
        "subscriber_id": event.subscriber_id, "type": event.type,
        "occurred_at": event.occurred_at, "revenue_fen": event.revenue_fen,
        "exposure_id": exposure.id, "group": exposure.group, "kind": exposure.kind,
        "ref": exposure.ref, "exposed_at": exposure.exposed_at, "channel": exposure.channel,
        "offer_code": exposure.offer_code, "city_id": exposure.city_id,
        "outlet_id": exposure.outlet_id, "account_manager_id": exposure.account_manager_id,
        "org_path": exposure.org_path, "attributed_at": now,
    }  # fmt: skip


def mark_responded(uow: UnitOfWork, first_response: dict[int, datetime], now: datetime) -> int:
    """Move sent/delivered outbox rows to ``responded`` at their first take-up event.

    The one place responses change the outbox: rows already ``responded`` (or in a
    state the outbox's table does not let go to it) are left as they are.
    """
    changed = 0
    o = OUTBOX_TABLE.c
    for part in _chunks(sorted(first_response), INSERT_BATCH):
        due = list(
            uow.session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.id.in_(part), OutboxMessage.state.in_(RESPONDABLE)
                )
            )
        )
        if not due:
            continue
        uow.session.execute(
            update(OUTBOX_TABLE)
            # OR rather than IN: an expanding IN cannot take part in an executemany.
            .where(o.id == bindparam("row_id"), or_(*(o.state == s.value for s in RESPONDABLE)))
            .values(
                state=OutboxState.RESPONDED.value,
                responded_at=bindparam("first_at", type_=UTCDateTime()),
                updated_at=bindparam("now", type_=UTCDateTime()),
            ),
            [{"row_id": i, "first_at": first_response[i], "now": now} for i in due],
        )
        changed += len(due)
    return changed


def _attribute_batch(
    uow: UnitOfWork,
    subscribers: Sequence[int],
    *,
    case_id: int | None,
    only: set[str] | None,
    rules: _Rules,
    now: datetime,
    tally: _Tally,
) -> None:
    events = _events(uow, subscribers, only)
    if not events:
        return
    tally.events += len(events)
    by_id = {e.event_id: e for e in events}
    latest = max(e.occurred_at for e in events)
    exposures = _exposures(uow, subscribers, case_id, latest)
    matches = domain.attribute(
        (
            Event(e.event_id, e.subscriber_id, ResponseType(e.type), e.offer_code, e.occurred_at)
            for e in events
        ),
        (
            Exposure(x.id, x.case_id, x.subscriber_id, x.group, ExposureKind(x.kind), x.exposed_at)
            for x in exposures.values()
        ),
        rules.of(uow, {x.case_id for x in exposures.values()}),
    )
    wanted = {(m.event_id, m.case_id): m.exposure_id for m in matches}
    a = ResponseAttribution
    existing_stmt = select(a.id, a.event_id, a.case_id, a.exposure_id).where(
        a.event_id.in_(sorted(by_id))
    )
    if case_id is not None:
        existing_stmt = existing_stmt.where(a.case_id == case_id)
    existing = {(ev, c): (row_id, x) for row_id, ev, c, x in uow.session.execute(existing_stmt)}
    gone = [row_id for key, (row_id, _) in existing.items() if key not in wanted]
    for part in _chunks(gone, INSERT_BATCH):
        uow.session.execute(delete(ATTRIBUTION_TABLE).where(ATTRIBUTION_TABLE.c.id.in_(part)))
    tally.removed += len(gone)
    new: list[dict[str, Any]] = []
    for (event_id, matched_case), exposure_id in sorted(wanted.items()):
        values = _values(by_id[event_id], exposures[exposure_id], now)
        before = existing.get((event_id, matched_case))
        if before is None:
            new.append(values)
        elif before[1] != exposure_id:
            uow.session.execute(
                update(ATTRIBUTION_TABLE)
                .where(ATTRIBUTION_TABLE.c.id == before[0])
                .values({k: v for k, v in values.items() if k not in ("event_id", "case_id")})
            )
            tally.updated += 1
    for part in _chunks(new, INSERT_BATCH):
        uow.session.execute(insert(ATTRIBUTION_TABLE), list(part))
    tally.attributed += len(new)
    first: dict[int, datetime] = {}
    for (event_id, _), exposure_id in wanted.items():
        exposure, event = exposures[exposure_id], by_id[event_id]
        if exposure.kind == ExposureKind.OUTBOX.value and event.type in TAKE_UP_TYPES:
            at = first.get(exposure.ref)
            first[exposure.ref] = event.occurred_at if at is None else min(at, event.occurred_at)
    tally.responded += mark_responded(uow, first, now)


def run_pass(
    uow: UnitOfWork,
    *,
    case_id: int | None = None,
    event_ids: Sequence[str] | None = None,
    directory: Path | None = None,
    now: datetime | None = None,
) -> AttributionRead:
    """Collect exposures, then attribute the events concerned (module doc); flushes, no commit.

    ``event_ids`` limits the pass to those events (after an import), ``case_id``
    to one case's attributions; with neither, every event of an exposed subscriber.
    """
    moment = now or utcnow()
    tally, again = collect_exposures(uow, directory=directory, now=moment)
    rules = _Rules(default_days=get_settings().response_attribution_days)
    if again:
        # Events whose task contact went away are attributed again for every case, whatever
        # this pass is limited to: another case's touch may take them now.
        _attribute(uow, case_id=None, only=again, rules=rules, now=moment, tally=tally)
    only = None if event_ids is None else set(event_ids) - again
    if only is None or only:
        _attribute(uow, case_id=case_id, only=only, rules=rules, now=moment, tally=tally)
    uow.session.flush()
    return tally.read()


def _attribute(
    uow: UnitOfWork,
    *,
    case_id: int | None,
    only: set[str] | None,
    rules: _Rules,
    now: datetime,
    tally: _Tally,
) -> None:
    subscribers = _subscribers(uow, case_id, None if only is None else sorted(only))
    for part in _chunks(subscribers, SUBSCRIBER_BATCH):
        _attribute_batch(uow, part, case_id=case_id, only=only, rules=rules, now=now, tally=tally)
