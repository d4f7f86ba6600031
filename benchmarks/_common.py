"""Shared helpers of the benchmarks: timing, peak memory, machine facts, result files.

Every benchmark writes its raw figures to ``benchmarks/results/<name>.json`` and
replaces its own section (``## <Title>``) of ``benchmarks/RESULTS.md``, leaving
the other benchmarks' sections as they were.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

try:  # psutil sums a process tree's memory; without it, fall back to rusage
    import psutil
except ImportError:  # pragma: no cover - psutil is a dev dependency
    psutil = None

HERE = Path(__file__).resolve().parent
RESULTS_MD = HERE / "RESULTS.md"
RESULTS_DIR = HERE / "results"
T = TypeVar("T")


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def machine() -> dict[str, Any]:
    """Facts that make figures comparable: CPU, cores, memory, load, library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "load_average": [round(x, 2) for x in os.getloadavg()]
        if hasattr(os, "getloadavg")
        else None,
    }
    if psutil is not None:
        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    for module in ("numpy", "pyarrow", "duckdb"):
        try:
            info[module] = __import__(module).__version__
        except ImportError:
            continue
    return info


def _tree_rss() -> int:
    me = psutil.Process()
    total = 0
    for process in [me, *me.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total


class PeakRss:
    """Samples the resident memory of this process and all its children.

    ``peak_bytes`` is the largest sum seen. Without psutil it falls back to the
    kernel's high-water marks (self + largest child), which undercount trees.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, _tree_rss())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        if psutil is None:
            return self
        self.peak_bytes = _tree_rss()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is None:
            import resource

            own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            self.peak_bytes = (own + child) * 1024  # Linux reports KiB
            return
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, _tree_rss())


@dataclass
class Measurement:
    seconds: list[float] = field(default_factory=list)
    peak_rss_bytes: list[int] = field(default_factory=list)

    @property
    def median_seconds(self) -> float:
        return median(self.seconds)

    @property
    def max_peak_rss_bytes(self) -> int:
        return max(self.peak_rss_bytes, default=0)


@contextmanager
def stopwatch(measurement: Measurement, *, memory: bool = True) -> Iterator[None]:
    """Add one timed (and memory-sampled) run to ``measurement``."""
    monitor = PeakRss() if memory else None
    if monitor is not None:
        monitor.__enter__()
    started = time.perf_counter()
    try:
        yield
    finally:
        measurement.seconds.append(time.perf_counter() - started)
        if monitor is not None:
            monitor.__exit__(None, None, None)
            measurement.peak_rss_bytes.append(monitor.peak_bytes)


def repeat(fn: Callable[[], T], *, times: int, memory: bool = True) -> tuple[Measurement, T]:
    """Run ``fn`` ``times`` times; the last result is returned with the timings."""
    measurement = Measurement()
    result: T | None = None
    for _ in range(times):
        with stopwatch(measurement, memory=memory):
            result = fn()
    assert result is not None or times > 0
    return measurement, result  # type: ignore[return-value]


def gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.2f} GiB"


def write_json(name: str, payload: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(
        json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    return path


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def update_section(title: str, body: str, path: Path = RESULTS_MD) -> None:
    """Replace the ``## <title>`` section of RESULTS.md (or append it) with ``body``."""
    heading = f"## {title}"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    section = f"{heading}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def machine_markdown(info: dict[str, Any]) -> str:
    parts = [f"{info.get('cpu')}", f"{info.get('cores')} cores"]
    if "memory_gib" in info:
        parts.append(f"{info['memory_gib']} GiB RAM")
    parts.append(f"Python {info.get('python')}")
    libs = ", ".join(f"{m} {info[m]}" for m in ("numpy", "pyarrow", "duckdb") if m in info)
    load = info.get("load_average")
    line = " · ".join(parts) + (f" · {libs}" if libs else "")
    if load:
        line += f" · load average at start {load[0]}"
    return line


# Generated provinces shared by the analysis benchmarks, kept between runs (gitignored):
# generating and loading 10M subscribers × 6 months takes a few minutes, so it is done once.
PROVINCE_CACHE = HERE / "work" / "provinces"


def province_warehouse(*, subscribers: int, months: int = 6, seed: int = 42) -> str:
    """URL of a DuckDB warehouse holding a generated province, built on first use.

    The end month is fixed (2025-06) so figures are comparable between runs.
    A ``.complete`` marker is written last, so an interrupted build is redone.
    """
    from datetime import date

    from telmark.warehouse.connection import connect
    from telmark.warehouse.generator import generate_province
    from telmark.warehouse.importer import load_directory

    root = PROVINCE_CACHE / f"s{subscribers}-m{months}-seed{seed}"
    database = root / "warehouse.duckdb"
    marker = root / ".complete"
    if not marker.exists():
        import shutil

        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        generate_province(
            out_dir=root / "parquet",
            subscribers=subscribers,
            months=months,
            seed=seed,
            end_month=date(2025, 6, 1),
        )
        con = connect(f"duckdb://{database}")
        try:
            load_directory(con=con, directory=root / "parquet")
        finally:
            con.disconnect()
        shutil.rmtree(root / "parquet")
        marker.write_text("ok\n", encoding="utf-8")
    return f"duckdb://{database}"
