"""Optional test capabilities: skipped locally when absent, fatal in CI.

``make test`` on a bare machine skips what it cannot run (PostgreSQL, Chromium,
Java for Spark) and says so; ``.ci/run`` sets ``TELMARK_REQUIRE`` (e.g.
``postgres,browser,spark``) so that a missing capability fails the run instead
of hiding behind a skip.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def required(capability: str) -> bool:
    wanted = os.environ.get("TELMARK_REQUIRE", "")
    return capability in {c.strip() for c in wanted.split(",") if c.strip()}


def unavailable(capability: str, reason: str) -> NoReturn:
    """Skip the test, or fail it when CI requires ``capability``."""
    if required(capability):
        pytest.fail(f"{capability} is required (TELMARK_REQUIRE) but unavailable: {reason}")
    pytest.skip(f"{capability} unavailable: {reason}")
