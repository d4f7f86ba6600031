"""Pure offer rules: statuses, unit economics, clawback, pools and lottery draws.

Unit economics (per taker, fen, integers, divisions rounded half up once):

* incentive cost = the sum of every tool's expected gross cost;
* partner-funded = what ``leverage`` partners pay of their benefits, plus
  ``co_funding_bp`` of the other tools' cost (e.g. a handset maker funding part
  of a subsidy);
* net incentive cost = incentive cost - partner-funded;
* monthly channel cost = ``channel_cost_share_bp`` of the incremental monthly
  revenue (the commission the selling channel earns);
* net monthly contribution = incremental monthly revenue - channel cost;
* payback months = net incentive cost / net monthly contribution, rounded up
  (a part month is a month); 0 if the incentive costs nothing; None if the
  contribution is not positive (it never pays back).

Lottery draws are reproducible: the drawn number is
``int(SHA-256("telmark-lottery-v1\\0" + seed)) mod 1 000 000`` and the prizes
are walked in table order with cumulative odds. SHA-256 and Python integer
arithmetic are fixed by their specifications, so the same seed and table give
the same pick on every Python version and machine — unlike ``random.Random``,
whose seeding of strings and whose ``randrange`` have changed between Python
releases (3.2, 3.12), and numpy's generators, whose streams numpy does not
promise to keep. The modulo bias is 10^6 / 2^256: nil. A picked prize whose
stock or the lottery budget is exhausted at draw time falls to no prize; the
draw records whether the stock was granted, so a replay gives the recorded
outcome.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from telmark.errors import InvalidInput, InvalidTransition
from telmark.offers.tools import (
    BP,
    NO_PRIZE,
    PPM,
    AnyTool,
    Gift,
    Leverage,
    Lottery,
    RedPacket,
    Subsidy,
    round_half_up,
)
from telmark.translation import N_

DRAW_ALGORITHM = "sha256-mod-ppm-v1"
_DRAW_PREFIX = b"telmark-lottery-v1\x00"


class OfferStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    RETIRED = "retired"


class ProductAction(StrEnum):
    NEW = "new"
    UPGRADE = "upgrade"
    CROSS_SELL = "cross_sell"
    RETENTION_DISCOUNT = "retention_discount"
    WIN_BACK = "win_back"


ACTION_LABELS: dict[ProductAction, str] = {
    ProductAction.NEW: N_("New subscription"),
    ProductAction.UPGRADE: N_("Upgrade"),
    ProductAction.CROSS_SELL: N_("Cross-sell"),
    ProductAction.RETENTION_DISCOUNT: N_("Retention discount"),
    ProductAction.WIN_BACK: N_("Win-back"),
}
STATUS_LABELS: dict[OfferStatus, str] = {
    OfferStatus.DRAFT: N_("Draft"),
    OfferStatus.ACTIVE: N_("Active"),
    OfferStatus.RETIRED: N_("Retired"),
}


class RedemptionStatus(StrEnum):
    """reserved → consumed | released; both ends are final."""

    RESERVED = "reserved"
    CONSUMED = "consumed"
    RELEASED = "released"


class EntryKind(StrEnum):
    RESERVE = "reserve"
    CONSUME = "consume"
    RELEASE = "release"


class PoolKind(StrEnum):
    GIFT_STOCK = "gift_stock"
    RED_PACKET_BUDGET = "red_packet_budget"
    LOTTERY_BUDGET = "lottery_budget"
    PRIZE_STOCK = "prize_stock"
    REFERRAL_CAP = "referral_cap"  # one per referrer, created at their first referral


ALLOWED: dict[OfferStatus, frozenset[OfferStatus]] = {
    OfferStatus.DRAFT: frozenset({OfferStatus.ACTIVE, OfferStatus.RETIRED}),
    OfferStatus.ACTIVE: frozenset({OfferStatus.RETIRED}),
    OfferStatus.RETIRED: frozenset(),
}
REDEMPTION_ALLOWED: dict[RedemptionStatus, frozenset[RedemptionStatus]] = {
    RedemptionStatus.RESERVED: frozenset({RedemptionStatus.CONSUMED, RedemptionStatus.RELEASED}),
    RedemptionStatus.CONSUMED: frozenset(),
    RedemptionStatus.RELEASED: frozenset(),
}


def transition(current: OfferStatus, to: OfferStatus) -> OfferStatus:
    """``to`` if an offer in ``current`` may move there; InvalidTransition otherwise."""
    if to not in ALLOWED[current]:
        raise InvalidTransition(f"offer is {current}; it cannot become {to}")
    return to


def redemption_transition(current: RedemptionStatus, to: RedemptionStatus) -> RedemptionStatus:
    """``to`` if a redemption in ``current`` may move there; InvalidTransition otherwise."""
    if to not in REDEMPTION_ALLOWED[current]:
        raise InvalidTransition(f"redemption is {current}; it cannot become {to}")
    return to


# --- unit economics -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Economics:
    """One taker's economics of an offer (fen; per month where the name says so)."""

    incentive_cost_fen: int
    partner_funded_fen: int
    net_incentive_cost_fen: int
    incremental_monthly_revenue_fen: int
    channel_cost_fen_per_month: int
    net_monthly_contribution_fen: int
    payback_months: int | None


def economics(
    tools: Sequence[AnyTool],
    *,
    incremental_monthly_revenue_fen: int,
    channel_cost_share_bp: int,
    co_funding_bp: int,
) -> Economics:
    """Per-taker unit economics of an incentive (see the module docstring for the formulas)."""
    if incremental_monthly_revenue_fen < 0:
        raise InvalidInput("incremental_monthly_revenue_fen: must not be negative")
    for name, bp in (
        ("channel_cost_share_bp", channel_cost_share_bp),
        ("co_funding_bp", co_funding_bp),
    ):
        if not 0 <= bp <= BP:
            raise InvalidInput(f"{name}: between 0 and {BP}, got {bp}")
    cost = sum(t.expected_cost_fen() for t in tools)
    leveraged = sum(t.partner_funded_fen() for t in tools if isinstance(t, Leverage))
    other = sum(t.expected_cost_fen() for t in tools if not isinstance(t, Leverage))
    partner = leveraged + round_half_up(other * co_funding_bp, BP)
    net_cost = cost - partner
    channel = round_half_up(incremental_monthly_revenue_fen * channel_cost_share_bp, BP)
    contribution = incremental_monthly_revenue_fen - channel
    return Economics(
        incentive_cost_fen=cost,
        partner_funded_fen=partner,
        net_incentive_cost_fen=net_cost,
        incremental_monthly_revenue_fen=incremental_monthly_revenue_fen,
        channel_cost_fen_per_month=channel,
        net_monthly_contribution_fen=contribution,
        payback_months=payback_months(net_cost, contribution),
    )


def payback_months(net_cost_fen: int, monthly_contribution_fen: int) -> int | None:
    """Whole months until the contribution covers the cost; None if it never does."""
    if net_cost_fen <= 0:
        return 0
    if monthly_contribution_fen <= 0:
        return None
    return -(-net_cost_fen // monthly_contribution_fen)


def clawback_fen(subsidy: Subsidy, *, months_served: int) -> int:
    """What a taker who breaks the contract after ``months_served`` whole months repays.

    Nothing without a clawback or once the clawback period is served; the whole
    amount if not pro rata; else the unserved share, rounded half up.
    """
    if months_served < 0:
        raise InvalidInput("months_served: must not be negative")
    claw = subsidy.clawback
    if claw is None or months_served >= claw.months:
        return 0
    if not claw.pro_rata:
        return subsidy.amount_fen
    return round_half_up(subsidy.amount_fen * (claw.months - months_served), claw.months)


# --- pools ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """A limited quantity an offer hands out: items of stock, or fen of budget."""

    key: str
    kind: PoolKind
    total: int


def prize_key(code: str) -> str:
    return f"prize:{code}"


def referrer_key(referrer_id: int) -> str:
    return f"referrer:{referrer_id}"


def pool_specs(tools: Sequence[AnyTool]) -> list[PoolSpec]:
    """The stock and budget pools an incentive needs, created when the offer is activated."""
    specs: list[PoolSpec] = []
    for tool in tools:
        if isinstance(tool, Gift):
            specs.append(PoolSpec("gift", PoolKind.GIFT_STOCK, tool.stock))
        elif isinstance(tool, RedPacket):
            specs.append(PoolSpec("red_packet", PoolKind.RED_PACKET_BUDGET, tool.total_budget_fen))
        elif isinstance(tool, Lottery):
            specs.append(PoolSpec("lottery", PoolKind.LOTTERY_BUDGET, tool.budget_fen))
            specs.extend(
                PoolSpec(prize_key(p.code), PoolKind.PRIZE_STOCK, p.stock) for p in tool.prizes
            )
    return specs


def required_takes(tools: Sequence[AnyTool]) -> dict[str, int]:
    """What every redemption must take from the pools (pool key → quantity).

    A gift takes one item; a red packet takes its amount from the budget. If any
    of these is short the redemption is refused. Lottery pools are taken only
    for a prize won (``prize_takes``), and a shortage there means no prize.
    """
    takes: dict[str, int] = {}
    for tool in tools:
        if isinstance(tool, Gift):
            takes["gift"] = 1
        elif isinstance(tool, RedPacket):
            takes["red_packet"] = tool.amount_fen
    return takes


def prize_takes(lottery: Lottery, code: str) -> dict[str, int]:
    """The pools a won prize takes from: one of its stock and its unit cost of the budget."""
    prize = next(p for p in lottery.prizes if p.code == code)
    takes = {prize_key(code): 1}
    if prize.unit_cost_fen > 0:
        takes["lottery"] = prize.unit_cost_fen
    return takes


# --- lottery --------------------------------------------------------------------------


def draw_number(seed: str) -> int:
    """The draw's number in [0, 1 000 000): SHA-256 of the seed, modulo a million."""
    if not seed:
        raise InvalidInput("seed: must not be empty")
    digest = hashlib.sha256(_DRAW_PREFIX + seed.encode("utf-8")).digest()
    return int.from_bytes(digest, "big") % PPM


def pick_prize(seed: str, prizes: Sequence[tuple[str, int]]) -> str:
    """The prize code the seed picks from ``(code, odds_ppm)`` in table order, or NO_PRIZE."""
    number = draw_number(seed)
    bound = 0
    for code, odds in prizes:
        bound += odds
        if number < bound:
            return code
    return NO_PRIZE


def draw_outcome(picked: str, *, stock_granted: bool) -> str:
    """The outcome of a pick: the prize if its stock and budget were granted, else no prize."""
    return picked if picked != NO_PRIZE and stock_granted else NO_PRIZE
