"""The nine marketing tools (营销九剑) as typed incentive documents.

An offer's incentive is a list of tools, each a JSON object with a ``tool``
discriminator: ``gift`` 赠品, ``points`` 积分, ``subsidy`` 补贴 (倒贴),
``red_packet`` 红包, ``membership`` 会员, ``leverage`` 借势 (co-branding),
``lottery`` 抽奖, ``bundle`` 配销 (bundle), ``referral`` 分销 (referral /
distribution). Parameters are validated here; errors name the path
(``tools[2].prizes[0].odds_ppm: ...``).

Every tool says what it is expected to cost per taker, in whole fen:
``expected_cost_fen()``. All arithmetic is on integers; a division rounds half
up (``round_half_up``), once, at the end of each tool's formula, so the cost is
exact to the fen and the same on every machine. The cost is *gross*: what the
incentive is worth before any partner funds part of it (``leverage``'s partner
share and an offer's co-funding are applied by ``domain.economics``).

Money is fen (int), shares are basis points (1 bp = 0.01 %, 10 000 = 100 %),
odds are parts per million (1 000 000 = certain).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from telmark.translation import N_

BP = 10_000
PPM = 1_000_000
MAX_FEN = 100_000_000_000  # 10^9 yuan: far above any budget, far below int64
MAX_UNIT_FEN = 100_000_000  # 1 000 000 yuan per taker
MAX_STOCK = 100_000_000
MAX_MONTHS = 60
NO_PRIZE = "no_prize"

Fen = Annotated[int, Field(ge=0, le=MAX_UNIT_FEN, strict=True)]
PositiveFen = Annotated[int, Field(ge=1, le=MAX_UNIT_FEN, strict=True)]
BudgetFen = Annotated[int, Field(ge=1, le=MAX_FEN, strict=True)]
Stock = Annotated[int, Field(ge=1, le=MAX_STOCK, strict=True)]
Bp = Annotated[int, Field(ge=0, le=BP, strict=True)]
Months = Annotated[int, Field(ge=1, le=MAX_MONTHS, strict=True)]
Text = Annotated[str, Field(min_length=1, max_length=120)]
Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")]

MEMBER_TIERS = ("non_member", "star", "gold", "vip")
TOOL_LABELS: dict[str, str] = {
    "gift": N_("Gift"),
    "points": N_("Points"),
    "subsidy": N_("Subsidy"),
    "red_packet": N_("Red packet"),
    "membership": N_("Membership"),
    "leverage": N_("Leverage (co-branding)"),
    "lottery": N_("Lottery"),
    "bundle": N_("Bundle"),
    "referral": N_("Referral / distribution"),
}


def round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, halves up (both >= 0)."""
    if denominator <= 0 or numerator < 0:
        raise ValueError("round_half_up needs numerator >= 0 and denominator > 0")
    return (2 * numerator + denominator) // (2 * denominator)


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Tool(_Params):
    @abstractmethod
    def expected_cost_fen(self) -> int:
        """Expected gross incentive cost per taker, in fen."""


class Gift(_Tool):
    """A physical or virtual gift 赠品: one ``item`` per taker while ``stock`` lasts."""

    tool: Literal["gift"] = "gift"
    item: Text
    unit_cost_fen: Fen
    stock: Stock

    def expected_cost_fen(self) -> int:
        return self.unit_cost_fen


class Points(_Tool):
    """Loyalty points 积分: a one-off ``amount``, or a ``multiplier_bp`` on earned points.

    A multiplier of 20 000 bp doubles the ``base_points_per_month`` a taker
    earns for ``months``; the extra points are the incentive. Points cost the
    operator ``fen_per_100_points`` when redeemed (100 = one fen per point).
    """

    tool: Literal["points"] = "points"
    amount: Annotated[int, Field(ge=1, le=10_000_000, strict=True)] | None = None
    multiplier_bp: Annotated[int, Field(gt=BP, le=10 * BP, strict=True)] | None = None
    base_points_per_month: Annotated[int, Field(ge=1, le=1_000_000, strict=True)] | None = None
    months: Months | None = None
    fen_per_100_points: Annotated[int, Field(ge=0, le=10_000, strict=True)] = 100

    @model_validator(mode="after")
    def _one_form(self) -> Points:
        if (self.amount is None) == (self.multiplier_bp is None):
            raise ValueError("give exactly one of amount or multiplier_bp")
        if self.multiplier_bp is not None and (
            self.base_points_per_month is None or self.months is None
        ):
            raise ValueError("a multiplier needs base_points_per_month and months")
        if self.amount is not None and (
            self.base_points_per_month is not None or self.months is not None
        ):
            raise ValueError("base_points_per_month and months apply to a multiplier only")
        return self

    def extra_points(self) -> int:
        """Points the taker receives because of the offer."""
        if self.amount is not None:
            return self.amount
        assert self.multiplier_bp is not None  # the validator guarantees one form
        assert self.base_points_per_month is not None
        assert self.months is not None
        return round_half_up(
            self.base_points_per_month * self.months * (self.multiplier_bp - BP), BP
        )

    def expected_cost_fen(self) -> int:
        return round_half_up(self.extra_points() * self.fen_per_100_points, 100)


class Clawback(_Params):
    """What a taker repays when the contract is broken within ``months``."""

    months: Months
    pro_rata: bool = True


class Subsidy(_Tool):
    """A subsidy 倒贴 (handset or fee) of ``amount_fen``, clawed back if the contract breaks.

    The expected cost is the whole amount: clawbacks are recoveries after the
    fact, not planned savings (``domain.clawback_fen`` computes one).
    """

    tool: Literal["subsidy"] = "subsidy"
    amount_fen: PositiveFen
    clawback: Clawback | None = None

    def expected_cost_fen(self) -> int:
        return self.amount_fen


class RedPacket(_Tool):
    """A red packet 红包 of ``amount_fen``, usable for ``validity_days``, from a total budget.

    ``expected_use_bp`` is the share of packets actually spent before they
    expire (10 000 = every one); unused packets cost nothing.
    """

    tool: Literal["red_packet"] = "red_packet"
    amount_fen: PositiveFen
    validity_days: Annotated[int, Field(ge=1, le=366, strict=True)]
    total_budget_fen: BudgetFen
    expected_use_bp: Bp = BP

    @model_validator(mode="after")
    def _budget_fits_one(self) -> RedPacket:
        if self.total_budget_fen < self.amount_fen:
            raise ValueError("total_budget_fen must cover at least one packet (amount_fen)")
        return self

    def expected_cost_fen(self) -> int:
        return round_half_up(self.amount_fen * self.expected_use_bp, BP)


class Membership(_Tool):
    """Membership 会员: grant ``tier`` for ``months``, or a ``trial_days`` trial of it.

    ``monthly_benefit_cost_fen`` is what the tier's benefits (dedicated
    service, birthday gift, coupons) cost per member-month; a trial costs its
    days at 1/30 of that per day.
    """

    tool: Literal["membership"] = "membership"
    tier: Literal["star", "gold", "vip"]
    months: Months | None = None
    trial_days: Annotated[int, Field(ge=1, le=365, strict=True)] | None = None
    monthly_benefit_cost_fen: Fen

    @model_validator(mode="after")
    def _one_form(self) -> Membership:
        if (self.months is None) == (self.trial_days is None):
            raise ValueError("give exactly one of months (a grant) or trial_days (a trial)")
        return self

    def expected_cost_fen(self) -> int:
        if self.months is not None:
            return self.monthly_benefit_cost_fen * self.months
        assert self.trial_days is not None
        return round_half_up(self.monthly_benefit_cost_fen * self.trial_days, 30)


class Leverage(_Tool):
    """Leverage 借势: a co-branded benefit; ``partner`` funds ``partner_share_bp`` of it."""

    tool: Literal["leverage"] = "leverage"
    partner: Text
    benefit: Text
    benefit_value_fen: Fen
    partner_share_bp: Bp

    def expected_cost_fen(self) -> int:
        return self.benefit_value_fen

    def partner_funded_fen(self) -> int:
        """The part of the benefit the partner pays."""
        return round_half_up(self.benefit_value_fen * self.partner_share_bp, BP)


class Prize(_Params):
    """One prize of a lottery: its odds per draw, what it costs, how many there are."""

    code: Code
    name: Text
    odds_ppm: Annotated[int, Field(ge=1, le=PPM, strict=True)]
    unit_cost_fen: Fen
    stock: Stock


class Lottery(_Tool):
    """A lottery 抽奖: each taker draws once; prizes in table order, the rest is no prize.

    Odds add up to at most 1 000 000 ppm; what they leave is the no-prize
    outcome. Prizes won cost their unit cost from ``budget_fen`` and one from
    their stock; a prize whose stock or the budget is exhausted falls to no
    prize (``domain.draw_outcome``).
    """

    tool: Literal["lottery"] = "lottery"
    prizes: list[Prize] = Field(min_length=1, max_length=20)
    budget_fen: BudgetFen

    @model_validator(mode="after")
    def _table(self) -> Lottery:
        codes = [p.code for p in self.prizes]
        if len(set(codes)) != len(codes):
            raise ValueError("prize codes must be unique")
        if NO_PRIZE in codes:
            raise ValueError(f"{NO_PRIZE!r} is the no-prize outcome, not a prize code")
        if sum(p.odds_ppm for p in self.prizes) > PPM:
            raise ValueError(f"odds_ppm of all prizes add up to more than {PPM}")
        return self

    def no_prize_ppm(self) -> int:
        return PPM - sum(p.odds_ppm for p in self.prizes)

    def expected_cost_fen(self) -> int:
        return round_half_up(sum(p.odds_ppm * p.unit_cost_fen for p in self.prizes), PPM)


class Bundle(_Tool):
    """A bundle 配销: taking ``components`` together earns a monthly discount for ``months``."""

    tool: Literal["bundle"] = "bundle"
    components: list[Code] = Field(min_length=2, max_length=10)
    discount_fen_per_month: PositiveFen
    months: Months

    @model_validator(mode="after")
    def _distinct(self) -> Bundle:
        if len(set(self.components)) != len(self.components):
            raise ValueError("components must be different products")
        return self

    def expected_cost_fen(self) -> int:
        return self.discount_fen_per_month * self.months


class Referral(_Tool):
    """Referral / distribution 分销: the new taker (referee) and whoever referred them are rewarded.

    A referrer is rewarded for at most ``cap_per_referrer`` referees. The
    expected cost per taker counts both rewards: the cap bounds what one
    referrer can earn, not the cost of a taker whose referrer is under it.
    """

    tool: Literal["referral"] = "referral"
    referrer_reward_fen: Fen
    referee_reward_fen: Fen
    cap_per_referrer: Annotated[int, Field(ge=1, le=1000, strict=True)]

    def expected_cost_fen(self) -> int:
        return self.referrer_reward_fen + self.referee_reward_fen

    def max_referrer_earning_fen(self) -> int:
        return self.referrer_reward_fen * self.cap_per_referrer


Tool = Annotated[
    Annotated[Gift, Tag("gift")]
    | Annotated[Points, Tag("points")]
    | Annotated[Subsidy, Tag("subsidy")]
    | Annotated[RedPacket, Tag("red_packet")]
    | Annotated[Membership, Tag("membership")]
    | Annotated[Leverage, Tag("leverage")]
    | Annotated[Lottery, Tag("lottery")]
    | Annotated[Bundle, Tag("bundle")]
    | Annotated[Referral, Tag("referral")],
    Discriminator("tool"),
]
AnyTool = Gift | Points | Subsidy | RedPacket | Membership | Leverage | Lottery | Bundle | Referral


def tool_json(tool: AnyTool) -> dict[str, Any]:
    """The stored JSON form of a validated tool (defaults written out)."""
    return tool.model_dump(mode="json")
