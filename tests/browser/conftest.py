"""Browser fixtures: the real app served by uvicorn on a loopback port, driven by Debian's Chromium.

The app keeps its default (non-demo) settings, so its cookies are Secure: Chromium treats
http://127.0.0.1 as a secure context and keeps them."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.conftest import Org

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path("/tmp/haven-shots")

OpenPage = Callable[..., Page]
Shot = Callable[[Page, str], None]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def origin(app: FastAPI, org: Org) -> Iterator[str]:
    """The server's origin; the organisation exists before the first page loads."""
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def context(browser: Browser, origin: str) -> Iterator[BrowserContext]:
    """A requester's browser with JavaScript off: the public pages must work without it."""
    ctx = browser.new_context(base_url=origin, java_script_enabled=False)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def new_page(browser: Browser, origin: str) -> Iterator[OpenPage]:
    """Opens a page in a fresh context (no cookies shared): another person, or the same one later."""
    contexts: list[BrowserContext] = []

    def open_page(*, javascript: bool = True) -> Page:
        ctx = browser.new_context(base_url=origin, java_script_enabled=javascript)
        contexts.append(ctx)
        return ctx.new_page()

    yield open_page
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def shot() -> Shot:
    """Saves a full-page screenshot for a human to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> None:
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    return take
