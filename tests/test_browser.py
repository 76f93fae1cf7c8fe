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

        page.get_by_role("button", name="Kommuner", exact=True).click()  # the menu's group
        page.get_by_role("link", name="Alle kommuner").click()
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


def test_menu_reaches_every_area_and_the_language_switch(tmp_path):
    """Each role finds its areas in the menu, the whole menu fits a 1366 px laptop, and the
    language switch is one click away for a signed-in user."""
    app = demo_app(tmp_path)
    expected = {
        "admin@demo.ips.dk": ["Alle kommuner", "Tavle", "Samarbejdsplaner", "Kontakter", "Aktivitetslog",
                              "Import", "Kalender", "Statusrapport", "Nationalt overblik", "Fidelitet",
                              "Resultater", "Psykiatriske centre", "Ændringslog", "Brugere", "Udbakke",
                              "Jobkørsler", "Forankring", "Forankringspunkter"],
        "arbejdsgruppe@demo.ips.dk": ["Alle kommuner", "Samarbejdsplaner", "Kontakter", "Aktivitetslog",
                                      "Kalender", "Statusrapport", "Ændringslog"],
        "hovedstaden@demo.ips.dk": ["Alle kommuner", "Samarbejdsplaner", "Kontakter", "Import", "Kalender",
                                    "Statusrapport", "Psykiatriske centre"],
    }
    hidden = {"arbejdsgruppe@demo.ips.dk": ["Import", "Brugere", "Forankringspunkter"],
              "hovedstaden@demo.ips.dk": ["Ændringslog", "Brugere", "Forankringspunkter"]}
    with live_server(app) as base_url, browser_page() as page:
        page.set_viewport_size({"width": 1366, "height": 768})
        for email, labels in expected.items():
            sign_in(page, base_url, email)
            menu = page.locator("#mainnav")
            assert page.evaluate("document.documentElement.scrollWidth") <= 1366
            found = menu.locator(".dropdown-item").all_inner_texts()
            assert set(labels) <= {text.strip() for text in found}, (email, found)
            assert not set(hidden.get(email, [])) & {text.strip() for text in found}
            menu.get_by_role("button", name="Aktiviteter").click()
            menu.get_by_role("link", name="Kalender").click()
            assert page.url.endswith("/kalender/")
            page.get_by_role("button", name="English").click()
            assert page.url.endswith("/kalender/") and page.locator("html").get_attribute("lang") == "en"
            page.get_by_role("button", name="Dansk").click()
            page.get_by_role("button", name="Log ud").click()
