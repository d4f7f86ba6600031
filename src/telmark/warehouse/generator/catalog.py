"""The product catalog: 5G/4G plans, prepaid cards, converged bundles, packs, contracts.

Fees are integer fen. Launch and retire dates are placed relative to the
window so that every product a subscriber holds was on sale when they got it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from telmark.warehouse.generator import arrays as ar
from telmark.warehouse.generator.arrays import BoolArray, IntArray


@dataclass(frozen=True, slots=True)
class _Product:
    product_id: str
    name: str
    kind: str
    family: str
    payment_type: str
    fee_yuan: int
    data_gb: float
    voice_min: int
    is_5g: bool
    launched_years_ago: float  # before the window's first day
    retired_days_ago: int | None = None
    broadband_mbps: int = 0
    includes_iptv: bool = False
    contract_months: int = 0


_P = _Product
PRODUCTS: tuple[_Product, ...] = (
    # Postpaid 5G ladder.
    *(
        _P(
            f"PL5G{fee:03d}",
            f"5G畅享套餐{fee}元",
            "plan",
            "5g_plan",
            "postpaid",
            fee,
            gb,
            mins,
            True,
            years,
        )
        for fee, gb, mins, years in (
            (39, 20, 100, 0.8),
            (59, 30, 200, 4.0),
            (79, 40, 300, 4.0),
            (99, 60, 500, 4.0),
            (129, 80, 700, 4.0),
            (169, 100, 1000, 3.5),
            (239, 150, 1500, 3.5),
            (299, 200, 2000, 3.0),
        )
    ),
    # Postpaid 4G ladder, plus a retired legacy unlimited plan still held by old customers.
    *(
        _P(
            f"PL4G{fee:03d}",
            f"4G飞享套餐{fee}元",
            "plan",
            "4g_plan",
            "postpaid",
            fee,
            gb,
            mins,
            False,
            years,
        )
        for fee, gb, mins, years in (
            (18, 2, 100, 8.0),
            (28, 5, 100, 8.0),
            (38, 10, 200, 7.0),
            (58, 20, 300, 7.0),
            (88, 30, 500, 6.0),
        )
    ),
    _P(
        "PL4G138L",
        "4G任我用138元(已下架)",
        "plan",
        "4g_plan",
        "postpaid",
        138,
        40,
        1000,
        False,
        9.0,
        retired_days_ago=400,
    ),
    # Prepaid cards.
    _P("PP4G008", "畅聊卡8元", "plan", "4g_plan", "prepaid", 8, 1, 50, False, 9.0),
    _P("PP4G019", "流量王卡19元", "plan", "4g_plan", "prepaid", 19, 10, 100, False, 6.0),
    _P("PP4G029", "大流量卡29元", "plan", "4g_plan", "prepaid", 29, 30, 100, False, 5.0),
    _P("PP5G039", "5G新卡39元", "plan", "5g_plan", "prepaid", 39, 30, 200, True, 3.0),
    _P("PP5G059", "5G畅游卡59元", "plan", "5g_plan", "prepaid", 59, 60, 300, True, 3.0),
    # Converged bundles: mobile + broadband (+ IPTV), held by a household's primary line.
    _P(
        "BD089",
        "宽带融合套餐89元",
        "bundle",
        "converged",
        "postpaid",
        89,
        20,
        200,
        False,
        6.0,
        broadband_mbps=100,
    ),
    _P(
        "BD129",
        "全家享融合套餐129元",
        "bundle",
        "converged",
        "postpaid",
        129,
        40,
        500,
        True,
        4.0,
        broadband_mbps=300,
    ),
    _P(
        "BD169",
        "全家享融合套餐169元",
        "bundle",
        "converged",
        "postpaid",
        169,
        60,
        800,
        True,
        4.0,
        broadband_mbps=500,
        includes_iptv=True,
    ),
    _P(
        "BD199",
        "全家享融合套餐199元",
        "bundle",
        "converged",
        "postpaid",
        199,
        100,
        1000,
        True,
        3.0,
        broadband_mbps=1000,
        includes_iptv=True,
    ),
    _P(
        "BD239",
        "全家享融合套餐239元",
        "bundle",
        "converged",
        "postpaid",
        239,
        150,
        1500,
        True,
        2.0,
        broadband_mbps=1000,
        includes_iptv=True,
    ),
    # Secondary cards of a household.
    _P("FM010", "融合副卡10元", "plan", "family", "postpaid", 10, 0, 100, False, 6.0),
    _P("FM020", "亲情副卡20元", "plan", "family", "postpaid", 20, 5, 200, False, 6.0),
    # Enterprise member lines.
    _P("EN038", "集团V网套餐38元", "plan", "enterprise", "postpaid", 38, 10, 500, False, 8.0),
    _P("EN099", "集团5G商务套餐99元", "plan", "enterprise", "postpaid", 99, 40, 1000, True, 4.0),
    _P("EN159", "集团5G商务套餐159元", "plan", "enterprise", "postpaid", 159, 80, 2000, True, 4.0),
    # Add-on packs: one-off data top-ups, recurring packs, voice.
    _P("AD010", "流量加油包10元1GB", "addon", "data_pack", "any", 10, 1, 0, False, 7.0),
    _P("AD030", "流量加油包30元5GB", "addon", "data_pack", "any", 30, 5, 0, False, 7.0),
    _P("AD050", "流量加油包50元15GB", "addon", "data_pack", "any", 50, 15, 0, False, 5.0),
    _P("AD025V", "视频会员流量包25元", "addon", "data_pack", "any", 25, 30, 0, False, 4.0),
    _P("AD020G", "5G加速包20元", "addon", "data_pack", "postpaid", 20, 10, 0, True, 3.0),
    _P("AV010", "语音包10元100分钟", "addon", "voice_pack", "any", 10, 0, 100, False, 8.0),
    _P("AV030", "语音包30元500分钟", "addon", "voice_pack", "any", 30, 0, 500, False, 8.0),
    # Standalone home services.
    _P(
        "BB100",
        "家庭宽带100M",
        "broadband",
        "broadband",
        "any",
        40,
        0,
        0,
        False,
        8.0,
        broadband_mbps=100,
    ),
    _P(
        "BB300",
        "家庭宽带300M",
        "broadband",
        "broadband",
        "any",
        60,
        0,
        0,
        False,
        6.0,
        broadband_mbps=300,
    ),
    _P(
        "BB1000",
        "家庭千兆宽带1000M",
        "broadband",
        "broadband",
        "any",
        100,
        0,
        0,
        False,
        4.0,
        broadband_mbps=1000,
    ),
    _P("TV015", "IPTV高清15元", "iptv", "iptv", "any", 15, 0, 0, False, 8.0),
    _P("TV025", "IPTV 4K超清25元", "iptv", "iptv", "any", 25, 0, 0, False, 5.0),
    # Handset contracts: a handset for a committed monthly spend.
    _P(
        "HC12",
        "合约购机12个月(月承诺58元)",
        "handset_contract",
        "handset",
        "postpaid",
        58,
        0,
        0,
        False,
        8.0,
        contract_months=12,
    ),
    _P(
        "HC24",
        "5G合约购机24个月(月承诺99元)",
        "handset_contract",
        "handset",
        "postpaid",
        99,
        0,
        0,
        True,
        4.0,
        contract_months=24,
    ),
    _P(
        "HC24F",
        "5G旗舰机合约24个月(月承诺169元)",
        "handset_contract",
        "handset",
        "postpaid",
        169,
        0,
        0,
        True,
        4.0,
        contract_months=24,
    ),
)

OVERAGE_FEN_PER_GB = 500  # 5 yuan per GB beyond the allowance
OVERAGE_DATA_CAP_FEN = 6_000  # then throttled, no more charges that month
OVERAGE_FEN_PER_MIN = 15


def _index(ids: list[str], *wanted: str) -> IntArray:
    return np.array([ids.index(w) for w in wanted], dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Catalog:
    table: dict[str, pa.Array]
    ids: pa.Array
    fee: IntArray  # monthly fee, fen
    data_mb: IntArray
    voice_min: IntArray
    is_5g: BoolArray
    launch: IntArray  # day numbers
    retire: IntArray  # day number, or -1 while on sale
    broadband_mbps: IntArray
    includes_iptv: BoolArray
    contract_months: IntArray
    post_5g: IntArray  # product indices of each ladder, ascending fee
    post_4g: IntArray
    pre_4g: IntArray
    pre_5g: IntArray
    legacy: IntArray
    bundles: IntArray
    secondary: IntArray
    enterprise: IntArray
    top_up_packs: IntArray  # one-off data packs bought when over the allowance
    recurring_packs: IntArray
    broadband: IntArray
    iptv: IntArray
    handset_contracts: IntArray
    # For the misfit driver: the cheapest on-sale plan covering a data volume.
    fit_post_mb: IntArray
    fit_post_fee: IntArray
    fit_pre_mb: IntArray
    fit_pre_fee: IntArray


def _fit_ladder(data_mb: IntArray, fee: IntArray, members: IntArray) -> tuple[IntArray, IntArray]:
    order = members[np.argsort(data_mb[members], kind="stable")]
    allowance = data_mb[order]
    cheapest_from_here = np.minimum.accumulate(fee[order][::-1])[::-1]
    return allowance, cheapest_from_here


def build_catalog(*, first_day: int) -> Catalog:
    """The catalog for a window starting on day number ``first_day``."""
    ids = [p.product_id for p in PRODUCTS]
    fee = np.array([p.fee_yuan * 100 for p in PRODUCTS], dtype=np.int64)
    data_mb = np.array([round(p.data_gb * 1024) for p in PRODUCTS], dtype=np.int64)
    voice = np.array([p.voice_min for p in PRODUCTS], dtype=np.int64)
    is_5g = np.array([p.is_5g for p in PRODUCTS], dtype=np.bool_)
    launch = np.array(
        [first_day - round(p.launched_years_ago * 365.25) for p in PRODUCTS], dtype=np.int64
    )
    retire = np.array(
        [-1 if p.retired_days_ago is None else first_day - p.retired_days_ago for p in PRODUCTS],
        dtype=np.int64,
    )
    table = {
        "product_id": ar.vocabulary(ids),
        "name": ar.vocabulary([p.name for p in PRODUCTS]),
        "kind": ar.vocabulary([p.kind for p in PRODUCTS]),
        "family": ar.vocabulary([p.family for p in PRODUCTS]),
        "payment_type": ar.vocabulary([p.payment_type for p in PRODUCTS]),
        "monthly_fee_fen": ar.ints(fee),
        "data_mb": ar.ints(data_mb),
        "voice_min": ar.ints(voice),
        "is_5g": ar.bools(is_5g),
        "launch_date": ar.dates(launch),
        "retire_date": ar.dates(np.maximum(retire, 0), valid=retire >= 0),
    }

    def family(name: str, payment: str, *, on_sale: bool = True) -> IntArray:
        return np.array(
            [
                i
                for i, p in enumerate(PRODUCTS)
                if p.family == name
                and p.payment_type == payment
                and p.kind in ("plan", "bundle")
                and (p.retired_days_ago is None) == on_sale
            ],
            dtype=np.int64,
        )

    post_5g, post_4g = family("5g_plan", "postpaid"), family("4g_plan", "postpaid")
    pre_4g, pre_5g = family("4g_plan", "prepaid"), family("5g_plan", "prepaid")
    fit_post = _fit_ladder(data_mb, fee, np.concatenate([post_5g, post_4g]))
    fit_pre = _fit_ladder(data_mb, fee, np.concatenate([pre_4g, pre_5g]))
    return Catalog(
        table=table,
        ids=table["product_id"],
        fee=fee,
        data_mb=data_mb,
        voice_min=voice,
        is_5g=is_5g,
        launch=launch,
        retire=retire,
        broadband_mbps=np.array([p.broadband_mbps for p in PRODUCTS], dtype=np.int64),
        includes_iptv=np.array([p.includes_iptv for p in PRODUCTS], dtype=np.bool_),
        contract_months=np.array([p.contract_months for p in PRODUCTS], dtype=np.int64),
        post_5g=post_5g,
        post_4g=post_4g,
        pre_4g=pre_4g,
        pre_5g=pre_5g,
        legacy=family("4g_plan", "postpaid", on_sale=False),
        bundles=family("converged", "postpaid"),
        secondary=family("family", "postpaid"),
        enterprise=family("enterprise", "postpaid"),
        top_up_packs=_index(ids, "AD010", "AD030", "AD050"),
        recurring_packs=_index(ids, "AD025V", "AD020G", "AV010", "AV030"),
        broadband=_index(ids, "BB100", "BB300", "BB1000"),
        iptv=_index(ids, "TV015", "TV025"),
        handset_contracts=_index(ids, "HC12", "HC24", "HC24F"),
        fit_post_mb=fit_post[0],
        fit_post_fee=fit_post[1],
        fit_pre_mb=fit_pre[0],
        fit_pre_fee=fit_pre[1],
    )


def nearest_in_ladder(ladder: IntArray, fee: IntArray, target_fen: np.ndarray) -> IntArray:
    """Per row, the ladder product whose fee is nearest the target in log terms."""
    log_fees = np.log(fee[ladder].astype(np.float64))
    mids = (log_fees[1:] + log_fees[:-1]) / 2
    position = np.searchsorted(mids, np.log(np.maximum(target_fen, 1.0)))
    result: IntArray = ladder[position]
    return result


def fitting_fee(allowance: IntArray, cheapest: IntArray, used_mb: np.ndarray) -> np.ndarray:
    """Fee (fen) of the cheapest plan covering ``used_mb``, plus overage past the biggest."""
    position = np.searchsorted(allowance, used_mb)
    inside = position < len(allowance)
    base = cheapest[np.minimum(position, len(allowance) - 1)].astype(np.float64)
    beyond = np.maximum(used_mb - allowance[-1], 0) / 1024 * OVERAGE_FEN_PER_GB
    return np.where(inside, base, base + np.minimum(beyond, OVERAGE_DATA_CAP_FEN))
