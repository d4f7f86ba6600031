"""Channel settings, read from the environment (``TELMARK_SMPP_*``, ``TELMARK_SMTP_*``, ...).

Kept beside the channels rather than in ``telmark.config``: each channel is
configured on its own (a deployment may have SMS and no e-mail) and the
dispatcher builds only the channels whose settings are complete. Like
``telmark.config.Settings`` they also read a ``.env`` file.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )


class SmppSettings(BaseSettings):
    """The SMSC an ESME binds to, and how hard it may be driven."""

    model_config = _config("TELMARK_SMPP_")

    host: str = Field(default="127.0.0.1", description="SMSC host name or address.")
    port: int = Field(default=2775, ge=1, le=65535, description="SMSC port.")
    system_id: str = Field(default="", max_length=15, description="ESME account (system_id).")
    password: SecretStr = Field(default=SecretStr(""), description="ESME password (≤ 8 chars).")
    system_type: str = Field(default="", max_length=12, description="system_type, if required.")
    source_addr: str = Field(
        default="", max_length=20, description="Sender: service code or long number."
    )
    source_addr_ton: int = Field(default=0, ge=0, le=6, description="Sender type of number.")
    source_addr_npi: int = Field(default=0, ge=0, le=18, description="Sender numbering plan.")
    dest_addr_ton: int = Field(default=1, ge=0, le=6, description="1: international (86...).")
    dest_addr_npi: int = Field(default=1, ge=0, le=18, description="1: E.164.")
    window: int = Field(
        default=10, ge=1, le=1000, description="submit_sm sent and not yet answered, at most."
    )
    tps: float | None = Field(
        default=None,
        gt=0,
        description="submit_sm per second allowed by the SMSC contract; unset for no limit.",
    )
    registered_delivery: bool = Field(default=True, description="Ask for delivery receipts.")
    connect_timeout: float = Field(default=5.0, gt=0, description="Seconds for TCP + bind.")
    response_timeout: float = Field(
        default=10.0, gt=0, description="Seconds to wait for any response before reconnecting."
    )
    enquire_link_interval: float = Field(
        default=30.0, gt=0, description="Seconds between enquire_link keepalives."
    )
    reconnect_initial: float = Field(default=0.2, gt=0, description="First reconnect delay (s).")
    reconnect_max: float = Field(default=5.0, gt=0, description="Longest reconnect delay (s).")
    reconnect_give_up: float = Field(
        default=120.0,
        gt=0,
        description="Seconds without a bind after which a batch's unsent messages fail (transient)",
    )


class SmtpSettings(BaseSettings):
    """The mail relay e-mail goes through."""

    model_config = _config("TELMARK_SMTP_")

    host: str = Field(default="127.0.0.1", description="SMTP relay host.")
    port: int = Field(default=25, ge=1, le=65535, description="SMTP relay port (587: submission).")
    starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS.")
    username: str | None = Field(default=None, description="Login name, if the relay needs one.")
    password: SecretStr | None = Field(default=None, description="Login password.")
    sender: str = Field(default="telmark@localhost", description="From address.")
    sender_name: str = Field(default="", description="Display name of the sender, e.g. 营销中心.")
    message_id_domain: str = Field(
        default="telmark.local", description="Right-hand side of generated Message-IDs."
    )
    timeout: float = Field(default=30.0, gt=0, description="Seconds per SMTP command.")


class WebhookSettings(BaseSettings):
    """The app-push / WeChat-style endpoint that receives signed JSON."""

    model_config = _config("TELMARK_WEBHOOK_")

    url: str = Field(default="", description="Endpoint receiving POSTed messages.")
    secret: SecretStr = Field(
        default=SecretStr(""), description="Shared HMAC-SHA256 key for the signature header."
    )
    timeout: float = Field(default=10.0, gt=0, description="Seconds per request.")
    concurrency: int = Field(default=8, ge=1, le=256, description="Requests in flight at once.")
