"""Segment snapshots: member lists frozen once, read back verified, exported masked.

The public functions live here (``store``: take, list, read; ``export``: files).

Taking a snapshot (``take_snapshot``):

1. The row is committed as ``building`` first, naming the file it will write
   (``segment-<id>/snapshot-<token>.parquet`` under the snapshot directory, a
   fresh token per attempt), so a crash always leaves a trace to clean up.
2. The warehouse writes the members — one ``subscriber_id`` column, sorted —
   to a hidden temporary name beside that file (``expr.to_parquet``: a file on
   DuckDB, a directory of parts on Spark) and it is renamed into place, so the
   final name only ever holds a complete list.
3. SHA-256, size and row count are computed from the file, and the row is
   marked ``ready`` with them in one commit. A failure removes the partial
   files and marks the row ``failed`` with the reason.

A retry with the same idempotency key returns the ready snapshot, or takes
over a ``building`` (crashed) or ``failed`` one; any new snapshot of the
segment marks abandoned ``building`` rows failed and removes their files. On
PostgreSQL a build holds a row lock (``FOR UPDATE``) until it commits, so a
live build is never taken over (Conflict) or cleaned (``SKIP LOCKED``), while
a crashed process's lock dies with its connection. SQLite has no row locks:
there a concurrent build can be abandoned by another, and it then fails at its
final check instead of marking a file it no longer owns ready.

Members are always drawn from the *actor's* org scope (whatever backend is
passed in), and the row records that unit: a city manager's snapshot holds only
their city's lines, and only users who see that unit may read or export it.

Reading (``snapshot_members``) checks the file's SHA-256 first, so a list that
was changed on disk is refused rather than used by a case. Exports
(``export_snapshot``) join the frozen ids with the subscribers' current
attributes, mask personal columns in the warehouse (``mask_column``) unless the
caller may unmask and asks, record the export in the audit trail (snapshot,
row count, columns — never the ids) and stream record batches to a file.
"""

from telmark.segments.snapshots.export import (
    DEFAULT_EXPORT_COLUMNS,
    EXPORT_COLUMNS,
    export_columns,
    export_snapshot,
    export_table,
)
from telmark.segments.snapshots.store import (
    SnapshotCorrupt,
    clean_key,
    file_digest,
    get_snapshot,
    list_snapshots,
    snapshot_members,
    take_snapshot,
)

__all__ = [
    "DEFAULT_EXPORT_COLUMNS",
    "EXPORT_COLUMNS",
    "SnapshotCorrupt",
    "clean_key",
    "export_columns",
    "export_snapshot",
    "export_table",
    "file_digest",
    "get_snapshot",
    "list_snapshots",
    "snapshot_members",
    "take_snapshot",
]
