"""JSON routes of real-time triggers: case rules, event ingestion, decisions, live counters.

Rules are read and changed with triggers:manage, case by case within the
caller's org scope (another city's case is 404, as everywhere). Events are
posted in batches with triggers:ingest by a province account (the engine
arbitrates across every city's cases): a bearer token, since the sender is a
system. The engine is loaded on the first batch and reloaded when a rule
changes or it is older than ``trigger_refresh_seconds``.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from telmark.auth.deps import require
from telmark.auth.permissions import Action
from telmark.db import utcnow
from telmark.execution.triggers import service
from telmark.execution.triggers.schemas import (
    BatchRead,
    CountersRead,
    DecisionRead,
    EventBatchIn,
    TriggerRuleIn,
    TriggerRuleRead,
)
from telmark.web.deps import SettingsDep, UowDep, WarehouseDep
from telmark.web.errors import ErrorRead

router = APIRouter(prefix="/api/triggers", tags=["triggers"])

MANAGE = [require(Action.TRIGGER_MANAGE)]
INGEST = [require(Action.TRIGGER_INGEST)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorRead, "description": "No such case (or rule) in your scope."}
}


def holder(request: Request, settings: SettingsDep) -> service.RuntimeHolder:
    """The app's engine holder (one per app: tests' apps never share an engine)."""
    state = request.app.state
    found: service.RuntimeHolder | None = getattr(state, "trigger_runtime", None)
    if found is None:
        found = service.RuntimeHolder(settings.trigger_refresh_seconds)
        state.trigger_runtime = found
    return found


def _outdate(request: Request) -> None:
    found: service.RuntimeHolder | None = getattr(request.app.state, "trigger_runtime", None)
    if found is not None:
        found.outdated = True


@router.get("/rules", response_model=list[TriggerRuleRead], dependencies=MANAGE)
def list_rules(uow: UowDep) -> list[TriggerRuleRead]:
    """Trigger rules of the cases you see, with today's decisions of each."""
    return service.list_rules(uow=uow)


@router.get(
    "/rules/{case_id}", response_model=TriggerRuleRead, dependencies=MANAGE, responses=NOT_FOUND
)
def get_rule(case_id: int, uow: UowDep) -> TriggerRuleRead:
    """One case's trigger rule."""
    return service.get_rule(uow=uow, case_id=case_id)


@router.put(
    "/rules/{case_id}", response_model=TriggerRuleRead, dependencies=MANAGE, responses=NOT_FOUND
)
def set_rule(case_id: int, spec: TriggerRuleIn, uow: UowDep, request: Request) -> TriggerRuleRead:
    """Attach or replace the case's trigger rule (the engine reloads before the next batch)."""
    result = service.set_rule(uow=uow, case_id=case_id, spec=spec)
    _outdate(request)
    return result


@router.delete("/rules/{case_id}", status_code=204, dependencies=MANAGE, responses=NOT_FOUND)
def remove_rule(case_id: int, uow: UowDep, request: Request) -> None:
    """Detach the case's trigger rule; its decisions stay."""
    service.remove_rule(uow=uow, case_id=case_id)
    _outdate(request)


@router.post("/events", response_model=BatchRead, dependencies=INGEST)
def ingest(
    batch: EventBatchIn,
    uow: UowDep,
    con: WarehouseDep,
    settings: SettingsDep,
    request: Request,
) -> BatchRead:
    """Decide a batch of events (1–1000); an event_id already decided returns its decision.

    Each answer says contact (with channel, offer and send time), control, or
    excluded with the reason; numbers come back masked.
    """
    received, received_at = time.perf_counter(), utcnow()
    service.require_province(uow)
    events = [
        service.to_event(item, index=i, source="http", received_at=received_at, received=received)
        for i, item in enumerate(batch.events)
    ]
    runtime = holder(request, settings).get(
        uow=uow, con=con, holdout_key=settings.holdout_key.get_secret_value()
    )
    return service.ingest(uow=uow, con=con, runtime=runtime, events=events)


@router.get("/decisions", response_model=list[DecisionRead], dependencies=MANAGE)
def recent(
    uow: UowDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    case_id: int | None = None,
) -> list[DecisionRead]:
    """The latest decisions you may see, newest first; numbers masked."""
    return service.recent_decisions(uow=uow, limit=limit, case_id=case_id)


@router.get("/counters", response_model=CountersRead, dependencies=MANAGE)
def counters(uow: UowDep, request: Request, settings: SettingsDep) -> CountersRead:
    """Today's decisions by case, outcome and reason, and the engine's rate and latency."""
    return service.counters(uow=uow, runtime=holder(request, settings).runtime)
