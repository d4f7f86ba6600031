"""JSON routes of targeting: the contact policy, runs, their explanations and lists.

Reading the policy needs overview:read; saving a version needs policy:manage
at the province. Runs span every city's cases, so running, reading and
downloading them needs targeting:run (the province's planners); numbers in a
downloaded list are masked unless the caller may unmask and asks.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from fastapi.responses import StreamingResponse

from telmark.auth.deps import CurrentPrincipal, ScopedWarehouseDep, require
from telmark.auth.permissions import Action
from telmark.cases import service as cases_service
from telmark.errors import Forbidden
from telmark.privacy.export import csv_download
from telmark.privacy.service import may_unmask
from telmark.targeting import lists, service
from telmark.targeting.domain import Group
from telmark.targeting.schemas import (
    CaseRunCreate,
    ContactPolicyIn,
    ContactPolicyRead,
    ExplainRead,
    RunCreate,
    RunListItem,
    TargetingRunRead,
)
from telmark.web.deps import SettingsDep, UowDep
from telmark.web.errors import ErrorRead

router = APIRouter(prefix="/api/targeting", tags=["targeting"])

READ = [require(Action.OVERVIEW_READ)]
MANAGE = [require(Action.POLICY_MANAGE)]
RUN = [require(Action.TARGETING_RUN)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorRead, "description": "No such run."}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorRead, "description": "Key reused, another run live, or file changed."}
}


@router.get("/policy", response_model=ContactPolicyRead, dependencies=READ)
def get_policy(uow: UowDep) -> ContactPolicyRead:
    """The contact policy in force (the default until a version is saved)."""
    return service.get_policy(uow=uow)


@router.get("/policy/history", response_model=list[ContactPolicyRead], dependencies=READ)
def policy_history(uow: UowDep) -> list[ContactPolicyRead]:
    """Every saved version of the contact policy, newest first."""
    return service.policy_history(uow=uow)


@router.put("/policy", response_model=ContactPolicyRead, dependencies=MANAGE)
def set_policy(spec: ContactPolicyIn, uow: UowDep) -> ContactPolicyRead:
    """Save the next version of the contact policy (province admins)."""
    return service.set_policy(uow=uow, spec=spec)


@router.get("/runs", response_model=list[RunListItem], dependencies=RUN)
def list_runs(uow: UowDep) -> list[RunListItem]:
    """The latest targeting runs, newest first."""
    return service.list_runs(uow=uow)


@router.post(
    "/runs",
    response_model=TargetingRunRead,
    status_code=status.HTTP_200_OK,
    dependencies=RUN,
    responses=CONFLICT,
)
def run_targeting(
    spec: RunCreate, uow: UowDep, con: ScopedWarehouseDep, settings: SettingsDep
) -> TargetingRunRead:
    """Run targeting for the given cases and day (or simulate it: nothing is stored).

    Repeating a run_key returns the complete run, or completes a failed one.
    """
    return service.run_targeting(
        uow=uow,
        con=con,
        cases=spec.cases,
        run_key=spec.run_key,
        on=spec.on,
        simulate=spec.simulate,
        new_case_id=spec.new_case_id,
        directory=settings.resolved_targeting_dir,
        snapshot_dir=settings.resolved_snapshot_dir,
        holdout_key=settings.holdout_key.get_secret_value(),
    )


@router.post(
    "/case-runs",
    response_model=TargetingRunRead,
    status_code=status.HTTP_200_OK,
    dependencies=RUN,
    responses=CONFLICT,
)
def run_cases(
    spec: CaseRunCreate, uow: UowDep, con: ScopedWarehouseDep, settings: SettingsDep
) -> TargetingRunRead:
    """Run targeting for marketing cases: the given ones, or every targetable one you see."""
    return service.run_targeting(
        uow=uow,
        con=con,
        cases=cases_service.targeting_inputs(uow=uow, case_ids=spec.case_ids),
        run_key=spec.run_key,
        on=spec.on,
        simulate=spec.simulate,
        new_case_id=spec.new_case_id,
        directory=settings.resolved_targeting_dir,
        snapshot_dir=settings.resolved_snapshot_dir,
        holdout_key=settings.holdout_key.get_secret_value(),
    )


@router.get(
    "/runs/{run_id}", response_model=TargetingRunRead, dependencies=RUN, responses=NOT_FOUND
)
def get_run(run_id: int, uow: UowDep) -> TargetingRunRead:
    """One run: funnel per case, exclusions by reason, balance report, losses, list counts."""
    return service.get_run(uow=uow, run_id=run_id)


@router.get(
    "/runs/{run_id}/explain",
    response_model=ExplainRead,
    dependencies=RUN,
    responses={**NOT_FOUND, **CONFLICT},
)
def explain(
    run_id: int, uow: UowDep, settings: SettingsDep, subscriber_id: Annotated[int, Query(ge=1)]
) -> ExplainRead:
    """Why the run gave the subscriber to the case it did: every candidate with its score."""
    return lists.explain(
        uow=uow,
        run_id=run_id,
        subscriber_id=subscriber_id,
        directory=settings.resolved_targeting_dir,
    )


@router.get(
    "/runs/{run_id}/lists",
    response_class=StreamingResponse,
    dependencies=RUN,
    responses={**NOT_FOUND, **CONFLICT, 200: {"content": {"text/csv": {}}}},
)
def download_list(
    run_id: int,
    uow: UowDep,
    con: ScopedWarehouseDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    case_id: int | None = None,
    channel: str | None = None,
    city_id: str | None = None,
    outlet_id: str | None = None,
    account_manager_id: str | None = None,
    group: Group | None = Group.TREATMENT,
    unmask: bool = False,
) -> StreamingResponse:
    """A run's contact list as CSV, filtered; mobile numbers masked unless ``unmask``."""
    if unmask and not may_unmask(principal):
        raise Forbidden("you may not see personal data unmasked")
    filters = lists.ListFilter(
        case_id=case_id,
        channel=channel,
        city_id=city_id,
        outlet_id=outlet_id,
        account_manager_id=account_manager_id,
        group=group,
    )
    chunks = lists.export_csv(
        uow=uow,
        con=con,
        run_id=run_id,
        filters=filters,
        unmask=unmask,
        directory=settings.resolved_targeting_dir,
    )
    return csv_download(chunks, f"targeting-run-{run_id}")
