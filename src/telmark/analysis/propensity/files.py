"""Reading a training table from CSV/Parquet bytes and writing scores out.

CSV encodings follow the warehouse importer's ``auto`` policy: a UTF-8 BOM
means UTF-8; otherwise UTF-8 if the bytes decode, else GB18030 (a superset of
GBK and GB2312). The importer's staging itself is bound to the data contract's
table specs, so only the policy is shared. Every CSV cell is read as text and
typed by ``domain.detect``.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from telmark.analysis.propensity.schemas import PropensityReport
from telmark.errors import InvalidInput

PARQUET_MAGIC = b"PAR1"
PARQUET_SUFFIXES = (".parquet", ".pq")


def decode_csv(raw: bytes) -> str:
    if raw.startswith(codecs.BOM_UTF8):
        return raw.decode("utf-8-sig")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        raise InvalidInput("the CSV is neither UTF-8 nor GBK/GB18030 text") from None


def read_table(raw: bytes, *, filename: str) -> pd.DataFrame:
    """A Parquet file (by suffix or magic bytes) or a CSV with a header row, as a frame."""
    if filename.lower().endswith(PARQUET_SUFFIXES) or raw[:4] == PARQUET_MAGIC:
        try:
            table = pq.read_table(io.BytesIO(raw))
        except (pa.ArrowInvalid, OSError) as error:
            raise InvalidInput(f"{filename}: not a readable Parquet file ({error})") from None
        frame: pd.DataFrame = table.to_pandas()
        return frame
    text = decode_csv(raw)
    if not text.strip():
        raise InvalidInput(f"{filename}: the file is empty")
    header = next(csv.reader(io.StringIO(text)))
    names = [name.strip() for name in header]
    if "" in names or len(set(names)) != len(names):
        raise InvalidInput(f"{filename}: the header has blank or duplicate column names")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InvalidInput(f"{filename}: not a readable CSV ({error})") from None
    frame.columns = pd.Index(names)
    return frame


def write_scores(report: PropensityReport, path: Path) -> None:
    """``id,score`` per row: Parquet for a ``.parquet``/``.pq`` path, CSV (UTF-8) otherwise."""
    table = pa.table(
        {
            report.id_column: pa.array([s.id for s in report.scores], pa.string()),
            "score": pa.array([s.score for s in report.scores], pa.float64()),
        }
    )
    if path.suffix.lower() in PARQUET_SUFFIXES:
        pq.write_table(table, path)
    else:
        pa_csv.write_csv(table, path)
