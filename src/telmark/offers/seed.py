"""The demo offer book: at least one realistic offer per marketing tool (营销九剑).

Product codes are those of the generated province's catalog
(``telmark.warehouse.generator.catalog``), all on sale. Amounts are in fen and
plausible for a provincial operator: a 20-yuan gift, a 50-yuan red packet, a
600-yuan handset subsidy clawed back pro rata over 24 months. Offers that
exclude others come after them, because an exclusion must name an existing
offer. Used by ``service.seed_examples`` (the demo), never by production.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from telmark.offers.schemas import OfferCreate, parse_offer


def _window(today: date) -> dict[str, Any]:
    # On sale for a month already, so the demo's cases that started in the past could take
    # them on their first day (telmark.execution.seed targets its case then).
    start, end = today - timedelta(days=30), today + timedelta(days=180)
    return {"valid_from": start.isoformat(), "valid_to": end.isoformat()}


def _documents(today: date) -> list[dict[str, Any]]:
    w = _window(today)
    return [
        {
            "code": "OF-GIFT-5G079",
            "name": "升级5G畅享79元送蓝牙耳机",
            "description": "4G中高端客户升级5G畅享79元,到厅办理赠蓝牙耳机一副。",
            "action": "upgrade",
            "product_codes": ["PL5G079"],
            **w,
            "eligibility": {
                "version": 1,
                "root": {
                    "all": [
                        {"kind": "field", "field": "payment_type", "op": "=", "value": "postpaid"},
                        {
                            "kind": "usage",
                            "measure": "arpu_fen",
                            "agg": "avg",
                            "months": 3,
                            "op": ">=",
                            "value": 5000,
                        },
                    ]
                },
            },
            "tools": [
                {"tool": "gift", "item": "蓝牙耳机", "unit_cost_fen": 2_000, "stock": 500},
            ],
            "economics": {
                "incremental_monthly_revenue_fen": 2_100,
                "channel_cost_share_bp": 800,
                "co_funding_bp": 0,
            },
        },
        {
            "code": "OF-POINTS-ADDON",
            "name": "订流量包积分翻倍",
            "description": "订购30元5GB流量加油包,6个月消费积分翻倍。",
            "action": "cross_sell",
            "product_codes": ["AD030"],
            **w,
            "tools": [
                {
                    "tool": "points",
                    "multiplier_bp": 20_000,
                    "base_points_per_month": 80,
                    "months": 6,
                    "fen_per_100_points": 100,
                }
            ],
            "economics": {"incremental_monthly_revenue_fen": 3_000, "channel_cost_share_bp": 500},
        },
        {
            "code": "OF-SUBSIDY-HC24",
            "name": "合约购机直降600元",
            "description": (
                "办理荣耀X60 5G合约机(月消费99元,在网24个月)直降600元,"
                "提前离网按未履约月份比例退还。"
            ),
            "action": "new",
            "product_codes": ["HC24"],
            **w,
            "tools": [
                {
                    "tool": "subsidy",
                    "amount_fen": 60_000,
                    "clawback": {"months": 24, "pro_rata": True},
                }
            ],
            "economics": {
                "incremental_monthly_revenue_fen": 9_900,
                "channel_cost_share_bp": 1_000,
                "co_funding_bp": 3_000,
            },
        },
        {
            "code": "OF-REDPACKET-BB",
            "name": "宽带续约领50元话费红包",
            "description": "宽带到期客户续约300M宽带,领取50元话费红包,30天内有效。",
            "action": "retention_discount",
            "product_codes": ["BB300"],
            **w,
            "tools": [
                {
                    "tool": "red_packet",
                    "amount_fen": 5_000,
                    "validity_days": 30,
                    "total_budget_fen": 5_000_000,
                    "expected_use_bp": 8_500,
                }
            ],
            "economics": {"incremental_monthly_revenue_fen": 6_000, "channel_cost_share_bp": 300},
        },
        {
            "code": "OF-MEMBER-GOLD",
            "name": "融合套餐赠金卡会员3个月",
            "description": "办理融合129元套餐,赠送金卡会员3个月(专属客服、生日礼包、购物券)。",
            "action": "upgrade",
            "product_codes": ["BD129"],
            **w,
            "tools": [
                {
                    "tool": "membership",
                    "tier": "gold",
                    "months": 3,
                    "monthly_benefit_cost_fen": 800,
                }
            ],
            "economics": {"incremental_monthly_revenue_fen": 4_000, "channel_cost_share_bp": 600},
        },
        {
            "code": "OF-LEVERAGE-VIDEO",
            "name": "视频会员流量包联名权益",
            "description": "与视频平台联合推出:订视频会员流量包送3个月视频月卡,平台承担六成。",
            "action": "cross_sell",
            "product_codes": ["AD025V"],
            **w,
            "tools": [
                {
                    "tool": "leverage",
                    "partner": "某视频平台",
                    "benefit": "视频VIP月卡×3",
                    "benefit_value_fen": 4_500,
                    "partner_share_bp": 6_000,
                }
            ],
            "economics": {"incremental_monthly_revenue_fen": 2_500, "channel_cost_share_bp": 500},
        },
        {
            "code": "OF-LOTTERY-5G",
            "name": "5G升级幸运抽奖",
            "description": "升级5G畅享99元即可抽奖一次:手机、流量包、话费券,奖品有限,先到先得。",
            "action": "upgrade",
            "product_codes": ["PL5G099"],
            **w,
            "tools": [
                {
                    "tool": "lottery",
                    "budget_fen": 2_000_000,
                    "prizes": [
                        {
                            "code": "phone",
                            "name": "5G手机一台",
                            "odds_ppm": 200,
                            "unit_cost_fen": 159_900,
                            "stock": 5,
                        },
                        {
                            "code": "data10g",
                            "name": "10GB流量包",
                            "odds_ppm": 100_000,
                            "unit_cost_fen": 1_000,
                            "stock": 1_000,
                        },
                        {
                            "code": "coupon5",
                            "name": "5元话费券",
                            "odds_ppm": 300_000,
                            "unit_cost_fen": 500,
                            "stock": 3_000,
                        },
                    ],
                }
            ],
            "economics": {"incremental_monthly_revenue_fen": 2_000, "channel_cost_share_bp": 800},
        },
        {
            "code": "OF-BUNDLE-HOME",
            "name": "手机+宽带+IPTV融合立减",
            "description": "5G畅享99元、300M宽带与高清IPTV同时办理,每月立减20元,连续12个月。",
            "action": "cross_sell",
            "product_codes": ["BD169"],
            **w,
            "excludes": ["OF-MEMBER-GOLD"],
            "tools": [
                {
                    "tool": "bundle",
                    "components": ["PL5G099", "BB300", "TV015"],
                    "discount_fen_per_month": 2_000,
                    "months": 12,
                }
            ],
            "economics": {"incremental_monthly_revenue_fen": 5_400, "channel_cost_share_bp": 700},
        },
        {
            "code": "OF-REFERRAL-FAMILY",
            "name": "老带新亲情副卡双方有礼",
            "description": (
                "老客户推荐亲友办理亲情副卡,推荐人得20元、新客户得10元话费,每人最多奖励5次。"
            ),
            "action": "new",
            "product_codes": ["FM020"],
            **w,
            "tools": [
                {
                    "tool": "referral",
                    "referrer_reward_fen": 2_000,
                    "referee_reward_fen": 1_000,
                    "cap_per_referrer": 5,
                }
            ],
            "economics": {"incremental_monthly_revenue_fen": 2_000, "channel_cost_share_bp": 0},
        },
    ]


def examples(today: date) -> list[OfferCreate]:
    """The demo offers, valid from ``today`` for 180 days, validated."""
    return [parse_offer(d, source=d["code"]) for d in _documents(today)]
