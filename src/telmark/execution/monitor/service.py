"""Monitor use cases: a case's progress per org level, the overview, settings, the inbox.

Counting is ``counting``'s; the scan and its e-mails are ``scan``'s. Alerts are
read in the actor's scope by the unit they concern (the alert's own unit, else
its issue's, else its case's), so a city sees its own lag and acknowledgement
alerts and the province sees everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased

from telmark.cases.access import get_case_row, visible_cases
from telmark.cases.domain import AlertKind, AlertStatus, CaseStatus, Metric
from telmark.cases.models import Case, CaseAlert, CaseIssue
from telmark.db import utcnow
from telmark.errors import NotFound
from telmark.execution.monitor import domain
from telmark.execution.monitor.counting import WORST, Evaluation, Tally, evaluate, tallies
from telmark.execution.monitor.domain import (
    AlertAction,
    CheckpointState,
    EmailState,
    Level,
    Thresholds,
)
from telmark.execution.monitor.models import MonitorSetting
from telmark.execution.monitor.schemas import (
    BreakdownRow,
    CaseProgress,
    CheckpointRead,
    MonitorAlertRead,
    ProgressRead,
    Responses,
    SettingIn,
    SettingRead,
)
from telmark.execution.responses.schemas import ResponseCount
from telmark.execution.responses.service import response_counts
from telmark.org.models import OrgUnit, Staff
from telmark.org.scope import get_visible_unit, visible
from telmark.targeting.domain import Group
from telmark.uow import UnitOfWork

IN_EXECUTION = (CaseStatus.RUNNING, CaseStatus.PAUSED)
MAX_ALERTS = 500


def _checkpoint_reads(ev: Evaluation) -> list[CheckpointRead]:
    reads = []
    for i, checkpoint in enumerate(ev.checkpoints):
        part = ev.total.planned
        reads.append(
            CheckpointRead(
                on=checkpoint.on, metric=checkpoint.metric,
                target=ev.scaled(checkpoint, part) if _restricted(ev) else checkpoint.target,
                due=ev.due(i), actual=ev.total.actual(checkpoint.metric, i),
                plan_now=ev.plan_now(checkpoint, part) if _restricted(ev) else domain.planned_at(
                    ev.checkpoints, checkpoint.metric, starts_on=ev.case.starts_on, day=ev.today
                ),
                state=ev.state(i, ev.total) if _restricted(ev) else _case_state(ev, i),
            )
        )  # fmt: skip
    return reads


def _restricted(ev: Evaluation) -> bool:
    """Whether the reader sees part of the case (targets scale to their share)."""
    return ev.total.planned != ev.whole_planned


def _case_state(ev: Evaluation, i: int) -> CheckpointState:
    checkpoint = ev.checkpoints[i]
    return domain.checkpoint_state(
        metric=checkpoint.metric, target=checkpoint.target,
        actual=ev.total.actual(checkpoint.metric, i),
        plan_now=domain.planned_at(
            ev.checkpoints, checkpoint.metric, starts_on=ev.case.starts_on, day=ev.today
        ),
        due=ev.due(i), ratio_bp=ev.ratio_bp,
    )  # fmt: skip


def _labels(uow: UnitOfWork, level: Level, keys: Iterable[str]) -> dict[str, str]:
    wanted = sorted(keys)
    if level is Level.STAFF:
        stmt = select(Staff.code, Staff.name).where(Staff.code.in_(wanted))
    else:
        stmt = select(OrgUnit.code, OrgUnit.name).where(OrgUnit.code.in_(wanted))
    return {str(k): str(v) for k, v in uow.session.execute(stmt)}


def count_open(uow: UnitOfWork, case_id: int | None = None) -> int:
    stmt = _visible_alerts(uow).where(CaseAlert.status == AlertStatus.OPEN)
    if case_id is not None:
        stmt = stmt.where(CaseAlert.case_id == case_id)
    return uow.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


RESPONSE_BREAKDOWN = {Level.CITY: "city", Level.OUTLET: "outlet"}


def _responses(uow: UnitOfWork, case_id: int, by: Level | None) -> dict[str | None, Responses]:
    """Treatment responders and control take-up per key (``execution.responses``), scoped."""
    if by is not None and by not in RESPONSE_BREAKDOWN:
        return {}
    counts = response_counts(
        uow=uow, case_id=case_id, by=None if by is None else RESPONSE_BREAKDOWN[by]
    )
    found: dict[str | None, dict[str, ResponseCount]] = {}
    for row in counts:
        found.setdefault(row.key, {})[row.group] = row
    result = {}
    for key, groups in found.items():
        treated, control = groups.get(Group.TREATMENT.value), groups.get(Group.CONTROL.value)
        result[key] = Responses(
            exposed=treated.exposed if treated else 0,
            responders=treated.responders if treated else 0,
            take_up_bp=treated.take_up_bp if treated else None,
            control_exposed=control.exposed if control else 0,
            control_take_up_bp=control.take_up_bp if control else None,
        )
    return result


def progress(
    *, uow: UnitOfWork, case_id: int, by: Level | None = None, now: datetime | None = None
) -> ProgressRead:
    """A case's funnel and checkpoints in the actor's scope, optionally per org level."""
    case = get_case_row(uow, case_id)
    moment = now or utcnow()
    thresholds, _ = settings_for(uow, case.org_code)
    ev = evaluate(uow, case, now=moment, level=by, ratio_bp=thresholds.execution_ratio_bp)
    contacts = next((c for c in ev.checkpoints if c.metric is Metric.CONTACTS), None)
    labels = {} if by is None else _labels(uow, by, [k for k in ev.units if k])
    per_unit = _responses(uow, case.id, by) if by is not None else {}
    totals = _responses(uow, case.id, None).get(None) or Responses(
        exposed=0, responders=0, take_up_bp=None, control_exposed=0, control_take_up_bp=None
    )
    rows = [
        BreakdownRow(
            key=key, label=labels.get(key or ""), funnel=tally.funnel(),
            responses=per_unit.get(key), share_bp=domain.rate_bp(tally.planned, ev.whole_planned),
            plan_contacts=None if contacts is None else ev.plan_now(contacts, tally.planned),
            state=ev.worst(tally),
        )
        for key, tally in ev.units.items()
    ]  # fmt: skip
    order = {s: i for i, s in enumerate(WORST)}
    rows.sort(
        key=lambda r: (order.get(r.state, len(WORST)) if r.state else len(WORST), r.key or "")
    )
    return ProgressRead(
        case_id=case.id, case_code=case.code, case_name=case.name, org_code=case.org_code,
        status=case.status, starts_on=case.starts_on, ends_on=case.ends_on, as_of=moment,
        funnel=ev.total.funnel(), responses=totals, checkpoints=_checkpoint_reads(ev), by=by,
        rows=rows,
        open_alerts=count_open(uow, case.id),
    )  # fmt: skip


def chart_series(*, uow: UnitOfWork, case_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Planned and actual contacts (or the first counted metric) at the start, each checkpoint
    and today: the monitor's line chart."""
    case = get_case_row(uow, case_id)
    moment = now or utcnow()
    checkpoints = domain.checkpoints_of(case.checkpoints)
    metric = next((c.metric for c in checkpoints if c.metric in domain.CUMULATIVE), None)
    if metric is None:
        return {"metric": None, "days": [], "planned": [], "actual": []}
    today = domain.local_day(moment)
    days = sorted(
        {case.starts_on, min(max(today, case.starts_on), case.ends_on)}
        | {c.on for c in checkpoints if c.metric is metric}
    )
    past = [d for d in days if d <= today]
    cutoffs = [min(domain.day_end(d), moment) for d in past] or [moment]
    tally = tallies(uow, case.id, level=None, cutoffs=cutoffs).get(None) or Tally(len(cutoffs))
    whole = tallies(uow, case.id, level=None, cutoffs=[], scoped=False).get(None)
    part, whole_planned = tally.planned, whole.planned if whole else 0
    planned = []
    for d in days:
        plan = domain.planned_at(checkpoints, metric, starts_on=case.starts_on, day=d)
        if plan is not None and part != whole_planned:
            plan = domain.share_of(plan, part, whole_planned)
        planned.append(plan)
    actual: list[int | None] = [tally.actual(metric, i) for i in range(len(past))]
    actual += [None] * (len(days) - len(past))
    return {
        "metric": metric.value,
        "days": [d.isoformat() for d in days],
        "planned": planned,
        "actual": actual,
    }


def overview(*, uow: UnitOfWork, now: datetime | None = None) -> list[CaseProgress]:
    """Every case in execution the actor sees, with its funnel and where it stands."""
    moment = now or utcnow()
    cases = uow.session.scalars(
        visible_cases(uow).where(Case.status.in_(IN_EXECUTION)).order_by(Case.ends_on, Case.id)
    ).all()
    result = []
    for case in cases:
        thresholds, _ = settings_for(uow, case.org_code)
        ev = evaluate(uow, case, now=moment, level=None, ratio_bp=thresholds.execution_ratio_bp)
        reads = _checkpoint_reads(ev)
        states = {r.state for r in reads}
        result.append(
            CaseProgress(
                case_id=case.id, case_code=case.code, case_name=case.name,
                org_code=case.org_code, status=case.status, ends_on=case.ends_on,
                funnel=ev.total.funnel(), worst=next((s for s in WORST if s in states), None),
                next_checkpoint=next((r for r in reads if not r.due), None),
                open_alerts=count_open(uow, case.id),
            )
        )  # fmt: skip
    return result


# -- settings ------------------------------------------------------------------------------------


def _path_codes(uow: UnitOfWork, org_code: str) -> list[str]:
    path = uow.session.scalar(select(OrgUnit.path).where(OrgUnit.code == org_code))
    return [org_code] if path is None else [c for c in path.strip("/").split("/") if c]


def _setting_row(uow: UnitOfWork, org_code: str) -> MonitorSetting | None:
    """The row of ``org_code`` or of its nearest ancestor that has one."""
    codes = _path_codes(uow, org_code)
    rows = {
        r.org_code: r
        for r in uow.session.scalars(
            select(MonitorSetting).where(MonitorSetting.org_code.in_(codes))
        )
    }
    return next((rows[c] for c in reversed(codes) if c in rows), None)


def settings_for(uow: UnitOfWork, org_code: str) -> tuple[Thresholds, list[str]]:
    """The thresholds and e-mail recipients that apply to a case of ``org_code``."""
    row = _setting_row(uow, org_code)
    if row is None:
        return Thresholds(), []
    return Thresholds.from_mapping(row.thresholds), list(row.recipients)


def _setting_read(org_code: str, row: MonitorSetting | None) -> SettingRead:
    thresholds = Thresholds() if row is None else Thresholds.from_mapping(row.thresholds)
    return SettingRead(
        org_code=org_code, configured_at=None if row is None else row.org_code,
        thresholds=thresholds.as_dict(), recipients=[] if row is None else list(row.recipients),
        updated_by=None if row is None else row.updated_by,
        updated_at=None if row is None else row.updated_at,
    )  # fmt: skip


def get_setting(*, uow: UnitOfWork, org_code: str) -> SettingRead:
    """The thresholds and recipients that apply to a unit in the actor's scope."""
    unit = get_visible_unit(uow, org_code)
    return _setting_read(unit.code, _setting_row(uow, unit.code))


def set_setting(*, uow: UnitOfWork, org_code: str, spec: SettingIn) -> SettingRead:
    """Set a unit's thresholds (only those differing from the defaults) and recipients."""
    unit = get_visible_unit(uow, org_code)
    thresholds = Thresholds.from_mapping(spec.thresholds)
    defaults = Thresholds().as_dict()
    stored = {k: v for k, v in thresholds.as_dict().items() if defaults[k] != v}
    recipients = domain.clean_recipients(spec.recipients)
    row = uow.session.scalar(select(MonitorSetting).where(MonitorSetting.org_code == unit.code))
    if row is None:
        row = MonitorSetting(org_code=unit.code, thresholds={}, recipients=[], updated_by="")
        uow.session.add(row)
    row.thresholds, row.recipients = stored, recipients
    row.updated_by, row.updated_at = uow.actor.username, utcnow()
    uow.session.flush()
    result = _setting_read(unit.code, row)
    uow.commit()
    return result


# -- alerts: reading and handling ----------------------------------------------------------------


def _visible_alerts(uow: UnitOfWork) -> Select[Any]:
    """Alerts about a unit in the actor's scope: the alert's unit, else its issue's, else its
    case's (so a province case's case-wide alerts stay at the province)."""
    unit = aliased(OrgUnit)
    concerned = func.coalesce(CaseAlert.org_code, CaseIssue.org_code, Case.org_code)
    return (
        select(CaseAlert)
        .join(Case, Case.id == CaseAlert.case_id)
        .outerjoin(CaseIssue, CaseIssue.id == CaseAlert.issue_id)
        .join(unit, unit.code == concerned)
        .where(visible(uow, unit.path))
    )


def _alert_read(alert: CaseAlert, case_code: str, issue_org: str | None) -> MonitorAlertRead:
    return MonitorAlertRead(
        id=alert.id, case_id=alert.case_id, case_code=case_code, kind=alert.kind,
        status=alert.status, org_code=alert.org_code or issue_org, issue_id=alert.issue_id,
        message=alert.message, details=alert.details, raised_at=alert.raised_at,
        acknowledged_by=alert.acknowledged_by, acknowledged_at=alert.acknowledged_at,
        ack_note=alert.ack_note, resolved_by=alert.resolved_by, resolved_at=alert.resolved_at,
        resolve_note=alert.resolve_note, email_state=EmailState(alert.email_state),
        email_attempts=alert.email_attempts, email_error=alert.email_error,
    )  # fmt: skip


def alert_reads(uow: UnitOfWork, alerts: Sequence[CaseAlert]) -> list[MonitorAlertRead]:
    case_ids = {a.case_id for a in alerts}
    issue_ids = {a.issue_id for a in alerts if a.issue_id is not None}
    codes = dict(uow.session.execute(select(Case.id, Case.code).where(Case.id.in_(case_ids))).all())
    orgs = dict(
        uow.session.execute(
            select(CaseIssue.id, CaseIssue.org_code).where(CaseIssue.id.in_(issue_ids))
        ).all()
    )
    return [
        _alert_read(a, codes[a.case_id], None if a.issue_id is None else orgs.get(a.issue_id))
        for a in alerts
    ]


def list_alerts(
    *,
    uow: UnitOfWork,
    status: AlertStatus | None = None,
    case_id: int | None = None,
    kind: AlertKind | None = None,
    limit: int = MAX_ALERTS,
) -> list[MonitorAlertRead]:
    """Alerts in the actor's scope (the monitor's and the acknowledgement alerts), newest first."""
    stmt = _visible_alerts(uow)
    if status is not None:
        stmt = stmt.where(CaseAlert.status == status)
    if case_id is not None:
        stmt = stmt.where(CaseAlert.case_id == case_id)
    if kind is not None:
        stmt = stmt.where(CaseAlert.kind == kind)
    stmt = stmt.order_by(CaseAlert.raised_at.desc(), CaseAlert.id.desc()).limit(
        min(max(limit, 1), MAX_ALERTS)
    )
    return alert_reads(uow, list(uow.session.scalars(stmt)))


def open_count(*, uow: UnitOfWork) -> int:
    """Open alerts in the actor's scope (the console's badge)."""
    return count_open(uow)


def _own_alert(uow: UnitOfWork, alert_id: int) -> CaseAlert:
    alert: CaseAlert | None = uow.session.scalar(
        _visible_alerts(uow).where(CaseAlert.id == alert_id)
    )
    if alert is None:
        raise NotFound(f"alert {alert_id} not found", details=[{"field": "alert_id"}])
    return alert


def get_alert(*, uow: UnitOfWork, alert_id: int) -> MonitorAlertRead:
    """One alert in the actor's scope."""
    return alert_reads(uow, [_own_alert(uow, alert_id)])[0]


def acknowledge(
    *, uow: UnitOfWork, alert_id: int, note: str = "", now: datetime | None = None
) -> MonitorAlertRead:
    """Take an open alert up (an optional note says who follows it up, and how)."""
    alert = _own_alert(uow, alert_id)
    text = domain.clean_note(note, required=False)
    alert.status = domain.alert_transition(alert.id, alert.status, AlertAction.ACKNOWLEDGE)
    alert.acknowledged_by = uow.actor.username
    alert.acknowledged_at = now or utcnow()
    alert.ack_note = text or None
    uow.session.flush()
    result = alert_reads(uow, [alert])[0]
    uow.commit()
    return result


def resolve(
    *, uow: UnitOfWork, alert_id: int, note: str, now: datetime | None = None
) -> MonitorAlertRead:
    """Close an alert with a note saying what was done (required)."""
    alert = _own_alert(uow, alert_id)
    text = domain.clean_note(note, required=True)
    alert.status = domain.alert_transition(alert.id, alert.status, AlertAction.RESOLVE)
    alert.resolved_by = uow.actor.username
    alert.resolved_at = now or utcnow()
    alert.resolve_note = text
    uow.session.flush()
    result = alert_reads(uow, [alert])[0]
    uow.commit()
    return result
