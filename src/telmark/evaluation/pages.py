"""Console page of experiment evaluation: upload an A/B/n file, read the result, size a test.

The upload posts a normal form (with the CSRF field) and the page renders the result on the
server; a file that cannot be evaluated re-renders the form with every problem, translated
where the reason is one of the known ones, and the entered columns kept. The calculator is
a GET form (it stores nothing), so its answers can be linked to.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from telmark.auth.deps import require
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.errors import DomainError
from telmark.evaluation import power
from telmark.evaluation.api import evaluate_upload
from telmark.evaluation.domain import METHODS
from telmark.evaluation.experiment import ExperimentFileRejected
from telmark.evaluation.schemas import ExperimentRead
from telmark.translation import N_
from telmark.warehouse.importer.report import HEADER
from telmark.web.deps import LocaleDep, TemplatesDep
from telmark.web.i18n import gettext_for, html_lang

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, require(Action.EVALUATION_READ)]
Runner = Annotated[Principal, require(Action.EVALUATION_RUN)]
PAGE = "evaluation/experiments.html"

METHOD_LABELS = {
    "rate_interval": N_("Take-up interval"),
    "uplift_interval": N_("Uplift interval"),
    "relative_interval": N_("Relative uplift interval"),
    "test": N_("Significance test"),
    "multiple_arms": N_("Several treatment arms"),
    "value_interval": N_("Incremental value interval"),
    "detectable_uplift": N_("Minimum detectable uplift"),
    "blank_outcomes": N_("Blank values"),
}
CHART_LABELS = {
    "uplift": N_("Uplift (points)"),
    "interval": N_("95% interval"),
    "estimate": N_("Estimate"),
}


def _number(text: str | None, *, integer: bool = False) -> float | None:
    """A number typed in a form field; None when blank or not a finite number."""
    if text is None or not text.strip():
        return None
    try:
        value = float(text.strip().replace(",", ""))
    except ValueError:
        return None
    if not math.isfinite(value) or (integer and value != int(value)):
        return None
    return value


def detectable_answer(
    base_percent: str | None, treatment: str | None, control: str | None, *, locale: str
) -> dict[str, Any] | None:
    """The calculator's answer for arm sizes (or the problem), None when not asked."""
    if base_percent is None and treatment is None and control is None:
        return None
    base = _number(base_percent)
    n_t, n_c = _number(treatment, integer=True), _number(control, integer=True)
    if base is None or not 0 <= base <= 100:
        return {"error": gettext_for(locale, N_("Enter the base rate as a percentage, 0–100."))}
    if n_t is None or n_c is None or n_t < 1 or n_c < 1:
        return {"error": gettext_for(locale, N_("Enter whole numbers of customers, at least 1."))}
    found = power.detectable_uplift(base_rate=base / 100, n_treatment=int(n_t), n_control=int(n_c))
    return {"base": base / 100, "treatment": int(n_t), "control": int(n_c), "uplift": found}


def sample_size_answer(
    base_percent: str | None, uplift_points: str | None, ratio: str | None, *, locale: str
) -> dict[str, Any] | None:
    """The calculator's answer for an uplift to detect (or the problem), None when not asked."""
    if base_percent is None and uplift_points is None:
        return None
    base, uplift = _number(base_percent), _number(uplift_points)
    share = _number(ratio) if ratio and ratio.strip() else 1.0
    if base is None or not 0 <= base <= 100:
        return {"error": gettext_for(locale, N_("Enter the base rate as a percentage, 0–100."))}
    if uplift is None or uplift == 0 or not 0 <= base + uplift <= 100:
        return {
            "error": gettext_for(
                locale, N_("Enter a non-zero uplift in points that keeps the rate within 0–100%.")
            )
        }
    if share is None or share <= 0:
        return {"error": gettext_for(locale, N_("Enter a positive ratio of treatment to control."))}
    n_t, n_c = power.sample_size(base_rate=base / 100, uplift=uplift / 100, ratio=share)
    return {"base": base / 100, "uplift": uplift / 100, "ratio": share, "treatment": n_t,
            "control": n_c}  # fmt: skip


def _in_points(value: float | None) -> float | None:
    return None if value is None else value * 100


def chart_data(result: ExperimentRead, *, locale: str) -> dict[str, Any]:
    """Per outcome, each treatment's uplift and its interval in points (the error-bar chart)."""
    return {
        "locale": html_lang(locale),
        "echartsLocale": "EN" if locale == "en" else "ZH",
        "labels": {k: gettext_for(locale, v) for k, v in CHART_LABELS.items()},
        "outcomes": [
            {
                "id": f"uplift-chart-{index}",
                "arms": [c.arm for c in o.comparisons],
                "uplift": [_in_points(c.uplift) for c in o.comparisons],
                "low": [_in_points(c.uplift_low) for c in o.comparisons],
                "high": [_in_points(c.uplift_high) for c in o.comparisons],
            }
            for index, o in enumerate(result.outcomes)
        ],
    }


def _problem_lines(locale: str, error: DomainError) -> list[str]:
    """Each problem of a rejected file as one line: where, then the (translated) reason."""
    if not isinstance(error, ExperimentFileRejected):
        return []
    lines = []
    for problem in error.problems:
        if problem.row == HEADER:
            where = gettext_for(locale, N_("header"))
        elif problem.row is not None:
            where = gettext_for(locale, N_("row %(row)s")) % {"row": problem.row}
        else:
            where = ""
        if problem.column:
            where += (" · " if where else "") + problem.column
        shown = f" ({problem.value})" if problem.value is not None else ""
        lines.append(f"{where}{shown}: {gettext_for(locale, problem.reason)}")
    if error.total > len(error.problems):
        lines.append(
            gettext_for(locale, N_("… and %(n)s more problems."))
            % {"n": error.total - len(error.problems)}
        )
    return lines


def _render(
    request: Request,
    templates: TemplatesDep,
    locale: str,
    principal: Principal,
    *,
    form: dict[str, str],
    calculator: dict[str, str | None],
    result: ExperimentRead | None = None,
    error: DomainError | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "page_title": gettext_for(locale, N_("Experiment evaluation")),
        "may_run": principal.can(Action.EVALUATION_RUN),
        "form": form,
        "calculator": calculator,
        "detectable": detectable_answer(
            calculator.get("mde_base"),
            calculator.get("mde_treatment"),
            calculator.get("mde_control"),
            locale=locale,
        ),
        "sizing": sample_size_answer(
            calculator.get("ss_base"),
            calculator.get("ss_uplift"),
            calculator.get("ss_ratio"),
            locale=locale,
        ),
        "result": result,
        "error": error,
        "problems": _problem_lines(locale, error) if error else [],
        "methods": [(METHOD_LABELS[k], v) for k, v in METHODS.items()],
    }
    if result is not None:
        context["chart"] = chart_data(result, locale=locale)
    return templates.render(request, PAGE, context, status_code=status_code)


@router.get("/evaluation/experiments", response_class=HTMLResponse, name="experiments")
def experiments_page(
    request: Request,
    principal: Reader,
    templates: TemplatesDep,
    locale: LocaleDep,
    mde_base: Annotated[str | None, Query()] = None,
    mde_treatment: Annotated[str | None, Query()] = None,
    mde_control: Annotated[str | None, Query()] = None,
    ss_base: Annotated[str | None, Query()] = None,
    ss_uplift: Annotated[str | None, Query()] = None,
    ss_ratio: Annotated[str | None, Query()] = None,
) -> Response:
    """The upload form and the sample-size / detectable-uplift calculator."""
    calculator = {
        "mde_base": mde_base,
        "mde_treatment": mde_treatment,
        "mde_control": mde_control,
        "ss_base": ss_base,
        "ss_uplift": ss_uplift,
        "ss_ratio": ss_ratio,
    }
    return _render(request, templates, locale, principal, form={}, calculator=calculator)


@router.post("/evaluation/experiments", response_class=HTMLResponse)
def evaluate_page(
    request: Request,
    principal: Runner,
    templates: TemplatesDep,
    locale: LocaleDep,
    file: Annotated[UploadFile, File()],
    arm: Annotated[str, Form()],
    control: Annotated[str, Form()],
    outcomes: Annotated[str, Form()],
    value: Annotated[str, Form()] = "",
) -> Response:
    """Evaluate the uploaded file and show the result, or every problem it has."""
    form = {"arm": arm, "control": control, "outcomes": outcomes, "value": value}
    # Several outcome columns are typed into one field, separated by commas (either width).
    names = [n.strip() for n in outcomes.replace("，", ",").split(",") if n.strip()]
    try:
        result = evaluate_upload(
            file, arm=arm, control=control, outcomes=names, value=value or None
        )
    except DomainError as error:
        return _render(
            request, templates, locale, principal, form=form, calculator={}, error=error,
            status_code=422,
        )  # fmt: skip
    return _render(request, templates, locale, principal, form=form, calculator={}, result=result)
