"""Run a coroutine to completion from a test, whatever event loop the process already has.

The browser tests' sync Playwright keeps an event loop running in the main thread for the
whole session, and ``asyncio.run`` refuses to start inside a running loop; a fresh thread
has no loop, so the coroutine gets its own there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)`` in a thread of its own; returns its result or raises its error."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
