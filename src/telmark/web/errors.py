"""Mapping errors to responses: JSON under ``/api``, a rendered page in the console."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from telmark.errors import DomainError
from telmark.translation import N_
from telmark.web.templating import ConsoleTemplates

API_PREFIX = "/api"

# Page headings by HTTP status (English msgids, translated by the error page).
ERROR_TITLES = {
    401: N_("Please log in"),
    403: N_("You do not have permission to do this"),
    404: N_("Page not found"),
    409: N_("This cannot be done right now"),
    422: N_("The request is not valid"),
    503: N_("A service is unavailable"),
}
DEFAULT_ERROR_TITLE = N_("Something went wrong")


class ErrorRead(BaseModel):
    """The body of every error the API returns for a domain error."""

    error: str = Field(description="Stable machine-readable code, e.g. warehouse_empty.")
    message: str = Field(description="Human-readable explanation (English).")
    details: list[dict[str, Any]] = Field(
        default_factory=list, description="Per-item problems, e.g. file, row, column, reason."
    )


def is_api_path(request: Request) -> bool:
    path = request.url.path
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def _error_page(
    request: Request, *, status_code: int, code: str, message: str, details: list[Any]
) -> Response:
    templates: ConsoleTemplates = request.app.state.templates
    context = {
        "status_code": status_code,
        "title": ERROR_TITLES.get(status_code, DEFAULT_ERROR_TITLE),
        "code": code,
        "message": message,
        "details": details,
    }
    return templates.render(request, "error.html", context, status_code=status_code)


async def domain_error_handler(request: Request, exc: Exception) -> Response:
    """A DomainError as ``{error, message, details}`` JSON (API) or an error page (console)."""
    if not isinstance(exc, DomainError):  # registered for DomainError only
        raise exc
    if is_api_path(request):
        body = ErrorRead(error=exc.code, message=exc.message, details=exc.details)
        return JSONResponse(jsonable_encoder(body), status_code=exc.status_code)
    return _error_page(
        request,
        status_code=exc.status_code,
        code=exc.code,
        message=exc.message,
        details=exc.details,
    )


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """HTTP errors (404, 405, ...): FastAPI's JSON under /api, the error page elsewhere."""
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    if is_api_path(request):
        return await http_exception_handler(request, exc)
    return _error_page(
        request,
        status_code=exc.status_code,
        code=f"http_{exc.status_code}",
        message=str(exc.detail),
        details=[],
    )
