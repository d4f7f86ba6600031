"""CSV exports that spreadsheet users open safely: UTF-8 with BOM, no formula injection.

Excel takes a CSV without a byte-order mark for the local ANSI code page and
turns Chinese into mojibake; with the BOM it reads UTF-8. A cell starting
with ``=``, ``+``, ``-``, ``@`` (or a tab/carriage return) would be run as a
formula when the file is opened, and exported text (a reason, a user agent)
comes from users, so such cells are prefixed with an apostrophe, which Excel
shows as plain text (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from starlette.responses import StreamingResponse

from telmark.db import utcnow

BOM = "\ufeff"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK_ROWS = 1000


def csv_cell(value: Any) -> str:
    """One cell's text: empty for None, numbers as they are, risky text defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV text (BOM first) in chunks of ``CHUNK_ROWS`` rows, for streaming."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow([csv_cell(v) for v in row])
        if count % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_download(chunks: Iterator[str], stem: str) -> StreamingResponse:
    """A streamed CSV download named ``<stem>-<UTC time>.csv``."""
    name = f"{stem}-{utcnow():%Y%m%d-%H%M%S}.csv"
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
