"""Customer 360 use cases: look a subscriber up, assemble their 360 view, disclose it safely.

Every read goes through the warehouse the caller hands in, which for a
signed-in user is their org-scoped warehouse: a subscriber outside the scope
is simply not found (404, the same answer as for an id that does not exist),
and rows of org-scoped tables (orders, complaints, households, accounts,
staff) that belong to units outside it are not shown. Tables scoped through
their subscriber are read once the subscriber has been found (``_of_subscriber``).

Each table is filtered by the subscriber (or the one household, account or
product list) *first*, with an equality filter, and only those few rows are
fetched; nothing joins whole tables, so the view answers in milliseconds on a
warehouse of millions of lines. Names of products and org units are looked up
afterwards for the handful of ids found.

Personal values (msisdn, name, ID number, the account manager's name) go
through ``privacy.service.disclose``: masked unless the caller may and asks to
unmask, in which case the read is recorded in the audit trail. A search by
mobile number is always recorded, because it links a number to a person.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from telmark.audit.service import record_read
from telmark.customers import domain
from telmark.customers.domain import Lookup, SearchBy
from telmark.customers.schemas import (
    ChurnRead,
    ChurnSection,
    ComplaintRead,
    Customer360,
    CustomerSearch,
    CustomerSummary,
    EnterpriseRead,
    History,
    HouseholdRead,
    Identity,
    OrderRead,
    OrgRef,
    ProductRead,
    RechargeRead,
    SectionState,
    SubscriptionRead,
    UsageMonthRead,
    ValueRead,
    ValueSection,
)
from telmark.db import utcnow
from telmark.errors import NotFound, WarehouseEmpty
from telmark.privacy.masking import PersonalKind, contract_fields, mask_msisdn, mask_record
from telmark.privacy.service import MAX_IDS_RECORDED, disclose
from telmark.uow import UnitOfWork
from telmark.warehouse.contract import SUBSCRIBERS
from telmark.warehouse.scope import SUBSCRIBER_SCOPED, ScopedWarehouse

ENTITY = "subscribers"
# The personal values a 360 view shows: the subscriber's own, and the account manager's name.
PERSONAL: dict[str, PersonalKind] = {
    **contract_fields(SUBSCRIBERS),
    "account_manager_name": PersonalKind.NAME,
}
SEARCH_PERSONAL: dict[str, PersonalKind] = {
    k: v for k, v in PERSONAL.items() if k in ("msisdn", "customer_name")
}
NO_DATA_HINT = (
    "The warehouse holds no subscribers yet: run `telmark data generate --load` "
    "for a synthetic province, or `telmark data load DIR`."
)


def _rows(expr: ir.Table) -> list[dict[str, Any]]:
    # to_pyarrow: the pandas round trip would turn nullable ints into floats.
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return rows


def _by(con: BaseBackend, table: str, column: str, value: Any) -> ir.Table:
    t = con.table(table)
    return t.filter(t[column] == value)


def _of_subscriber(con: BaseBackend, table: str, subscriber_id: int) -> ir.Table:
    """Rows of ``table`` that belong to ``subscriber_id``, already found in the caller's scope.

    A table scoped through its subscriber (``SUBSCRIBER_SCOPED``) holds exactly
    the rows of the subscribers in scope, so once the subscriber has been found
    in the scoped ``subscribers`` their rows are read from the backend itself.
    Through the scoped table, every query would rebuild the list of all the
    scope's subscribers for its semi-join (DuckDB does not push the id filter
    into it): 0.2 s per table for a city of a 10M-line province instead of
    milliseconds. Tables scoped by an org column of their own keep their filter.
    """
    if table in SUBSCRIBER_SCOPED and isinstance(con, ScopedWarehouse):
        return _by(con.backend, table, "subscriber_id", subscriber_id)
    return _by(con, table, "subscriber_id", subscriber_id)


def _not_found(subscriber_id: int) -> NotFound:
    # The same answer whether the id does not exist or lies outside the caller's scope.
    return NotFound(
        f"no subscriber {subscriber_id} in your scope",
        details=[{"field": "subscriber_id", "value": subscriber_id, "reason": "not found"}],
    )


def _present(con: BaseBackend) -> set[str]:
    present = set(con.list_tables())
    if "subscribers" not in present:
        raise WarehouseEmpty(NO_DATA_HINT, details=[{"table": "subscribers", "reason": "missing"}])
    return present


def _org_refs(con: BaseBackend, present: set[str], ids: Iterable[str]) -> dict[str, OrgRef]:
    wanted = sorted(set(ids))
    found: dict[str, OrgRef] = {i: OrgRef(org_id=i) for i in wanted}
    if "org_units" not in present or not wanted:
        return found
    units = con.table("org_units")
    for row in _rows(units.filter(units.org_id.isin(wanted)).select("org_id", "name", "name_en")):
        found[row["org_id"]] = OrgRef(**row)
    return found


def _products(
    con: BaseBackend, present: set[str], ids: Iterable[str | None]
) -> dict[str, ProductRead]:
    wanted = sorted({i for i in ids if i})
    if "products" not in present or not wanted:
        return {}
    products = con.table("products")
    rows = _rows(products.filter(products.product_id.isin(wanted)))
    fields = ProductRead.model_fields
    return {
        r["product_id"]: ProductRead(**{k: v for k, v in r.items() if k in fields}) for r in rows
    }


def _history(expr: ir.Table, order: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    """The latest ``limit`` rows of ``expr`` by ``order`` (newest first) and the total count."""
    # Two small queries rather than a count window over the rows: DuckDB 1.4 can fail with an
    # internal error on a whole-partition window over an empty input (seen on a line with no
    # orders), and both queries are filtered to one subscriber, so this costs nothing.
    rows = _rows(expr.order_by(ibis.desc(order)).limit(limit))
    total = len(rows) if len(rows) < limit else int(expr.count().to_pyarrow().as_py())
    return rows, total


def _latest_row(
    con: BaseBackend, present: set[str], table: str, subscriber_id: int, order: Sequence[str]
) -> tuple[SectionState, dict[str, Any] | None]:
    if table not in present:
        return SectionState.NOT_COMPUTED, None
    expr = _of_subscriber(con, table, subscriber_id)
    rows = _rows(expr.order_by([ibis.desc(c) for c in order]).limit(1))
    if not rows:
        return SectionState.NOT_SCORED, None
    return SectionState.AVAILABLE, rows[0]


def _value_section(con: BaseBackend, present: set[str], subscriber_id: int) -> ValueSection:
    state, row = _latest_row(con, present, domain.VALUE_TABLE, subscriber_id, ["as_of_month"])
    value = None
    if row is not None:
        value = ValueRead(**{k: v for k, v in row.items() if k in ValueRead.model_fields})
    return ValueSection(
        state=state, table=domain.VALUE_TABLE, command=domain.VALUE_COMMAND, value=value
    )


def _churn_section(con: BaseBackend, present: set[str], subscriber_id: int) -> ChurnSection:
    state, row = _latest_row(
        con, present, domain.CHURN_TABLE, subscriber_id, ["scored_at", "feature_month"]
    )
    score = None
    if row is not None:
        score = ChurnRead(**{k: v for k, v in row.items() if k in ChurnRead.model_fields})
    return ChurnSection(
        state=state, table=domain.CHURN_TABLE, command=domain.CHURN_COMMAND, score=score
    )


def _household(
    con: BaseBackend, present: set[str], household_id: str | None
) -> dict[str, Any] | None:
    if household_id is None or "households" not in present:
        return None
    rows = _rows(_by(con, "households", "household_id", household_id).limit(1))
    if not rows:
        return None
    members = _by(con, "subscribers", "household_id", household_id).count()
    return {**rows[0], "members": int(members.to_pyarrow().as_py())}


def _enterprise(
    con: BaseBackend, present: set[str], account_id: str | None
) -> dict[str, Any] | None:
    if account_id is None or "enterprise_accounts" not in present:
        return None
    rows = _rows(_by(con, "enterprise_accounts", "account_id", account_id).limit(1))
    if not rows:
        return None
    account = rows[0]
    manager = None
    if "staff" in present:
        staff = _rows(
            _by(con, "staff", "staff_id", account["account_manager_id"]).select("name").limit(1)
        )
        manager = staff[0]["name"] if staff else None
    return {**account, "account_manager_name": manager}


@dataclass
class _Rows:
    """The subscriber's rows of each subscriber-keyed table (empty where a table is absent)."""

    usage: list[dict[str, Any]] = field(default_factory=list)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    recharges: tuple[list[dict[str, Any]], int] = ([], 0)
    orders: tuple[list[dict[str, Any]], int] = ([], 0)
    complaints: tuple[list[dict[str, Any]], int] = ([], 0)


def _subscriber_rows(con: BaseBackend, present: set[str], subscriber_id: int) -> _Rows:
    found = _Rows()
    if "usage_monthly" in present:
        usage = _of_subscriber(con, "usage_monthly", subscriber_id)
        found.usage = _rows(usage.order_by("month"))
    if "subscriptions" in present:
        subs = _of_subscriber(con, "subscriptions", subscriber_id)
        found.subscriptions = _rows(subs.order_by("start_date", "subscription_id"))
    if "recharges" in present:
        expr = _of_subscriber(con, "recharges", subscriber_id)
        found.recharges = _history(expr, "recharged_at", domain.HISTORY_LIMIT)
    if "orders" in present:
        expr = _of_subscriber(con, "orders", subscriber_id)
        found.orders = _history(expr, "ordered_at", domain.HISTORY_LIMIT)
    if "complaints" in present:
        expr = _of_subscriber(con, "complaints", subscriber_id)
        found.complaints = _history(expr, "created_at", domain.HISTORY_LIMIT)
    return found


def customer_360(
    *,
    con: BaseBackend,
    uow: UnitOfWork,
    subscriber_id: int,
    unmask: bool,
    today: date | None = None,
) -> Customer360:
    """One subscriber's 360 view; personal values in clear only if ``unmask`` (then audited).

    Raises NotFound when the subscriber does not exist in ``con`` (for a scoped
    warehouse: is not in the caller's scope).
    """
    present = _present(con)
    rows = _rows(_by(con, "subscribers", "subscriber_id", subscriber_id).limit(1))
    if not rows:
        raise _not_found(subscriber_id)
    sub = rows[0]
    found = _subscriber_rows(con, present, subscriber_id)
    usage = found.usage
    as_of = domain.data_date(usage[-1]["month"] if usage else None, today or utcnow().date())
    held = [s for s in found.subscriptions if s["end_date"] is None or s["end_date"] >= as_of]
    recharges, recharge_total = found.recharges
    orders, order_total = found.orders
    complaints, complaint_total = found.complaints
    household = _household(con, present, sub["household_id"])
    enterprise = _enterprise(con, present, sub["account_id"])
    products = _products(
        con,
        present,
        [
            sub["plan_id"],
            *(s["product_id"] for s in held),
            *(o["product_id"] for o in orders),
            household["bundle_id"] if household else None,
        ],
    )
    orgs = _org_refs(con, present, [sub["org_id"], sub["grid_id"]])

    personal = {
        "msisdn": sub["msisdn"],
        "customer_name": sub["customer_name"],
        "id_number": sub["id_number"],
        "account_manager_name": enterprise["account_manager_name"] if enterprise else None,
    }
    [shown] = disclose(
        uow=uow,
        records=[personal],
        fields=PERSONAL,
        unmask=unmask,
        what="customer 360",
        entity_type=ENTITY,
        entity_ids=[str(subscriber_id)],
    )
    masked = not unmask
    ended = domain.tenure_end(status=sub["status"], status_date=sub["status_date"], as_of=as_of)
    contract_end: date | None = sub["contract_end"]
    identity = Identity(
        msisdn=shown["msisdn"],
        customer_name=shown["customer_name"],
        id_number=shown["id_number"],
        masked=masked,
        gender=sub["gender"],
        birth_year=sub["birth_year"],
        age=domain.age(sub["birth_year"], as_of),
        age_band=domain.age_band(sub["birth_year"], as_of),
        payment_type=sub["payment_type"],
        status=sub["status"],
        status_date=sub["status_date"],
        port_out_date=sub["port_out_date"],
        join_date=sub["join_date"],
        tenure_months=domain.whole_months(sub["join_date"], ended),
        home_outlet=orgs[sub["org_id"]],
        home_grid=orgs[sub["grid_id"]],
        handset_brand=sub["handset_brand"],
        handset_5g=sub["handset_5g"],
        handset_date=sub["handset_date"],
        handset_age_months=domain.whole_months(sub["handset_date"], as_of),
        contract_end=contract_end,
        contract_months_left=None
        if contract_end is None
        else domain.whole_months(as_of, contract_end),
    )
    return Customer360(
        subscriber_id=subscriber_id,
        data_date=as_of,
        identity=identity,
        plan=products.get(sub["plan_id"]),
        subscriptions=[_subscription(s, products) for s in held],
        household=_household_read(household, products),
        enterprise=None
        if enterprise is None
        else EnterpriseRead(
            **{k: v for k, v in enterprise.items() if k in EnterpriseRead.model_fields}
            | {"account_manager_name": shown["account_manager_name"]}
        ),
        usage=[UsageMonthRead(**_pick(u, UsageMonthRead)) for u in usage],
        recharges=History[RechargeRead](
            items=[RechargeRead(**_pick(r, RechargeRead)) for r in recharges],
            total=recharge_total,
        ),
        orders=History[OrderRead](items=[_order(o, products) for o in orders], total=order_total),
        complaints=History[ComplaintRead](
            items=[ComplaintRead(**_pick(c, ComplaintRead)) for c in complaints],
            total=complaint_total,
        ),
        value=_value_section(con, present, subscriber_id),
        churn=_churn_section(con, present, subscriber_id),
    )


def _pick(row: Mapping[str, Any], model: type[Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k in model.model_fields}


def _subscription(row: Mapping[str, Any], products: Mapping[str, ProductRead]) -> SubscriptionRead:
    product = products.get(row["product_id"])
    return SubscriptionRead(
        subscription_id=row["subscription_id"],
        product_id=row["product_id"],
        product_name=product.name if product else None,
        kind=product.kind if product else None,
        monthly_fee_fen=product.monthly_fee_fen if product else None,
        start_date=row["start_date"],
        channel=row["channel"],
    )


def _order(row: Mapping[str, Any], products: Mapping[str, ProductRead]) -> OrderRead:
    product = products.get(row["product_id"])
    return OrderRead(**_pick(row, OrderRead), product_name=product.name if product else None)


def _household_read(
    row: Mapping[str, Any] | None, products: Mapping[str, ProductRead]
) -> HouseholdRead | None:
    if row is None:
        return None
    bundle = products.get(row["bundle_id"]) if row["bundle_id"] else None
    return HouseholdRead(**_pick(row, HouseholdRead), bundle_name=bundle.name if bundle else None)


# --- lookup -----------------------------------------------------------------------------


def find_customers(
    *, con: BaseBackend, uow: UnitOfWork, lookup: Lookup | None, unmask: bool
) -> CustomerSearch:
    """Subscribers matching ``lookup`` (exact id or exact msisdn), masked unless ``unmask``.

    A search by mobile number is recorded in the audit trail whatever it finds
    (it links a number to a person); the number is stored masked there, with
    the ids it matched.
    """
    if lookup is None:
        return CustomerSearch(by=None, items=[])
    present = _present(con)
    subscribers = con.table("subscribers")
    if lookup.by is SearchBy.MSISDN:
        matched = subscribers.filter(subscribers.msisdn == lookup.value)
    else:
        matched = subscribers.filter(subscribers.subscriber_id == lookup.subscriber_id)
    rows = _rows(
        matched.select(
            "subscriber_id", "msisdn", "customer_name", "status", "payment_type",
            "plan_id", "join_date", "org_id",
        ).order_by("subscriber_id")
    )  # fmt: skip
    ids = [str(r["subscriber_id"]) for r in rows]
    if lookup.by is SearchBy.MSISDN:
        record_read(
            uow=uow,
            what="customer search by mobile number",
            entity_type=ENTITY,
            entity_id=ids[0] if len(ids) == 1 else None,
            details={
                "msisdn": mask_msisdn(lookup.value),
                "matches": len(rows),
                "ids": ids[:MAX_IDS_RECORDED],
                "unmasked": unmask and bool(rows),
            },
        )
        uow.commit()
        shown = [dict(r) if unmask else mask_record(r, SEARCH_PERSONAL) for r in rows]
    else:
        shown = disclose(
            uow=uow,
            records=rows,
            fields=SEARCH_PERSONAL,
            unmask=unmask,
            what="customer search by subscriber id",
            entity_type=ENTITY,
            entity_ids=ids,
        )
    products = _products(con, present, [r["plan_id"] for r in rows])
    orgs = _org_refs(con, present, [r["org_id"] for r in rows])
    return CustomerSearch(
        by=lookup.by.value,
        items=[
            CustomerSummary(
                **_pick(r, CustomerSummary),
                masked=not unmask,
                plan_name=products[r["plan_id"]].name if r["plan_id"] in products else None,
                home_outlet=orgs[r["org_id"]],
            )
            for r in shown
        ],
    )
