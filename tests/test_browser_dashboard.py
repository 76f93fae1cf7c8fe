"""Browser test of the national dashboard with demo data, in Debian's chromium via Playwright."""
import pytest

from tests.browser_support import browser_page, demo_app, live_server, require_chromium, sign_in

pytestmark = pytest.mark.browser


def test_dashboard_map_is_visible_with_98_municipalities(tmp_path):
    require_chromium()  # skip cleanly before building the demo database
    app = demo_app(tmp_path)
    console_errors: list[str] = []
    with live_server(app) as base_url, browser_page() as page:
        page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
        sign_in(page, base_url, "arbejdsgruppe@demo.ips.dk")
        page.get_by_role("button", name="Rapporter").click()
        page.get_by_role("link", name="Nationalt overblik").click()
        page.wait_for_load_state("networkidle")
        assert page.url.startswith(f"{base_url}/overblik/")

        svg_map = page.locator("svg#dk-map")
        assert svg_map.is_visible()
        box = svg_map.bounding_box()
        assert box and box["width"] > 250 and box["height"] > 300
        assert page.locator("svg#dk-map path[data-code]").count() == 98
        for code in (825, 741, 563, 492, 400):
            assert page.locator(f'svg#dk-map path[data-code="{code}"]').is_visible()
        assert page.locator("svg.trend-chart").count() == 6
        assert page.get_by_text("Geodatastyrelsen og Danske Kommuner", exact=False).first.is_visible()
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

        # Enhancements: the slider appears, hovering a municipality names it, PNG download is offered.
        assert page.locator("#asof-slider").is_visible()
        assert page.locator("#map-png").is_visible()
        page.locator('svg#dk-map path[data-code="751"]').hover()
        assert "Aarhus" in page.locator("#map-info").inner_text()

        # PNG for slides: the SVG download drawn onto a canvas in the browser.
        with page.expect_download() as download_info:
            page.locator("#map-png").click()
        download = download_info.value
        assert download.suggested_filename.endswith(".png")
        png = tmp_path / download.suggested_filename
        download.save_as(png)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000

        # Keyboard: focus a municipality and press Enter to open it.
        page.locator('svg#dk-map a:has(path[data-code="851"])').focus()
        assert "Aalborg" in page.locator("#map-info").inner_text()  # focus shows it too
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.endswith("/kommuner/851")

        # The slider sets the date field and submits: an earlier month.
        page.goto(f"{base_url}/overblik/")
        slider = page.locator("#asof-slider")
        slider.focus()
        with page.expect_navigation():
            page.keyboard.press("Home")
        assert "on=" in page.url
        assert page.locator("svg#dk-map path[data-code]").count() == 98
        page.screenshot(path=str(tmp_path / "dashboard-past.png"), full_page=True)
    assert console_errors == [], console_errors
