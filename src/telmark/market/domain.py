"""Pure rules of market inputs: competitor offers and market share by city and month.

Analysts record what competitors sell (offers) and how the mobile market of
each city divides between operators (shares). Both belong to an org unit: an
offer to a city or to the province (``org_code`` of the province: on sale
everywhere); a share entry to a city. A user reads the entries of their own
unit, the units above it (the province-wide offers, their city's shares when
they work in a district) and below it, and changes only entries of units
within their scope.

Shares of one city and month are entered one way or the other:

- as **shares** (``share_bp``, basis points: 2750 = 27.50%) exactly as a
  market report gives them. They may not add up to more than 100%.
- as **subscriber estimates** (``subscribers``). The market size is then our
  own month-end subscribers of the city (from the warehouse) plus the
  estimates, so our own share and every competitor's share follow from the
  counts; this is the only case in which our own share is computed.

Mixing the two in one city-month is refused: a share and a count cannot be
added up, and a silent conversion would invent a market size. Enter
competitors only; our own line comes from the warehouse.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from telmark.errors import InvalidInput
from telmark.translation import N_

FULL_SHARE_BP = 10_000
MAX_FEE_FEN = 10_000_000  # as products.monthly_fee_fen in the data contract
MAX_NAME = 120
MAX_NOTES = 1000
MAX_SOURCE = 400


class Competitor(StrEnum):
    CHINA_MOBILE = "china_mobile"
    CHINA_UNICOM = "china_unicom"
    CHINA_TELECOM = "china_telecom"
    CHINA_BROADNET = "china_broadnet"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class OfferSpec:
    """A competitor offer as validated from a form, a request or an import row."""

    org_code: str
    competitor: Competitor
    name: str
    monthly_fee_fen: int
    data_mb: int
    voice_min: int
    is_5g: bool
    launched_on: date
    withdrawn_on: date | None = None
    notes: str = ""
    source: str = ""

    def on_sale(self, day: date) -> bool:
        return self.launched_on <= day and (self.withdrawn_on is None or day < self.withdrawn_on)


@dataclass(frozen=True, slots=True)
class ShareSpec:
    """One competitor's share of a city's mobile market in one month (share or estimate)."""

    org_code: str
    month: date
    competitor: Competitor
    share_bp: int | None = None
    subscribers: int | None = None
    notes: str = ""
    source: str = ""

    @property
    def key(self) -> tuple[str, date, Competitor]:
        return (self.org_code, self.month, self.competitor)


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with a value: ``message`` is an English msgid filled from ``params``."""

    column: str
    value: str | None
    message: str
    params: dict[str, object] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return self.message % self.params


class MarketInputInvalid(InvalidInput):
    """A field of an offer or share entry is invalid (``problems`` name each field)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        first = problems[0]
        super().__init__(
            f"{first.column}: {first.reason}",
            details=[{"field": p.column, "value": p.value, "reason": p.reason} for p in problems],
        )
        self.problems = list(problems)


class SharesExceedMarket(InvalidInput):
    """The shares entered for one city and month add up to more than 100%."""


class MixedShareKinds(InvalidInput):
    """A city-month holds both shares and subscriber estimates."""


# --- checking single values ------------------------------------------------------------------

_TRUE = frozenset({"true", "t", "1", "y", "yes", "是"})
_FALSE = frozenset({"false", "f", "0", "n", "no", "否"})
_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$|^(\d{4})(\d{2})(\d{2})$")
_MONTH = re.compile(r"^(\d{4})[-/](\d{1,2})(?:[-/]0?1)?$|^(\d{4})(\d{2})(?:01)?$")


def parse_date(text: str) -> date | None:
    """``YYYY-MM-DD``, ``YYYY/M/D`` or ``YYYYMMDD``; None if it is not a date."""
    found = _DATE.match(text.strip())
    if not found:
        return None
    parts = [int(p) for p in found.groups() if p is not None]
    try:
        return date(parts[0], parts[1], parts[2])
    except ValueError:
        return None


def parse_month(text: str) -> date | None:
    """``YYYY-MM`` (or the month's first day, ``YYYYMM``): the first day of the month."""
    found = _MONTH.match(text.strip())
    if not found:
        return None
    parts = [int(p) for p in found.groups() if p is not None]
    if not 1 <= parts[1] <= 12:
        return None
    return date(parts[0], parts[1], 1)


def parse_bool(text: str) -> bool | None:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


def _int_in(
    raw: str, column: str, low: int, high: int | None, problems: list[Problem]
) -> int | None:
    text = raw.strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        problems.append(Problem(column, raw, N_("not a whole number")))
        return None
    value = int(text)
    if value < low or (high is not None and value > high):
        if high is None:
            problems.append(Problem(column, raw, N_("below the minimum %(low)s"), {"low": low}))
        else:
            message = N_("must be between %(low)s and %(high)s")
            problems.append(Problem(column, raw, message, {"low": low, "high": high}))
        return None
    return value


def _text(raw: str, column: str, limit: int, problems: list[Problem], *, required: bool) -> str:
    text = raw.strip()
    if required and not text:
        problems.append(Problem(column, raw, N_("required")))
    elif len(text) > limit:
        message = N_("longer than %(n)s characters")
        problems.append(Problem(column, text[:40] + "…", message, {"n": limit}))
    return text


def _competitor(raw: str, problems: list[Problem]) -> Competitor | None:
    try:
        return Competitor(raw.strip())
    except ValueError:
        allowed = ", ".join(c.value for c in Competitor)
        message = N_("must be one of %(allowed)s")
        problems.append(Problem("competitor", raw, message, {"allowed": allowed}))
        return None


# --- offers ----------------------------------------------------------------------------------

OFFER_COLUMNS = (
    "org_code",
    "competitor",
    "name",
    "monthly_fee_fen",
    "data_mb",
    "voice_min",
    "is_5g",
    "launched_on",
    "withdrawn_on",
    "notes",
    "source",
)
OFFER_REQUIRED = ("competitor", "name", "monthly_fee_fen", "launched_on")


def offer_from_text(values: Mapping[str, str | None], *, province_code: str) -> OfferSpec:
    """An offer from text fields (a CSV row or a form); MarketInputInvalid names each field.

    An empty ``org_code`` means province-wide; empty ``data_mb``/``voice_min``
    mean none included, an empty ``is_5g`` means no.
    """
    problems: list[Problem] = []

    def get(name: str) -> str:
        return values.get(name) or ""

    org_code = get("org_code").strip() or province_code
    competitor = _competitor(get("competitor"), problems)
    name = _text(get("name"), "name", MAX_NAME, problems, required=True)
    fee = _int_in(get("monthly_fee_fen"), "monthly_fee_fen", 0, MAX_FEE_FEN, problems)
    data_mb = _int_in(get("data_mb") or "0", "data_mb", 0, None, problems)
    voice = _int_in(get("voice_min") or "0", "voice_min", 0, None, problems)
    is_5g = parse_bool(get("is_5g") or "0")
    if is_5g is None:
        problems.append(Problem("is_5g", get("is_5g"), N_("not a yes/no value")))
    launched = parse_date(get("launched_on"))
    if launched is None:
        problems.append(Problem("launched_on", get("launched_on"), N_("not a date (YYYY-MM-DD)")))
    withdrawn = None
    if get("withdrawn_on").strip():
        withdrawn = parse_date(get("withdrawn_on"))
        if withdrawn is None:
            message = N_("not a date (YYYY-MM-DD)")
            problems.append(Problem("withdrawn_on", get("withdrawn_on"), message))
    notes = _text(get("notes"), "notes", MAX_NOTES, problems, required=False)
    source = _text(get("source"), "source", MAX_SOURCE, problems, required=False)
    if launched and withdrawn and withdrawn < launched:
        message = N_("before the launch date %(launched)s")
        problems.append(
            Problem("withdrawn_on", get("withdrawn_on"), message, {"launched": launched})
        )
    if problems:
        raise MarketInputInvalid(problems)
    assert competitor is not None
    assert fee is not None
    assert launched is not None
    assert data_mb is not None
    assert voice is not None
    assert is_5g is not None
    return OfferSpec(
        org_code=org_code,
        competitor=competitor,
        name=name,
        monthly_fee_fen=fee,
        data_mb=data_mb,
        voice_min=voice,
        is_5g=is_5g,
        launched_on=launched,
        withdrawn_on=withdrawn,
        notes=notes,
        source=source,
    )


# --- shares ----------------------------------------------------------------------------------

SHARE_COLUMNS = ("org_code", "month", "competitor", "share_bp", "subscribers", "notes", "source")
SHARE_REQUIRED = ("org_code", "month", "competitor")


def share_from_text(values: Mapping[str, str | None]) -> ShareSpec:
    """A share entry from text fields: exactly one of ``share_bp`` and ``subscribers``."""
    problems: list[Problem] = []

    def get(name: str) -> str:
        return values.get(name) or ""

    org_code = get("org_code").strip()
    if not org_code:
        problems.append(Problem("org_code", "", N_("required")))
    month = parse_month(get("month"))
    if month is None:
        problems.append(Problem("month", get("month"), N_("not a month (YYYY-MM)")))
    competitor = _competitor(get("competitor"), problems)
    share_bp = subscribers = None
    raw_share, raw_count = get("share_bp").strip(), get("subscribers").strip()
    if raw_share and raw_count:
        message = N_("give share_bp or subscribers, not both")
        problems.append(Problem("share_bp", raw_share, message))
    elif not raw_share and not raw_count:
        problems.append(Problem("share_bp", "", N_("give share_bp or subscribers")))
    elif raw_share:
        share_bp = _int_in(raw_share, "share_bp", 0, FULL_SHARE_BP, problems)
    else:
        subscribers = _int_in(raw_count, "subscribers", 0, None, problems)
    notes = _text(get("notes"), "notes", MAX_NOTES, problems, required=False)
    source = _text(get("source"), "source", MAX_SOURCE, problems, required=False)
    if problems:
        raise MarketInputInvalid(problems)
    assert month is not None
    assert competitor is not None
    return ShareSpec(
        org_code=org_code,
        month=month,
        competitor=competitor,
        share_bp=share_bp,
        subscribers=subscribers,
        notes=notes,
        source=source,
    )


def check_city_month(entries: Iterable[ShareSpec]) -> None:
    """Refuse a city-month whose entries mix kinds or whose shares exceed 100%.

    ``entries`` are every entry of one city and month, existing and new.
    """
    listed = list(entries)
    if not listed:
        return
    where = f"{listed[0].org_code} {listed[0].month:%Y-%m}"
    shares = [e for e in listed if e.share_bp is not None]
    if shares and len(shares) != len(listed):
        raise MixedShareKinds(
            f"{where}: shares and subscriber estimates cannot be mixed in one city-month; "
            "enter every competitor the same way",
            details=[{"org_code": listed[0].org_code, "month": str(listed[0].month)}],
        )
    total = sum(e.share_bp or 0 for e in shares)
    if total > FULL_SHARE_BP:
        raise SharesExceedMarket(
            f"{where}: the shares add up to {total / 100:.2f}%, more than 100%",
            details=[
                {"org_code": listed[0].org_code, "month": str(listed[0].month), "total_bp": total}
            ],
        )


@dataclass(frozen=True, slots=True)
class MonthShares:
    """The shares of one city-month as displayed: basis points per operator (own: None key)."""

    month: date
    by_competitor: dict[Competitor, int]
    own_bp: int | None  # computed only from subscriber estimates
    market_size: int | None  # own + estimates, when entered as estimates
    entered_as: str  # "shares" or "subscribers"


def shares_of_month(month: date, entries: Sequence[ShareSpec], own: int | None) -> MonthShares:
    """Shares of one city-month for display (``own``: our month-end subscribers, if known).

    Estimates become shares of own + Σ estimates, rounded half up to a basis point.
    """
    if all(e.share_bp is not None for e in entries):
        return MonthShares(
            month=month,
            by_competitor={e.competitor: e.share_bp or 0 for e in entries},
            own_bp=None,
            market_size=None,
            entered_as="shares",
        )
    if own is None:
        return MonthShares(month, {}, None, None, "subscribers")
    size = own + sum(e.subscribers or 0 for e in entries)
    if size == 0:
        return MonthShares(month, {}, None, 0, "subscribers")

    def bp(count: int) -> int:
        return (count * 2 * FULL_SHARE_BP + size) // (2 * size)

    return MonthShares(
        month=month,
        by_competitor={e.competitor: bp(e.subscribers or 0) for e in entries},
        own_bp=bp(own),
        market_size=size,
        entered_as="subscribers",
    )


@dataclass(frozen=True, slots=True)
class OwnPlan:
    """One of our plans on sale (a row of warehouse ``products`` of kind plan)."""

    product_id: str
    name: str
    family: str
    monthly_fee_fen: int
    data_mb: int
    voice_min: int
    is_5g: bool


def comparable_plan(offer: OfferSpec, plans: Sequence[OwnPlan]) -> OwnPlan | None:
    """Our plan nearest to ``offer`` by monthly fee among plans of the same 5G kind.

    Ties go to the plan with more data; None when no plan of that kind is on sale.
    """
    same = [p for p in plans if p.is_5g == offer.is_5g]
    if not same:
        return None
    return min(same, key=lambda p: (abs(p.monthly_fee_fen - offer.monthly_fee_fen), -p.data_mb))
