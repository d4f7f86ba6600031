"""Settings, read from the environment (``TELMARK_`` prefix) or a ``.env`` file.

Nothing here opens a database or a warehouse: engines and connections are
built by ``telmark.db`` and ``telmark.warehouse.connection`` when first asked
for, so importing any telmark module is free of side effects.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All runtime configuration of telmark."""

    model_config = SettingsConfigDict(
        env_prefix="TELMARK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default=Path("./telmark-data"),
        description="Directory for the default SQLite database, DuckDB warehouse and files.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the operational database; default SQLite in data_dir.",
    )
    warehouse_url: str | None = Field(
        default=None,
        description=(
            "Ibis connection URL of the analytical warehouse, e.g. duckdb:///path.duckdb "
            "or pyspark://; default a DuckDB file in data_dir."
        ),
    )
    snapshot_dir: Path | None = Field(
        default=None,
        description=(
            "Directory of frozen segment member lists (Parquet); default data_dir/snapshots. "
            "With Spark or several app servers it must be storage every worker reads "
            "at the same path."
        ),
    )
    targeting_dir: Path | None = Field(
        default=None,
        description=(
            "Directory of targeting runs' contact lists (Parquet); default data_dir/targeting. "
            "With Spark it must be storage every worker reads at the same path."
        ),
    )
    holdout_key: SecretStr = Field(
        default=SecretStr("telmark-holdout"),
        description=(
            "Key of the per-case control-group draw; changing it redraws every case's "
            "holdout, so set it once per installation."
        ),
    )
    case_province_approval_fen: int = Field(
        default=50_000_000,
        ge=0,
        description=(
            "A city case whose budget exceeds this (fen; default 500,000 yuan) needs "
            "province approval after the city's."
        ),
    )
    case_ack_hours: int = Field(
        default=72, ge=1, description="Hours a unit has to acknowledge an issued case."
    )
    task_due_days: int = Field(
        default=7,
        ge=1,
        le=90,
        description=(
            "Days a front-line task has from its list's day (never beyond its case's end)."
        ),
    )
    trigger_refresh_seconds: int = Field(
        default=300,
        ge=5,
        description=(
            "Seconds after which the trigger engine reloads cases, eligibility and consent."
        ),
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="Redis holding the trigger event streams (telmark triggers consume).",
    )
    response_attribution_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="Days after a contact within which a response is attributed to it "
        "(a case's own attribution_days overrides it).",
    )
    case_evaluation_overdue_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="Days after completion by which a case's evaluation must be recorded.",
    )
    secret_key: SecretStr = Field(
        default=SecretStr("telmark-dev-secret-change-me"),
        description="Key for signing session cookies and tokens; set it in production.",
    )
    default_locale: str = Field(default="zh_CN", description="Console language when none chosen.")
    session_idle_minutes: int = Field(
        default=30, ge=1, description="A console session ends after this long without requests."
    )
    session_max_hours: int = Field(
        default=12, ge=1, description="A console session ends this long after login, however used."
    )
    # Off by default so the console works over plain http on localhost and in the demo;
    # any deployment reached over the network must serve HTTPS and set it to true.
    cookie_secure: bool = Field(
        default=False, description="Send session cookies over HTTPS only (set true behind TLS)."
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("snapshot_dir", "targeting_dir")
    @classmethod
    def _absolute_or_default(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        """The operational database URL, defaulting to ``data_dir/telmark.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'telmark.db'}"

    @property
    def resolved_warehouse_url(self) -> str:
        """The warehouse URL, defaulting to ``data_dir/warehouse.duckdb``."""
        if self.warehouse_url:
            return self.warehouse_url
        return f"duckdb://{self.data_dir / 'warehouse.duckdb'}"

    @property
    def resolved_snapshot_dir(self) -> Path:
        """Where segment snapshots are written, defaulting to ``data_dir/snapshots``."""
        return self.snapshot_dir or self.data_dir / "snapshots"

    @property
    def resolved_targeting_dir(self) -> Path:
        """Where targeting runs write their lists, defaulting to ``data_dir/targeting``."""
        return self.targeting_dir or self.data_dir / "targeting"

    def ensure_data_dir(self) -> Path:
        """Create the data directory on first use and return it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()
