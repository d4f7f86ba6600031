"""The data contract: every warehouse table, its columns, keys, references and ranges.

This module is the single source of truth for what a BOSS export (or the
synthetic generator) must deliver. The importer validates against it, the
generator writes exactly these columns, and ``docs/data-contract.md`` documents
it (a test checks the document lists every table and column defined here).

Money is integer fen (1 yuan = 100 fen); dates are calendar dates in the
province's local time; timestamps are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

# China keeps one time zone with no daylight saving: the local date of a UTC
# timestamp (a contact's day, say) is its date in this zone.
PROVINCE_TZ = ZoneInfo("Asia/Shanghai")


class ColType(StrEnum):
    STRING = "string"
    INT = "int64"
    FLOAT = "float64"
    BOOL = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: ColType
    description: str
    required: bool = True
    minimum: float | None = None
    maximum: float | None = None
    allowed: tuple[str, ...] | None = None
    pattern: str | None = None
    references: tuple[str, str] | None = None
    personal: bool = False  # personal data: masked unless the role may see it


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    partition_hint: str | None = None  # column big operators partition by (Spark)
    # An optional table may be missing from a province directory: the load then
    # leaves it as it is, or creates it empty (see the importer).
    optional: bool = False
    column_index: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_index", {c.name: c for c in self.columns})

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return self.column_index[name]

    @property
    def references(self) -> list[tuple[Column, str, str]]:
        return [(c, *c.references) for c in self.columns if c.references is not None]


ORG_KINDS = ("province", "city", "district", "outlet", "grid", "key_account_centre")
PAYMENT_TYPES = ("prepaid", "postpaid")
SUBSCRIBER_STATUSES = ("active", "suspended", "ported_out", "terminated")
SALES_CHANNELS = ("hall", "agent", "app", "wechat", "web", "telemarketing", "account_manager")
PRODUCT_KINDS = ("plan", "bundle", "addon", "broadband", "iptv", "handset_contract")
PRODUCT_FAMILIES = (
    "5g_plan",
    "4g_plan",
    "converged",
    "family",
    "enterprise",
    "data_pack",
    "voice_pack",
    "broadband",
    "iptv",
    "handset",
)
MSISDN_PATTERN = r"^1[3-9][0-9]{9}$"

_c = Column
_S, _I, _F, _B, _D, _T = (
    ColType.STRING,
    ColType.INT,
    ColType.FLOAT,
    ColType.BOOL,
    ColType.DATE,
    ColType.TIMESTAMP,
)

ORG_UNITS = TableSpec(
    name="org_units",
    description="Organisation tree: province → city → district → outlet/grid; key-account centres.",
    key=("org_id",),
    columns=(
        _c("org_id", _S, "Stable org unit code, e.g. C01D02O003."),
        _c(
            "parent_id",
            _S,
            "Parent org unit; empty only for the province.",
            required=False,
            references=("org_units", "org_id"),
        ),
        _c("kind", _S, "Level of the unit.", allowed=ORG_KINDS),
        _c("name", _S, "Chinese display name."),
        _c("name_en", _S, "English display name (pinyin).", required=False),
    ),
)

STAFF = TableSpec(
    name="staff",
    description="Employees in 3 levels (province/city/front line) × 10 grades.",
    key=("staff_id",),
    columns=(
        _c("staff_id", _S, "Employee number."),
        _c("name", _S, "Employee name.", personal=True),
        _c("org_id", _S, "Org unit the employee belongs to.", references=("org_units", "org_id")),
        _c("level", _I, "1 = province, 2 = city/district, 3 = front line.", minimum=1, maximum=3),
        _c("grade", _I, "Grade within the level.", minimum=1, maximum=10),
        _c(
            "position",
            _S,
            "Job position.",
            allowed=(
                "marketing_planner",
                "analyst",
                "approver",
                "city_marketing_manager",
                "outlet_manager",
                "grid_manager",
                "account_manager",
                "service_agent",
                "sales_rep",
            ),
        ),
        _c("hired_date", _D, "Date of hire."),
    ),
)

AGENTS = TableSpec(
    name="agents",
    description="Social-channel agents (社会渠道) selling on commission, attached to an outlet.",
    key=("agent_id",),
    columns=(
        _c("agent_id", _S, "Agent code."),
        _c("name", _S, "Agent shop name."),
        _c(
            "org_id", _S, "Outlet or grid the agent reports to.", references=("org_units", "org_id")
        ),
        _c("agent_type", _S, "Kind of agent.", allowed=("franchise", "retail", "online", "rural")),
        _c(
            "commission_rate_bp",
            _I,
            "Commission rate in basis points of sales.",
            minimum=0,
            maximum=5000,
        ),
        _c("since_date", _D, "Date the agreement began."),
    ),
)

PRODUCTS = TableSpec(
    name="products",
    description="Plans, converged bundles, add-on packs, broadband, IPTV and handset contracts.",
    key=("product_id",),
    columns=(
        _c("product_id", _S, "Product code."),
        _c("name", _S, "Chinese product name."),
        _c("kind", _S, "What sort of product.", allowed=PRODUCT_KINDS),
        _c("family", _S, "Product family used in reporting.", allowed=PRODUCT_FAMILIES),
        _c(
            "payment_type",
            _S,
            "Which subscribers may hold it.",
            allowed=("prepaid", "postpaid", "any"),
        ),
        _c("monthly_fee_fen", _I, "Monthly fee in fen.", minimum=0, maximum=10_000_000),
        _c("data_mb", _I, "Included data per month (MB).", minimum=0),
        _c("voice_min", _I, "Included voice minutes per month.", minimum=0),
        _c("is_5g", _B, "Requires/offers 5G."),
        _c("launch_date", _D, "Date first sold."),
        _c("retire_date", _D, "Date no longer sold; empty while on sale.", required=False),
    ),
)

HOUSEHOLDS = TableSpec(
    name="households",
    description="Households: members share a converged bundle of mobile, broadband and TV.",
    key=("household_id",),
    columns=(
        _c("household_id", _S, "Household code."),
        _c("grid_id", _S, "Grid the address belongs to.", references=("org_units", "org_id")),
        _c(
            "bundle_id",
            _S,
            "Converged bundle held, if any.",
            required=False,
            references=("products", "product_id"),
        ),
        _c("has_broadband", _B, "Has fixed broadband."),
        _c("has_iptv", _B, "Has IPTV."),
        _c("broadband_mbps", _I, "Broadband speed (0 if none).", minimum=0, maximum=10_000),
        _c("created_date", _D, "Date the household account was opened."),
    ),
)

ENTERPRISE_ACCOUNTS = TableSpec(
    name="enterprise_accounts",
    description="Key (enterprise) accounts with member lines, worked by account managers.",
    key=("account_id",),
    columns=(
        _c("account_id", _S, "Account code."),
        _c("name", _S, "Company name."),
        _c(
            "industry",
            _S,
            "Industry.",
            allowed=(
                "government",
                "education",
                "healthcare",
                "finance",
                "manufacturing",
                "retail",
                "logistics",
                "it_services",
                "hospitality",
                "agriculture",
            ),
        ),
        _c("tier", _S, "Account tier (A largest).", allowed=("A", "B", "C")),
        _c("org_id", _S, "Key-account centre serving it.", references=("org_units", "org_id")),
        _c(
            "account_manager_id",
            _S,
            "Responsible account manager.",
            references=("staff", "staff_id"),
        ),
        _c("created_date", _D, "Date the account was opened."),
    ),
)

SUBSCRIBERS = TableSpec(
    name="subscribers",
    description="Mobile lines (one row per MSISDN), with their home outlet and grid.",
    key=("subscriber_id",),
    partition_hint="org_id",
    columns=(
        _c("subscriber_id", _I, "Surrogate subscriber number.", minimum=1),
        _c("msisdn", _S, "Mobile number.", pattern=MSISDN_PATTERN, personal=True),
        _c("customer_name", _S, "Registered holder's name.", personal=True),
        _c(
            "id_number",
            _S,
            "Holder's ID-card number (18 characters).",
            pattern=r"^[0-9]{17}[0-9X]$",
            personal=True,
        ),
        _c("gender", _S, "Holder's gender.", allowed=("M", "F")),
        _c("birth_year", _I, "Holder's year of birth.", minimum=1900, maximum=2030),
        _c("payment_type", _S, "Prepaid or postpaid.", allowed=PAYMENT_TYPES),
        _c("plan_id", _S, "Current main plan.", references=("products", "product_id")),
        _c("join_date", _D, "Date the line was opened."),
        _c("contract_end", _D, "End of the current contract; empty if none.", required=False),
        _c("handset_brand", _S, "Brand of the current handset."),
        _c("handset_5g", _B, "Handset supports 5G."),
        _c("handset_date", _D, "Date the current handset was first seen."),
        _c(
            "household_id",
            _S,
            "Household, if the line belongs to one.",
            required=False,
            references=("households", "household_id"),
        ),
        _c(
            "account_id",
            _S,
            "Enterprise account, if a member line.",
            required=False,
            references=("enterprise_accounts", "account_id"),
        ),
        _c("org_id", _S, "Home outlet.", references=("org_units", "org_id")),
        _c("grid_id", _S, "Home grid.", references=("org_units", "org_id")),
        _c("status", _S, "Line status at the data date.", allowed=SUBSCRIBER_STATUSES),
        _c("status_date", _D, "Date the status last changed."),
        _c(
            "port_out_date",
            _D,
            "Date the number ported to a competitor; empty if not.",
            required=False,
        ),
    ),
)

SUBSCRIPTIONS = TableSpec(
    name="subscriptions",
    description="Products each subscriber holds or held (plans, packs, contracts).",
    key=("subscription_id",),
    columns=(
        _c("subscription_id", _I, "Subscription number.", minimum=1),
        _c("subscriber_id", _I, "Subscriber.", references=("subscribers", "subscriber_id")),
        _c("product_id", _S, "Product.", references=("products", "product_id")),
        _c("start_date", _D, "First day held."),
        _c("end_date", _D, "Last day held; empty while active.", required=False),
        _c("channel", _S, "Sales channel.", allowed=SALES_CHANNELS),
    ),
)

USAGE_MONTHLY = TableSpec(
    name="usage_monthly",
    description="One row per subscriber and billing month.",
    key=("subscriber_id", "month"),
    partition_hint="month",
    columns=(
        _c("subscriber_id", _I, "Subscriber.", references=("subscribers", "subscriber_id")),
        _c("month", _D, "First day of the billing month."),
        _c(
            "arpu_fen",
            _I,
            "Revenue from the line in the month (fen).",
            minimum=0,
            maximum=10_000_000,
        ),
        _c("data_mb", _I, "Data used (DOU, MB).", minimum=0, maximum=10_000_000),
        _c("voice_min", _I, "Voice minutes (MOU).", minimum=0, maximum=100_000),
        _c("sms_count", _I, "SMS sent.", minimum=0, maximum=1_000_000),
        _c("roaming_fen", _I, "Roaming charges (fen).", minimum=0),
        _c("overage_fen", _I, "Charges above the plan allowance (fen).", minimum=0),
        _c("dropped_calls", _I, "Dropped calls experienced.", minimum=0, maximum=100_000),
    ),
)

RECHARGES = TableSpec(
    name="recharges",
    description="Top-ups of prepaid balances (and voluntary postpaid prepayments).",
    key=("recharge_id",),
    columns=(
        _c("recharge_id", _I, "Recharge number.", minimum=1),
        _c("subscriber_id", _I, "Subscriber.", references=("subscribers", "subscriber_id")),
        _c("recharged_at", _T, "When it was paid (UTC)."),
        _c("amount_fen", _I, "Amount (fen).", minimum=1, maximum=10_000_000),
        _c("channel", _S, "Where it was paid.", allowed=SALES_CHANNELS),
    ),
)

ORDERS = TableSpec(
    name="orders",
    description="Orders from BOSS: new lines, plan changes, add-ons, cancellations.",
    key=("order_id",),
    columns=(
        _c("order_id", _I, "Order number.", minimum=1),
        _c("subscriber_id", _I, "Subscriber.", references=("subscribers", "subscriber_id")),
        _c("product_id", _S, "Product ordered.", references=("products", "product_id")),
        _c("action", _S, "What the order did.", allowed=("new", "change", "add", "cancel")),
        _c("ordered_at", _T, "When the order was placed (UTC)."),
        _c("channel", _S, "Sales channel.", allowed=SALES_CHANNELS),
        _c("org_id", _S, "Outlet credited.", references=("org_units", "org_id")),
        _c(
            "staff_id",
            _S,
            "Employee credited, if any.",
            required=False,
            references=("staff", "staff_id"),
        ),
        _c(
            "agent_id",
            _S,
            "Agent credited, if any.",
            required=False,
            references=("agents", "agent_id"),
        ),
        _c("amount_fen", _I, "One-off amount charged (fen).", minimum=0),
    ),
)

COMPLAINTS = TableSpec(
    name="complaints",
    description="Customer complaints with category, severity and resolution.",
    key=("complaint_id",),
    columns=(
        _c("complaint_id", _I, "Complaint number.", minimum=1),
        _c("subscriber_id", _I, "Subscriber.", references=("subscribers", "subscriber_id")),
        _c("created_at", _T, "When it was lodged (UTC)."),
        _c(
            "category",
            _S,
            "Subject.",
            allowed=("network", "billing", "service", "product", "marketing"),
        ),
        _c("severity", _I, "1 (minor) to 3 (escalated).", minimum=1, maximum=3),
        _c("resolved_at", _T, "When it was closed; empty while open.", required=False),
        _c("org_id", _S, "Org unit handling it.", references=("org_units", "org_id")),
    ),
)

CONTACT_CHANNELS = ("sms", "email", "app_push", "wechat", "outbound_call", "frontline_task")
CONTACT_OUTCOMES = (
    "sent",
    "delivered",
    "failed",
    "reached",
    "unreachable",
    "declined",
    "responded",
    "opted_out",
)

CONTACT_HISTORY = TableSpec(
    name="contact_history",
    description=(
        "Marketing contacts made to a line (legacy campaign systems; later telmark's own), "
        "for contact-fatigue and follow-up rules. Optional: may be absent from a load."
    ),
    key=("contact_id",),
    optional=True,
    columns=(
        _c("contact_id", _S, "Contact identifier, unique across all sources."),
        _c("subscriber_id", _I, "Subscriber.", references=("subscribers", "subscriber_id")),
        _c("contacted_at", _T, "When the contact was made (UTC)."),
        _c("channel", _S, "Channel of the contact.", allowed=CONTACT_CHANNELS),
        _c(
            "case_code",
            _S,
            "Marketing case (营销案) the contact belonged to; empty if the source did not say.",
            required=False,
        ),
        _c("outcome", _S, "Furthest outcome known.", allowed=CONTACT_OUTCOMES),
    ),
)

# Load order respects references: a table comes after every table it points to.
CONTRACT: dict[str, TableSpec] = {
    t.name: t
    for t in (
        ORG_UNITS,
        STAFF,
        AGENTS,
        PRODUCTS,
        HOUSEHOLDS,
        ENTERPRISE_ACCOUNTS,
        SUBSCRIBERS,
        SUBSCRIPTIONS,
        USAGE_MONTHLY,
        RECHARGES,
        ORDERS,
        COMPLAINTS,
        CONTACT_HISTORY,
    )
}

# Tables the synthetic generator writes beside the contract: the hidden truth
# (response propensity and uplift per offer type) that evaluation is checked
# against. They are never part of an operator's import.
OFFER_TYPES = (
    "gift",
    "points",
    "subsidy",
    "red_packet",
    "membership",
    "co_brand",
    "lottery",
    "bundle",
    "referral",
)

# Wide (one row per subscriber) rather than one row per offer type: at 10M
# subscribers the long form would be 90M rows for the same information.
TRUTH_RESPONSE = TableSpec(
    name="truth_response",
    description="Generator only: each subscriber's hidden response to each of the nine tools.",
    key=("subscriber_id",),
    columns=(
        _c("subscriber_id", _I, "Subscriber.", references=("subscribers", "subscriber_id")),
        _c(
            "base_propensity",
            _F,
            "Monthly probability of taking up an offer uncontacted.",
            minimum=0.0,
            maximum=1.0,
        ),
        *(
            _c(
                f"uplift_{offer}",
                _F,
                f"Added take-up probability when offered a {offer} incentive (may be negative).",
                minimum=-1.0,
                maximum=1.0,
            )
            for offer in OFFER_TYPES
        ),
    ),
)
TRUTH: dict[str, TableSpec] = {TRUTH_RESPONSE.name: TRUTH_RESPONSE}


def table(name: str) -> TableSpec:
    """The spec of one contract table, or KeyError naming the known tables."""
    try:
        return CONTRACT[name]
    except KeyError:
        known = ", ".join(CONTRACT)
        raise KeyError(f"unknown table {name!r}; the contract has: {known}") from None
