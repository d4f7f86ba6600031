"""Pure rules of the propensity trainer: the label, feature detection, encoding, deciles.

Feature detection (no label is consulted, so nothing leaks from the label):

- Text columns are typed by their non-blank values: all true/false, yes/no,
  是/否 (or t/f, y/n) → boolean (0/1); all numbers → numeric; all ISO dates
  (``2024-03-01``, ``2024/03/01``, optionally with a time) → date; anything
  else → categorical.
- Integers stay numeric even with few distinct values: tree splits use their
  order, and a code column the analyst wants unordered can be given as text.
- Dates become two numeric features, ``<col>:days_before_latest`` (days before
  the column's latest date) and ``<col>:month`` (1-12, for seasonality).
- A categorical column keeps its 254 most frequent training values (the
  gradient-boosting model's limit is 255 categories); rarer values share one
  "other" code; values unseen in training and blanks are missing (NaN).
- Dropped with a note: columns that are blank or constant, and text columns
  with more than 254 distinct values in over half of the rows (identifiers,
  free text — they cannot generalise).

Blanks are ``""``, ``NA``, ``N/A``, ``null``, ``none``, ``nan`` (any case) and
missing values of typed (Parquet) columns; the model handles them natively.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from telmark.analysis.propensity.schemas import DecileRead, FeatureKind, FeatureRead
from telmark.errors import InvalidInput

Floats = npt.NDArray[np.float64]

BLANKS = frozenset({"", "na", "n/a", "null", "none", "nan"})
TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y", "是"})
FALSE_WORDS = frozenset({"0", "false", "f", "no", "n", "否"})
MAX_CATEGORIES = 254  # codes 0..253 for values, 254 for "other" (max_bins=255)
MIN_PER_CLASS = 20
_DATE_FORMATS = ("ISO8601", "%Y/%m/%d", "%Y/%m/%d %H:%M:%S")


def _token(value: Any) -> str | None:
    """A cell as stripped text, or None when blank; integral floats lose their ``.0``."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return None
        if float(value).is_integer():
            return str(int(value))
    text = str(value).strip()
    return None if text.lower() in BLANKS else text


def _numeric_word(word: str) -> str:
    """``1.0`` → ``1`` and ``0.0`` → ``0`` (how a float label column comes out of a CSV)."""
    try:
        number = float(word)
    except ValueError:
        return word
    return str(int(number)) if number in (0.0, 1.0) else word


def parse_label(series: pd.Series[Any], column: str) -> Floats:
    """1.0 / 0.0 per row, NaN where the label is blank (those rows are scored, not trained on)."""
    out = np.full(len(series), np.nan)
    bad: set[str] = set()
    for i, value in enumerate(series.tolist()):
        token = _token(value)
        if token is None:
            continue
        word = _numeric_word(token.lower())
        if word in TRUE_WORDS:
            out[i] = 1.0
        elif word in FALSE_WORDS:
            out[i] = 0.0
        else:
            bad.add(token)
    if bad:
        shown = ", ".join(repr(v) for v in sorted(bad)[:10])
        raise InvalidInput(
            f"label column {column!r} must be binary (1/0, true/false, yes/no, 是/否); "
            f"it also holds {shown}",
            details=[{"column": column, "values": sorted(bad)[:10]}],
        )
    positives = int(np.nansum(out))
    negatives = int(np.sum(out == 0.0))
    if min(positives, negatives) < MIN_PER_CLASS:
        raise InvalidInput(
            f"label column {column!r} has {positives} positive and {negatives} negative rows; "
            f"training needs at least {MIN_PER_CLASS} of each",
            details=[{"column": column, "positives": positives, "negatives": negatives}],
        )
    return out


def parse_ids(series: pd.Series[Any], column: str) -> list[str]:
    ids = [_token(v) for v in series.tolist()]
    blanks = sum(1 for i in ids if i is None)
    if blanks:
        raise InvalidInput(f"id column {column!r} has {blanks} blank values")
    texts = [i for i in ids if i is not None]
    if len(set(texts)) != len(texts):
        raise InvalidInput(f"id column {column!r} has duplicate values")
    return texts


@dataclass(frozen=True, slots=True)
class Column:
    """A detected input column: its kind and its values made model-ready (before encoding)."""

    name: str
    kind: FeatureKind
    values: Floats | list[str | None] | None  # floats for numbers/dates, text for categories
    note: str | None = None
    month: Floats | None = None  # dates only


def _as_dates(values: pd.Series[Any]) -> pd.Series[Any] | None:
    for fmt in _DATE_FORMATS:
        parsed = pd.to_datetime(values, format=fmt, errors="coerce")
        if not parsed.isna().any():
            return parsed
    return None


def _date_column(name: str, stamps: pd.Series[Any]) -> Column:
    latest = stamps.max()
    days = ((latest - stamps).dt.total_seconds() / 86400.0).to_numpy(
        dtype="float64", na_value=np.nan
    )
    month = stamps.dt.month.to_numpy(dtype="float64", na_value=np.nan)
    return Column(name, "date", days, f"days before {latest:%Y-%m-%d} and month of year", month)


def detect(name: str, series: pd.Series[Any]) -> Column:
    """Type one column (see the module docstring)."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return Column(name, "boolean", series.to_numpy(dtype="float64", na_value=np.nan))
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        if np.unique(values[~np.isnan(values)]).size < 2:
            return Column(name, "dropped", None, "blank or constant")
        return Column(name, "numeric", values)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        stamps = pd.Series(pd.to_datetime(series), index=series.index)
        if stamps.dropna().nunique() < 2:
            return Column(name, "dropped", None, "blank or constant")
        return _date_column(name, stamps.dt.tz_localize(None) if stamps.dt.tz else stamps)
    tokens = [_token(v) for v in series.tolist()]
    present = pd.Series([t for t in tokens if t is not None], dtype=object)
    if present.nunique() < 2:
        return Column(name, "dropped", None, "blank or constant")
    mask = np.array([t is not None for t in tokens])
    if all(isinstance(v, date) for v in series[mask].tolist()):
        objects = pd.Series([v if m else None for v, m in zip(series, mask, strict=True)])
        return _date_column(name, pd.Series(pd.to_datetime(objects)))
    if {t.lower() for t in present} <= TRUE_WORDS | FALSE_WORDS:
        values = np.array([np.nan if t is None else float(t.lower() in TRUE_WORDS) for t in tokens])
        return Column(name, "boolean", values)
    numbers = pd.to_numeric(present, errors="coerce")
    if not numbers.isna().any():
        full = pd.to_numeric(pd.Series(tokens, dtype=object), errors="coerce")
        return Column(name, "numeric", full.to_numpy(dtype="float64", na_value=np.nan))
    parsed = _as_dates(present)
    if parsed is not None:
        full_stamps = pd.Series(pd.NaT, index=range(len(tokens)), dtype=parsed.dtype)
        full_stamps[mask] = parsed.to_numpy()
        return _date_column(name, full_stamps)
    distinct = present.nunique()
    if distinct > MAX_CATEGORIES and distinct > len(present) / 2:
        return Column(
            name, "dropped", None, f"{distinct} distinct values: an identifier or free text"
        )
    return Column(name, "categorical", tokens)


def describe(columns: list[Column]) -> list[FeatureRead]:
    return [FeatureRead(column=c.name, kind=c.kind, note=c.note) for c in columns]


@dataclass(slots=True)
class Encoding:
    """Model columns built from the detected columns; categories learned on training rows."""

    names: list[str] = field(default_factory=list)
    categorical: list[bool] = field(default_factory=list)
    matrix: Floats = field(default_factory=lambda: np.empty((0, 0)))


def _codes(tokens: list[str | None], train: npt.NDArray[np.bool_]) -> Floats:
    seen = pd.Series([t for t, use in zip(tokens, train, strict=True) if use and t is not None])
    counts = seen.value_counts()
    # Most frequent first; ties by value so the codes do not depend on row order.
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    code = {value: float(i) for i, (value, _n) in enumerate(ranked[:MAX_CATEGORIES])}
    rare = {value for value, _n in ranked[MAX_CATEGORIES:]}
    other = float(MAX_CATEGORIES)
    return np.array(
        [code.get(t, other if t in rare else np.nan) if t is not None else np.nan for t in tokens]
    )


def encode(columns: list[Column], train: npt.NDArray[np.bool_]) -> Encoding:
    """The model matrix for every row; ``train`` marks the rows categories are learned from."""
    enc = Encoding()
    blocks: list[Floats] = []
    for col in columns:
        if col.kind == "dropped" or col.values is None:
            continue
        if col.kind == "categorical":
            assert isinstance(col.values, list)
            blocks.append(_codes(col.values, train))
            enc.names.append(col.name)
            enc.categorical.append(True)
            continue
        assert isinstance(col.values, np.ndarray)
        blocks.append(col.values)
        enc.names.append(f"{col.name}:days_before_latest" if col.kind == "date" else col.name)
        enc.categorical.append(False)
        if col.month is not None:
            blocks.append(col.month)
            enc.names.append(f"{col.name}:month")
            enc.categorical.append(False)
    if not blocks:
        raise InvalidInput("no usable feature columns besides the label and the id")
    enc.matrix = np.column_stack(blocks)
    return enc


def binned_rate_scores(
    feature: Floats, categorical: bool, y_train: Floats, train: npt.NDArray[np.bool_]
) -> Floats:
    """A one-feature baseline: each row scores its bin's training positive rate.

    Numbers are cut at training deciles, categories are their own bins, and
    blanks form one more bin; rates are smoothed towards the overall rate.
    """
    if categorical:
        bins = np.where(np.isnan(feature), -1.0, feature)
    else:
        edges = np.unique(np.nanquantile(feature[train], np.linspace(0.1, 0.9, 9)))
        bins = np.where(np.isnan(feature), -1.0, np.searchsorted(edges, feature, side="right"))
    prior = float(y_train.mean())
    frame = pd.DataFrame({"bin": bins[train], "y": y_train})
    stats = frame.groupby("bin")["y"].agg(["sum", "count"])
    rate = (stats["sum"] + prior) / (stats["count"] + 1.0)
    return pd.Series(bins).map(rate).fillna(prior).to_numpy(dtype="float64")


def deciles(scores: Floats, y: Floats) -> list[DecileRead]:
    """Lift and cumulative gain by tenth of ``scores``, highest first (stable order on ties)."""
    order = np.argsort(-scores, kind="stable")
    total = float(y.sum())
    base = total / len(y)
    found = 0.0
    rows: list[DecileRead] = []
    for i, part in enumerate(np.array_split(order, 10), start=1):
        if part.size == 0:
            continue
        hits = float(y[part].sum())
        found += hits
        rate = hits / part.size
        rows.append(
            DecileRead(
                decile=i,
                rows=int(part.size),
                positives=int(hits),
                positive_rate=rate,
                lift=rate / base,
                cumulative_gain=found / total,
                min_score=float(scores[part].min()),
                max_score=float(scores[part].max()),
            )
        )
    return rows
