"""Checks of the values in a rule against the field catalogue (types, allowed values, arity)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from telmark.segments.fields import NULL_OPS, Field, Op
from telmark.warehouse.contract import ColType

Scalar = str | int | float | bool | date


def choice(options: Mapping[str, object] | tuple[str, ...], what: str, value: str) -> str:
    if value not in options:
        raise ValueError(f"unknown {what} {value!r}; expected one of: {', '.join(options)}")
    return value


def _coerce(target: Field, value: object) -> Scalar:
    """One value checked (and for dates parsed) against the field's type and allowed values."""
    kind = target.type
    if kind is ColType.DATE:
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise ValueError(f"expected a date (YYYY-MM-DD) for {target.name}, got {value!r}")
    if kind is ColType.BOOL:
        if isinstance(value, bool):
            return value
        raise ValueError(f"expected true or false for {target.name}, got {value!r}")
    if kind is ColType.INT:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError(f"expected a whole number for {target.name}, got {value!r}")
    if kind is ColType.FLOAT:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        raise ValueError(f"expected a number for {target.name}, got {value!r}")
    if not isinstance(value, str):
        raise ValueError(f"expected text for {target.name}, got {value!r}")
    if target.allowed is not None and value not in target.allowed:
        raise ValueError(
            f"{value!r} is not a value of {target.name}; expected one of: "
            + ", ".join(target.allowed)
        )
    return value


def check_value(target: Field, op: Op, value: object) -> Scalar | list[Scalar] | None:
    """``value`` checked against what ``op`` on ``target`` needs (scalar, list, pair, none)."""
    if op in NULL_OPS:
        if value is not None:
            raise ValueError(f"{op.value} takes no value")
        return None
    if op in (Op.IN, Op.NOT_IN):
        if not isinstance(value, list) or not value:
            raise ValueError(f"{op.value} needs a non-empty list of values")
        return [_coerce(target, v) for v in value]
    if op is Op.BETWEEN:
        if not isinstance(value, list) or len(value) != 2:
            raise ValueError("between needs a list [low, high]")
        low, high = (_coerce(target, v) for v in value)
        if low > high:  # type: ignore[operator]
            raise ValueError(f"between: low {low!r} is above high {high!r}")
        return [low, high]
    if value is None or isinstance(value, list):
        raise ValueError(f"{op.value} needs a single value")
    return _coerce(target, value)
