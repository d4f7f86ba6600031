"""Parsing exported text into contract types, one record batch at a time.

This runs while a CSV streams into its staged Parquet file, with vectorised
pyarrow kernels: a plain cast first (clean exports in the canonical format
take only that), then normalisation of the other accepted formats followed by
the cast again, and only for values that still fail (an impossible calendar
date, an integer beyond 64 bits) a value-by-value cast. A value that cannot be
parsed becomes null and its text is kept beside it, so the checks can report
it as a type error with the text the file had.

Accepted text, for every type: surrounding white space is ignored and an empty
value is missing (null).

- integer: digits with an optional sign (``-12``, ``+12``, ``007``);
- float: decimal with optional exponent (``1.5``, ``.5``, ``2e3``); no NaN/inf;
- boolean: true/false, t/f, 1/0, y/n, yes/no, 是/否, in any case;
- date: ``YYYY-MM-DD``, ``YYYY/MM/DD`` (month and day may have one digit) or
  ``YYYYMMDD``;
- timestamp: ISO 8601 date and time, ``T`` or a space between, seconds and
  fraction optional, zone ``Z``, ``±HH``, ``±HHMM`` or ``±HH:MM``; without a
  zone the time is UTC (the contract's zone); a date alone is midnight UTC.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from telmark.warehouse.contract import ColType

ARROW_TYPES: dict[ColType, pa.DataType] = {
    ColType.STRING: pa.string(),
    ColType.INT: pa.int64(),
    ColType.FLOAT: pa.float64(),
    ColType.BOOL: pa.bool_(),
    ColType.DATE: pa.date32(),
    ColType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
}

TRUE_WORDS = pa.array(["true", "t", "1", "y", "yes", "是"])
FALSE_WORDS = pa.array(["false", "f", "0", "n", "no", "否"])
INT_RE = r"^-?[0-9]+$"
FLOAT_RE = r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$"
DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
TIMESTAMP_RE = (
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"([T ][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?$"
)
ZONE_RE = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"
NULL_TEXT = pa.scalar(None, pa.string())


def _regex(values: pa.Array, pattern: str, replacement: str) -> pa.Array:
    return pc.replace_substring_regex(values, pattern=pattern, replacement=replacement)


def _only(values: pa.Array, pattern: str) -> pa.Array:
    """``values`` where they match ``pattern``, else null."""
    return pc.if_else(pc.match_substring_regex(values, pattern), values, NULL_TEXT)


def _cast(values: pa.Array, arrow_type: pa.DataType) -> pa.Array:
    """Cast, turning the values that still fail into nulls (rare, so one by one)."""
    try:
        return pc.cast(values, arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out: list[object] = []
    for value in values.to_pylist():
        try:
            out.append(None if value is None else pc.cast(pa.array([value]), arrow_type)[0].as_py())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            out.append(None)
    return pa.array(out, type=arrow_type)


def _int(text: pa.Array) -> pa.Array:
    return _cast(_only(_regex(text, r"^\+", ""), INT_RE), pa.int64())


def _float(text: pa.Array) -> pa.Array:
    return _cast(_only(text, FLOAT_RE), pa.float64())


def _bool(text: pa.Array) -> pa.Array:
    word = pc.utf8_lower(text)
    false_or_null = pc.if_else(pc.is_in(word, value_set=FALSE_WORDS), False, None)
    return pc.if_else(pc.is_in(word, value_set=TRUE_WORDS), True, false_or_null)


def _pad_date(dashed: pa.Array) -> pa.Array:
    """``2024-1-5…`` → ``2024-01-05…`` (month and day may have one digit)."""
    month = _regex(dashed, r"^([0-9]{4})-([0-9])-", r"\1-0\2-")
    return _regex(month, r"^([0-9]{4}-[0-9]{2})-([0-9])([^0-9]|$)", r"\1-0\2\3")


def _date(text: pa.Array) -> pa.Array:
    dashed = pc.replace_substring(text, "/", "-")
    compact = _regex(dashed, r"^([0-9]{4})([0-9]{2})([0-9]{2})$", r"\1-\2-\3")
    return _cast(_only(_pad_date(compact), DATE_RE), pa.date32())


def _timestamp(text: pa.Array) -> pa.Array:
    valid = _only(pc.replace_substring(text, "/", "-"), TIMESTAMP_RE)
    padded = _pad_date(valid)
    timed = _regex(padded, r"^([0-9]{4}-[0-9]{2}-[0-9]{2})$", r"\1 00:00")
    hours = _regex(timed, r"([T ])([0-9]):", r"\10\2:")
    # Arrow parses at most microseconds; finer digits carry nothing we keep.
    trimmed = _regex(hours, r"([.][0-9]{6})[0-9]+", r"\1")
    zoned = pc.if_else(
        pc.match_substring_regex(trimmed, ZONE_RE),
        trimmed,
        pc.binary_join_element_wise(trimmed, pa.scalar("Z"), ""),
    )
    return _cast(zoned, ARROW_TYPES[ColType.TIMESTAMP])


_PARSERS: dict[ColType, Callable[[pa.Array], pa.Array]] = {
    ColType.INT: _int,
    ColType.FLOAT: _float,
    ColType.BOOL: _bool,
    ColType.DATE: _date,
    ColType.TIMESTAMP: _timestamp,
}


def _fast(values: pa.Array, target: ColType) -> pa.Array | None:
    """The plain cast when every value is already canonical, else None."""
    if target in (ColType.BOOL, ColType.TIMESTAMP):
        return None  # Arrow's spellings differ from ours (y/n, zone-less times)
    try:
        parsed = pc.cast(values, ARROW_TYPES[target])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if target is ColType.FLOAT and not pc.all(pc.is_finite(parsed)).as_py():
        return None
    return parsed


def parse_text(values: pa.Array, target: ColType) -> tuple[pa.Array, pa.Array | None]:
    """``values`` (text) as ``target``, and the original text where it did not parse.

    The second array is None when every non-empty value parsed.
    """
    if values.null_count == 0 and target is not ColType.STRING:
        parsed = _fast(values, target)
        if parsed is not None:
            return parsed, None
    trimmed = pc.utf8_trim_whitespace(values)
    text = pc.if_else(pc.equal(trimmed, ""), NULL_TEXT, trimmed)
    if target is ColType.STRING:
        return text, None
    parsed = _PARSERS[target](text)
    failed = pc.and_(pc.is_valid(text), pc.is_null(parsed))
    if not pc.any(failed).as_py():
        return parsed, None
    return parsed, pc.if_else(failed, values, NULL_TEXT)
