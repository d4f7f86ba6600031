"""Pure rules of the audit trail: actions, which values are secret, JSON-safe values, diffs.

What is never written: a column is secret when its model lists it in
``__audit_redact__`` or its name says so (``SECRET_NAME``: passwords, hashes,
secrets, CSRF tokens, session ids); its value is replaced by ``REDACTED``, so
the entry still shows *that* it was set or changed. The name rule is a safety
net for models that forget to declare; declaring is still expected.

What is shown masked: personal values (a consent entry's MSISDN, a staff
member's name) are stored as they were, because the audit trail is the
evidence of who changed what, and masked when the log is viewed or exported
by someone who may not see personal data (``mask_values``).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from telmark.privacy.masking import PersonalKind, mask_record


class AuditAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    READ = "read"  # a sensitive read: personal data shown in clear
    EXPORT = "export"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"


# Filter dates and displayed times are in province time, as everywhere in telmark
# (the data contract's dates are local calendar dates); mainland China has one zone.
PROVINCE_TZ = ZoneInfo("Asia/Shanghai")
REDACTED = "[redacted]"
SECRET_NAME = re.compile(
    r"^(password|secret|hash|salt|session_id)$|_(password|secret|hash|salt)$|csrf"
)
# Bookkeeping columns whose change alone is not an event worth an entry (and would
# clutter every diff): modification stamps and "last used" stamps touched by reads.
ALWAYS_IGNORED = frozenset({"updated_at", "last_seen_at", "last_used_at"})
# Columns that name an entity in a summary, in order of preference (never personal data).
LABEL_COLUMNS = ("code", "username")


def is_secret(column: str, declared: Iterable[str] = ()) -> bool:
    """True if values of ``column`` must never be written to the audit trail."""
    return column in set(declared) or bool(SECRET_NAME.search(column))


def json_safe(value: Any) -> Any:
    """``value`` as JSON: dates in ISO 8601, enums by value, decimals as text, bytes as base64."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return json_safe(value.value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    return str(value)


def summarize(action: AuditAction, entity_type: str, entity_id: str | None, label: Any) -> str:
    """One line for lists: ``update org_unit #3 C01``."""
    parts = [action.value, entity_type]
    if entity_id is not None:
        parts.append(f"#{entity_id}")
    if label is not None and str(label) != entity_id:
        parts.append(str(label))
    return " ".join(parts)


def mask_values(
    values: Mapping[str, Any] | None, personal: Mapping[str, PersonalKind]
) -> dict[str, Any] | None:
    """``before``/``after`` of an entry with its personal values masked."""
    if values is None:
        return None
    return mask_record(values, personal)


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One row of an entry's diff: a field with its value before and after."""

    field: str
    before: Any
    after: Any
    changed: bool


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[FieldChange]:
    """Every field of ``before`` and ``after``, in first-seen order, marked if it changed."""
    old, new = before or {}, after or {}
    fields = list(dict.fromkeys([*old, *new]))
    return [
        FieldChange(f, old.get(f), new.get(f), f not in old or f not in new or old[f] != new[f])
        for f in fields
    ]
