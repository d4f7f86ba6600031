"""Console pages of responses: the cases with responses, and one case treatment against control.

The case page shows, for the groups the case compares, how many subscribers
were exposed (contacted, or held back in the control group), how many took
up, the take-up rate and the monthly revenue attributed, in total and per
city (or outlet, channel, offer): a bar chart of take-up treatment against
control and a table. The latest responses are listed with masked numbers.
Everything is the caller's organisation only (``service``); a case the caller
cannot see is 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from telmark.auth.deps import require
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.execution.domain import PROVINCE_TZ
from telmark.execution.responses import service
from telmark.execution.responses.domain import BREAKDOWN_LABELS, TYPE_LABELS, Breakdown
from telmark.execution.responses.schemas import ResponseCount
from telmark.translation import N_
from telmark.web.deps import LocaleDep, TemplatesDep, UowDep, WarehouseDep
from telmark.web.i18n import gettext_for

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, require(Action.CASE_READ)]
GROUP_LABELS = {"treatment": N_("Treatment"), "control": N_("Control")}


def _pairs(rows: list[ResponseCount]) -> list[tuple[str | None, ResponseCount, ResponseCount]]:
    """(key, treatment, control) per breakdown key, in the order the service gave."""
    found: dict[str | None, dict[str, ResponseCount]] = {}
    for row in rows:
        found.setdefault(row.key, {})[row.group] = row
    return [(key, groups["treatment"], groups["control"]) for key, groups in found.items()]


@router.get("/responses", response_class=HTMLResponse, name="responses_index")
def index(
    request: Request,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    principal: Reader,  # noqa: ARG001 - demands cases:read
) -> Response:
    """The cases with contacts or control rows in the caller's organisation."""
    context = {
        "page_title": gettext_for(locale, N_("Responses")),
        "cases": service.response_cases(uow=uow),
    }
    return templates.render(request, "responses/index.html", context)


@router.get("/responses/cases/{case_id}", response_class=HTMLResponse, name="responses_case")
def case_page(
    case_id: int,
    request: Request,
    uow: UowDep,
    con: WarehouseDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    principal: Reader,  # noqa: ARG001 - demands cases:read
    by: Breakdown = Breakdown.CITY,
) -> Response:
    """One case: exposed, responders and take-up, treatment against control, per ``by``."""
    read = service.case_responses(uow=uow, case_id=case_id, by=by, recent=20, con=con)
    pairs = _pairs(read.rows)
    none = gettext_for(locale, N_("(none named)"))
    names = [key or none for key, _, _ in pairs]
    chart = {
        "locale": locale.replace("_", "-"),
        "names": names,
        "series": [
            {
                "name": gettext_for(locale, GROUP_LABELS[group]),
                "values": [
                    None if (row := t if group == "treatment" else c).take_up_bp is None
                    else row.take_up_bp / 10_000
                    for _, t, c in pairs
                ],
            }
            for group in ("treatment", "control")
        ],
    }  # fmt: skip
    context = {
        "page_title": gettext_for(locale, N_("Responses of %(code)s")) % {"code": read.case_code},
        "read": read,
        "totals": _pairs(read.totals)[0],
        "pairs": pairs,
        "names": names,
        "chart": chart,
        "by": by,
        "breakdowns": BREAKDOWN_LABELS,
        "type_labels": {t.value: label for t, label in TYPE_LABELS.items()},
        "group_labels": GROUP_LABELS,
        "tz": PROVINCE_TZ,  # response times are shown as the province's local time
    }
    return templates.render(request, "responses/case.html", context)
