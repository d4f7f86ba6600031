"""Console pages of front-line tasks: "my tasks" for the front line, completion for managers.

"My tasks" is built for a phone at the counter or on the street (375 px wide):
one card per task with large outcome buttons and a note; a tap posts the
outcome with HTMX and the card is replaced in place by its done state, so no
page reload loses the worker's place in the list. Numbers are masked in the
list; "Call" reveals one task's number at a time (audited, and in clear only
for those who may unmask — the front-line roles, who must call the customer).
HTMX swaps only successful responses, so a refused outcome (the task was
done or changed meanwhile) answers 200 with the card showing the problem.

The completion page gives managers the tasks of their scope per unit, city,
person or recorder, optionally for one case, as a bar chart (done and open,
stacked) and a table with outcomes, overdue counts and completion rates.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from telmark.auth.deps import require
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.errors import Conflict, InvalidInput, InvalidTransition
from telmark.execution.tasks import service
from telmark.execution.tasks.api import task_reader
from telmark.execution.tasks.domain import (
    OUTCOME_LABELS,
    STATE_LABELS,
    VIEW_LABELS,
    Dimension,
    Outcome,
    View,
)
from telmark.execution.tasks.schemas import OutcomeIn, TaskRead
from telmark.privacy.service import may_unmask
from telmark.translation import N_
from telmark.web.deps import LocaleDep, TemplatesDep, UowDep, WarehouseDep
from telmark.web.i18n import gettext_for

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, Depends(task_reader)]
Worker = Annotated[Principal, require(Action.TASK_WORK)]
Manager = Annotated[Principal, require(Action.TASK_MANAGE)]
PAGE_SIZE = 20
DIMENSION_LABELS = {
    Dimension.UNIT: N_("Per outlet / unit"),
    Dimension.CITY: N_("Per city"),
    Dimension.STAFF: N_("Per assigned person"),
    Dimension.RECORDER: N_("Per recorder"),
}


async def _form_fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {name: str(form.get(name) or "") for name in form}


FormDep = Annotated[dict[str, str], Depends(_form_fields)]


def _card_context(principal: Principal, task: TaskRead) -> dict[str, Any]:
    return {
        "task": task,
        "can_work": principal.can(Action.TASK_WORK),
        "outcome_labels": OUTCOME_LABELS,
        "state_labels": STATE_LABELS,
    }


@router.get("/tasks/mine", response_class=HTMLResponse, name="tasks_mine")
def my_tasks(
    request: Request,
    uow: UowDep,
    con: WarehouseDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    principal: Reader,
    view: View = View.OPEN,
    case_id: int | None = None,
    offset: int = 0,
) -> Response:
    """The caller's tasks as cards: to do (by due day), overdue, done or all."""
    page = service.list_tasks(
        uow=uow, view=view, case_id=case_id, offset=max(offset, 0), limit=PAGE_SIZE, con=con
    )
    context = {
        "page_title": gettext_for(locale, N_("My tasks")),
        "page": page,
        "view": view,
        "views": VIEW_LABELS,
        "case_id": case_id,
        "cases": service.task_cases(uow=uow),
        "can_work": principal.can(Action.TASK_WORK),
        "can_manage": principal.can(Action.TASK_MANAGE),
        "outcome_labels": OUTCOME_LABELS,
        "state_labels": STATE_LABELS,
        "page_size": PAGE_SIZE,
    }
    return templates.render(request, "tasks/mine.html", context)


@router.get("/tasks/completion", response_class=HTMLResponse, name="tasks_report")
def completion(
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    principal: Manager,  # noqa: ARG001 - demands tasks:manage
    case_id: int | None = None,
    by: Dimension = Dimension.UNIT,
) -> Response:
    """Completion of the tasks in the caller's scope, per unit, city, person or recorder."""
    result = service.report(uow=uow, case_id=case_id, by=by)
    none = gettext_for(locale, N_("(none named)"))
    names = [row.label or row.key or none for row in result.rows]
    chart = {
        "locale": locale.replace("_", "-"),
        "names": names,
        "series": [
            {"name": gettext_for(locale, N_("Done")), "values": [r.done for r in result.rows]},
            {"name": gettext_for(locale, N_("Open")), "values": [r.open for r in result.rows]},
        ],
    }
    context = {
        "page_title": gettext_for(locale, N_("Task completion")),
        "report": result,
        "names": names,
        "chart": chart,
        "case_id": case_id,
        "by": by,
        "dimensions": DIMENSION_LABELS,
        "cases": service.task_cases(uow=uow),
        "outcome_labels": OUTCOME_LABELS,
    }
    return templates.render(request, "tasks/report.html", context)


@router.get("/tasks/{task_id}/number", response_class=HTMLResponse)
def number(
    task_id: int,
    request: Request,
    uow: UowDep,
    con: WarehouseDep,
    templates: TemplatesDep,
    principal: Worker,
) -> Response:
    """The task's number as a call link (in clear for those who may unmask; audited)."""
    shown = service.contact(uow=uow, con=con, task_id=task_id, unmask=may_unmask(principal))
    return templates.render(request, "tasks/_number.html", {"contact": shown})


@router.post("/tasks/{task_id}/outcome", response_class=HTMLResponse)
def record(
    task_id: int,
    request: Request,
    uow: UowDep,
    con: WarehouseDep,
    templates: TemplatesDep,
    principal: Worker,
    form: FormDep,
) -> Response:
    """Record an outcome from a card; answers with the card as it is now."""
    error: str | None = None
    try:
        version = form.get("version", "").strip()
        raw = form.get("outcome", "")
        if raw not in Outcome.__members__.values():
            raise InvalidInput(f"outcome: choose one of {', '.join(Outcome)}")
        spec = OutcomeIn(
            outcome=Outcome(raw),
            note=form.get("note", "")[:1000],
            version=int(version) if version.isdigit() and int(version) >= 1 else None,
        )
        task = service.record_outcome(uow=uow, task_id=task_id, spec=spec, con=con)
    except (Conflict, InvalidInput, InvalidTransition) as refused:
        # Show the task as it now is, with why the tap changed nothing.
        error = refused.message
        task = service.get_task(uow=uow, task_id=task_id, con=con)
    context = _card_context(principal, task) | {"error": error}
    return templates.render(request, "tasks/_card.html", context)
