"""Console pages of the consent register: look up, add, revoke, import, export.

MSISDNs are shown masked unless the user may unmask (and then the view is
audited by the service). Form posts carry the CSRF field; results redirect
back to the list with a ``done`` message, problems re-render the page with
translated explanations and the entered values kept.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from telmark.auth.deps import require
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.consent import service
from telmark.consent.api import MAX_UPLOAD_BYTES, FiltersDep
from telmark.consent.domain import (
    HEADER,
    NOT_A_MSISDN,
    Channel,
    ConsentKind,
    RowProblem,
    Source,
)
from telmark.consent.importing import ConsentFileRejected
from telmark.consent.schemas import ConsentEntryCreate, ConsentFilters, ConsentImportRead
from telmark.errors import Conflict, DomainError, Forbidden, InvalidInput
from telmark.privacy.service import may_unmask
from telmark.translation import N_
from telmark.uow import UnitOfWork
from telmark.web.deps import LocaleDep, TemplatesDep, UowDep
from telmark.web.i18n import gettext_for
from telmark.web.templating import ConsoleTemplates

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, require(Action.CONSENT_READ)]
Manager = Annotated[Principal, require(Action.CONSENT_MANAGE)]
PAGE_SIZE = 50

KIND_LABELS = {
    ConsentKind.OPT_OUT: N_("Marketing opt-out"),
    ConsentKind.DND: N_("Do not disturb"),
    ConsentKind.BLACKLIST: N_("Statutory blacklist"),
}
CHANNEL_LABELS = {
    Channel.SMS: N_("SMS"),
    Channel.EMAIL: N_("E-mail"),
    Channel.APP_PUSH: N_("App push"),
    Channel.OUTBOUND_CALL: N_("Outbound call"),
    Channel.FRONTLINE: N_("Front line (hall, grid)"),
    Channel.ALL: N_("All channels"),
}
SOURCE_LABELS = {
    Source.IMPORT: N_("Import"),
    Source.MANUAL: N_("Entered by staff"),
    Source.CUSTOMER_REQUEST: N_("Customer request"),
}
DONE_MESSAGES = {
    "added": N_("The number was put on the register."),
    "revoked": N_("The entry was revoked; it stays on record."),
}


def _error_text(locale: str, error: DomainError) -> str:
    """A console explanation of a service error, translated where we know it."""
    if isinstance(error, Conflict) and "already on the register" in error.message:
        message = N_("This number is already on the register with this kind and channel.")
    elif isinstance(error, Conflict) and "already revoked" in error.message:
        message = N_("This entry was already revoked.")
    elif isinstance(error, Forbidden):
        message = N_("Only consent managers may lift a blacklist entry.")
    elif error.message == NOT_A_MSISDN:
        message = N_("Enter an 11-digit mainland mobile number (starting 13–19).")
    elif isinstance(error, InvalidInput) and "reason is required" in error.message:
        message = N_("Give a reason for lifting a blacklist entry.")
    else:
        return error.message
    return gettext_for(locale, message)


def _import_text(locale: str, report: ConsentImportRead) -> str:
    if report.repeated:
        return gettext_for(
            locale, N_("%(file)s was imported before (import %(id)s); nothing was added.")
        ) % {"file": report.file_name, "id": report.id}
    return gettext_for(
        locale,
        N_(
            "%(file)s imported: %(rows)s rows, %(added)s added, "
            "%(present)s already on the register."
        ),
    ) % {
        "file": report.file_name,
        "rows": report.rows,
        "added": report.added,
        "present": report.already_present,
    }


def _page(
    request: Request,
    templates: ConsoleTemplates,
    locale: str,
    principal: Principal,
    uow: UnitOfWork,
    filters: ConsentFilters,
    *,
    page: int = 1,
    form: dict[str, Any] | None = None,
    errors: list[str] | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> Response:
    result = service.list_entries(
        uow=uow, filters=filters, page=page, page_size=PAGE_SIZE, unmask=may_unmask(principal)
    )
    query = {k: v for k, v in request.query_params.items() if v and k not in ("page", "done")}
    context: dict[str, Any] = {
        "page_title": gettext_for(locale, N_("Consent register")),
        "result": result,
        "filters": filters,
        "kinds": KIND_LABELS,
        "channels": CHANNEL_LABELS,
        "sources": SOURCE_LABELS,
        "manual_sources": [Source.MANUAL, Source.CUSTOMER_REQUEST],
        "imports": service.list_imports(uow=uow, limit=5),
        "can_manage": principal.can(Action.CONSENT_MANAGE),
        "form": form or {},
        "errors": errors or [],
        "done": done or DONE_MESSAGES.get(request.query_params.get("done", "")),
        "export_query": urlencode(query),
        "prev_query": urlencode({**query, "page": page - 1}) if page > 1 else None,
        "next_query": urlencode({**query, "page": page + 1}) if page < result.pages else None,
    }
    if request.headers.get("HX-Request") == "true" and request.method == "GET":
        return templates.render(request, "consent/_results.html", context)
    return templates.render(request, "consent/list.html", context, status_code=status_code)


@router.get("/consent", response_class=HTMLResponse, name="consent")
def consent_page(
    request: Request,
    principal: Reader,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    filters: FiltersDep,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    """The register with filters; managers also get the add and import forms."""
    return _page(request, templates, locale, principal, uow, filters, page=page)


@router.post("/consent/entries", response_class=HTMLResponse)
def add_entry(
    request: Request,
    principal: Manager,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    msisdn: Annotated[str, Form()] = "",
    kind: Annotated[ConsentKind, Form()] = ConsentKind.OPT_OUT,
    channel: Annotated[Channel, Form()] = Channel.ALL,
    source: Annotated[Source, Form()] = Source.MANUAL,
    reason: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """Add an entry from the form."""
    entry = ConsentEntryCreate(
        msisdn=msisdn, kind=kind, channel=channel, source=source, reason=reason
    )
    try:
        service.add_entry(uow=uow, entry=entry, unmask=may_unmask(principal))
    except DomainError as error:
        uow.rollback()
        return _page(
            request, templates, locale, principal, uow, ConsentFilters(),
            form=entry.model_dump(), errors=[_error_text(locale, error)], status_code=422,
        )  # fmt: skip
    return RedirectResponse("/consent?done=added", status_code=303)


@router.post("/consent/entries/{entry_id}/revoke", response_class=HTMLResponse)
def revoke_entry(
    request: Request,
    entry_id: int,
    principal: Manager,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    reason: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """Revoke one entry (a reason is needed for blacklist entries)."""
    try:
        service.revoke_entry(
            uow=uow,
            entry_id=entry_id,
            reason=reason,
            may_manage=principal.can(Action.CONSENT_MANAGE),
            unmask=may_unmask(principal),
        )
    except (Conflict, Forbidden, InvalidInput) as error:
        uow.rollback()
        return _page(
            request, templates, locale, principal, uow, ConsentFilters(),
            errors=[_error_text(locale, error)], status_code=422,
        )  # fmt: skip
    return RedirectResponse("/consent?done=revoked", status_code=303)


@router.post("/consent/imports", response_class=HTMLResponse)
def import_file(
    request: Request,
    principal: Manager,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    file: Annotated[UploadFile, File()],
    encoding: Annotated[str, Form()] = "auto",
) -> Response:
    """Import an uploaded CSV and show what it did, or every problem it has."""
    data = file.file.read(MAX_UPLOAD_BYTES + 1)
    name = file.filename or "upload.csv"
    errors: list[str] = []
    if len(data) > MAX_UPLOAD_BYTES:
        errors.append(
            gettext_for(locale, N_("The file is larger than %(mb)s MB; import it on the server."))
            % {"mb": MAX_UPLOAD_BYTES >> 20}
        )
    else:
        try:
            report = service.import_file(uow=uow, data=data, file_name=name, encoding=encoding)
        except ConsentFileRejected as rejected:
            uow.rollback()
            errors = [_problem_text(locale, p) for p in rejected.problems]
            if rejected.total > len(rejected.problems):
                errors.append(
                    gettext_for(locale, N_("… and %(n)s more problems."))
                    % {"n": rejected.total - len(rejected.problems)}
                )
        except InvalidInput as error:
            uow.rollback()
            errors = [error.message]
        else:
            return _page(
                request, templates, locale, principal, uow, ConsentFilters(),
                done=_import_text(locale, report),
            )  # fmt: skip
    return _page(
        request, templates, locale, principal, uow, ConsentFilters(),
        errors=errors, status_code=422,
    )  # fmt: skip


def _problem_text(locale: str, problem: RowProblem) -> str:
    reason = gettext_for(locale, problem.message) % problem.params
    if problem.row == HEADER:
        where = gettext_for(locale, N_("header"))
    elif problem.row is not None:
        where = gettext_for(locale, N_("row %(row)s")) % {"row": problem.row}
    else:
        where = ""
    if problem.column:
        where += (" · " if where else "") + problem.column
    return f"{problem.file} {where}: {reason}"
