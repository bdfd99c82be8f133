"""Shared parts of the web page tests (test_web_* under tests/integration and tests/system).

- `web_app(settings)`: `create_app(settings)` with the web router included (unless the app
  already serves it).
- `LiveServer`: that app under uvicorn in a thread on a free 127.0.0.1 port, so Chromium can
  reach it; `runtime` is the running portal's Runtime.
- `chromium()`: Debian's /usr/bin/chromium through Playwright (never `playwright install`).
- `screenshot(page, name)`: a full-page PNG under test-artifacts/screenshots/.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.routing import NoMatchFound

from portal.app import create_app
from portal.auth.service import add_user
from portal.config import Settings
from portal.db import transaction
from portal.evidence.models import Evidence
from portal.runtime import Runtime
from portal.web.router import root_router
from portal.web.router import router as web_router
from tests.support import REPO
from tests.support.api import PASSWORD, new_submission, runtime
from tests.support.servers import free_port
from tests.support.uploads import upload

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A mid-range phone.
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 900}}


def web_app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    try:
        app.url_path_for("consent_page")
    except NoMatchFound:
        app.include_router(web_router)
        app.include_router(root_router)
    return app


class LiveServer:
    """uvicorn serving `web_app(settings)` in a thread."""

    def __init__(self, settings: Settings) -> None:
        self.app = web_app(settings)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the web test server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)

    @property
    def runtime(self) -> Runtime:
        rt: Runtime = self.app.state.runtime
        return rt

    def add_staff(self, name: str, role: str) -> str:
        rt = self.runtime
        with transaction(rt.sessions) as db:
            return add_user(db, name=name, role=role, password=PASSWORD, now=rt.clock()).id

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


@contextmanager
def live_server(settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(settings).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(
            f"{CHROMIUM} is missing: apt-get install -y chromium (never `playwright install`)"
        )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class PageProblems:
    """Console errors (CSP violations among them) and uncaught exceptions of a page."""

    def __init__(self, page: Any) -> None:
        self.messages: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.messages.append(f"pageerror: {exc}"))
        page.on("response", self._response)

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.messages.append(f"HTTP {response.status}: {response.url}")

    def _console(self, message: Any) -> None:
        text = message.text
        if message.type == "error" or "Content Security Policy" in text:
            self.messages.append(f"{message.type}: {text}")

    def csp_violations(self) -> list[str]:
        return [m for m in self.messages if "Content Security Policy" in m]


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def csrf_of(client: TestClient, path: str = "/web/") -> str:
    """The CSRF token a page's forms carry (its cookie is now in the client's jar)."""
    r = client.get(path)
    found = re.search(r'name="csrf" value="([^"]+)"', r.text)
    assert found, r.text[:500]
    return found.group(1)


def received(client: Any, video: Path, **extra: Any) -> tuple[str, str, str]:
    """(submission id, witness token, evidence id) of a video received through the API."""
    sub_id, token = new_submission(client, **extra)
    upload(client, {"Authorization": f"Bearer {token}"}, video.read_bytes(), name="clip.mp4")
    rt = runtime(client)
    with rt.sessions() as db:
        item = db.scalars(select(Evidence).where(Evidence.submission_id == sub_id)).one()
        return sub_id, token, item.id


def staff_web(client: TestClient, name: str) -> TestClient:
    """A browser-like client of the same app, logged in to the staff pages as `name` (an
    account that exists, with the test password)."""
    web = TestClient(client.app, base_url="https://testserver")
    login = {"csrf": csrf_of(web, "/web/staff/login"), "username": name, "password": PASSWORD}
    assert web.post("/web/staff/login", data=login, follow_redirects=False).status_code == 303
    return web
