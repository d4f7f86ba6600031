"""JSON routes of the execution monitor (``/api/monitor``).

Reading progress and alerts needs cases:read and sees the caller's unit and
below; acknowledging and resolving alerts and setting a unit's thresholds need
monitor:manage; the scan needs monitor:manage at the province (it evaluates
every running case).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from telmark.auth.deps import require
from telmark.auth.permissions import Action
from telmark.cases.domain import AlertKind, AlertStatus
from telmark.execution.monitor import scan as monitor_scan
from telmark.execution.monitor import service
from telmark.execution.monitor.domain import Level
from telmark.execution.monitor.schemas import (
    CaseProgress,
    MonitorAlertRead,
    MonitorScanRead,
    NoteIn,
    ProgressRead,
    SettingIn,
    SettingRead,
)
from telmark.web.deps import SettingsDep, UowDep, WarehouseDep
from telmark.web.errors import ErrorRead

router = APIRouter(prefix="/api/monitor", tags=["monitor"])

READ = [require(Action.CASE_READ)]
MANAGE = [require(Action.MONITOR_MANAGE)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorRead, "description": "No such case, alert or unit in your scope."}
}
CHANGE: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    409: {"model": ErrorRead, "description": "The alert's status does not allow this."},
    422: {"model": ErrorRead, "description": "Invalid input: details name the field."},
}


@router.get("/cases", response_model=list[CaseProgress], dependencies=READ)
def overview(uow: UowDep) -> list[CaseProgress]:
    """Cases in execution in your scope, each with its funnel and where it stands."""
    return service.overview(uow=uow)


@router.get("/cases/{case_id}", response_model=ProgressRead, dependencies=READ, responses=NOT_FOUND)
def progress(case_id: int, uow: UowDep, by: Level | None = None) -> ProgressRead:
    """A case's funnel and checkpoints against plan, optionally per city, outlet or manager."""
    return service.progress(uow=uow, case_id=case_id, by=by)


@router.get("/alerts", response_model=list[MonitorAlertRead], dependencies=READ)
def list_alerts(
    uow: UowDep,
    status: AlertStatus | None = None,
    case_id: int | None = None,
    kind: AlertKind | None = None,
) -> list[MonitorAlertRead]:
    """Alerts about units in your scope, newest first (acknowledgement alerts included)."""
    return service.list_alerts(uow=uow, status=status, case_id=case_id, kind=kind)


@router.post(
    "/scan",
    response_model=MonitorScanRead,
    dependencies=MANAGE,
    responses={403: {"model": ErrorRead, "description": "Only at the province."}},
)
def scan(uow: UowDep, con: WarehouseDep, settings: SettingsDep) -> MonitorScanRead:
    """Evaluate every running case against the alert rules (idempotent) and mail new alerts."""
    return monitor_scan.scan(uow=uow, con=con, directory=settings.resolved_targeting_dir)


@router.get(
    "/alerts/{alert_id}", response_model=MonitorAlertRead, dependencies=READ, responses=NOT_FOUND
)
def get_alert(alert_id: int, uow: UowDep) -> MonitorAlertRead:
    """One alert."""
    return service.get_alert(uow=uow, alert_id=alert_id)


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=MonitorAlertRead,
    dependencies=MANAGE,
    responses=CHANGE,
)
def acknowledge(alert_id: int, body: NoteIn, uow: UowDep) -> MonitorAlertRead:
    """Take an open alert up (an optional note says how it is followed up)."""
    return service.acknowledge(uow=uow, alert_id=alert_id, note=body.note)


@router.post(
    "/alerts/{alert_id}/resolve",
    response_model=MonitorAlertRead,
    dependencies=MANAGE,
    responses=CHANGE,
)
def resolve(alert_id: int, body: NoteIn, uow: UowDep) -> MonitorAlertRead:
    """Close an alert with a note saying what was done (required)."""
    return service.resolve(uow=uow, alert_id=alert_id, note=body.note)


@router.get("/settings/{code}", response_model=SettingRead, dependencies=READ, responses=NOT_FOUND)
def get_setting(code: str, uow: UowDep) -> SettingRead:
    """The alert thresholds and e-mail recipients that apply to a unit."""
    return service.get_setting(uow=uow, org_code=code)


@router.put("/settings/{code}", response_model=SettingRead, dependencies=MANAGE, responses=CHANGE)
def set_setting(code: str, body: SettingIn, uow: UowDep) -> SettingRead:
    """Set a unit's thresholds (only those that differ from the defaults) and recipients."""
    return service.set_setting(uow=uow, org_code=code, spec=body)
