"""Helpers for browser tests: a live server on a free localhost port, and Debian's chromium."""
import os
import threading
from contextlib import contextmanager
from typing import Iterator

import pytest
from werkzeug.serving import make_server

from crm import create_app
from crm.demo import DEMO_PASSWORD, load_demo
from crm.extensions import db
from tests.conftest import _config_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]


def require_chromium() -> None:
    """Skip (outside CI) or fail (in CI) when Debian's chromium is missing."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("CI must run the browser tests, but /usr/bin/chromium is missing")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")


def demo_app(tmp_path):
    """An app on its own SQLite file with the demo users and history loaded, the page cache on as
    deployed (people move between pages they changed: each must show the change at once)."""
    app = create_app(_config_for(f"sqlite:///{tmp_path / 'browser.sqlite'}", UPLOAD_FOLDER=str(tmp_path / "up"),
                                 PAGE_CACHE=True))
    with app.app_context():
        db.create_all()
        load_demo()
    return app


@contextmanager
def live_server(app) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 in a background thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@contextmanager
def browser_context(viewport=None, locale: str = "da-DK") -> Iterator["object"]:
    """A Playwright page in headless Debian chromium (never a downloaded browser), with a Danish
    locale unless told otherwise."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser.new_page(viewport=viewport or {"width": 1400, "height": 900}, locale=locale)
        finally:
            browser.close()


def browser_page():
    """A Playwright page at 1400×900 with the Danish locale."""
    return browser_context()


def sign_in(page, base_url: str, email: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the real login form."""
    page.goto(f"{base_url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Adgangskode").fill(password)
    page.get_by_role("button", name="Log ind", exact=True).click()
    page.wait_for_load_state("networkidle")
