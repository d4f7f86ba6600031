"""FastAPI dependencies shared by every domain's routes, as ``Annotated`` aliases.

``WarehouseDep`` hands a route the warehouse backend *while holding the
app's warehouse lock*. FastAPI runs sync routes on a thread pool, and one
DuckDB connection must not be used by two threads at once (its Python
connection is not thread-safe; Ibis keeps a single one): with the lock
removed, 8 threads sending 24 overview requests killed the process with
SIGBUS (DuckDB 1.4, Ibis 12); with it every response was correct
(``tests/api/test_app.py``). A lock rather than a DuckDB cursor per request:
cursors are DuckDB-only, while a lock serialises any Ibis backend (Spark,
Trino) the same way, and overview queries take milliseconds to a few
seconds, so queueing them costs less than opening a backend per request.
``scope="function"`` releases the lock when the route returns, before the
response is sent.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request
from ibis.backends import BaseBackend

from telmark.config import Settings
from telmark.errors import DomainError
from telmark.uow import UnitOfWork, uow_dependency
from telmark.warehouse.connection import connect
from telmark.web.i18n import resolve_locale
from telmark.web.templating import ConsoleTemplates


class WarehouseUnavailable(DomainError):
    """The warehouse cannot be opened (bad URL, file locked by another process, ...)."""

    status_code = 503
    code = "warehouse_unavailable"


class Warehouse:
    """The app's warehouse connection: opened on first use, then shared one caller at a time."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._con: BaseBackend | None = None

    @contextmanager
    def session(self) -> Iterator[BaseBackend]:
        """The backend, held exclusively until the block ends."""
        with self._lock:
            if self._con is None:
                try:
                    self._con = connect(settings=self._settings)
                except Exception as error:
                    raise WarehouseUnavailable(
                        f"cannot open the warehouse: {error}",
                        details=[{"url": self._settings.resolved_warehouse_url}],
                    ) from error
            yield self._con

    def close(self) -> None:
        """Disconnect (on app shutdown); the next ``session()`` reconnects."""
        with self._lock:
            if self._con is not None:
                self._con.disconnect()
                self._con = None


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_warehouse_connection(request: Request) -> Iterator[BaseBackend]:
    warehouse: Warehouse = request.app.state.warehouse
    with warehouse.session() as con:
        yield con


def get_locale(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return resolve_locale(request, settings.default_locale)


def get_templates(request: Request) -> ConsoleTemplates:
    templates: ConsoleTemplates = request.app.state.templates
    return templates


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
WarehouseDep = Annotated[BaseBackend, Depends(get_warehouse_connection, scope="function")]
# The same callable the org API uses, so one dependency_overrides entry swaps both in tests.
UowDep = Annotated[UnitOfWork, Depends(uow_dependency)]
LocaleDep = Annotated[str, Depends(get_locale)]
TemplatesDep = Annotated[ConsoleTemplates, Depends(get_templates)]
