"""Masking personal data: phone numbers, ID-card numbers and names (pure, no I/O).

Every place that shows personal data to a user masks it with these functions
unless the user may see it in clear; showing it in clear goes through
``telmark.privacy.service.disclose``, which also writes the audit entry. Which
fields are personal comes from one place per source: the data contract's
``personal=True`` columns for warehouse tables (``contract_fields``) and a
``__audit_personal__`` mapping on ORM models for operational tables.

A masked value keeps the length of the original and shows at most a fixed
prefix and suffix (phone: 3 + 4, ID card: 6 + 4, name: the first character);
short values show less, so that at least ``MIN_HIDDEN`` characters and at
least a third of the value are always hidden.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from telmark.warehouse.contract import MSISDN_PATTERN, Column, TableSpec

MASK_CHAR = "*"
MIN_HIDDEN = 4


class PersonalKind(StrEnum):
    """How a personal value is masked."""

    MSISDN = "msisdn"
    ID_NUMBER = "id_number"
    NAME = "name"
    TEXT = "text"  # anything else personal (address, e-mail, ...): hidden entirely


def _mask_middle(text: str, first: int, last: int, *, min_hidden: int = MIN_HIDDEN) -> str:
    """``text`` with everything but a prefix of ≤ ``first`` and a suffix of ≤ ``last`` starred."""
    n = len(text)
    hidden = max(min_hidden, -(-n // 3))  # at least min_hidden and a third, rounded up
    shown = max(0, n - hidden)
    keep_last = min(last, shown)
    keep_first = min(first, shown - keep_last)
    return text[:keep_first] + MASK_CHAR * (n - keep_first - keep_last) + text[n - keep_last :]


def mask_msisdn(value: str) -> str:
    """``13812345678`` → ``138****5678`` (shorter numbers show less)."""
    return _mask_middle(value.strip(), 3, 4)


def mask_id_number(value: str) -> str:
    """``110101199003071234`` → ``110101********1234``: region code and last 4 kept."""
    return _mask_middle(value.strip(), 6, 4)


def mask_name(value: str) -> str:
    """``王小明`` → ``王**``, ``王明`` → ``王*``: only the first character (the surname) kept."""
    text = value.strip()
    if len(text) <= 1:
        return MASK_CHAR * len(text)
    return text[0] + MASK_CHAR * (len(text) - 1)


def mask_text(value: str) -> str:
    """Any other personal text: every character hidden."""
    return MASK_CHAR * len(value.strip())


_MASKERS = {
    PersonalKind.MSISDN: mask_msisdn,
    PersonalKind.ID_NUMBER: mask_id_number,
    PersonalKind.NAME: mask_name,
    PersonalKind.TEXT: mask_text,
}


def mask_value(kind: PersonalKind, value: Any) -> Any:
    """``value`` masked as ``kind``; ``None`` stays ``None``, non-text is shown as text first."""
    if value is None:
        return None
    return _MASKERS[kind](value if isinstance(value, str) else str(value))


def kind_of(column: Column) -> PersonalKind:
    """How a contract column marked ``personal=True`` is masked, from its pattern and name."""
    if column.pattern == MSISDN_PATTERN or "msisdn" in column.name:
        return PersonalKind.MSISDN
    if "id_number" in column.name:
        return PersonalKind.ID_NUMBER
    if column.name == "name" or column.name.endswith("_name"):
        return PersonalKind.NAME
    return PersonalKind.TEXT


def contract_fields(spec: TableSpec) -> dict[str, PersonalKind]:
    """The personal columns of a warehouse table and how each is masked."""
    return {c.name: kind_of(c) for c in spec.columns if c.personal}


def mask_record(record: Mapping[str, Any], fields: Mapping[str, PersonalKind]) -> dict[str, Any]:
    """A copy of ``record`` with each of ``fields`` that it holds masked."""
    return {
        key: mask_value(fields[key], value) if key in fields else value
        for key, value in record.items()
    }
