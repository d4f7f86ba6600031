"""A generated province for segment tests, and an independent pandas evaluator of rules.

The evaluator shares no code with ``telmark.segments.compile``: it reads the
tables into pandas and applies the semantics stated in ``segments/rules.py``
row by row, so a disagreement points at a bug in one of them. References to
other segments are looked up in a ``Library`` of saved rule versions, the
same one the tests hand the compiler as its resolver.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend

from telmark.errors import NotFound
from telmark.segments.rules import RuleDocument, parse_rule
from telmark.warehouse.connection import connect
from telmark.warehouse.generator import generate_province
from telmark.warehouse.importer import load_directory

END_MONTH = date(2026, 9, 1)
TABLES = (
    "subscribers",
    "usage_monthly",
    "recharges",
    "subscriptions",
    "products",
    "households",
    "enterprise_accounts",
    "org_closure",
    "contact_history",
)
PROVINCE_TZ = "Asia/Shanghai"


@dataclass
class Library:
    """Saved segments for reference tests: id → rule documents of versions 1, 2, …"""

    versions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def rule(self, segment_id: int, version: int | None) -> dict[str, Any]:
        found = self.versions.get(segment_id, [])
        wanted = len(found) if version is None else version
        if not 1 <= wanted <= len(found):
            raise NotFound(f"segment {segment_id} has no version {wanted}")
        return found[wanted - 1]

    def resolver(self) -> Callable[[int, int | None], RuleDocument]:
        """The compiler's view of the library (``compile_rule(..., resolve=...)``)."""
        return lambda segment_id, version: parse_rule(self.rule(segment_id, version))


def province_directory(root: Path, *, subscribers: int = 2_000, seed: int = 11) -> Path:
    """Generate a 4-month province as Parquet under ``root/province``."""
    out = root / "province"
    generate_province(
        out_dir=out, subscribers=subscribers, months=4, seed=seed, end_month=END_MONTH
    )
    return out


def add_analysis_tables(con: BaseBackend, *, seed: int) -> None:
    """Stand-in ``customer_value`` and ``churn_scores`` rows (the compiler only reads them)."""
    ids = con.table("subscribers").subscriber_id.to_pyarrow().to_numpy()
    rng = np.random.default_rng(seed)
    valued = ids[rng.random(len(ids)) < 0.9]  # some lines have no row at all
    n = len(valued)
    clv = rng.integers(0, 200_000, n).astype(object)
    clv[rng.random(n) < 0.2] = None
    con.create_table(
        "customer_value",
        pa.table(
            {
                "subscriber_id": pa.array(valued, pa.int64()),
                "value_tier": pa.array(
                    rng.choice(["non_member", "star", "gold", "vip"], n), pa.string()
                ),
                "rfm_score": pa.array(rng.integers(3, 16, n), pa.int64()),
                "clv_fen": pa.array(list(clv), pa.int64()),
                "decayed_value_fen": pa.array(rng.integers(0, 50_000, n), pa.int64()),
            }
        ),
        overwrite=True,
    )
    scored = ids[rng.random(len(ids)) < 0.8]
    m = len(scored)
    con.create_table(
        "churn_scores",
        pa.table(
            {
                "subscriber_id": pa.array(scored, pa.int64()),
                "churn_probability": pa.array(rng.random(m).round(3), pa.float64()),
                "risk_decile": pa.array(rng.integers(1, 11, m), pa.int64()),
                "risk_band": pa.array(rng.choice(["low", "medium", "high"], m), pa.string()),
            }
        ),
        overwrite=True,
    )


def load_warehouse(directory: Path, path: Path) -> BaseBackend:
    con = connect(f"duckdb://{path}")
    load_directory(con=con, directory=directory)
    return con


def _month_index(d: date) -> int:
    return d.year * 12 + d.month - 1


@dataclass
class PandasWarehouse:
    """The tables a rule reads, as pandas frames, evaluated without Ibis."""

    frames: dict[str, pd.DataFrame]

    @classmethod
    def read(cls, con: BaseBackend) -> PandasWarehouse:
        names = [
            *TABLES,
            *(t for t in ("customer_value", "churn_scores") if t in con.list_tables()),
        ]
        return cls({name: con.table(name).to_pyarrow().to_pandas() for name in names})

    def members(
        self, rule: dict[str, Any], *, as_of: date | None = None, library: Library | None = None
    ) -> set[int]:
        self.library = library or Library()
        subs = self.frames["subscribers"].set_index("subscriber_id", drop=False)
        if as_of is None:
            as_of = max(self.frames["usage_monthly"]["month"])
        self.as_of = as_of.replace(day=1)
        last = calendar.monthrange(self.as_of.year, self.as_of.month)[1]
        self.day = self.as_of.replace(day=last)
        self.subs = subs
        selected = self._node(rule["root"])
        return {int(i) for i in subs.index[selected.to_numpy(dtype=bool)]}

    # -- nodes --------------------------------------------------------------------------

    def _node(self, node: dict[str, Any]) -> pd.Series:
        if "all" in node:
            result = pd.Series(True, index=self.subs.index)
            for child in node["all"]:
                result &= self._node(child)
            return result
        if "any" in node:
            result = pd.Series(False, index=self.subs.index)
            for child in node["any"]:
                result |= self._node(child)
            return result
        if "not" in node:
            return ~self._node(node["not"])
        values = getattr(self, "_" + node["kind"])(node)
        return pd.Series(values, index=self.subs.index).fillna(False).astype(bool)

    def _compare(self, values: pd.Series, op: str, value: Any, *, date_typed: bool) -> pd.Series:
        values = values.reindex(self.subs.index)
        present = values.notna()
        if op == "is_null":
            return ~present
        if op == "not_null":
            return present
        if date_typed:
            value = (
                [date.fromisoformat(v) for v in value]
                if isinstance(value, list)
                else date.fromisoformat(value)
            )
        hits = {sid: _apply(v, op, value) for sid, v in values[present].items()}
        return pd.Series(hits, dtype=bool).reindex(self.subs.index, fill_value=False)

    def _window(self, months: int) -> pd.DataFrame:
        usage = self.frames["usage_monthly"]
        end = _month_index(self.as_of)
        idx = usage["month"].map(_month_index)
        window = usage[(idx >= end - months + 1) & (idx <= end)].copy()
        window["x"] = window["month"].map(_month_index) - (end - months + 1)
        return window

    def _field(self, node: dict[str, Any]) -> pd.Series:
        column = self.subs[node["field"]]
        is_date = node["field"] in (
            "join_date",
            "contract_end",
            "handset_date",
            "status_date",
            "port_out_date",
        )
        return self._compare(column, node["op"], node.get("value"), date_typed=is_date)

    def _usage(self, node: dict[str, Any]) -> pd.Series:
        window = self._window(node["months"])
        grouped = window.groupby("subscriber_id")[node["measure"]]
        agg = node["agg"]
        if agg == "avg":
            sums = grouped.sum().astype("int64")
            series = sums.astype("float64") / grouped.count().astype("float64")
        else:
            series = getattr(grouped, agg)()
        return self._compare(series, node["op"], node["value"], date_typed=False)

    def _trend(self, node: dict[str, Any]) -> pd.Series:
        window = self._window(node["months"])
        slopes: dict[int, float] = {}
        for sid, rows in window.groupby("subscriber_id"):
            n = len(rows)
            if n < 2:
                continue
            x = [int(v) for v in rows["x"].astype("int64").tolist()]
            y = [int(v) for v in rows[node["measure"]].astype("int64").tolist()]
            sx, sy = sum(x), sum(y)
            sxx = sum(a * a for a in x)
            sxy = sum(a * b for a, b in zip(x, y, strict=True))
            slopes[cast(int, sid)] = float(n * sxy - sx * sy) / float(n * sxx - sx * sx)
        return self._compare(
            pd.Series(slopes, dtype="float64"), node["op"], node["value"], date_typed=False
        )

    def _recharges(self, node: dict[str, Any]) -> pd.Series:
        recharges = self.frames["recharges"]
        end = _month_index(self.as_of)
        idx = recharges["recharged_at"].map(lambda t: t.year * 12 + t.month - 1)
        window = recharges[(idx >= end - node["months"] + 1) & (idx <= end)]
        grouped = window.groupby("subscriber_id")["amount_fen"]
        series = grouped.count() if node["stat"] == "count" else grouped.sum()
        series = series.reindex(self.subs.index).fillna(0).astype("int64")
        return self._compare(series, node["op"], node["value"], date_typed=False)

    def _has_product(self, node: dict[str, Any]) -> pd.Series:
        subs = self.frames["subscriptions"]
        active = subs[
            (subs["start_date"] <= self.day)
            & subs["end_date"].map(lambda d: d is None or pd.isna(d) or d >= self.day)
        ]
        held = active.merge(self.frames["products"], on="product_id")
        keep = pd.Series(True, index=held.index)
        for key, column in (
            ("product_id", "product_id"),
            ("family", "family"),
            ("product_kind", "kind"),
        ):
            if node.get(key) is not None:
                keep &= held[column] == node[key]
        ids = set(held.loc[keep, "subscriber_id"])
        return self.subs.index.to_series().isin(ids)

    def _contract_ends_within_days(self, node: dict[str, Any]) -> pd.Series:
        end = self.day + timedelta(days=node["days"])
        return self.subs["contract_end"].map(
            lambda d: d is not None and not pd.isna(d) and self.day <= d <= end
        )

    def _tenure_months(self, node: dict[str, Any]) -> pd.Series:
        tenure = _month_index(self.as_of) - self.subs["join_date"].map(_month_index)
        return self._compare(tenure, node["op"], node["value"], date_typed=False)

    def _derived(self, table: str, node: dict[str, Any]) -> pd.Series:
        frame = self.frames[table].set_index("subscriber_id")[node["field"]]
        return self._compare(frame, node["op"], node.get("value"), date_typed=False)

    def _value(self, node: dict[str, Any]) -> pd.Series:
        return self._derived("customer_value", node)

    def _churn(self, node: dict[str, Any]) -> pd.Series:
        return self._derived("churn_scores", node)

    def _household(self, node: dict[str, Any]) -> pd.Series:
        households = self.frames["households"].set_index("household_id")
        hh = self.subs["household_id"]
        if node["has"] == "member":
            return hh.isin(households.index)
        column = {"bundle": "bundle_id", "broadband": "has_broadband", "iptv": "has_iptv"}[
            node["has"]
        ]
        feature = households[column]
        if column == "bundle_id":
            feature = feature.notna()
        flags = {h: bool(f) for h, f in feature.items()}
        return hh.map(lambda h: flags.get(h, False))

    def _enterprise(self, node: dict[str, Any]) -> pd.Series:
        accounts = self.frames["enterprise_accounts"]
        if node.get("tiers"):
            accounts = accounts[accounts["tier"].isin(node["tiers"])]
        if node.get("industries"):
            accounts = accounts[accounts["industry"].isin(node["industries"])]
        return self.subs["account_id"].isin(set(accounts["account_id"]))

    def _contacted(self, node: dict[str, Any]) -> pd.Series:
        contacts = self.frames["contact_history"]
        local_day = contacts["contacted_at"].dt.tz_convert(PROVINCE_TZ).dt.date
        first = self.day - timedelta(days=node["days"] - 1)
        keep = (local_day >= first) & (local_day <= self.day)
        for key, column in (
            ("channels", "channel"),
            ("case_codes", "case_code"),
            ("outcomes", "outcome"),
        ):
            if node.get(key) is not None:
                keep &= contacts[column].isin(node[key])
        return self.subs.index.to_series().isin(set(contacts.loc[keep, "subscriber_id"]))

    def _segment(self, node: dict[str, Any]) -> pd.Series:
        return self._node(self.library.rule(node["segment_id"], node.get("version"))["root"])

    def _org_unit(self, node: dict[str, Any]) -> pd.Series:
        closure = self.frames["org_closure"]
        below = set(closure.loc[closure["ancestor_id"].isin(node["org_ids"]), "descendant_id"])
        return self.subs["org_id"].isin(below)


def _apply(v: Any, op: str, value: Any) -> bool:
    if op == "=":
        return bool(v == value)
    if op == "!=":
        return bool(v != value)
    if op == "<":
        return bool(v < value)
    if op == "<=":
        return bool(v <= value)
    if op == ">":
        return bool(v > value)
    if op == ">=":
        return bool(v >= value)
    if op == "in":
        return any(v == x for x in value)
    if op == "not_in":
        return all(v != x for x in value)
    if op == "between":
        return bool(value[0] <= v <= value[1])
    raise ValueError(op)
