"""Issuing a case down the organisation (下发), acknowledging it, and overdue alerts.

A scheduled case is issued to units below its own (a province case to cities)
with a target each: split by the snapshot's members per unit (largest
remainder, so the parts sum to the total) or given by hand. Each receiving
unit acknowledges by a deadline, may localise its part (an extra rule ANDed
with the case's segment, local outlets, a local channel mix) and re-issues it
to its outlets or account managers. Only the receiving unit itself
acknowledges, localises and re-issues (the actor's scope is exactly that
unit), so the province cannot acknowledge on a city's behalf.

``overdue_issues`` raises one alert per issue not acknowledged in time; the
alert is unique per issue and kind, so running it again (a scheduler, the
CLI) raises nothing twice. Acknowledging the issue resolves its alert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from ibis.backends import BaseBackend
from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.orm.exc import StaleDataError

from telmark.cases import domain
from telmark.cases.access import check_version, get_case_row, managed, read, record, save, unit_of
from telmark.cases.domain import AlertKind, AlertStatus, CaseAction, IssueStatus
from telmark.cases.models import Case, CaseAlert, CaseIssue
from telmark.cases.schemas import (
    AlertRead,
    CaseRead,
    IssueIn,
    IssueRead,
    LocaliseIn,
    ReissueIn,
    ScanRead,
)
from telmark.config import get_settings
from telmark.db import utcnow
from telmark.errors import Conflict, Forbidden, InvalidInput, InvalidTransition, NotFound
from telmark.org.domain import OrgKind
from telmark.org.models import OrgUnit, Staff
from telmark.org.scope import visible
from telmark.segments.rules import parse_rule
from telmark.segments.snapshots import store
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import has_table


def _org_key(code: str) -> str:
    return f"org:{code}"


def _staff_key(code: str) -> str:
    return f"staff:{code}"


def base_sizes(
    *,
    uow: UnitOfWork,
    con: BaseBackend,
    directory: Path,
    snapshot_id: int,
    units: Sequence[str],
) -> dict[str, int]:
    """Members of the snapshot homed at or below each unit (every unit listed, 0 if none)."""
    if not has_table(con, "org_closure"):
        raise InvalidInput(
            "split: the warehouse has no org_closure table to count members per unit",
            details=[{"field": "split"}],
        )
    members = store.snapshot_members(uow=uow, con=con, directory=directory, snapshot_id=snapshot_id)
    subs = con.table("subscribers")
    homes = subs.select(s_id=subs.subscriber_id, s_org=subs.org_id)
    closure = con.table("org_closure")
    under = closure.filter(closure.ancestor_id.isin(list(units))).select(
        unit=closure.ancestor_id, d_org=closure.descendant_id
    )
    joined = members.inner_join(homes, members.subscriber_id == homes.s_id)
    joined = joined.inner_join(under, joined.s_org == under.d_org)
    counts = joined.group_by("unit").aggregate(n=joined.count()).to_pyarrow().to_pylist()
    found = {str(r["unit"]): int(r["n"]) for r in counts}
    return {code: found.get(code, 0) for code in units}


def _children(uow: UnitOfWork, unit: OrgUnit) -> list[OrgUnit]:
    """The units a case of ``unit`` is issued to by default: a province's cities, a city's
    direct children."""
    stmt = select(OrgUnit).where(OrgUnit.parent_id == unit.id, OrgUnit.active.is_(True))
    if unit.kind is OrgKind.PROVINCE:
        stmt = stmt.where(OrgUnit.kind == OrgKind.CITY)
    return list(uow.session.scalars(stmt.order_by(OrgUnit.code)))


def _below(uow: UnitOfWork, parent: OrgUnit, codes: Sequence[str], field: str) -> list[OrgUnit]:
    """The units ``codes``, each strictly below ``parent``; InvalidInput naming the others."""
    found = {u.code: u for u in uow.session.scalars(select(OrgUnit).where(OrgUnit.code.in_(codes)))}
    problems: list[dict[str, object]] = [
        {"field": f"{field}[{i}]", "reason": f"{code} is not a unit below {parent.code}"}
        for i, code in enumerate(codes)
        if code not in found
        or found[code].path == parent.path
        or not found[code].path.startswith(parent.path)
    ]
    if len(set(codes)) != len(codes):
        problems.append({"field": field, "reason": "a unit is listed twice"})
    if problems:
        raise InvalidInput(f"{field}: {problems[0]['reason']}", details=problems)
    return [found[c] for c in codes]


def _due(hours: int | None, now: datetime) -> datetime:
    return now + timedelta(hours=hours or get_settings().case_ack_hours)


def _split(
    total: int,
    units: Sequence[str],
    parts: Mapping[str, int] | None,
    bases: Mapping[str, int] | None,
) -> dict[str, int]:
    if parts is not None:
        unknown = sorted(set(parts) - set(units))
        if unknown:
            raise InvalidInput(
                f"parts: {', '.join(unknown)} not among the units issued to",
                details=[{"field": "parts"}],
            )
        return domain.check_manual_split(total, parts)
    assert bases is not None
    return domain.split_by_base(total, bases)


def issue(
    *,
    uow: UnitOfWork,
    case_id: int,
    spec: IssueIn,
    con: BaseBackend | None = None,
    directory: Path | None = None,
    now: datetime | None = None,
) -> CaseRead:
    """Issue a scheduled case to the units below its own, with a target each."""
    case, unit = managed(uow, case_id)
    check_version(case, spec.version)
    before = case.status
    to = domain.transition(before, CaseAction.ISSUE)
    units = (
        [u.code for u in _children(uow, unit)]
        if spec.units is None
        else [u.code for u in _below(uow, unit, spec.units, "units")]
    )
    if not units:
        raise InvalidInput(
            f"units: {unit.code} has no units to issue to", details=[{"field": "units"}]
        )
    total = spec.total
    if total is None and spec.parts is not None:
        total = sum(spec.parts.values())  # by hand, the parts are the whole
    if total is None:
        frozen = case.frozen_projection or {}
        total = int(frozen.get("targets", 0))
    bases = None
    if spec.parts is None:
        if con is None or directory is None or case.snapshot_id is None:
            raise InvalidInput(
                "parts: without the warehouse the split must be given by hand",
                details=[{"field": "parts"}],
            )
        bases = base_sizes(
            uow=uow, con=con, directory=directory, snapshot_id=case.snapshot_id, units=units
        )
    targets = _split(total, units, spec.parts, bases)
    moment = now or utcnow()
    for code in units:
        uow.session.add(
            CaseIssue(
                case_id=case.id,
                parent_id=None,
                org_code=code,
                assignee=_org_key(code),
                target=targets.get(code, 0),
                status=IssueStatus.ISSUED,
                due_at=_due(spec.ack_hours, moment),
                local_outlets=[],
                local_channels=[],
                created_by=uow.actor.username,
            )
        )
    case.status = to
    save(uow, case)
    record(uow, case, CaseAction.ISSUE, before, comment=f"{len(units)} units, {total} targets")
    result = read(uow, case)
    uow.commit()
    return result


# --- the receiving unit's side ---------------------------------------------------------------


def _visible_issues(uow: UnitOfWork) -> Select[CaseIssue]:
    """Issues to a unit in the actor's scope, or of a case whose own unit is in it."""
    receiver, owner = aliased(OrgUnit), aliased(OrgUnit)
    return (
        select(CaseIssue)
        .join(receiver, receiver.code == CaseIssue.org_code)
        .join(Case, Case.id == CaseIssue.case_id)
        .join(owner, owner.code == Case.org_code)
        .where(or_(visible(uow, receiver.path), visible(uow, owner.path)))
    )


def _own_issue(uow: UnitOfWork, issue_id: int) -> tuple[CaseIssue, Case, OrgUnit]:
    """An issue the actor acts on as its receiving unit; NotFound/Forbidden otherwise."""
    row = uow.session.scalar(_visible_issues(uow).where(CaseIssue.id == issue_id))
    if row is None:
        raise NotFound(f"issue {issue_id} not found", details=[{"field": "issue_id"}])
    unit = unit_of(uow, row.org_code)
    scope = uow.actor.scope_path
    if scope is not None and scope != unit.path:
        raise Forbidden(f"issue {issue_id} was issued to {unit.code}: only {unit.code} acts on it")
    case = uow.session.get(Case, row.case_id)
    assert case is not None
    if case.status not in domain.ISSUE_OPEN:
        raise InvalidTransition(
            f"case {case.code} is {case.status}: its issues are closed",
            details=[{"field": "status", "from": str(case.status), "to": str(case.status)}],
        )
    return row, case, unit


def _flush_issue(uow: UnitOfWork, row: CaseIssue) -> None:
    try:
        uow.session.flush()
    except StaleDataError:
        uow.rollback()
        raise Conflict(
            f"issue {row.id} was changed by someone else meanwhile; reload it and try again"
        ) from None


def acknowledge(*, uow: UnitOfWork, issue_id: int, now: datetime | None = None) -> IssueRead:
    """Confirm receipt of an issued case (again: no change); resolves its overdue alert."""
    row, _case, _unit = _own_issue(uow, issue_id)
    if row.status is IssueStatus.ISSUED:
        moment = now or utcnow()
        row.status = IssueStatus.ACKNOWLEDGED
        row.acknowledged_by = uow.actor.username
        row.acknowledged_at = moment
        for alert in uow.session.scalars(
            select(CaseAlert).where(
                CaseAlert.issue_id == row.id, CaseAlert.status != AlertStatus.RESOLVED
            )
        ):
            alert.status = AlertStatus.RESOLVED
            alert.resolved_at = moment
        _flush_issue(uow, row)
    result = _issue_read(uow, row, now=now)
    uow.commit()
    return result


def _acknowledged(row: CaseIssue, what: str) -> None:
    if row.status is not IssueStatus.ACKNOWLEDGED:
        raise InvalidTransition(
            f"issue {row.id} is not acknowledged yet: acknowledge it before you {what} it",
            details=[{"field": "status", "from": "issued", "to": "acknowledged"}],
        )


def localise(*, uow: UnitOfWork, issue_id: int, spec: LocaliseIn) -> IssueRead:
    """Narrow the unit's part with a rule, name its outlets, set its channel mix."""
    row, _case, unit = _own_issue(uow, issue_id)
    if spec.version is not None and spec.version != row.version:
        raise Conflict(f"issue {row.id} is at version {row.version}, not {spec.version}")
    _acknowledged(row, "localise")
    rule = None
    if spec.rule is not None:
        rule = parse_rule(spec.rule).model_dump(mode="json", by_alias=True, exclude_none=True)
    outlets = [u.code for u in _below(uow, unit, spec.outlets, "outlets")]
    if spec.channels and sum(c.share_bp for c in spec.channels) != domain.BP:
        raise InvalidInput(
            f"channels: shares must sum to {domain.BP} bp", details=[{"field": "channels"}]
        )
    if len({c.channel for c in spec.channels}) != len(spec.channels):
        raise InvalidInput("channels: a channel is listed twice", details=[{"field": "channels"}])
    row.local_rule = rule
    row.local_outlets = outlets
    row.local_channels = [c.model_dump(mode="json") for c in spec.channels]
    _flush_issue(uow, row)
    result = _issue_read(uow, row)
    uow.commit()
    return result


def reissue(
    *,
    uow: UnitOfWork,
    issue_id: int,
    spec: ReissueIn,
    con: BaseBackend | None = None,
    directory: Path | None = None,
    now: datetime | None = None,
) -> list[IssueRead]:
    """Pass the unit's part on to its outlets or account managers; targets sum to the part."""
    row, case, unit = _own_issue(uow, issue_id)
    _acknowledged(row, "re-issue")
    org_parts = [p for p in spec.to if p.org_code is not None]
    staff_parts = [p for p in spec.to if p.staff_code is not None]
    units = _below(uow, unit, [p.org_code for p in org_parts if p.org_code], "to")
    staff: list[Staff] = []
    for i, part in enumerate(staff_parts):
        person = uow.session.scalar(
            select(Staff).join(OrgUnit).where(Staff.code == part.staff_code, Staff.active.is_(True))
        )
        if person is None or not person.org_unit.path.startswith(unit.path):
            raise InvalidInput(
                f"to: no active staff {part.staff_code} in {unit.code}",
                details=[{"field": f"to[{i}].staff_code"}],
            )
        staff.append(person)
    keys = [_org_key(u.code) for u in units] + [_staff_key(s.code) for s in staff]
    if spec.split == "base":
        if staff or con is None or directory is None or case.snapshot_id is None:
            raise InvalidInput(
                "split: a split by base size needs the warehouse and units only, not staff",
                details=[{"field": "split"}],
            )
        bases = base_sizes(
            uow=uow,
            con=con,
            directory=directory,
            snapshot_id=case.snapshot_id,
            units=[u.code for u in units],
        )
        by_unit = domain.split_by_base(row.target, bases)
        targets = {_org_key(code): n for code, n in by_unit.items()}
    else:
        given = {
            (_org_key(p.org_code) if p.org_code else _staff_key(str(p.staff_code))): p.target
            for p in spec.to
        }
        missing = [k for k, v in given.items() if v is None]
        if missing:
            raise InvalidInput(
                f"to: give a target for {', '.join(missing)} (or split by base)",
                details=[{"field": "to"}],
            )
        targets = domain.check_manual_split(row.target, {k: int(v or 0) for k, v in given.items()})
    moment = now or utcnow()
    homes = {_org_key(u.code): u.code for u in units}
    homes.update({_staff_key(s.code): s.org_unit.code for s in staff})
    staff_codes = {_staff_key(s.code): s.code for s in staff}
    created: list[CaseIssue] = []
    for key in keys:
        child = CaseIssue(
            case_id=case.id,
            parent_id=row.id,
            org_code=homes[key],
            staff_code=staff_codes.get(key),
            assignee=key,
            target=targets[key],
            status=IssueStatus.ISSUED,
            due_at=_due(spec.ack_hours, moment),
            local_outlets=[],
            local_channels=[],
            created_by=uow.actor.username,
        )
        uow.session.add(child)
        created.append(child)
    try:
        uow.session.flush()
    except IntegrityError:
        uow.rollback()
        raise Conflict(
            "one of these units or staff already has this case", details=[{"field": "to"}]
        ) from None
    result = [_issue_read(uow, c, now=moment) for c in created]
    uow.commit()
    return result


# --- reading the tree ---------------------------------------------------------------------


def _issue_read(uow: UnitOfWork, row: CaseIssue, *, now: datetime | None = None) -> IssueRead:
    case = uow.session.get(Case, row.case_id)
    unit = uow.session.scalar(select(OrgUnit).where(OrgUnit.code == row.org_code))
    assert case is not None
    return IssueRead(
        id=row.id,
        case_id=row.case_id,
        case_code=case.code,
        parent_id=row.parent_id,
        org_code=row.org_code,
        org_name=None if unit is None else unit.name,
        staff_code=row.staff_code,
        target=row.target,
        status=row.status,
        due_at=row.due_at,
        overdue=domain.ack_overdue(status=row.status, due_at=row.due_at, now=now or utcnow()),
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at,
        local_rule=row.local_rule,
        local_outlets=list(row.local_outlets),
        local_channels=list(row.local_channels),
        version=row.version,
    )


def issue_tree(*, uow: UnitOfWork, case_id: int, now: datetime | None = None) -> list[IssueRead]:
    """The case's issues the actor sees, as a tree (roots: the first level issued to)."""
    case = get_case_row(uow, case_id)
    rows = list(
        uow.session.scalars(
            _visible_issues(uow).where(CaseIssue.case_id == case.id).order_by(CaseIssue.id)
        )
    )
    reads = {r.id: _issue_read(uow, r, now=now) for r in rows}
    roots: list[IssueRead] = []
    for r in rows:
        node = reads[r.id]
        parent = None if r.parent_id is None else reads.get(r.parent_id)
        if parent is None:
            roots.append(node)  # a root, or the top of what a lower unit may see
        else:
            parent.children.append(node)
    return roots


# --- alerts -------------------------------------------------------------------------------


def _alert_read(uow: UnitOfWork, alert: CaseAlert) -> AlertRead:
    case = uow.session.get(Case, alert.case_id)
    row = uow.session.get(CaseIssue, alert.issue_id)
    assert case is not None
    assert row is not None
    return AlertRead(
        id=alert.id,
        case_id=alert.case_id,
        case_code=case.code,
        issue_id=alert.issue_id,
        org_code=row.org_code,
        kind=alert.kind,
        status=alert.status,
        message=alert.message,
        raised_at=alert.raised_at,
        acknowledged_by=alert.acknowledged_by,
        acknowledged_at=alert.acknowledged_at,
        resolved_at=alert.resolved_at,
    )


def overdue_issues(*, uow: UnitOfWork, now: datetime) -> ScanRead:
    """Raise an alert for each issue (in scope) not acknowledged by its deadline; an issue
    already alerted is skipped, so the scan may run as often as wanted."""
    stmt = (
        _visible_issues(uow)
        .where(
            CaseIssue.status == IssueStatus.ISSUED,
            CaseIssue.due_at < now,
            Case.status.in_(domain.ISSUE_OPEN),
            ~CaseIssue.id.in_(
                select(CaseAlert.issue_id).where(CaseAlert.kind == AlertKind.ACK_OVERDUE)
            ),
        )
        .order_by(CaseIssue.id)
    )
    raised: list[CaseAlert] = []
    for row in uow.session.scalars(stmt).all():
        case = uow.session.get(Case, row.case_id)
        assert case is not None
        alert = CaseAlert(
            case_id=row.case_id,
            issue_id=row.id,
            kind=AlertKind.ACK_OVERDUE,
            status=AlertStatus.OPEN,
            message=(
                f"{row.assignee.split(':', 1)[1]} has not acknowledged case {case.code} "
                f"(due {row.due_at:%Y-%m-%d %H:%M} UTC)"
            ),
            raised_at=now,
        )
        try:
            # A concurrent scan may raise the same alert first; the unique key keeps one.
            with uow.session.begin_nested():
                uow.session.add(alert)
                uow.session.flush()
        except IntegrityError:
            continue
        raised.append(alert)
    result = ScanRead(
        raised=[_alert_read(uow, a) for a in raised],
        open=len(list_alerts(uow=uow, status=AlertStatus.OPEN)),
    )
    uow.commit()
    return result


def list_alerts(*, uow: UnitOfWork, status: AlertStatus | None = None) -> list[AlertRead]:
    """Alerts on issues the actor sees, newest first."""
    stmt = (
        select(CaseAlert)
        .where(CaseAlert.issue_id.in_(_visible_issues(uow).with_only_columns(CaseIssue.id)))
        .order_by(CaseAlert.raised_at.desc(), CaseAlert.id.desc())
    )
    if status is not None:
        stmt = stmt.where(CaseAlert.status == status)
    return [_alert_read(uow, a) for a in uow.session.scalars(stmt)]


def acknowledge_alert(*, uow: UnitOfWork, alert_id: int) -> AlertRead:
    """Note that someone is following an open alert up (it resolves when the unit acks)."""
    alert = uow.session.scalar(
        select(CaseAlert).where(
            CaseAlert.id == alert_id,
            CaseAlert.issue_id.in_(_visible_issues(uow).with_only_columns(CaseIssue.id)),
        )
    )
    if alert is None:
        raise NotFound(f"alert {alert_id} not found", details=[{"field": "alert_id"}])
    if alert.status is not AlertStatus.OPEN:
        raise InvalidTransition(
            f"alert {alert_id} is {alert.status}; only an open alert is acknowledged",
            details=[{"field": "status", "from": str(alert.status), "to": "acknowledged"}],
        )
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.acknowledged_by = uow.actor.username
    alert.acknowledged_at = utcnow()
    uow.session.flush()
    result = _alert_read(uow, alert)
    uow.commit()
    return result
