"""API/CLI shapes of market inputs. Money in integer fen, shares in basis points."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from telmark.analysis.schemas import MonthKpis
from telmark.market.domain import FULL_SHARE_BP, MAX_FEE_FEN, Competitor


class OfferCreate(BaseModel):
    org_code: str | None = Field(
        default=None,
        description="City code (C01); empty for a province-wide offer.",
        examples=["C01"],
    )
    competitor: Competitor
    name: str = Field(min_length=1, max_length=120, examples=["畅爽冰激凌129元"])
    monthly_fee_fen: int = Field(ge=0, le=MAX_FEE_FEN, examples=[12_900])
    data_mb: int = Field(default=0, ge=0, description="Included data per month (MB).")
    voice_min: int = Field(default=0, ge=0, description="Included voice minutes per month.")
    is_5g: bool = False
    launched_on: date
    withdrawn_on: date | None = None
    notes: str = Field(default="", max_length=1000)
    source: str = Field(default="", max_length=400, description="Where the figures come from.")


class OfferRead(OfferCreate):
    id: int
    org_code: str = Field(description="City code, or the province's code for province-wide.")
    province_wide: bool
    created_at: datetime
    created_by: str


class ShareCreate(BaseModel):
    org_code: str = Field(description="City code.", examples=["C01"])
    month: date = Field(description="Any day of the month; stored as its first day.")
    competitor: Competitor
    share_bp: int | None = Field(
        default=None, ge=0, le=FULL_SHARE_BP, description="Share in basis points (2750 = 27.5%)."
    )
    subscribers: int | None = Field(
        default=None, ge=0, description="Estimated subscribers (instead of share_bp)."
    )
    notes: str = Field(default="", max_length=1000)
    source: str = Field(default="", max_length=400)


class ShareRead(ShareCreate):
    id: int
    created_at: datetime
    created_by: str


class ImportReport(BaseModel):
    file_name: str
    encoding: str
    rows: int
    added: int


class OwnPlanRead(BaseModel):
    product_id: str
    name: str
    family: str
    monthly_fee_fen: int
    data_mb: int
    voice_min: int
    is_5g: bool


class OfferBeside(BaseModel):
    """A competitor offer on sale, beside our plan nearest to it in price (same 5G kind)."""

    offer: OfferRead
    comparable: OwnPlanRead | None
    fee_difference_fen: int | None = Field(
        description="Offer fee minus our plan's fee (negative: the competitor is cheaper)."
    )


class SharePoint(BaseModel):
    month: date
    share_bp: int | None
    subscribers: int | None = Field(description="The entered estimate, if entered as one.")


class ShareSeries(BaseModel):
    competitor: str = Field(description="A competitor, or 'own' for our own share.")
    points: list[SharePoint]


class MarketView(BaseModel):
    """What the market page shows for one city: share trend, offers beside plans, own KPIs."""

    city_code: str
    city_name: str
    city_name_en: str | None
    months: list[date]
    shares: list[ShareSeries] = Field(
        description="Per competitor; 'own' only for months entered as subscriber estimates."
    )
    market_size: dict[date, int] = Field(
        description="Own + estimated subscribers, for months entered as estimates."
    )
    offers: list[OfferBeside] = Field(description="Offers on sale on as_of, cheapest first.")
    own_plans: list[OwnPlanRead] = Field(description="Our plans on sale, cheapest first.")
    own_kpis: list[MonthKpis] = Field(description="The city's KPIs per month (overview).")
    as_of: date
    warehouse_problem: str | None = Field(
        description="Why own plans and KPIs are missing (empty warehouse), if they are."
    )
