"""Exports of a snapshot's members with subscriber columns (see ``telmark.segments.snapshots``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from functools import reduce
from operator import or_
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from ibis.backends import BaseBackend

from telmark.audit.service import record_export
from telmark.errors import InvalidInput
from telmark.privacy.export import BOM, FORMULA_START
from telmark.privacy.masking import mask_column
from telmark.segments.schemas import ExportFormat, SnapshotExport
from telmark.segments.service import PERSONAL
from telmark.segments.snapshots.store import actor_scope, ready_file, source_of
from telmark.uow import UnitOfWork

ENTITY = "segment_snapshot"
BATCH_ROWS = 65_536

# -- export columns ------------------------------------------------------------------------

# Subscriber attributes an export may carry (current values, joined to the frozen ids).
SUBSCRIBER_COLUMNS = (
    "msisdn",
    "customer_name",
    "id_number",
    "gender",
    "birth_year",
    "payment_type",
    "plan_id",
    "join_date",
    "contract_end",
    "handset_brand",
    "handset_5g",
    "handset_date",
    "household_id",
    "account_id",
    "org_id",
    "grid_id",
    "status",
    "status_date",
    "port_out_date",
)
# Looked up from the org tree and the product catalogue.
DERIVED_COLUMNS = ("city_id", "city_name", "org_name", "plan_name")
EXPORT_COLUMNS = ("subscriber_id", *SUBSCRIBER_COLUMNS, *DERIVED_COLUMNS)
# What a campaign list needs by default; the ID-card number only when asked for.
DEFAULT_EXPORT_COLUMNS = (
    "subscriber_id",
    "msisdn",
    "customer_name",
    "city_id",
    "city_name",
    "org_id",
    "org_name",
    "plan_id",
    "plan_name",
    "payment_type",
    "join_date",
    "contract_end",
    "status",
)


def export_columns(columns: Sequence[str] | None) -> list[str]:
    """The chosen export columns, in the given order; InvalidInput names unknown ones."""
    if columns is None:
        return list(DEFAULT_EXPORT_COLUMNS)
    chosen = list(dict.fromkeys(c.strip() for c in columns if c.strip()))
    if not chosen:
        raise InvalidInput("columns: choose at least one column", details=[{"field": "columns"}])
    unknown = [c for c in chosen if c not in EXPORT_COLUMNS]
    if unknown:
        raise InvalidInput(
            f"columns: unknown {', '.join(unknown)}; choose from {', '.join(EXPORT_COLUMNS)}",
            details=[{"field": "columns", "value": c} for c in unknown],
        )
    return chosen


# -- export --------------------------------------------------------------------------------


def _with_lookups(con: BaseBackend, base: ir.Table, columns: Sequence[str]) -> ir.Table:
    """``base`` plus the derived columns among ``columns`` (only the joins they need)."""
    wanted = set(columns)
    if wanted & {"city_id", "city_name"}:
        closure = con.table("org_closure")
        cities = closure.filter(closure.ancestor_kind == "city").select(
            _city_org=closure.descendant_id, city_id=closure.ancestor_id
        )
        base = base.left_join(cities, base.org_id == cities._city_org).drop("_city_org")
    for name, key in (("city_name", "city_id"), ("org_name", "org_id")):
        if name in wanted:
            units = con.table("org_units")
            names = units.select(_unit=units.org_id, **{name: units.name})
            base = base.left_join(names, base[key] == names._unit).drop("_unit")
    if "plan_name" in wanted:
        catalogue = con.table("products")
        products = catalogue.select(_plan=catalogue.product_id, plan_name=catalogue.name)
        base = base.left_join(products, base.plan_id == products._plan).drop("_plan")
    return base


def _defused(column: ir.StringValue) -> ir.StringValue:
    """``privacy.export.csv_cell``'s formula defusing, in the warehouse."""
    risky = reduce(or_, [column.startswith(p) for p in FORMULA_START])
    return ibis.cases((risky, "'" + column), else_=column)


def export_table(
    con: BaseBackend,
    members: ir.Table,
    columns: Sequence[str],
    *,
    unmask: bool,
    csv: bool,
) -> ir.Table:
    """The export rows: frozen ids left-joined with current attributes, masked unless ``unmask``.

    A left join, so every frozen member is exported even if the line has since
    left the caller's scope (its attributes are then empty).
    """
    subscribers = con.table("subscribers")
    joined = members.left_join(
        subscribers, members.subscriber_id == subscribers.subscriber_id
    ).select(members.subscriber_id, *(subscribers[c] for c in SUBSCRIBER_COLUMNS))
    rows = _with_lookups(con, joined, columns)
    values: dict[str, ir.Value] = {}
    for name in columns:
        value: ir.Value = rows[name]
        if name in PERSONAL and not unmask:
            value = mask_column(PERSONAL[name], value)
        if csv and value.type().is_string():
            value = _defused(value.cast("string"))
        values[name] = value.name(name)
    return rows.select(**values).order_by(rows.subscriber_id)


def _write(table: ir.Table, out: Path, export_format: ExportFormat) -> None:
    """Stream ``table`` to ``out`` in record batches (never all rows in Python at once)."""
    reader = table.to_pyarrow_batches(chunk_size=BATCH_ROWS)
    if export_format is ExportFormat.PARQUET:
        with pq.ParquetWriter(out, reader.schema) as parquet:
            for batch in reader:
                parquet.write_batch(batch)
        return
    # UTF-8 with a byte-order mark: without it Excel reads the file in the local ANSI
    # code page and Chinese names turn into mojibake (as privacy.export explains).
    with out.open("wb") as handle:
        handle.write(BOM.encode("utf-8"))
        options = pa_csv.WriteOptions(eol="\r\n")
        with pa_csv.CSVWriter(handle, reader.schema, write_options=options) as writer:
            for batch in reader:
                writer.write_batch(batch)


def export_snapshot(
    *,
    uow: UnitOfWork,
    con: BaseBackend,
    directory: Path,
    snapshot_id: int,
    out: Path,
    export_format: ExportFormat = ExportFormat.CSV,
    columns: Sequence[str] | None = None,
    unmask: bool = False,
) -> SnapshotExport:
    """Write a ready snapshot's members with subscriber columns to ``out`` (CSV or Parquet).

    Personal columns are masked unless ``unmask`` (the caller decides who may
    ask). The export is recorded and committed before the file is written, so
    a failure halfway never hides an export; ``out`` is replaced only by a
    complete file.
    """
    chosen = export_columns(columns)
    snapshot, path = ready_file(uow=uow, directory=directory, snapshot_id=snapshot_id)
    _, in_scope = actor_scope(uow, con)
    members = in_scope.read_parquet(source_of(path))
    table = export_table(
        in_scope, members, chosen, unmask=unmask, csv=export_format is ExportFormat.CSV
    )
    rows = int(snapshot.member_count or 0)
    shown = sorted(set(chosen) & set(PERSONAL))
    record_export(
        uow=uow,
        what=f"export of segment snapshot {snapshot.id} ({rows} lines, {export_format})",
        entity_type=ENTITY,
        entity_id=str(snapshot.id),
        details={
            "snapshot_id": snapshot.id,
            "segment_id": snapshot.segment_id,
            "version": snapshot.version,
            "rows": rows,
            "format": str(export_format),
            "columns": chosen,
            "personal_columns": shown,
            "unmasked": unmask,
        },
    )
    uow.commit()
    temporary = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        _write(table, temporary, export_format)
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    return SnapshotExport(
        snapshot_id=snapshot.id,
        segment_id=snapshot.segment_id,
        format=export_format,
        rows=rows,
        columns=chosen,
        unmasked=unmask,
        byte_size=out.stat().st_size,
    )
