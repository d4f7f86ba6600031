"""Browser-test harness: the app on a live uvicorn server, driven by Debian's headless Chromium.

Chromium is the system package (``/usr/bin/chromium``, or ``TELMARK_CHROMIUM``), not
Playwright's download, so the tests run offline. Without it the tests skip with the
reason — unless CI demands a browser (``TELMARK_REQUIRE_BROWSER=1`` or ``browser`` in
``TELMARK_REQUIRE``), in which case a missing Chromium fails the run.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import uvicorn

from telmark.config import Settings
from telmark.web.app import create_app
from tests._factories.warehouse import build_sample_province
from tests.requirements import required

CHROMIUM_ENV = "TELMARK_CHROMIUM"
REQUIRE_ENV = "TELMARK_REQUIRE_BROWSER"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def _browser_required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1" or required("browser")


def _chromium_path() -> str:
    path = os.environ.get(CHROMIUM_ENV, DEFAULT_CHROMIUM)
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        reason = f"no Chromium at {path} (apt install chromium, or set {CHROMIUM_ENV})"
        if _browser_required():
            pytest.fail(f"a browser is required ({REQUIRE_ENV}/TELMARK_REQUIRE) but {reason}")
        pytest.skip(f"browser tests skipped: {reason}")
    return path


@dataclass
class LiveServer:
    url: str
    data_dir: Path


def _serve(settings: Settings) -> tuple[uvicorn.Server, threading.Thread, str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # a free port, held until uvicorn takes the socket over
    port = sock.getsockname()[1]
    # ws="none": no websocket stack is needed, and importing it warns (pytest -W error).
    config = uvicorn.Config(
        create_app(settings), log_level="warning", access_log=False, ws="none", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session", autouse=True)
def chromium_path() -> str:
    """Checked first (autouse), so a missing browser skips before the province is built."""
    return _chromium_path()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app serving a seeded 13-city province (12 months) on a free localhost port."""
    root = tmp_path_factory.mktemp("live")
    warehouse = build_sample_province(root, subscribers=6_000, months=12)
    settings = Settings(data_dir=root / "data", warehouse_url=warehouse.url)
    server, thread, url = _serve(settings)
    yield LiveServer(url=url, data_dir=root)
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@dataclass
class PageProbe:
    """A page plus everything it reported: console errors, page errors, requests."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        return [
            url
            for url in self.requests
            if urlparse(url).scheme not in ("data", "blob")
            and urlparse(url).hostname not in LOCAL_HOSTS
        ]


@pytest.fixture
def probe(browser: Any) -> Iterator[PageProbe]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15_000)
    result = PageProbe(page=page)
    page.on(
        "console", lambda message: result.errors.append(message.text)
        if message.type == "error" else None
    )  # fmt: skip
    page.on("pageerror", lambda error: result.errors.append(str(error)))
    page.on("request", lambda request: result.requests.append(request.url))
    yield result
    context.close()


def login(probe: PageProbe, url: str, username: str, path: str, password: str) -> None:
    """Sign in through the real login page and land on ``path``."""
    page = probe.page
    page.context.clear_cookies()
    page.goto(f"{url}/login?next={path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(url + path)
