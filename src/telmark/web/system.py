"""Health and version endpoints (for load balancers, monitoring and the console footer)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import literal, select

from telmark import __version__
from telmark.analysis.service import data_status
from telmark.config import Settings
from telmark.db import get_engine
from telmark.web.deps import SettingsDep, Warehouse

router = APIRouter(prefix="/api", tags=["system"])


class DatabaseHealth(BaseModel):
    reachable: bool
    error: str | None = None


class WarehouseHealth(BaseModel):
    reachable: bool
    data_loaded: bool = Field(description="The tables the console reads exist and hold data.")
    missing_tables: list[str] = []
    error: str | None = None


class HealthRead(BaseModel):
    status: Literal["ok", "unavailable"] = Field(
        description="ok when both databases answer (an empty warehouse is still ok)."
    )
    version: str
    database: DatabaseHealth
    warehouse: WarehouseHealth


class VersionRead(BaseModel):
    name: str
    version: str


def check_database(settings: Settings) -> DatabaseHealth:
    """Run ``SELECT 1`` on the operational database."""
    try:
        if settings.database_url is None:
            settings.ensure_data_dir()  # the default SQLite file lives there
        with get_engine(settings.resolved_database_url).connect() as connection:
            connection.execute(select(literal(1))).scalar_one()
    except Exception as error:  # any failure means "not reachable"; the reason is reported
        return DatabaseHealth(reachable=False, error=f"{type(error).__name__}: {error}")
    return DatabaseHealth(reachable=True)


def check_warehouse(warehouse: Warehouse) -> WarehouseHealth:
    """Open the warehouse and ask whether the console's tables are loaded."""
    try:
        with warehouse.session() as con:
            status = data_status(con=con)
    except Exception as error:  # reported, not raised: health must always answer
        return WarehouseHealth(
            reachable=False, data_loaded=False, error=f"{type(error).__name__}: {error}"
        )
    return WarehouseHealth(
        reachable=True, data_loaded=status.loaded, missing_tables=status.missing_tables
    )


@router.get(
    "/health",
    response_model=HealthRead,
    responses={503: {"model": HealthRead, "description": "A database is unreachable."}},
)
def health(request: Request, response: Response, settings: SettingsDep) -> HealthRead:
    """Whether the operational database and the warehouse answer, and whether data is loaded."""
    database = check_database(settings)
    warehouse = check_warehouse(request.app.state.warehouse)
    ok = database.reachable and warehouse.reachable
    response.status_code = 200 if ok else 503
    return HealthRead(
        status="ok" if ok else "unavailable",
        version=__version__,
        database=database,
        warehouse=warehouse,
    )


@router.get("/version", response_model=VersionRead)
def version() -> VersionRead:
    """The running telmark version."""
    return VersionRead(name="telmark", version=__version__)
