"""Front-line task use cases: generate from a run, list, record, reassign, cancel, report.

**Generation** reads a complete run's verified list file in batches: the
treatment rows on the ``frontline`` channel (``domain`` says why not
``outbound_call``). Each row is placed with its account manager (and that
manager's unit) when the line has one on the staff list, else with its home
outlet or grid. Rows whose unit is not in the operational org tree are counted
as unplaced and reported, not guessed at: ``telmark org sync`` fixes them and
a rerun then creates just those. Each batch first looks up which keys
``(run, case, subscriber)`` already have a task, inserts the rest and commits,
so a rerun — or a rerun after a crash halfway — creates exactly the missing
tasks; two generations racing on one run meet the unique key and the later
is told to retry.

**Scope.** Every query filters by the task's ``org_path`` within the actor's
scope: an outlet user sees its outlet's (and its grids') tasks, a city
manager the city's, the province everything. Out-of-scope tasks are NotFound.

**Changes** go through ``domain.transition`` and the task's optimistic lock,
and append a ``frontline_task_event`` whose ``seq`` is the new version.

**Phone numbers** are not stored with tasks: lists show them masked, read from
the warehouse for the page's lines; the clear number comes one task at a time
from ``contact`` through ``privacy.service.disclose`` (audited), to those who
may unmask.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

import ibis
import pyarrow.compute as pc
import pyarrow.parquet as pq
from ibis.backends import BaseBackend
from sqlalchemy import Table, and_, case, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from telmark.audit.domain import AuditAction
from telmark.audit.service import record_event
from telmark.auth.models import User
from telmark.config import get_settings
from telmark.db import utcnow
from telmark.errors import Conflict, Forbidden, InvalidInput, NotFound
from telmark.execution.tasks import domain
from telmark.execution.tasks.domain import (
    TASK_CHANNEL,
    Dimension,
    Outcome,
    Tally,
    TaskAction,
    TaskState,
    View,
)
from telmark.execution.tasks.models import Task, TaskEvent
from telmark.execution.tasks.schemas import (
    CancelIn,
    CaseChoice,
    ContactRead,
    GenerateRead,
    OutcomeIn,
    ReassignIn,
    ReportRead,
    ReportRow,
    TaskEventRead,
    TaskPage,
    TaskRead,
)
from telmark.org.domain import is_root_path
from telmark.org.models import OrgUnit, Staff
from telmark.org.scope import get_visible_unit, visible
from telmark.privacy.masking import PersonalKind, mask_msisdn
from telmark.privacy.service import disclose
from telmark.targeting.domain import Group
from telmark.targeting.models import TargetingRun
from telmark.targeting.service import list_file
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import has_table
from telmark.warehouse.scope import ScopedWarehouse

BATCH_ROWS = 5_000
MAX_PAGE = 200
MAX_UNPLACED_LISTED = 50
LIST_READ = ("case_id", "case_code", "subscriber_id", "group", "channel", "offer_code",
             "city_id", "outlet_id", "account_manager_id", "planned_on")  # fmt: skip
ENTITY = "frontline_task"
TASK_TABLE = cast(Table, Task.__table__)


# -- generation --------------------------------------------------------------------------------


def _case_ends(run: TargetingRun) -> dict[int, date]:
    return {int(c["case_id"]): date.fromisoformat(str(c["ends_on"])) for c in run.cases}


def _places(uow: UnitOfWork) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """Active units (code → path) and active staff (code → (unit code, unit path))."""
    units = dict(
        uow.session.execute(select(OrgUnit.code, OrgUnit.path).where(OrgUnit.active)).all()
    )
    staff = {
        code: (unit, path)
        for code, unit, path in uow.session.execute(
            select(Staff.code, OrgUnit.code, OrgUnit.path)
            .join(OrgUnit, OrgUnit.id == Staff.org_unit_id)
            .where(Staff.active, OrgUnit.active)
        )
    }
    return units, staff


def _existing(
    uow: UnitOfWork, run_id: int, keys: Sequence[tuple[int, int]]
) -> set[tuple[int, int]]:
    subscribers = sorted({s for _, s in keys})
    found = uow.session.execute(
        select(Task.case_id, Task.subscriber_id).where(
            Task.run_id == run_id, Task.subscriber_id.in_(subscribers)
        )
    )
    return set(found)


def generate(
    *,
    uow: UnitOfWork,
    run_id: int,
    directory: Path | None = None,
    sla_days: int | None = None,
    now: datetime | None = None,
) -> GenerateRead:
    """Create the tasks of a complete run's front-line contacts (idempotent; module doc)."""
    scope = uow.actor.scope_path
    if scope is not None and not is_root_path(scope):
        raise Forbidden("a targeting run spans the province: only a province user generates tasks")
    path = list_file(uow=uow, run_id=run_id, directory=directory)
    run = uow.session.get(TargetingRun, run_id)
    assert run is not None
    ends = _case_ends(run)
    sla = sla_days if sla_days is not None else get_settings().task_due_days
    units, staff = _places(uow)
    moment = now or utcnow()
    considered = created = existing = unplaced = 0
    missing_units: set[str] = set()
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=list(LIST_READ)):
        wanted = pc.and_(
            pc.equal(batch.column("group"), Group.TREATMENT.value),
            pc.equal(batch.column("channel"), TASK_CHANNEL),
        )
        rows = batch.filter(wanted).to_pylist()
        if not rows:
            continue
        considered += len(rows)
        done = _existing(uow, run_id, [(r["case_id"], r["subscriber_id"]) for r in rows])
        new: list[dict[str, Any]] = []
        for r in rows:
            if (r["case_id"], r["subscriber_id"]) in done:
                existing += 1
                continue
            manager = staff.get(r["account_manager_id"] or "")
            if manager is not None:
                org_code, org_path, staff_code = manager[0], manager[1], r["account_manager_id"]
            elif r["outlet_id"] in units:
                org_code, org_path, staff_code = r["outlet_id"], units[r["outlet_id"]], None
            else:
                unplaced += 1
                missing_units.add(str(r["outlet_id"]))
                continue
            planned: date = r["planned_on"]
            new.append({
                "run_id": run_id, "case_id": r["case_id"], "case_code": r["case_code"],
                "subscriber_id": r["subscriber_id"], "offer_code": r["offer_code"],
                "city_code": r["city_id"], "org_code": org_code, "org_path": org_path,
                "staff_code": staff_code, "planned_on": planned,
                "due_on": domain.due_day(planned, ends.get(r["case_id"]), sla),
                "state": TaskState.OPEN, "outcome": None, "note": "", "done_at": None,
                "done_by": None, "version": 1, "created_at": moment, "updated_at": moment,
            })  # fmt: skip
        if new:
            try:
                # A Core insert of the table (one statement per batch, one audit entry for
                # it): the ORM's bulk path would build an object per row for nothing.
                uow.session.execute(insert(TASK_TABLE), new)
            except IntegrityError:
                uow.rollback()
                raise Conflict(
                    f"tasks of run {run_id} are being generated by another request; retry",
                    details=[{"field": "run_id"}],
                ) from None
            created += len(new)
            uow.commit()  # one batch at a time: a rerun after a crash resumes from here
    result = GenerateRead(
        run_id=run_id,
        considered=considered,
        created=created,
        existing=existing,
        unplaced=unplaced,
        unplaced_units=sorted(missing_units)[:MAX_UNPLACED_LISTED],
    )
    record_event(
        uow=uow,
        action=AuditAction.CREATE,
        entity_type=ENTITY,
        entity_id=None,
        summary=f"front-line tasks generated from targeting run {run_id}: {created} new",
        details=result.model_dump(mode="json"),
    )
    uow.commit()
    return result


# -- reading -----------------------------------------------------------------------------------


def _today(now: datetime | None) -> date:
    return domain.local_day(now or utcnow())


def _visible_task(uow: UnitOfWork, task_id: int) -> Task:
    task = uow.session.scalar(select(Task).where(Task.id == task_id, visible(uow, Task.org_path)))
    if task is None:
        raise NotFound(f"task {task_id} not found", details=[{"field": "task_id"}])
    return task


def _names(uow: UnitOfWork, tasks: Sequence[Task]) -> tuple[dict[str, str], dict[str, str]]:
    codes = {t.org_code for t in tasks}
    people = {t.staff_code for t in tasks if t.staff_code}
    units = dict(
        uow.session.execute(select(OrgUnit.code, OrgUnit.name).where(OrgUnit.code.in_(codes))).all()
    )
    staff = dict(
        uow.session.execute(select(Staff.code, Staff.name).where(Staff.code.in_(people))).all()
    )
    return units, staff


def masked_numbers(con: BaseBackend | None, subscriber_ids: Iterable[int]) -> dict[int, str]:
    """Masked mobile numbers of ``subscriber_ids`` from the warehouse (none if it has none).

    The unscoped backend: the task (already in the actor's scope) is what entitles
    its worker to the line, and an account manager's lines live outside the centre.
    """
    ids = sorted(set(subscriber_ids))
    if con is None or not ids:
        return {}
    backend = con.backend if isinstance(con, ScopedWarehouse) else con
    if not has_table(backend, "subscribers"):
        return {}
    subs = backend.table("subscribers")
    rows = (
        subs.filter(subs.subscriber_id.isin(ibis.literal(ids)))
        .select("subscriber_id", "msisdn")
        .to_pyarrow()
        .to_pylist()
    )
    return {int(r["subscriber_id"]): mask_msisdn(str(r["msisdn"])) for r in rows if r["msisdn"]}


def _read(
    task: Task,
    today: date,
    units: Mapping[str, str],
    staff: Mapping[str, str],
    numbers: Mapping[int, str],
    history: Sequence[TaskEvent] = (),
) -> TaskRead:
    return TaskRead(
        id=task.id,
        run_id=task.run_id,
        case_id=task.case_id,
        case_code=task.case_code,
        subscriber_id=task.subscriber_id,
        msisdn=numbers.get(task.subscriber_id),
        offer_code=task.offer_code,
        city_code=task.city_code,
        org_code=task.org_code,
        org_name=units.get(task.org_code),
        staff_code=task.staff_code,
        staff_name=staff.get(task.staff_code or ""),
        planned_on=task.planned_on,
        due_on=task.due_on,
        state=task.state,
        overdue=domain.is_overdue(task.state, task.due_on, today),
        outcome=task.outcome,
        note=task.note,
        done_at=task.done_at,
        done_by=task.done_by,
        version=task.version,
        history=[
            TaskEventRead(
                seq=e.seq, action=e.action, from_state=e.from_state, to_state=e.to_state,
                outcome=e.outcome, note=e.note, org_code=e.org_code, staff_code=e.staff_code,
                actor=e.actor, created_at=e.created_at,
            )
            for e in history
        ],
    )  # fmt: skip


def _task_read(
    uow: UnitOfWork, task: Task, *, con: BaseBackend | None = None, now: datetime | None = None
) -> TaskRead:
    units, staff = _names(uow, [task])
    history = uow.session.scalars(
        select(TaskEvent).where(TaskEvent.task_id == task.id).order_by(TaskEvent.seq)
    ).all()
    numbers = masked_numbers(con, [task.subscriber_id])
    return _read(task, _today(now), units, staff, numbers, history)


def get_task(
    *, uow: UnitOfWork, task_id: int, con: BaseBackend | None = None, now: datetime | None = None
) -> TaskRead:
    """One task in the actor's scope, with its history."""
    return _task_read(uow, _visible_task(uow, task_id), con=con, now=now)


def list_tasks(
    *,
    uow: UnitOfWork,
    view: View = View.OPEN,
    case_id: int | None = None,
    org_code: str | None = None,
    staff_code: str | None = None,
    offset: int = 0,
    limit: int = 50,
    con: BaseBackend | None = None,
    now: datetime | None = None,
) -> TaskPage:
    """The actor's tasks (their unit and below): to do first by due day, or done newest first."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit: 1–{MAX_PAGE}", details=[{"field": "limit"}])
    if offset < 0:
        raise InvalidInput("offset: not negative", details=[{"field": "offset"}])
    today = _today(now)
    stmt = select(Task).where(visible(uow, Task.org_path))
    if view is View.OPEN:
        stmt = stmt.where(Task.state == TaskState.OPEN)
    elif view is View.OVERDUE:
        stmt = stmt.where(Task.state == TaskState.OPEN, Task.due_on < today)
    elif view is View.DONE:
        stmt = stmt.where(Task.state == TaskState.DONE)
    if case_id is not None:
        stmt = stmt.where(Task.case_id == case_id)
    if org_code is not None:
        unit = get_visible_unit(uow, org_code)
        stmt = stmt.where(Task.org_path.startswith(unit.path, autoescape=True))
    if staff_code is not None:
        stmt = stmt.where(Task.staff_code == staff_code)
    total = uow.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    order = (
        (Task.done_at.desc(), Task.id.desc())
        if view is View.DONE
        else (Task.due_on, Task.case_id, Task.id)
    )
    tasks = uow.session.scalars(stmt.order_by(*order).offset(offset).limit(limit)).all()
    units, staff = _names(uow, tasks)
    numbers = masked_numbers(con, [t.subscriber_id for t in tasks])
    return TaskPage(
        total=total,
        offset=offset,
        limit=limit,
        tasks=[_read(t, today, units, staff, numbers) for t in tasks],
    )


def task_cases(*, uow: UnitOfWork) -> list[CaseChoice]:
    """The cases that have tasks in the actor's scope (for the per-case filter)."""
    rows = uow.session.execute(
        select(Task.case_id, Task.case_code, func.count())
        .where(visible(uow, Task.org_path))
        .group_by(Task.case_id, Task.case_code)
        .order_by(Task.case_id)
    )
    return [CaseChoice(case_id=c, case_code=code, tasks=n) for c, code, n in rows]


def contact(*, uow: UnitOfWork, con: BaseBackend, task_id: int, unmask: bool) -> ContactRead:
    """The number to call for a task: masked, or in clear after an audited read."""
    task = _visible_task(uow, task_id)
    backend = con.backend if isinstance(con, ScopedWarehouse) else con
    msisdn: str | None = None
    if has_table(backend, "subscribers"):
        subs = backend.table("subscribers")
        found = (
            subs.filter(subs.subscriber_id == task.subscriber_id)
            .select("msisdn")
            .to_pyarrow()
            .to_pylist()
        )
        msisdn = str(found[0]["msisdn"]) if found and found[0]["msisdn"] else None
    shown = disclose(
        uow=uow,
        records=[{"msisdn": msisdn}],
        fields={"msisdn": PersonalKind.MSISDN},
        unmask=unmask,
        what=f"mobile number for front-line task {task.id}",
        entity_type="subscribers",
        entity_ids=[str(task.subscriber_id)],
        details={"task_id": task.id, "case_code": task.case_code},
    )[0]
    return ContactRead(
        task_id=task.id, subscriber_id=task.subscriber_id, msisdn=shown["msisdn"], masked=not unmask
    )


# -- changes -----------------------------------------------------------------------------------


def _check_version(task: Task, version: int | None) -> None:
    if version is not None and version != task.version:
        raise Conflict(
            f"task {task.id} is at version {task.version}, not {version}: it was changed "
            "meanwhile; reload it and try again",
            details=[{"field": "version", "current": task.version}],
        )


def _save(uow: UnitOfWork, task: Task, action: TaskAction, before: TaskState, note: str) -> None:
    """Flush under the optimistic lock, then append the event carrying the new version."""
    task.updated_at = utcnow()
    try:
        uow.session.flush()
    except StaleDataError:
        uow.rollback()
        raise Conflict(
            f"task {task.id} was changed by someone else meanwhile; reload it and try again",
            details=[{"field": "version"}],
        ) from None
    uow.session.add(
        TaskEvent(
            task_id=task.id,
            seq=task.version,
            action=action,
            from_state=before,
            to_state=task.state,
            outcome=task.outcome,
            note=note,
            org_code=task.org_code,
            staff_code=task.staff_code,
            actor=uow.actor.username,
            created_at=task.updated_at,
        )
    )
    uow.session.flush()


def record_outcome(
    *,
    uow: UnitOfWork,
    task_id: int,
    spec: OutcomeIn,
    con: BaseBackend | None = None,
    now: datetime | None = None,
) -> TaskRead:
    """Close an open task with its outcome; a task already done is refused (correct it)."""
    task = _visible_task(uow, task_id)
    _check_version(task, spec.version)
    note = domain.clean_note(spec.note, required=False)
    before = task.state
    task.state = domain.transition(task.id, before, TaskAction.RECORD)
    task.outcome = spec.outcome
    task.note = note
    task.done_at = now or utcnow()
    task.done_by = uow.actor.username
    _save(uow, task, TaskAction.RECORD, before, note)
    result = _task_read(uow, task, con=con, now=now)
    uow.commit()
    return result


def correct_outcome(
    *,
    uow: UnitOfWork,
    task_id: int,
    spec: OutcomeIn,
    con: BaseBackend | None = None,
    now: datetime | None = None,
) -> TaskRead:
    """Change a done task's outcome; the note says why, the history keeps the earlier one."""
    task = _visible_task(uow, task_id)
    _check_version(task, spec.version)
    note = domain.clean_note(spec.note, required=True)
    before = task.state
    task.state = domain.transition(task.id, before, TaskAction.CORRECT)
    if spec.outcome is task.outcome:
        raise InvalidInput(
            f"outcome: task {task.id} is already {spec.outcome}", details=[{"field": "outcome"}]
        )
    task.outcome = spec.outcome
    task.note = note
    task.done_at = now or utcnow()
    task.done_by = uow.actor.username
    _save(uow, task, TaskAction.CORRECT, before, note)
    result = _task_read(uow, task, con=con, now=now)
    uow.commit()
    return result


def _assignee(uow: UnitOfWork, spec: ReassignIn) -> tuple[OrgUnit, Staff | None]:
    if spec.org_code is None and spec.staff_code is None:
        raise InvalidInput(
            "org_code: give a unit or a member of staff to reassign to",
            details=[{"field": "org_code"}],
        )
    person: Staff | None = None
    if spec.staff_code is not None:
        person = uow.session.scalar(
            select(Staff)
            .join(OrgUnit, OrgUnit.id == Staff.org_unit_id)
            .where(Staff.code == spec.staff_code, Staff.active, visible(uow, OrgUnit.path))
        )
        if person is None:
            raise InvalidInput(
                f"staff_code: no active staff {spec.staff_code} in your organisation",
                details=[{"field": "staff_code"}],
            )
    if spec.org_code is None:
        assert person is not None
        return person.org_unit, person
    try:
        unit = get_visible_unit(uow, spec.org_code)
    except NotFound:
        raise InvalidInput(
            f"org_code: no unit {spec.org_code} in your organisation",
            details=[{"field": "org_code"}],
        ) from None
    if not unit.active:
        raise InvalidInput(f"org_code: {unit.code} is inactive", details=[{"field": "org_code"}])
    if person is not None and not person.org_unit.path.startswith(unit.path):
        raise InvalidInput(
            f"staff_code: {person.code} does not work in {unit.code}",
            details=[{"field": "staff_code"}],
        )
    return unit, person


def reassign(
    *, uow: UnitOfWork, task_id: int, spec: ReassignIn, now: datetime | None = None
) -> TaskRead:
    """Give an open task to another unit and/or person within the manager's scope."""
    task = _visible_task(uow, task_id)
    _check_version(task, spec.version)
    note = domain.clean_note(spec.note, required=False)
    unit, person = _assignee(uow, spec)
    before = task.state
    task.state = domain.transition(task.id, before, TaskAction.REASSIGN)
    new_staff = None if person is None else person.code
    if (unit.code, new_staff) == (task.org_code, task.staff_code):
        raise InvalidInput(
            f"org_code: task {task.id} is already with {unit.code}", details=[{"field": "org_code"}]
        )
    task.org_code, task.org_path, task.staff_code = unit.code, unit.path, new_staff
    _save(uow, task, TaskAction.REASSIGN, before, note)
    result = _task_read(uow, task, now=now)
    uow.commit()
    return result


def cancel(
    *, uow: UnitOfWork, task_id: int, spec: CancelIn, now: datetime | None = None
) -> TaskRead:
    """Withdraw an open task (the note says why); it no longer counts as assigned."""
    task = _visible_task(uow, task_id)
    _check_version(task, spec.version)
    note = domain.clean_note(spec.note, required=True)
    before = task.state
    task.state = domain.transition(task.id, before, TaskAction.CANCEL)
    _save(uow, task, TaskAction.CANCEL, before, note)
    result = _task_read(uow, task, now=now)
    uow.commit()
    return result


# -- completion report -------------------------------------------------------------------------


def _key_column(by: Dimension) -> Any:
    return {
        Dimension.UNIT: Task.org_code,
        Dimension.CITY: Task.city_code,
        Dimension.STAFF: Task.staff_code,
        Dimension.RECORDER: Task.done_by,
    }[by]


def _labels(uow: UnitOfWork, by: Dimension, keys: Iterable[str]) -> dict[str, str]:
    wanted = sorted(keys)
    if by in (Dimension.UNIT, Dimension.CITY):
        stmt = select(OrgUnit.code, OrgUnit.name).where(OrgUnit.code.in_(wanted))
    elif by is Dimension.STAFF:
        stmt = select(Staff.code, Staff.name).where(Staff.code.in_(wanted))
    else:
        stmt = select(User.username, User.display_name).where(User.username.in_(wanted))
    return dict(uow.session.execute(stmt).all())


def _row(key: str | None, label: str | None, tally: Tally) -> ReportRow:
    return ReportRow(
        key=key,
        label=label,
        assigned=tally.assigned,
        open=tally.open,
        done=tally.done,
        overdue=tally.overdue,
        cancelled=tally.cancelled,
        outcomes=dict(tally.outcomes),
        completion_bp=tally.completion_bp,
    )


def report(
    *,
    uow: UnitOfWork,
    case_id: int | None = None,
    by: Dimension = Dimension.UNIT,
    now: datetime | None = None,
) -> ReportRead:
    """Completion of the tasks in the actor's scope per unit, city, person or recorder.

    Counted in the database (one grouped query), so it costs the same for ten
    tasks or a million.
    """
    today = _today(now)
    key = _key_column(by)
    late = case((and_(Task.state == TaskState.OPEN, Task.due_on < today), 1), else_=0)
    stmt = (
        select(key, Task.state, Task.outcome, late, func.count())
        .where(visible(uow, Task.org_path))
        .group_by(key, Task.state, Task.outcome, late)
    )
    if case_id is not None:
        stmt = stmt.where(Task.case_id == case_id)
    if by is Dimension.RECORDER:
        stmt = stmt.where(Task.done_by.is_not(None))
    tallies: dict[str | None, Tally] = {}
    total = Tally()
    for name, state, outcome, overdue, n in uow.session.execute(stmt):
        for tally in (tallies.setdefault(name, Tally()), total):
            tally.add(
                TaskState(state), None if outcome is None else Outcome(outcome), bool(overdue), n
            )
    labels = _labels(uow, by, [k for k in tallies if k is not None])
    # Lowest completion first: the rows a manager has to act on.
    ordered = sorted(
        tallies.items(),
        key=lambda kv: (kv[1].completion_bp is None, kv[1].completion_bp or 0, kv[0] or ""),
    )
    return ReportRead(
        case_id=case_id,
        by=by,
        as_of=today,
        total=_row(None, None, total),
        rows=[_row(k, labels.get(k or ""), t) for k, t in ordered],
    )
