"""Console page of uplift models: the versions, one version's holdout figures and Qini chart.

Training (from finished cases) and scoring are synchronous form posts, as on
the churn page: seconds for a case of tens of thousands of lines; for more,
use the CLI.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from telmark.analysis.uplift import service
from telmark.analysis.uplift.features import labelled_from_cases
from telmark.analysis.uplift.schemas import UpliftModelRead
from telmark.auth.deps import require
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.errors import DomainError, Forbidden, InvalidInput
from telmark.org.domain import is_root_path
from telmark.translation import N_
from telmark.uow import UnitOfWork
from telmark.web.deps import LocaleDep, SettingsDep, TemplatesDep, UowDep, WarehouseDep
from telmark.web.i18n import gettext_for, html_lang
from telmark.web.templating import ConsoleTemplates

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, require(Action.OVERVIEW_READ)]
Runner = Annotated[Principal, require(Action.ANALYSIS_RUN)]

PAGE = "/analysis/uplift"
_IDS = re.compile(r"[\s,，、]+")

CHART_LABELS = {
    "model": N_("Model"),
    "random": N_("Random targeting"),
    "share": N_("Share of lines targeted"),
    "incremental": N_("Incremental responders"),
}
DONE_MESSAGES = {
    "trained": N_("A new uplift model version was trained."),
    "scored": N_("Every active line was scored; the model's rows of uplift_scores were replaced."),
}


def chart_data(model: UpliftModelRead | None, *, locale: str) -> dict[str, Any]:
    """What the page's Qini chart draws, as JSON-ready data (shares in percent)."""
    data: dict[str, Any] = {
        "locale": html_lang(locale),
        "echartsLocale": "EN" if locale == "en" else "ZH",
        "labels": {key: gettext_for(locale, msgid) for key, msgid in CHART_LABELS.items()},
    }
    if model is not None:
        data["qini"] = [
            {
                "share": round(p.share * 100, 1),
                "model": round(p.model, 2),
                "random": round(p.random, 2),
            }
            for p in model.metrics.qini_curve
        ]
    return data


def parse_case_ids(text: str) -> list[int]:
    """Case ids typed as ``12, 15`` (commas, spaces or 、); InvalidInput naming the field."""
    parts = [p for p in _IDS.split(text.strip()) if p]
    if not parts or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise InvalidInput(
            f"case ids are whole numbers separated by commas, not {text!r}",
            details=[{"field": "case_ids"}],
        )
    return [int(p) for p in parts]


def _render(
    request: Request,
    templates: ConsoleTemplates,
    locale: str,
    principal: Principal,
    uow: UnitOfWork,
    *,
    version: int | None = None,
    errors: list[str] | None = None,
    case_ids: str = "",
    status_code: int = 200,
) -> Response:
    versions = service.list_models(uow=uow)
    shown = version if version is not None else (versions[0].version if versions else None)
    model = service.get_model(uow=uow, version=shown) if shown is not None else None
    context: dict[str, Any] = {
        "page_title": gettext_for(locale, N_("Uplift models")),
        "model": model,
        "versions": versions,
        "can_run": principal.can(Action.ANALYSIS_RUN) and is_root_path(principal.org_path),
        "errors": errors or [],
        "done": DONE_MESSAGES.get(request.query_params.get("done", "")),
        "case_ids": case_ids,
        "chart_data": chart_data(model, locale=locale),
    }
    return templates.render(request, "uplift/uplift.html", context, status_code=status_code)


@router.get(PAGE, response_class=HTMLResponse, name="uplift")
def uplift_page(
    request: Request,
    principal: Reader,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    version: int | None = None,
) -> Response:
    """The versions, and one version's (the newest by default) Qini, AUUC, uplift@k and curve."""
    return _render(request, templates, locale, principal, uow, version=version)


def _run(
    request: Request,
    templates: ConsoleTemplates,
    locale: str,
    principal: Principal,
    uow: UnitOfWork,
    action: Callable[[], int],
    done: str,
    case_ids: str = "",
) -> Response:
    """Run ``action`` (it returns a version): to that version, or back with the error shown."""
    try:
        version = action()
    except DomainError as error:
        uow.rollback()
        message = error.message
        if isinstance(error, Forbidden):
            message = gettext_for(
                locale,
                N_(
                    "Uplift models cover the whole province: only province-level users may "
                    "train or score them."
                ),
            )
        return _render(
            request, templates, locale, principal, uow,
            errors=[message], case_ids=case_ids, status_code=error.status_code,
        )  # fmt: skip
    return RedirectResponse(f"{PAGE}?version={version}&done={done}", status_code=303)


@router.post(f"{PAGE}/train", response_class=HTMLResponse)
def train(
    request: Request,
    principal: Runner,
    uow: UowDep,
    con: WarehouseDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    case_ids: Annotated[str, Form()] = "",
) -> Response:
    """Train a new version on the finished cases typed in (synchronously) and show it."""

    def action() -> int:
        service.require_province(uow)
        labelled = labelled_from_cases(uow=uow, case_ids=parse_case_ids(case_ids), con=con)
        return service.train_model(
            uow=uow, con=con, models_dir=service.models_dir(settings.data_dir), labelled=labelled
        ).version

    return _run(request, templates, locale, principal, uow, action, "trained", case_ids)


@router.post(f"{PAGE}/models/{{version}}/score", response_class=HTMLResponse)
def score(
    request: Request,
    version: Annotated[int, Path(ge=1)],
    principal: Runner,
    uow: UowDep,
    con: WarehouseDep,
    templates: TemplatesDep,
    locale: LocaleDep,
) -> Response:
    """Score every active line with the version into uplift_scores."""

    def action() -> int:
        return service.score(uow=uow, con=con, version=version).model_version

    return _run(request, templates, locale, principal, uow, action, "scored")
