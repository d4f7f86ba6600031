"""The targeting pipeline gives the same decisions on PySpark as on DuckDB.

Three overlapping cases over a generated province with its contact history
(province-local days: the time-zone bounds must agree), consent blocks, a
global holdout and an earlier run's planned contacts, a city case and a
city's local narrowing (``in_area``), offers with product rules (payment type,
held products, upgrade, lock-in, handset contracts: ``offers.eligibility.bulk``);
then the winners' attributes and the holdout drawn on them.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pytest
from ibis.backends import BaseBackend

from telmark.catalog.domain import PaymentType, ProductKind
from telmark.offers.domain import OfferStatus, ProductAction
from telmark.offers.eligibility.bulk import Book, Handset, holdings, product_terms
from telmark.offers.eligibility.domain import OfferTerms, Product
from telmark.targeting import pipeline
from telmark.targeting.domain import CaseSpec, ContactPolicy, Period, in_holdout
from telmark.warehouse.importer import load_directory
from tests._factories.segments import END_MONTH, load_warehouse, province_directory
from tests.spark.test_import_spark import PYSPARK_SOCKETS

pytestmark = [pytest.mark.spark, pytest.mark.filterwarnings(PYSPARK_SOCKETS)]

ON = END_MONTH + timedelta(days=10)
POLICY = ContactPolicy(
    version=1, period=Period.MONTH, global_cap=2, channel_caps={"sms": 1}, min_gap_days=0
)
CASES = [
    CaseSpec(case_id=i, code=f"C{i}", org_path=path, priority=p, business_weight_bp=w,
             snapshot_id=i, offer_codes=offers, channels=ch, holdout_bp=1500,
             starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31),
             local_rules=(("C02", "{}"),) if i == 2 else (),
             local_channels=(("C03", (("app_push", 5000), ("sms", 5000))),) if i == 1 else ())
    for i, p, w, ch, path, offers in (
        (1, 5, 5000, ("sms",), "/P32/", ()),
        (2, 5, 5000, ("sms", "app_push"), "/P32/", ("UP", "HANDSET", "NEW")),
        (3, 8, 100, ("outbound_call",), "/P32/C01/", ()),
    )
]  # fmt: skip


def _catalog(con: BaseBackend) -> tuple[dict[str, pipeline.OfferRule], pipeline.Catalog]:
    """Offers over the generated products: an upgrade to the dearest plan, a new prepaid-only
    product, and a handset contract (whose holders have lock-in)."""
    rows = con.table("products").to_pyarrow().to_pylist()
    products = {
        r["product_id"]: Product(
            code=r["product_id"], kind=ProductKind(r["kind"]),
            payment_type=PaymentType(r["payment_type"]), on_sale=True,
            monthly_fee_fen=int(r["monthly_fee_fen"]),
        )
        for r in rows
    }  # fmt: skip
    plans = sorted(
        (p for p in products.values() if p.kind is ProductKind.PLAN),
        key=lambda p: p.monthly_fee_fen or 0,
    )
    handsets = [p.code for p in products.values() if p.kind is ProductKind.HANDSET_CONTRACT]
    prepaid = [p.code for p in products.values() if p.payment_type is PaymentType.PREPAID]
    chosen = {
        "UP": (ProductAction.UPGRADE, (plans[len(plans) // 2].code,)),
        "NEW": (ProductAction.NEW, (prepaid[0],)),
        "HANDSET": (ProductAction.NEW, (handsets[0],)),
    }
    book = Book(
        products=products,
        handsets=tuple(Handset(code=c, lock_in=((date.min, 24),)) for c in handsets),
    )
    offers = {
        code: pipeline.OfferRule(
            code, None, ("active",),
            product_terms(
                OfferTerms(code=code, status=OfferStatus.ACTIVE, action=action,
                           product_codes=codes, valid_from=date(2026, 1, 1), valid_to=None),
                products,
            ),
        )
        for code, (action, codes) in chosen.items()
    }  # fmt: skip
    return offers, pipeline.Catalog(book=book, held=holdings(con, ON), on=ON)


def _decisions(con: BaseBackend, ids: np.ndarray[Any, Any]) -> list[tuple[Any, ...]]:
    members = ibis.memtable(
        {
            "case_id": np.concatenate([np.full(len(ids[i::2]), c.case_id) for i, c in
                                       zip((0, 1, 0), CASES, strict=True)]),
            "subscriber_id": np.concatenate([ids[i::2] for i in (0, 1, 0)]),
        }
    )  # fmt: skip
    # C02 narrowed case 2 to every third line (a local rule's members).
    local = {"C02": ibis.memtable({"subscriber_id": ids[::3].tolist()})}
    subs = con.table("subscribers")
    homes = subs.select(_h=subs.subscriber_id, org_id=subs.org_id)
    parts = []
    for case in CASES:
        part = members.filter(members.case_id == case.case_id)
        part = part.left_join(homes, part.subscriber_id == homes._h).drop("_h")
        inside = pipeline.in_area(con, case, part, [(o, local[o]) for o, _ in case.local_rules])
        pref = pipeline.preferred_channel(con, case, part)
        parts.append(part.select("case_id", "subscriber_id", outside=~inside, pref=pref))
    members = parts[0].union(parts[1]).union(parts[2])
    offers, catalog = _catalog(con)
    numbers = con.table("subscribers").msisdn.to_pyarrow().to_pylist()[:40]
    earlier = ibis.memtable(
        {"subscriber_id": ids[:50].tolist(), "case_code": ["OLD"] * 50,
         "channel": ["sms"] * 50, "group": ["treatment"] * 50}
    )  # fmt: skip
    decided = pipeline.decisions(
        con=con,
        members=members,
        cases=CASES,
        offers=offers,
        catalog=catalog,
        blocked=pipeline.blocked_masks({"sms": numbers[:20], "app_push": numbers[10:40]}),
        global_holdout=ibis.memtable({"subscriber_id": ids[::37].tolist()}),
        found_contacts=pipeline.contacts(
            pipeline.history_contacts(con, ON, POLICY),
            pipeline.planned_contacts(con, [(earlier, ON - timedelta(days=3))], ON, POLICY),
        ),
        policy=POLICY,
    )
    winners = pipeline.winner_attributes(
        con, decided.filter(decided.reason.isnull()), END_MONTH, ON
    ).to_pyarrow()
    control = in_holdout("k", 1, winners.column("subscriber_id").to_numpy(), 1500)
    rows = decided.to_pyarrow().to_pylist()
    keyed = sorted(
        tuple(r[k] for k in ("case_id", "subscriber_id", "reason", "channel", "score", "rank",
                             "beaten_by"))
        for r in rows
    )  # fmt: skip
    attrs = sorted(
        zip(winners.column("subscriber_id").to_pylist(), winners.column("city_id").to_pylist(),
            winners.column("outlet_id").to_pylist(), control.tolist(), strict=True)
    )  # fmt: skip
    return [*keyed, *attrs]


def test_targeting_on_spark_equals_duckdb(spark_con: BaseBackend, tmp_path: Path) -> None:
    province = province_directory(tmp_path, subscribers=1_500, seed=29)
    duck = load_warehouse(province, tmp_path / "w.duckdb")
    load_directory(con=spark_con, directory=province)
    try:
        ids = np.sort(duck.table("subscribers").subscriber_id.to_pyarrow().to_numpy())
        on_duckdb = _decisions(duck, ids)
        reasons = {r[2] for r in on_duckdb if len(r) == 7}
        assert {None, "arbitration_lost", "consent", "global_holdout", "outside_area",
                "not_eligible"} <= reasons  # fmt: skip
        assert _decisions(spark_con, ids) == on_duckdb
    finally:
        duck.disconnect()
