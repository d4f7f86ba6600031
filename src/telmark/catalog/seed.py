"""The demo catalog: kind terms the generated province's ``products`` table does not carry.

The synthetic province (``telmark.warehouse.generator.catalog``) gives every
product its code, name, kind, family, fee and allowances, but not what a
converged bundle is made of, what a handset contract's device and subsidy
are, or broadband speeds and IPTV channel counts as catalog terms. This
module is the demo's answer, consistent with the generated fees: each
bundle's component fee shares add up to its generated monthly fee, and each
handset contract's minimum spend is its generated monthly commitment. It is
demo data, used by ``telmark demo`` only; a real operator's catalog comes from
their own product book (``telmark catalog create|version``).
"""

from __future__ import annotations

from datetime import date

from ibis.backends import BaseBackend

from telmark.catalog import service
from telmark.catalog.domain import Component, HandsetTerms, Terms
from telmark.catalog.schemas import SyncReport, VersionCreate
from telmark.uow import UnitOfWork

_C = Component


def _bundle(fee_yuan: int, speed: int, channels: int | None, *parts: Component) -> Terms:
    return Terms(
        monthly_fee_fen=fee_yuan * 100,
        speed_mbps=speed,
        iptv_channels=channels,
        iptv_package=None if channels is None else "融合IPTV",
        components=parts,
    )


def _handset(fee_yuan: int, model: str, price: int, subsidy: int, months: int) -> Terms:
    return Terms(
        monthly_fee_fen=fee_yuan * 100,
        handset=HandsetTerms(
            device_model=model,
            device_price_fen=price * 100,
            subsidy_fen=subsidy * 100,
            lock_in_months=months,
            min_monthly_spend_fen=fee_yuan * 100,
        ),
    )


# Only the kind terms are taken from here; fee and allowances come from the warehouse row.
DEMO_TERMS: dict[str, Terms] = {
    "BB100": Terms(monthly_fee_fen=4_000, speed_mbps=100),
    "BB300": Terms(monthly_fee_fen=6_000, speed_mbps=300),
    "BB1000": Terms(monthly_fee_fen=10_000, speed_mbps=1000),
    "TV015": Terms(monthly_fee_fen=1_500, iptv_channels=120, iptv_package="高清基础包"),
    "TV025": Terms(monthly_fee_fen=2_500, iptv_channels=200, iptv_package="4K超清影视包"),
    "BD089": _bundle(89, 100, None, _C("PL4G058", 1, 5_900), _C("BB100", 1, 3_000)),
    "BD129": _bundle(129, 300, None, _C("PL5G079", 1, 8_900), _C("BB300", 1, 4_000)),
    "BD169": _bundle(
        169,
        500,
        120,
        _C("PL5G099", 1, 9_900),
        _C("BB300", 1, 3_900),
        _C("TV015", 1, 1_500),
        _C("FM010", 1, 1_600),
    ),  # fmt: skip
    "BD199": _bundle(
        199,
        1000,
        200,
        _C("PL5G129", 1, 11_900),
        _C("BB1000", 1, 4_500),
        _C("TV025", 1, 1_500),
        _C("FM020", 1, 2_000),
    ),  # fmt: skip
    "BD239": _bundle(
        239,
        1000,
        200,
        _C("PL5G169", 1, 14_400),
        _C("BB1000", 1, 4_500),
        _C("TV025", 1, 1_500),
        _C("FM020", 2, 3_500),
    ),  # fmt: skip
    "HC12": _handset(58, "华为畅享70", 1_299, 300, 12),
    "HC24": _handset(99, "荣耀X60 5G", 1_599, 600, 24),
    "HC24F": _handset(169, "华为Mate 60", 5_999, 1_500, 24),
}

# A scheduled price cut, so the demo shows a version history and a price timeline.
PRICE_CHANGE_CODE = "PL5G039"
PRICE_CHANGE = VersionCreate(
    monthly_fee_fen=3_500,
    data_mb=30 * 1024,
    voice_min=100,
    is_5g=True,
    note="5G入门套餐降价促销:35元30GB",
)


def _first_of_next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def seed_demo_catalog(*, uow: UnitOfWork, con: BaseBackend) -> SyncReport:
    """Sync the generated products with ``DEMO_TERMS``; schedule one price cut (once)."""
    report = service.sync_from_warehouse(uow=uow, con=con, terms=DEMO_TERMS)
    if PRICE_CHANGE_CODE in report.created:
        today = service.province_today()
        change = PRICE_CHANGE.model_copy(update={"valid_from": _first_of_next_month(today)})
        service.add_version(uow=uow, code=PRICE_CHANGE_CODE, spec=change, today=today)
    return report
