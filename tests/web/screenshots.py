"""Retake the README's screenshots: ``make screenshots`` (``python -m tests.web.screenshots
docs/img``).  Starts a fresh service in a temporary folder, seeds a wallet over HTTP, and
photographs the estimator (desktop and phone width) and a wallet page in Debian's Chromium."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright
from tests.api.conftest import LiveService
from tests.web.conftest import chromium_path, make_keys
from tests.web.estimator_driver import choose, open_estimator, settled
from tests.web.seed import seed_wallet


def estimator(page: Page, url: str) -> None:
    open_estimator(page, url)
    choose(page, "creative-suite|veo-3.1|text-to-video")
    page.select_option("#set-resolution", "1080p")
    page.select_option("#set-duration", "8")
    page.fill("#set-generations", "3")
    settled(page)
    page.wait_for_function("!document.getElementById('cheaper').hidden")
    page.locator('input[value="creative-suite|seedance|text-to-video"]').focus()
    page.locator("#set-generations").focus()


def take(out: Path) -> None:
    browser_path = chromium_path()
    if browser_path is None:
        sys.exit("Chromium is missing: make browser installs it")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'gencredits.db'}"
        keys = make_keys(url, "admin", "publishable")
        live = LiveService(url, Path(tmp))
        live.env_extra["GENCREDITS_WEB_PUBLISHABLE_KEY"] = keys["publishable"]
        live.start()
        try:
            admin = keys["admin"]
            with live.client(admin) as api:
                seed_wallet(api, "user-ada")
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
                # bypass_csp: Playwright's waits evaluate text, which the pages' CSP forbids.
                page = browser.new_page(viewport={"width": 1280, "height": 820}, bypass_csp=True)
                estimator(page, live.url)
                page.screenshot(path=str(out / "estimator.png"))
                phone = browser.new_page(viewport={"width": 390, "height": 844}, bypass_csp=True)
                estimator(phone, live.url)
                phone.screenshot(path=str(out / "estimator-phone.png"))
                page.goto(live.url + "/staff")
                page.fill("#api-key", admin)
                page.click("form[action='/staff/signin'] button")
                page.goto(live.url + "/staff/wallets/user-ada")
                page.screenshot(path=str(out / "wallet.png"), full_page=True)
                browser.close()
        finally:
            live.stop()


if __name__ == "__main__":
    take(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img"))
