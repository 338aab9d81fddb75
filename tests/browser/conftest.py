"""The real app served by uvicorn on a loopback port, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.runtime import Runtime
from bot.settings import Settings
from tests.conftest import Clock
from tests.servers import free_port, server_missing

CHROMIUM = "/usr/bin/chromium"
INSTALL_HINT = "install Debian's Chromium: apt-get install chromium"
# No GPU, no sandbox (root in a container), and nothing that calls out to Google's servers.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
_START_TIMEOUT = 15.0


class LiveServer:
    """uvicorn running the app in a thread of the test process (the test clock is shared)."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = settings.model_copy(update={"public_url": self.url})
        self.runtime = Runtime(settings, clock=clock)
        app = create_app(settings, runtime=self.runtime)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=_START_TIMEOUT)


@pytest.fixture
def live_server(
    network: sessionmaker[Session], settings: Settings, clock: Clock
) -> Iterator[LiveServer]:
    server = LiveServer(settings, clock)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A headless Chromium (Debian's package; Playwright downloads no browser here)."""
    if shutil.which(CHROMIUM) is None:
        server_missing(f"Chromium is not at {CHROMIUM}: {INSTALL_HINT}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        server_missing("Playwright is not installed: make test installs the dev dependencies")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots go (gitignored), for a person to look at after the run."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
