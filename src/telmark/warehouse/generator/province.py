"""Generate a whole synthetic province: shared tables once, subscribers in chunks.

Subscribers are cut into fixed-size chunks; chunk k draws from its own random
stream ``SeedSequence(seed, spawn_key=(1, k))`` and writes its own Parquet
part of every per-subscriber table. The output therefore depends only on
(subscribers, months, seed, end_month), never on how many workers ran the
chunks or in which order. Workers are threads: numpy and Arrow release the GIL
for the bulk of the work (drawing, arithmetic, take, Parquet encoding), and
threads avoid pickling the world and spawn-safety rules (measured in
docs/generator.md).
"""

from __future__ import annotations

import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from telmark.errors import InvalidInput
from telmark.warehouse.contract import CONTRACT, TRUTH
from telmark.warehouse.generator import writer
from telmark.warehouse.generator.catalog import build_catalog
from telmark.warehouse.generator.org import build_org
from telmark.warehouse.generator.tables import World, chunk_tables
from telmark.warehouse.generator.window import make_window

GENERATOR_VERSION = "1"
CHUNK_SIZE = 250_000
MAX_SUBSCRIBERS = 200_000_000
SHARED_TABLES = ("org_units", "staff", "agents", "products")
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class GenerationReport:
    """What was generated, where, and how long it took."""

    out_dir: Path
    subscribers: int
    months: int
    seed: int
    end_month: date
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    chunks: int = 0
    workers: int = 1


def _chunks(subscribers: int, chunk_size: int) -> Iterator[tuple[int, int, int]]:
    for k, start in enumerate(range(0, subscribers, chunk_size)):
        yield k, start + 1, min(chunk_size, subscribers - start)


def _build_world(*, seed: int, subscribers: int, months: int, end_month: date | None) -> World:
    window = make_window(end_month=end_month, months=months)
    rng = np.random.Generator(np.random.SFC64(np.random.SeedSequence(seed, spawn_key=(0,))))
    org = build_org(rng, subscribers=subscribers, data_date=window.data_date)
    return World(
        seed=seed, org=org, catalog=build_catalog(first_day=window.first_day), window=window
    )


def _write_chunk(world: World, root: Path, chunk: int, first_id: int, size: int) -> dict[str, int]:
    tables = chunk_tables(world, chunk=chunk, first_id=first_id, size=size)
    specs = {**CONTRACT, **TRUTH}
    return {
        name: writer.write_part(root, specs[name], cols, chunk) for name, cols in tables.items()
    }


def _validate(subscribers: int, seed: int, workers: int | None) -> None:
    problems: list[dict[str, object]] = []
    if not 1 <= subscribers <= MAX_SUBSCRIBERS:
        problems.append(
            {
                "field": "subscribers",
                "value": subscribers,
                "reason": f"must be between 1 and {MAX_SUBSCRIBERS}",
            }
        )
    if seed < 0:
        problems.append({"field": "seed", "value": seed, "reason": "must be >= 0"})
    if workers is not None and workers < 1:
        problems.append({"field": "workers", "value": workers, "reason": "must be >= 1"})
    if problems:
        raise InvalidInput("invalid generator parameters", details=problems)


def generate_province(
    *,
    out_dir: Path,
    subscribers: int,
    months: int,
    seed: int,
    end_month: date | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> GenerationReport:
    """Write a synthetic province as Parquet under ``out_dir/<table>/part-NNNNN.parquet``.

    ``end_month`` defaults to the last complete calendar month; ``workers``
    (default: one per CPU) changes only the speed, never the data.
    """
    started = time.perf_counter()
    _validate(subscribers, seed, workers)
    world = _build_world(seed=seed, subscribers=subscribers, months=months, end_month=end_month)
    out_dir = Path(out_dir)
    writer.check_target(out_dir)
    report = progress or (lambda _label, _done, _total: None)
    chunk_size = CHUNK_SIZE
    chunks = list(_chunks(subscribers, chunk_size))
    pool_size = min(workers or os.cpu_count() or 1, len(chunks))
    staging = writer.staging_dir(out_dir)
    try:
        rows: dict[str, int] = {}
        shared = {
            "org_units": world.org.org_units,
            "staff": world.org.staff,
            "agents": world.org.agents,
            "products": world.catalog.table,
        }
        for name in SHARED_TABLES:
            rows[name] = writer.write_part(staging, CONTRACT[name], shared[name], 0)
        done = 0
        report("subscribers", 0, subscribers)
        for counts, size in _run(world, staging, chunks, pool_size):
            for name, count in counts.items():
                rows[name] = rows.get(name, 0) + count
            done += size
            report("subscribers", done, subscribers)
        ordered = {name: rows[name] for name in (*CONTRACT, *TRUTH)}
        result = GenerationReport(
            out_dir=out_dir,
            subscribers=subscribers,
            months=months,
            seed=seed,
            end_month=world.window.end_month,
            rows=ordered,
            chunks=len(chunks),
            workers=pool_size,
            seconds=round(time.perf_counter() - started, 3),
        )
        writer.write_manifest(
            staging,
            {
                "generator_version": GENERATOR_VERSION,
                "params": {
                    "subscribers": subscribers,
                    "months": months,
                    "seed": seed,
                    "end_month": world.window.end_month.isoformat(),
                },
                "first_month": world.window.first_month.isoformat(),
                "chunk_size": chunk_size,
                "rows": ordered,
                "seconds": result.seconds,
            },
        )
        writer.publish(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result


def _run(
    world: World, root: Path, chunks: list[tuple[int, int, int]], pool_size: int
) -> Iterator[tuple[dict[str, int], int]]:
    """Yield (row counts, subscribers) per finished chunk, in chunk order."""
    if pool_size <= 1:
        for chunk, first_id, size in chunks:
            yield _write_chunk(world, root, chunk, first_id, size), size
        return
    # One chunk waits queued behind the running ones so no thread idles, and
    # memory stays bounded by pool_size chunks whatever the subscriber count.
    pool = ThreadPoolExecutor(pool_size, thread_name_prefix="telmark-generate")
    pending: deque[tuple[Future[dict[str, int]], int]] = deque()
    try:
        for chunk, first_id, size in chunks:
            pending.append((pool.submit(_write_chunk, world, root, chunk, first_id, size), size))
            if len(pending) > pool_size:
                future, done = pending.popleft()
                yield future.result(), done
        while pending:
            future, done = pending.popleft()
            yield future.result(), done
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
