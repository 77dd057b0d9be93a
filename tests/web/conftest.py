"""The browser test harness: one real service and one Chromium per test session.

``web`` is one ``gencredits serve`` on SQLite with a publishable key set for the
estimator (``GENCREDITS_WEB_PUBLISHABLE_KEY``) and a wallet seeded over HTTP; ``browser``
is Debian's Chromium driven by Playwright (launched by its path: a browser cannot be
downloaded here; ``make browser`` installs it).  A missing browser skips these tests,
except under ``CI=true``, where it is a failure.  Each test gets a fresh browser context
(cookies and storage of its own); its last screen is saved under ``test-artifacts/``.
"""

from __future__ import annotations

import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from tests.api.conftest import LiveService
from tests.web.seed import SeededWallet, seed_wallet

from gencredits.api.keys import KeyStore
from gencredits.storage.sql import engine as db

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
#: The one origin the service lets call it from a browser (a platform embedding the widget);
#: the browser tests serve pages "from" it and from another origin through Playwright (both
#: on loopback: Chromium keeps public sites from calling loopback addresses at all).


def chromium_path() -> str | None:
    chosen = os.environ.get("GENCREDITS_CHROMIUM")
    if chosen:
        return chosen if Path(chosen).exists() else None
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class Web:
    """The running service, its keys and the seeded wallet."""

    live: LiveService
    admin_key: str
    billing_key: str
    publishable_key: str
    wallet: SeededWallet

    @property
    def url(self) -> str:
        return self.live.url

    def api(self, key: str | None = None) -> httpx.Client:
        return self.live.client(key or self.admin_key)


class PlatformSite:
    """A platform's own web site: a small HTTP server on loopback that serves the pages a
    test gives it.  The same server is two origins: ``allowed`` (``localhost``), which the
    service's CORS allow-list names, and ``other`` (``127.0.0.1``), which it does not."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.pages.get(self.path, "not found").encode()
                self.send_response(200 if self.path in site.pages else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def allowed(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def other(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def platform() -> Iterator[PlatformSite]:
    site = PlatformSite()
    yield site
    site.close()


@pytest.fixture(scope="session")
def web(tmp_path_factory: pytest.TempPathFactory, platform: PlatformSite) -> Iterator[Web]:
    workdir = tmp_path_factory.mktemp("web")
    url = f"sqlite:///{workdir / 'gencredits.db'}"
    keys = make_keys(url, "admin", "billing", "publishable")
    live = LiveService(url, workdir)
    # The estimator prices with a publishable key printed in the page; the browser tests
    # price hundreds of times a minute, so its rate is raised for them.
    live.env_extra.update(
        GENCREDITS_WEB_PUBLISHABLE_KEY=keys["publishable"],
        GENCREDITS_PUBLISHABLE_RATE_PER_MIN="100000",
        GENCREDITS_CORS_ORIGINS=platform.allowed,
    )
    live.start()
    try:
        live.admin_key = keys["admin"]
        with live.client(keys["admin"]) as api:
            wallet = seed_wallet(api, "user-ada")
        yield Web(live, keys["admin"], keys["billing"], keys["publishable"], wallet)
    finally:
        live.stop()


def make_keys(url: str, *scopes: str) -> dict[str, str]:
    """A migrated database at ``url`` with one key of each scope (made in-process: a CLI
    call per key would cost a second each)."""
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        store = KeyStore(engine)
        return {scope: store.create(scope, [scope])[1] for scope in scopes}
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        message = "Chromium is not installed (make browser installs Debian's chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    launched = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    # bypass_csp: the pages allow only their own scripts; the test injects axe-core.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    ARTIFACTS.mkdir(exist_ok=True)
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    try:
        opened.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        context.close()
    assert not errors, f"script errors on the page: {errors}"


def assert_accessible(page: Page) -> None:
    """axe-core (vendored, pinned) finds no serious or critical violation on the page."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"
    )
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not bad, f"accessibility violations on {page.url}: {bad}"
