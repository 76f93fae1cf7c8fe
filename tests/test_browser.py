"""Browser tests of the pages people use most, in Debian's chromium via Playwright."""
import pytest

from tests.browser_support import browser_page, demo_app, live_server, sign_in

pytestmark = pytest.mark.browser


def test_sign_in_and_start_page(tmp_path):
    app = demo_app(tmp_path)
    console_errors: list[str] = []
    with live_server(app) as base_url, browser_page() as page:
        page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
        page.goto(f"{base_url}/")
        assert "/login" in page.url
        sign_in(page, base_url, "hovedstaden@demo.ips.dk")
        assert page.url.rstrip("/") == base_url
        assert page.get_by_role("heading", name="Region Hovedstaden").first.is_visible()
        assert page.get_by_role("link", name="København").first.is_visible()
        page.screenshot(path=str(tmp_path / "start.png"), full_page=True)

        page.get_by_role("link", name="Kommuner", exact=True).first.click()
        page.get_by_label("Søg navn eller kode").fill("Aar")
        page.get_by_role("button", name="Vis").click()
        assert page.get_by_role("link", name="Aarhus").is_visible()
    assert console_errors == [], console_errors  # no CSP violations or broken scripts


def test_wrong_password_in_the_browser(tmp_path):
    app = demo_app(tmp_path)
    with live_server(app) as base_url, browser_page() as page:
        sign_in(page, base_url, "hovedstaden@demo.ips.dk", password="forkert")
        assert "/login" in page.url
        assert page.get_by_text("Forkert e-mail eller adgangskode.").is_visible()
        assert page.get_by_label("E-mail").input_value() == "hovedstaden@demo.ips.dk"
