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

``mask_column`` is the same masking as an Ibis expression, for exports of a
million rows that must not pass through Python one value at a time; it gives
exactly what ``mask_value`` gives (a property test compares the two), on any
backend whose string functions count Unicode code points (DuckDB, Spark).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from telmark.warehouse.contract import MSISDN_PATTERN, Column, TableSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

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


# -- the same masks as Ibis column expressions -------------------------------------------

# Exactly the characters ``str.strip()`` removes (those with ``str.isspace()``); SQL TRIM
# removes only spaces, so the column masks strip with this class instead.
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
# \A and \z (not ^ and $): Java's $ also matches before a final line break.
_STRIP = f"\\A[{PY_WHITESPACE}]+|[{PY_WHITESPACE}]+\\z"


def _strip_column(value: ir.Value) -> ir.StringValue:
    column: ir.StringValue = value.cast("string")  # a no-op on text columns
    return column.re_replace(_STRIP, "")


def _stars(count: ir.IntegerValue) -> ir.StringValue:
    import ibis

    return ibis.literal(MASK_CHAR).repeat(count)


def _mask_middle_column(text: ir.StringValue, first: int, last: int) -> ir.StringValue:
    """``_mask_middle`` in Ibis: the same arithmetic, on code points."""
    import ibis

    n = text.length()
    hidden = ibis.greatest(MIN_HIDDEN, (n + 2) // 3)  # ceil(n / 3)
    shown = ibis.greatest(0, n - hidden)
    keep_last = ibis.least(last, shown)
    keep_first = ibis.least(first, shown - keep_last)
    return text.substr(0, keep_first) + _stars(n - keep_first - keep_last) + text.right(keep_last)


def mask_column(kind: PersonalKind, value: ir.Value) -> ir.StringValue:
    """``value`` masked as ``kind`` in the warehouse; NULL stays NULL (like ``mask_value``)."""
    import ibis

    text = _strip_column(value)
    if kind is PersonalKind.MSISDN:
        return _mask_middle_column(text, 3, 4)
    if kind is PersonalKind.ID_NUMBER:
        return _mask_middle_column(text, 6, 4)
    n = text.length()
    if kind is PersonalKind.NAME:
        return ibis.cases((n <= 1, _stars(n)), else_=text.substr(0, 1) + _stars(n - 1))
    return _stars(n)
