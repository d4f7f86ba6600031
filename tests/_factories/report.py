"""Report test data: the sample province with its KPI cube and a churn_scores table, PDF text."""

from __future__ import annotations

import base64
import re
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from telmark.analysis.kpi import service as kpi_service
from telmark.warehouse.connection import connect
from tests._factories.market import sample_warehouse
from tests._factories.warehouse import FactoryWarehouse

SCORE_VERSION = 3


def score_rows(warehouse: FactoryWarehouse) -> pa.Table:
    """A churn_scores table over the active lines (probabilities spread by subscriber id)."""
    subscribers = warehouse.tables["subscribers"].to_pylist()
    usage = warehouse.tables["usage_monthly"]
    feature_month = max(usage.column("month").to_pylist())
    active = [s["subscriber_id"] for s in subscribers if s["status"] == "active"]
    probability = [round((sid * 37 % 100) / 100, 2) for sid in active]
    decile = [min(10, int(p * 10) + 1) for p in probability]
    band = ["high" if d >= 9 else "medium" if d >= 6 else "low" for d in decile]
    return pa.table(
        {
            "subscriber_id": pa.array(active, pa.int64()),
            "model_version": pa.array([SCORE_VERSION] * len(active), pa.int64()),
            "feature_month": pa.array([feature_month] * len(active), pa.date32()),
            "churn_probability": pa.array(probability, pa.float64()),
            "risk_decile": pa.array(decile, pa.int64()),
            "risk_band": pa.array(band, pa.string()),
            "scored_at": pa.array(
                [datetime(2025, 3, 1, tzinfo=UTC)] * len(active), pa.timestamp("us", tz="UTC")
            ),
        }
    )


def report_warehouse(directory: Path) -> FactoryWarehouse:
    """The sample province with ``kpi_cube`` built and ``churn_scores`` written."""
    warehouse = sample_warehouse(directory)
    con = connect(warehouse.url)
    try:
        kpi_service.refresh_cube(con=con)
        scores = score_rows(warehouse)
        con.create_table("churn_scores", scores)
    finally:
        con.disconnect()
    return FactoryWarehouse(
        path=warehouse.path, tables={**warehouse.tables, "churn_scores": scores}
    )


def pdf_text_streams(data: bytes) -> list[bytes]:
    """The decoded content streams of a reportlab PDF (ASCII85 + Flate)."""
    found = []
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
        raw = match.group(1).strip()
        if raw.endswith(b"~>"):
            raw = base64.a85decode(raw[:-2])
        try:
            found.append(zlib.decompress(raw))
        except zlib.error:
            found.append(raw)
    return found


def pdf_literal(text: str) -> bytes:
    """``text`` as reportlab writes it with a UCS-2 CID font: UTF-16BE, octal escapes."""
    out = []
    for byte in text.encode("utf-16-be"):
        if byte in b"()\\":
            out.append(b"\\" + bytes([byte]))
        elif 32 <= byte < 127:
            out.append(bytes([byte]))
        else:
            out.append(f"\\{byte:03o}".encode())
    return b"".join(out)
