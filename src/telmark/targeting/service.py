"""Targeting use cases: the contact policy, the targeting run, its lists and explanations.

A run (``run_targeting``) is province-wide — arbitration and caps span every
city — so only an actor at the province may start one. Its steps:

1. **Claim.** The ``targeting_run`` row is committed as ``running`` naming the
   file it will write (``run-<id>/lists-<token>.parquet``). A repeated
   ``run_key`` returns the complete run (Conflict if its cases or day differ),
   or takes over a failed or crashed one. One run at a time: other ``running``
   rows whose row lock is free (PostgreSQL, ``SKIP LOCKED``) belong to crashed
   processes and are marked failed; a locked one is live, and this run is
   refused (Conflict). SQLite has no row locks, so there a concurrent run is
   abandoned and fails at its final check instead.
2. **Compute** (``targeting.compute``, bucket by bucket): ``pipeline.decisions``
   over the verified snapshot files, the offers' eligibility rules, the consent
   register (read now: opt-outs arrive daily), the global holdout and the
   contacts counted against the caps — ``contact_history`` and the treatment
   rows of *complete* runs, so a crashed run never counts; then the holdout.
3. **Lists.** Each bucket's list parts are written to a hidden temporary file,
   which is renamed into place once complete; its SHA-256 is taken and the row
   marked ``complete`` with the summary in one commit. Any failure removes the
   files and marks the row ``failed``; nothing a later run reads is half
   written, and a rerun with the same key completes it.

A simulation runs steps 2–3 in memory twice — with and without the new case —
and reports how many targets each other case would lose to it; nothing is
stored.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from ibis.backends import BaseBackend
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from telmark.config import get_settings
from telmark.db import utcnow
from telmark.errors import Conflict, Forbidden, InvalidInput, NotFound
from telmark.org.domain import is_root_path
from telmark.segments.snapshots.store import clean_key
from telmark.targeting import compute
from telmark.targeting.domain import (
    DEFAULT_POLICY,
    CaseSpec,
    ContactPolicy,
    Period,
    RunStatus,
    TargetCase,
    check_cases,
    check_policy,
    from_minutes,
    minutes,
)
from telmark.targeting.models import ContactPolicyVersion, TargetingRun
from telmark.targeting.schemas import (
    CaseIn,
    ContactPolicyIn,
    ContactPolicyRead,
    RunListItem,
    RunSummary,
    TargetingRunRead,
)
from telmark.uow import UnitOfWork
from telmark.warehouse.scope import ScopedWarehouse

MAX_FAILURE = 1000
LOCK_NOT_AVAILABLE = "55P03"


def _require_province(uow: UnitOfWork, what: str) -> None:
    scope = uow.actor.scope_path
    if scope is not None and not is_root_path(scope):
        raise Forbidden(f"{what} is province-wide: only a province user may change it")


# -- contact policy ----------------------------------------------------------------------------


def _latest(uow: UnitOfWork) -> ContactPolicyVersion | None:
    return uow.session.scalar(
        select(ContactPolicyVersion).order_by(ContactPolicyVersion.version.desc()).limit(1)
    )


def _policy_of(row: ContactPolicyVersion) -> ContactPolicy:
    return ContactPolicy(
        version=row.version,
        period=Period(row.period),
        global_cap=row.global_cap,
        channel_caps=dict(row.channel_caps),
        min_gap_days=row.min_gap_days,
        quiet_start=from_minutes(row.quiet_start_minute),
        quiet_end=from_minutes(row.quiet_end_minute),
        global_holdout_bp=row.global_holdout_bp,
        global_holdout_key=row.global_holdout_key,
    )


def current_policy(uow: UnitOfWork) -> ContactPolicy:
    """The policy in force: the latest saved version, else ``DEFAULT_POLICY``."""
    row = _latest(uow)
    return DEFAULT_POLICY if row is None else _policy_of(row)


def _policy_read(policy: ContactPolicy, row: ContactPolicyVersion | None) -> ContactPolicyRead:
    return ContactPolicyRead(
        version=policy.version,
        is_default=row is None,
        period=policy.period,
        global_cap=policy.global_cap,
        channel_caps=dict(policy.channel_caps),
        min_gap_days=policy.min_gap_days,
        quiet_start=policy.quiet_start,
        quiet_end=policy.quiet_end,
        global_holdout_bp=policy.global_holdout_bp,
        global_holdout_key=policy.global_holdout_key,
        note="" if row is None else row.note,
        created_by=None if row is None else row.created_by,
        created_at=None if row is None else row.created_at,
    )


def get_policy(*, uow: UnitOfWork) -> ContactPolicyRead:
    """The contact policy in force (the default until one is saved)."""
    row = _latest(uow)
    return _policy_read(current_policy(uow), row)


def policy_history(*, uow: UnitOfWork) -> list[ContactPolicyRead]:
    """Every saved version, newest first."""
    rows = uow.session.scalars(
        select(ContactPolicyVersion).order_by(ContactPolicyVersion.version.desc())
    )
    return [_policy_read(_policy_of(r), r) for r in rows]


def set_policy(*, uow: UnitOfWork, spec: ContactPolicyIn) -> ContactPolicyRead:
    """Save the next version of the contact policy (province users only; audited)."""
    _require_province(uow, "the contact policy")
    latest = _latest(uow)
    number = 1 if latest is None else latest.version + 1
    policy = check_policy(
        ContactPolicy(
            version=number,
            period=spec.period,
            global_cap=spec.global_cap,
            channel_caps=dict(sorted(spec.channel_caps.items())),
            min_gap_days=spec.min_gap_days,
            quiet_start=spec.quiet_start.replace(second=0, microsecond=0),
            quiet_end=spec.quiet_end.replace(second=0, microsecond=0),
            global_holdout_bp=spec.global_holdout_bp,
            global_holdout_key=spec.global_holdout_key.strip(),
        )
    )
    row = ContactPolicyVersion(
        version=number,
        period=policy.period,
        global_cap=policy.global_cap,
        channel_caps=dict(policy.channel_caps),
        min_gap_days=policy.min_gap_days,
        quiet_start_minute=minutes(policy.quiet_start),
        quiet_end_minute=minutes(policy.quiet_end),
        global_holdout_bp=policy.global_holdout_bp,
        global_holdout_key=policy.global_holdout_key,
        note=spec.note.strip(),
        created_by=uow.actor.username,
        created_at=utcnow(),
    )
    uow.session.add(row)
    try:
        uow.session.flush()
    except IntegrityError:
        uow.rollback()
        raise Conflict("the policy was changed at the same time; reload and save again") from None
    result = _policy_read(policy, row)
    uow.commit()
    return result


def _fingerprint(cases: Sequence[CaseSpec], on: date) -> str:
    payload = json.dumps(
        {"on": on.isoformat(), "cases": [c.as_json() for c in cases]}, sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()


# -- the run -----------------------------------------------------------------------------------


def _lock(uow: UnitOfWork, run_id: int) -> TargetingRun:
    stmt = (
        select(TargetingRun)
        .where(TargetingRun.id == run_id)
        .with_for_update(nowait=True)
        .execution_options(populate_existing=True)
    )
    try:
        row = uow.session.scalar(stmt)
    except OperationalError as error:
        if getattr(error.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        uow.rollback()
        raise Conflict(f"targeting run {run_id} is in progress; retry in a moment") from None
    if row is None:
        raise NotFound(f"targeting run {run_id} not found")
    return row


def _abandon_stale(uow: UnitOfWork, directory: Path, own: int) -> None:
    """Mark crashed runs failed; Conflict if another run is live (holds its row lock)."""
    running = uow.session.scalars(
        select(TargetingRun.id).where(
            TargetingRun.status == RunStatus.RUNNING, TargetingRun.id != own
        )
    ).all()
    if not running:
        return
    stale = uow.session.scalars(
        select(TargetingRun)
        .where(TargetingRun.id.in_(running), TargetingRun.status == RunStatus.RUNNING)
        .with_for_update(skip_locked=True)
    ).all()
    for row in stale:
        compute.discard(directory, row.file_path)
        row.status = RunStatus.FAILED
        row.failure = "abandoned: the run stopped before it completed"
        row.completed_at = utcnow()
    uow.session.flush()
    if len(stale) < len(running):
        raise Conflict("another targeting run is in progress; retry when it has finished")


def _file_path(run_id: int) -> str:
    return f"run-{run_id}/lists-{uuid.uuid4().hex[:16]}.parquet"


def _claim(
    uow: UnitOfWork, directory: Path, key: str, cases: Sequence[CaseSpec], on: date, version: int
) -> TargetingRun:
    fingerprint = _fingerprint(cases, on)
    existing = uow.session.scalar(select(TargetingRun).where(TargetingRun.run_key == key))
    if existing is None:
        row = TargetingRun(
            run_key=key,
            status=RunStatus.RUNNING,
            run_on=on,
            policy_version=version,
            cases=[c.as_json() for c in cases],
            fingerprint=fingerprint,
            file_path="",
            created_by=uow.actor.username,
            created_at=utcnow(),
        )
        uow.session.add(row)
        try:
            uow.session.flush()
        except IntegrityError:
            uow.rollback()
            raise Conflict(f"run_key {key!r} was claimed at the same time; retry") from None
        row.file_path = _file_path(row.id)
        uow.session.flush()
        uow.commit()
        return row
    if existing.fingerprint != fingerprint:
        raise Conflict(
            f"run_key {key!r} was used for another run (different cases or day); use a new key",
            details=[{"field": "run_key"}],
        )
    if existing.status is RunStatus.COMPLETE:
        return existing
    row = _lock(uow, existing.id)
    if row.status is RunStatus.COMPLETE:
        return row
    compute.discard(directory, row.file_path)
    row.status = RunStatus.RUNNING
    row.failure = None
    row.completed_at = None
    row.policy_version = version
    row.file_path = _file_path(row.id)
    uow.session.flush()
    uow.commit()
    return row


def _fail(uow: UnitOfWork, run_id: int, file_path: str, error: BaseException) -> None:
    row = _lock(uow, run_id)
    if row.status is RunStatus.RUNNING and row.file_path == file_path:
        row.status = RunStatus.FAILED
        row.failure = f"{type(error).__name__}: {error}"[:MAX_FAILURE]
        row.completed_at = utcnow()
        uow.session.flush()
    uow.commit()


def run_targeting(
    *,
    uow: UnitOfWork,
    con: BaseBackend,
    cases: Sequence[TargetCase],
    run_key: str,
    on: date,
    simulate: bool = False,
    new_case_id: int | None = None,
    directory: Path | None = None,
    snapshot_dir: Path | None = None,
    holdout_key: str | None = None,
) -> TargetingRunRead:
    """Target ``cases`` for day ``on``: lists per channel, city, outlet and manager (module doc).

    ``simulate``: nothing is stored; the result says how many targets the new
    case (``new_case_id``, default the last case) takes from each of the others.
    """
    settings = get_settings()
    directory = directory or settings.resolved_targeting_dir
    snapshot_dir = snapshot_dir or settings.resolved_snapshot_dir
    holdout_key = holdout_key or settings.holdout_key.get_secret_value()
    key = clean_key(run_key)
    assert key is not None
    specs = [CaseSpec.of(c) for c in cases]
    check_cases(specs, on)
    _require_province(uow, "a targeting run")
    backend = con.backend if isinstance(con, ScopedWarehouse) else con
    policy = current_policy(uow)
    args: dict[str, Any] = {
        "uow": uow, "con": backend, "on": on, "policy": policy, "snapshot_dir": snapshot_dir,
        "directory": directory, "run_key": key, "holdout_key": holdout_key,
    }  # fmt: skip
    if simulate:
        return _simulate(specs, new_case_id, key, on, policy, args)

    row = _claim(uow, directory, key, specs, on, policy.version)
    if row.status is RunStatus.COMPLETE:
        return _run_read(row)
    run_id, file_path = row.id, row.file_path
    # Held until the final commit: on PostgreSQL this marks the run as live.
    row = _lock(uow, run_id)
    final = compute.resolve(directory, file_path)
    try:
        _abandon_stale(uow, directory, run_id)
        computed, digest, size = compute.write_lists(
            final, lambda sink: compute.compute(cases=specs, sink=sink, **args)
        )
    except Exception as error:
        uow.rollback()
        compute.discard(directory, file_path)
        _fail(uow, run_id, file_path, error)
        raise
    row = _lock(uow, run_id)
    if row.status is not RunStatus.RUNNING or row.file_path != file_path:
        uow.commit()
        raise Conflict(f"targeting run {run_id} was taken over by another request")
    row.status = RunStatus.COMPLETE
    row.summary = computed.summary.model_dump(mode="json")
    row.sha256 = digest
    row.byte_size = size
    row.contacts = computed.contacts
    row.controls = computed.controls
    row.completed_at = utcnow()
    uow.session.flush()
    result = _run_read(row)
    uow.commit()
    return result


def _simulate(
    specs: Sequence[CaseSpec],
    new_case_id: int | None,
    key: str,
    on: date,
    policy: ContactPolicy,
    args: dict[str, Any],
) -> TargetingRunRead:
    new_id = specs[-1].case_id if new_case_id is None else new_case_id
    others = [c for c in specs if c.case_id != new_id]
    if len(others) == len(specs):
        raise InvalidInput(f"new_case_id {new_id} is not one of the cases")
    with_new = compute.compute(cases=specs, **args)
    taken: dict[int, int] = {c.case_id: 0 for c in others}
    if others:
        without = compute.compute(cases=others, **args)
        for case in others:
            taken[case.case_id] = max(
                without.selected(case.case_id) - with_new.selected(case.case_id), 0
            )
    summary = with_new.summary
    summary.taken_from = taken
    return TargetingRunRead(
        id=None,
        run_key=key,
        status=None,
        simulated=True,
        on=on,
        policy_version=policy.version,
        cases=[CaseIn(**c.as_json()) for c in specs],
        summary=summary,
        contacts=with_new.contacts,
        controls=with_new.controls,
        sha256=None,
        byte_size=None,
        failure=None,
        created_by=None,
        created_at=None,
        completed_at=None,
    )


# -- reading -----------------------------------------------------------------------------------


def _run_read(row: TargetingRun) -> TargetingRunRead:
    return TargetingRunRead(
        id=row.id,
        run_key=row.run_key,
        status=row.status,
        simulated=False,
        on=row.run_on,
        policy_version=row.policy_version,
        cases=[CaseIn(**c) for c in row.cases],
        summary=None if row.summary is None else RunSummary.model_validate(row.summary),
        contacts=row.contacts,
        controls=row.controls,
        sha256=row.sha256,
        byte_size=row.byte_size,
        failure=row.failure,
        created_by=row.created_by,
        created_at=row.created_at,
        completed_at=row.completed_at,
    )


def _get(uow: UnitOfWork, run_id: int) -> TargetingRun:
    row = uow.session.get(TargetingRun, run_id)
    if row is None:
        raise NotFound(f"targeting run {run_id} not found")
    return row


def get_run(*, uow: UnitOfWork, run_id: int) -> TargetingRunRead:
    """One run with its funnel, balance report, arbitration losses and list counts."""
    return _run_read(_get(uow, run_id))


def list_runs(*, uow: UnitOfWork, limit: int = 100) -> list[RunListItem]:
    """The latest runs, newest first."""
    rows = uow.session.scalars(select(TargetingRun).order_by(TargetingRun.id.desc()).limit(limit))
    return [
        RunListItem(
            id=r.id,
            run_key=r.run_key,
            status=r.status,
            on=r.run_on,
            policy_version=r.policy_version,
            case_codes=[str(c["code"]) for c in r.cases],
            contacts=r.contacts,
            controls=r.controls,
            created_by=r.created_by,
            created_at=r.created_at,
        )
        for r in rows
    ]


def list_file(*, uow: UnitOfWork, run_id: int, directory: Path | None = None) -> Path:
    """The verified list file of a complete run."""
    row = _get(uow, run_id)
    if row.status is not RunStatus.COMPLETE:
        raise Conflict(f"targeting run {run_id} is {row.status}: it has no lists")
    return compute.verified(directory or get_settings().resolved_targeting_dir, row)
