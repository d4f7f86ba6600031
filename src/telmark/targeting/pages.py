"""Console pages of targeting: the contact policy (edited by province admins), the runs,
and one run's funnel chart, exclusions, arbitration losses, balance report and lists.

The policy page is read with overview:read; its form is shown to, and accepted from,
policy:manage at the province only (every save is a new, audited version). Runs span every
city, so their pages need targeting:run, as the JSON API does; list downloads go through
``/api/targeting/runs/{id}/lists`` (masked numbers unless the caller may unmask).
"""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from telmark.auth.deps import require
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.consent.domain import CONTACT_CHANNELS
from telmark.consent.pages import CHANNEL_LABELS
from telmark.errors import InvalidInput
from telmark.org.domain import is_root_path
from telmark.privacy.service import may_unmask
from telmark.targeting import service
from telmark.targeting.domain import (
    COVARIATES,
    GROUP_LABELS,
    REASON_LABELS,
    RUN_STATUS_LABELS,
    STEP_LABELS,
    Period,
)
from telmark.targeting.schemas import ContactPolicyIn
from telmark.translation import N_
from telmark.web.deps import LocaleDep, TemplatesDep, UowDep
from telmark.web.i18n import gettext_for

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, require(Action.OVERVIEW_READ)]
Runner = Annotated[Principal, require(Action.TARGETING_RUN)]
MANAGE = [require(Action.POLICY_MANAGE)]
RUN = [require(Action.TARGETING_RUN)]
PERIOD_LABELS = {Period.DAY: N_("day"), Period.WEEK: N_("week"), Period.MONTH: N_("month")}


async def _form_fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {name: str(form.get(name) or "") for name in form}


FormDep = Annotated[dict[str, str], Depends(_form_fields)]


def _may_edit(principal: Principal) -> bool:
    return principal.can(Action.POLICY_MANAGE) and is_root_path(principal.org_path)


def _policy_context(uow: Any, locale: str) -> dict[str, Any]:
    return {
        "page_title": gettext_for(locale, N_("Contact policy")),
        "policy": service.get_policy(uow=uow),
        "history": service.policy_history(uow=uow)[:20],
        "periods": PERIOD_LABELS,
        "channels": {c.value: CHANNEL_LABELS[c] for c in CONTACT_CHANNELS},
    }


@router.get("/targeting/policy", response_class=HTMLResponse, name="targeting_policy")
def policy_page(
    request: Request, uow: UowDep, templates: TemplatesDep, locale: LocaleDep, principal: Reader
) -> Response:
    """The contact policy in force and its versions; the edit form for province admins."""
    context = _policy_context(uow, locale)
    context |= {
        "can_edit": _may_edit(principal),
        "errors": [],
        "saved": "saved" in request.query_params,
    }
    return templates.render(request, "targeting/policy.html", context)


def _int(form: dict[str, str], name: str) -> int:
    try:
        return int(form.get(name, "").strip() or "0")
    except ValueError:
        raise InvalidInput(f"{name}: not a whole number") from None


def _time(form: dict[str, str], name: str) -> time:
    try:
        return time.fromisoformat(form.get(name, "").strip())
    except ValueError:
        raise InvalidInput(f"{name}: expected HH:MM") from None


@router.post("/targeting/policy", response_class=HTMLResponse, dependencies=MANAGE)
def save_policy(
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    principal: Reader,
    form: FormDep,
) -> Response:
    """Save the next policy version from the form; problems come back beside the form (422)."""
    try:
        caps = {
            c.value: _int(form, f"cap_{c.value}")
            for c in CONTACT_CHANNELS
            if form.get(f"cap_{c.value}", "").strip()
        }
        period = form.get("period", "")
        spec = ContactPolicyIn(
            period=Period(period) if period in Period.__members__.values() else Period.WEEK,
            global_cap=_int(form, "global_cap"),
            channel_caps=caps,
            min_gap_days=_int(form, "min_gap_days"),
            quiet_start=_time(form, "quiet_start"),
            quiet_end=_time(form, "quiet_end"),
            global_holdout_bp=_int(form, "global_holdout_bp"),
            global_holdout_key=form.get("global_holdout_key", "").strip() or "global",
            note=form.get("note", ""),
        )
        service.set_policy(uow=uow, spec=spec)
    except (InvalidInput, ValueError) as error:
        context = _policy_context(uow, locale)
        message = error.message if isinstance(error, InvalidInput) else str(error)
        context |= {"can_edit": _may_edit(principal), "errors": [message], "saved": False}
        return templates.render(request, "targeting/policy.html", context, status_code=422)
    return RedirectResponse("/targeting/policy?saved=1", status_code=303)


@router.get("/targeting/runs", response_class=HTMLResponse, name="targeting_runs", dependencies=RUN)
def runs_page(
    request: Request, uow: UowDep, templates: TemplatesDep, locale: LocaleDep
) -> Response:
    """The latest targeting runs."""
    context = {
        "page_title": gettext_for(locale, N_("Targeting runs")),
        "runs": service.list_runs(uow=uow),
        "status_labels": RUN_STATUS_LABELS,
    }
    return templates.render(request, "targeting/runs.html", context)


@router.get("/targeting/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    run_id: int,
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    principal: Runner,
) -> Response:
    """One run: funnel chart per case, exclusions by reason, losses, balance, lists."""
    run = service.get_run(uow=uow, run_id=run_id)
    step_labels = {s.value: gettext_for(locale, label) for s, label in STEP_LABELS.items()}
    chart = {
        "locale": locale.replace("_", "-"),
        "steps": [step_labels[s.step] for s in run.summary.funnel[0].steps] if run.summary else [],
        "series": [
            {"name": f.case_code if f.case_id is not None else gettext_for(locale, N_("All cases")),
             "counts": [s.count for s in f.steps]}
            for f in (run.summary.funnel if run.summary else [])
        ],
    }  # fmt: skip
    context = {
        "page_title": gettext_for(locale, N_("Targeting run %(key)s")) % {"key": run.run_key},
        "run": run,
        "chart": chart,
        "step_labels": step_labels,
        "reason_labels": REASON_LABELS,
        "covariates": COVARIATES,
        "channels": {c.value: CHANNEL_LABELS[c] for c in CONTACT_CHANNELS},
        "codes": {c.case_id: c.code for c in run.cases},
        "may_unmask": may_unmask(principal),
        "status_labels": RUN_STATUS_LABELS,
        "group_labels": GROUP_LABELS,
    }
    return templates.render(request, "targeting/run.html", context)
