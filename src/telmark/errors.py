"""Domain errors. Routes and the CLI map these to HTTP statuses and exit codes."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a user can cause and should be told about."""

    status_code = 400
    code = "domain_error"

    def __init__(self, message: str, *, details: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class NotAuthenticated(DomainError):
    """No valid session cookie or API token: the request must log in first."""

    status_code = 401
    code = "not_authenticated"


class Forbidden(DomainError):
    """Signed in, but no role grants the action (or a CSRF check failed)."""

    status_code = 403
    code = "forbidden"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid_input"


class InvalidTransition(DomainError):
    status_code = 409
    code = "invalid_transition"


class WarehouseEmpty(DomainError):
    """The warehouse has no data yet (nothing generated or imported)."""

    status_code = 409
    code = "warehouse_empty"
