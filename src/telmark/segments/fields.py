"""The field catalogue of the rule language: what a condition may test, with labels.

Types and allowed values come from the data contract where the column is a
contract column, so a new allowed value there is a new allowed value here.
Personal columns (name, MSISDN, ID number) are not offered: a segment
describes behaviour and attributes, never a named person.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from telmark.analysis.churn.domain import RiskBand
from telmark.analysis.value.rfm import ValueTier
from telmark.warehouse.contract import (
    CONTACT_HISTORY,
    ENTERPRISE_ACCOUNTS,
    PRODUCT_FAMILIES,
    PRODUCT_KINDS,
    SUBSCRIBERS,
    ColType,
)


class Op(StrEnum):
    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    IN = "in"
    NOT_IN = "not_in"
    BETWEEN = "between"
    IS_NULL = "is_null"
    NOT_NULL = "not_null"


COMPARISONS: frozenset[Op] = frozenset({Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE})
ORDERED_OPS: frozenset[Op] = COMPARISONS | {Op.IN, Op.NOT_IN, Op.BETWEEN}
EQUALITY_OPS: frozenset[Op] = frozenset({Op.EQ, Op.NE, Op.IN, Op.NOT_IN})
NULL_OPS: frozenset[Op] = frozenset({Op.IS_NULL, Op.NOT_NULL})
# Operators of a numeric measure (aggregates, trends, counts): no lists, no nulls.
NUMERIC_OPS: frozenset[Op] = COMPARISONS | {Op.BETWEEN}


@dataclass(frozen=True, slots=True)
class Field:
    """One testable column: its table, type, operators, allowed values and labels."""

    name: str
    table: str
    type: ColType
    label_zh: str
    label_en: str
    ops: frozenset[Op]
    allowed: tuple[str, ...] | None = None
    nullable: bool = False


def _ops(col_type: ColType, *, nullable: bool) -> frozenset[Op]:
    base = EQUALITY_OPS if col_type in (ColType.STRING, ColType.BOOL) else ORDERED_OPS
    if col_type is ColType.BOOL:
        base = frozenset({Op.EQ, Op.NE})
    return base | NULL_OPS if nullable else base


def _contract_field(name: str, label_zh: str, label_en: str) -> Field:
    column = SUBSCRIBERS.column(name)
    return Field(
        name=name,
        table=SUBSCRIBERS.name,
        type=column.type,
        label_zh=label_zh,
        label_en=label_en,
        ops=_ops(column.type, nullable=not column.required),
        allowed=column.allowed,
        nullable=not column.required,
    )


# Subscriber attributes a ``field`` condition may compare.
SUBSCRIBER_FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        _contract_field("gender", "性别", "Gender"),
        _contract_field("birth_year", "出生年份", "Year of birth"),
        _contract_field("payment_type", "付费类型", "Payment type"),
        _contract_field("plan_id", "主套餐", "Main plan"),
        _contract_field("join_date", "入网日期", "Join date"),
        _contract_field("contract_end", "合约到期日", "Contract end"),
        _contract_field("handset_brand", "终端品牌", "Handset brand"),
        _contract_field("handset_5g", "5G终端", "5G handset"),
        _contract_field("handset_date", "终端启用日期", "Handset first seen"),
        _contract_field("household_id", "家庭编号", "Household"),
        _contract_field("account_id", "集团客户编号", "Enterprise account"),
        _contract_field("org_id", "归属营业厅", "Home outlet"),
        _contract_field("grid_id", "归属网格", "Home grid"),
        _contract_field("status", "用户状态", "Line status"),
        _contract_field("status_date", "状态变更日期", "Status date"),
        _contract_field("port_out_date", "携出日期", "Port-out date"),
    )
}

# Monthly usage measures of ``usage_monthly`` that windowed aggregates and trends use.
USAGE_MEASURES: dict[str, tuple[str, str]] = {
    "arpu_fen": ("月均收入ARPU（分）", "ARPU (fen)"),
    "data_mb": ("流量DOU（MB）", "Data used, DOU (MB)"),
    "voice_min": ("通话MOU（分钟）", "Voice minutes, MOU"),
    "sms_count": ("短信条数", "SMS sent"),
    "dropped_calls": ("掉话次数", "Dropped calls"),
    "roaming_fen": ("漫游费（分）", "Roaming charges (fen)"),
    "overage_fen": ("超套费（分）", "Overage charges (fen)"),
}
AGGREGATES: dict[str, tuple[str, str]] = {
    "avg": ("平均", "average"),
    "sum": ("合计", "sum"),
    "min": ("最小", "minimum"),
    "max": ("最大", "maximum"),
}
RECHARGE_STATS: dict[str, tuple[str, str]] = {
    "count": ("充值次数", "Number of recharges"),
    "sum": ("充值金额（分）", "Amount recharged (fen)"),
}

VALUE_TABLE = "customer_value"
CHURN_TABLE = "churn_scores"
UPLIFT_TABLE = "uplift_scores"  # built by `telmark analysis uplift score --model N`

# Columns of the derived analysis tables (built by `telmark analysis value refresh`
# and `telmark analysis churn score`).
VALUE_FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field(
            "value_tier",
            VALUE_TABLE,
            ColType.STRING,
            "价值等级",
            "Value tier",
            _ops(ColType.STRING, nullable=False),
            allowed=tuple(t.value for t in ValueTier),
        ),
        Field("rfm_score", VALUE_TABLE, ColType.INT, "RFM得分", "RFM score", NUMERIC_OPS),
        Field("clv_fen", VALUE_TABLE, ColType.INT, "客户终身价值（分）", "CLV (fen)", NUMERIC_OPS),
        Field(
            "decayed_value_fen",
            VALUE_TABLE,
            ColType.INT,
            "衰减价值（分）",
            "Decayed value (fen)",
            NUMERIC_OPS,
        ),
    )
}
CHURN_FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field(
            "churn_probability",
            CHURN_TABLE,
            ColType.FLOAT,
            "离网概率",
            "Churn probability",
            NUMERIC_OPS,
        ),
        Field("risk_decile", CHURN_TABLE, ColType.INT, "风险十分位", "Risk decile", NUMERIC_OPS),
        Field(
            "risk_band",
            CHURN_TABLE,
            ColType.STRING,
            "风险等级",
            "Risk band",
            _ops(ColType.STRING, nullable=False),
            allowed=tuple(b.value for b in RiskBand),
        ),
    )
}

HOUSEHOLD_FEATURES: dict[str, tuple[str, str]] = {
    "member": ("属于家庭", "Belongs to a household"),
    "bundle": ("家庭有融合套餐", "Household holds a converged bundle"),
    "broadband": ("家庭有宽带", "Household has broadband"),
    "iptv": ("家庭有IPTV", "Household has IPTV"),
}
ENTERPRISE_TIERS: tuple[str, ...] = ENTERPRISE_ACCOUNTS.column("tier").allowed or ()
ENTERPRISE_INDUSTRIES: tuple[str, ...] = ENTERPRISE_ACCOUNTS.column("industry").allowed or ()
PRODUCT_KIND_VALUES: tuple[str, ...] = PRODUCT_KINDS
PRODUCT_FAMILY_VALUES: tuple[str, ...] = PRODUCT_FAMILIES

# Filters of a ``contacted`` condition: the contact_history channels and outcomes.
CONTACT_CHANNELS: dict[str, tuple[str, str]] = {
    "sms": ("短信", "SMS"),
    "email": ("电子邮件", "E-mail"),
    "app_push": ("APP推送", "App push"),
    "wechat": ("微信", "WeChat"),
    "outbound_call": ("外呼", "Outbound call"),
    "frontline_task": ("一线任务", "Front-line task"),
}
CONTACT_OUTCOMES: dict[str, tuple[str, str]] = {
    "sent": ("已发送", "Sent"),
    "delivered": ("已送达", "Delivered"),
    "failed": ("发送失败", "Failed"),
    "reached": ("已接触", "Reached"),
    "unreachable": ("未接通", "Unreachable"),
    "declined": ("拒绝", "Declined"),
    "responded": ("已响应", "Responded"),
    "opted_out": ("退订", "Opted out"),
}
# The catalogue must offer exactly the contract's values (a new channel needs a label).
assert tuple(CONTACT_CHANNELS) == CONTACT_HISTORY.column("channel").allowed
assert tuple(CONTACT_OUTCOMES) == CONTACT_HISTORY.column("outcome").allowed
# Labels of the condition kinds that are not a field comparison, for the builder.
CONDITION_KINDS: dict[str, tuple[str, str]] = {
    "contacted": ("近N天被接触", "Contacted in the last N days"),
    "segment": ("属于其他客群", "Member of another segment"),
    "uplift": ("预测增益前k%", "Top k% predicted uplift"),
}


def _field_entry(f: Field) -> dict[str, object]:
    return {
        "name": f.name,
        "table": f.table,
        "type": f.type.value,
        "ops": sorted(op.value for op in f.ops),
        "allowed": list(f.allowed) if f.allowed is not None else None,
        "label_zh": f.label_zh,
        "label_en": f.label_en,
    }


def _labelled(entries: dict[str, tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": k, "label_zh": zh, "label_en": en} for k, (zh, en) in entries.items()]


def describe() -> dict[str, object]:
    """The whole catalogue as JSON-ready data (for the console builder and the API)."""
    return {
        "subscriber_fields": [_field_entry(f) for f in SUBSCRIBER_FIELDS.values()],
        "value_fields": [_field_entry(f) for f in VALUE_FIELDS.values()],
        "churn_fields": [_field_entry(f) for f in CHURN_FIELDS.values()],
        "usage_measures": _labelled(USAGE_MEASURES),
        "aggregates": _labelled(AGGREGATES),
        "recharge_stats": _labelled(RECHARGE_STATS),
        "household_features": _labelled(HOUSEHOLD_FEATURES),
        "numeric_ops": sorted(op.value for op in NUMERIC_OPS),
        "enterprise_tiers": list(ENTERPRISE_TIERS),
        "enterprise_industries": list(ENTERPRISE_INDUSTRIES),
        "product_kinds": list(PRODUCT_KIND_VALUES),
        "product_families": list(PRODUCT_FAMILY_VALUES),
        "contact_channels": _labelled(CONTACT_CHANNELS),
        "contact_outcomes": _labelled(CONTACT_OUTCOMES),
        "condition_kinds": _labelled(CONDITION_KINDS),
    }
